import { boxTable } from './box.js';
import { z } from 'zod';
import type { FlagReading, FrontendView, LookupResult, ServiceFlagReport } from '../model/service.js';
import { painter, type RenderOptions } from './style.js';

const backend = z.looseObject({ address: z.string(), port: z.number().int(), state: z.string() });
/** A flag as a source shows it, or unknown with why (docs/json.md, "svc lookup flags"). */
const reading = <T extends z.ZodType>(v: T) =>
  z.union([z.strictObject({ value: v, from: z.string() }), z.strictObject({ unknown: z.string() })]);
const policy = z.enum(['Cluster', 'Local']);
export const svcFlagsSchema = z.strictObject({
  routable: reading(z.boolean()),
  dsr: reading(z.boolean()),
  algorithm: reading(z.string()),
  sessionAffinity: reading(z.boolean()),
  affinityTimeoutSeconds: reading(z.number()).optional(),
  externalTrafficPolicy: reading(policy),
  internalTrafficPolicy: reading(policy),
  l7LoadBalancer: reading(z.boolean()),
  l7ProxyPort: reading(z.number().int()).optional(),
  sourceRangeCheck: reading(z.boolean()),
  sourceRanges: reading(z.array(z.string())).optional(),
});
/** The `--json` contract of `svc lookup` (docs/json.md). */
export const svcJsonSchema = z.object({
  schemaVersion: z.literal(1),
  node: z.string().nullable(),
  query: z.string(),
  frontends: z.array(
    z.looseObject({
      frontend: z.string(),
      type: z.enum(['ClusterIP', 'NodePort', 'ExternalIP', 'LoadBalancer', 'HostPort', 'LocalRedirect', 'unknown']),
      typeUnknown: z.string().optional(),
      backends: z.array(backend),
      sources: z.array(z.enum(['cilium-bpf', 'cilium-dbg', 'kube-proxy-iptables', 'kube-proxy-nftables', 'ipvs'])),
      flags: svcFlagsSchema,
      flagsDiffer: z.array(z.string()).optional(),
      bySource: z.array(z.looseObject({ source: z.string(), flags: svcFlagsSchema })),
      conflict: z.string().optional(),
      note: z.string().optional(),
    }),
  ),
  warnings: z.array(z.object({ code: z.string(), message: z.string(), source: z.string().optional() })),
});

/** The contract object of a lookup (what `-o json` and `-o yaml` print). */
export function svcContract(node: string | null, query: string, r: LookupResult): z.infer<typeof svcJsonSchema> {
  const doc = {
    schemaVersion: 1 as const,
    node,
    query,
    frontends: r.frontends.map((f) => ({
      frontend: f.frontend,
      type: f.typeUnknown !== undefined ? ('unknown' as const) : f.type,
      ...(f.typeUnknown !== undefined ? { typeUnknown: f.typeUnknown } : {}),
      ...(f.name ? { name: f.name } : {}),
      backends: f.backends.map((b) => ({
        address: b.address,
        port: b.port,
        state: b.state,
        ...(b.weight !== undefined ? { weight: b.weight } : {}),
        ...(b.probability !== undefined ? { probability: b.probability } : {}),
      })),
      sources: f.sources,
      flags: f.flags,
      ...(f.flagsDiffer ? { flagsDiffer: f.flagsDiffer } : {}),
      bySource: f.bySource.map((s) => ({
        source: s.source,
        type: s.type,
        ...(s.chain ? { chain: s.chain } : {}),
        backends: s.backends.map((b) => ({ address: b.address, port: b.port, state: b.state })),
        flags: s.flags,
        evidence: s.evidence,
      })),
      ...(f.conflict ? { conflict: f.conflict } : {}),
      ...(f.note ? { note: f.note } : {}),
    })),
    warnings: r.warnings,
  };
  return svcJsonSchema.parse(doc);
}

export function renderSvcJson(node: string | null, query: string, r: LookupResult): string {
  return JSON.stringify(svcContract(node, query, r), null, 2) + '\n';
}

export function renderSvcText(query: string, r: LookupResult, opts: RenderOptions): string {
  const c = painter(opts);
  if (r.frontends.length === 0) return `no frontend matches ${query} in any Service source\n${warn(r, c)}`;
  const rows: string[][] = [];
  for (const f of r.frontends) {
    const bs = f.backends.length
      ? f.backends
          .map(
            (b) =>
              `${b.address.includes(':') ? `[${b.address}]` : b.address}:${b.port} ${b.state}${b.probability !== undefined ? ` p=${b.probability.toFixed(3)}` : ''}`,
          )
          .join('\n')
      : c.red('none (dropped)');
    rows.push([f.frontend, typeText(f), f.name ?? '', bs, f.sources.join('\n')]);
  }
  const table = boxTable(
    ['FRONTEND', 'TYPE', 'SERVICE', 'BACKENDS', 'PROGRAMMED BY'],
    rows,
    [28, 13, 26, Math.max(24, opts.width - 28 - 13 - 26 - 30), 24],
    { head: opts.color ? ['bold'] : [], border: opts.color ? ['grey'] : [] },
  );
  const lines = [table];
  for (const f of r.frontends) lines.push(...flagLines(f));
  for (const f of r.frontends) if (f.conflict) lines.push(c.yellow(`conflict on ${f.frontend}: ${f.conflict}`));
  for (const f of r.frontends) if (f.note) lines.push(`note on ${f.frontend}: ${f.note}`);
  return lines.join('\n') + '\n' + warn(r, c);
}

function warn(r: LookupResult, c: ReturnType<typeof painter>): string {
  if (!r.warnings.length) return '';
  return `${c.yellow('warnings:')}\n${r.warnings
    .slice(0, 20)
    .map((w) => `  - ${w.message}`)
    .join('\n')}${r.warnings.length > 20 ? `\n  … ${r.warnings.length - 20} more` : ''}\n`;
}

/** `--quiet`: one line per frontend (or the no-match line), nothing else. */
export function renderSvcQuiet(query: string, r: LookupResult): string {
  if (r.frontends.length === 0) return `no frontend matches ${query} in any Service source\n`;
  return r.frontends
    .map(
      (f) =>
        `${f.frontend} ${typeText(f)}${f.name ? ` ${f.name}` : ''}: ${f.backends.filter((b) => b.state === 'active').length}/${f.backends.length} backends active (${f.sources.join(', ')})${f.conflict ? ' CONFLICT' : ''}\n`,
    )
    .join('');
}

/** The type column: `unknown` when the source cannot show it (its placeholder is never printed as a reading). */
export function typeText(f: Pick<FrontendView, 'type' | 'typeUnknown'>): string {
  return f.typeUnknown !== undefined ? 'unknown' : f.type;
}

// --- svc lookup's flags (issue 14) ---

const LABELS: Record<keyof ServiceFlagReport, string> = {
  routable: 'routable',
  dsr: 'DSR',
  algorithm: 'algorithm',
  sessionAffinity: 'session affinity',
  affinityTimeoutSeconds: 'affinity timeout',
  externalTrafficPolicy: 'externalTrafficPolicy',
  internalTrafficPolicy: 'internalTrafficPolicy',
  l7LoadBalancer: 'L7 load balancer',
  l7ProxyPort: 'L7 proxy port',
  sourceRangeCheck: 'source-range check',
  sourceRanges: 'source ranges',
};

function shown(k: keyof ServiceFlagReport, r: FlagReading<unknown>): string {
  if (!('value' in r)) return 'unknown';
  const v = r.value;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.length ? v.join(',') : 'none';
  if (k === 'affinityTimeoutSeconds') return `${String(v)}s`;
  return String(v);
}

/** Every flag as `name=value` (wide table), in the report's order. */
export function flagsCompact(flags: ServiceFlagReport): string {
  return (Object.keys(LABELS) as (keyof ServiceFlagReport)[])
    .flatMap((k) => {
      const r = flags[k] as FlagReading<unknown> | undefined;
      return r ? [`${k}=${shown(k, r)}`] : [];
    })
    .join(',');
}

/** The text form: every flag with its value, then why each unknown one is unknown. */
export function flagLines(f: FrontendView): string[] {
  const known: string[] = [];
  const unknown: string[] = [];
  for (const k of Object.keys(LABELS) as (keyof ServiceFlagReport)[]) {
    const r = f.flags[k] as FlagReading<unknown> | undefined;
    if (!r) continue;
    known.push(`${LABELS[k]}: ${shown(k, r)}`);
    if ('unknown' in r) unknown.push(`    ${LABELS[k]}: ${r.unknown}`);
  }
  const out = [`flags of ${f.frontend}:`];
  for (let i = 0; i < known.length; i += 4) out.push(`  ${known.slice(i, i + 4).join('   ')}`);
  if (unknown.length) out.push('  unknown because:', ...unknown);
  if (f.flagsDiffer)
    out.push(
      '  the layers differ (the one that translates the flow applies):',
      ...f.flagsDiffer.map((d) => `    ${d}`),
    );
  return out;
}
