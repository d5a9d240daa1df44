import Table from 'cli-table3';
import { z } from 'zod';
import type { FrontendView, LookupResult } from '../model/service.js';
import { painter, type RenderOptions } from './style.js';

const backend = z.looseObject({ address: z.string(), port: z.number().int(), state: z.string() });
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
      bySource: f.bySource.map((s) => ({
        source: s.source,
        type: s.type,
        ...(s.chain ? { chain: s.chain } : {}),
        backends: s.backends.map((b) => ({ address: b.address, port: b.port, state: b.state })),
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
  const t = new Table({
    head: ['FRONTEND', 'TYPE', 'SERVICE', 'BACKENDS', 'PROGRAMMED BY'],
    style: { head: opts.color ? ['bold'] : [], border: opts.color ? ['grey'] : [] },
    wordWrap: true,
    colWidths: [28, 13, 26, Math.max(24, opts.width - 28 - 13 - 26 - 30), 24],
  });
  for (const f of r.frontends) {
    const bs = f.backends.length
      ? f.backends
          .map(
            (b) =>
              `${b.address.includes(':') ? `[${b.address}]` : b.address}:${b.port} ${b.state}${b.probability !== undefined ? ` p=${b.probability.toFixed(3)}` : ''}`,
          )
          .join('\n')
      : c.red('none (dropped)');
    t.push([f.frontend, typeText(f), f.name ?? '', bs, f.sources.join('\n')]);
  }
  const lines = [t.toString()];
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
