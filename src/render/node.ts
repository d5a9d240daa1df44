import { z } from 'zod';
import { painter, type RenderOptions } from './style.js';
import { warningLines } from './text.js';

const evidence = z.object({ probe: z.string(), text: z.string() });
const warning = z.object({ code: z.string(), message: z.string(), source: z.string().optional() });

/** A conclusion: known with its evidence (inferred when no line states it outright), or unknown and why. */
function fact<T extends z.ZodType>(value: T) {
  return z.discriminatedUnion('known', [
    z.object({
      known: z.literal(true),
      value,
      evidence: z.array(evidence),
      /** deduced from other facts or defaults, not read off a line that states it */
      inferred: z.boolean().optional(),
      because: z.string().optional(),
    }),
    z.object({ known: z.literal(false), because: z.string() }),
  ]);
}

/** The `netpath node -o json` contract (docs/node.md); additions only within a schemaVersion. */
export const nodeJsonSchema = z.object({
  schemaVersion: z.literal(1),
  node: z.string().nullable(),
  /** the snapshot, sysdump node or live command read */
  source: z.string(),
  facts: z.object({
    ciliumVersion: fact(z.string()),
    kernel: fact(z.string()),
    routingMode: fact(z.enum(['native', 'tunnel'])),
    hostRouting: fact(z.enum(['bpf', 'legacy'])),
    kubeProxyReplacement: fact(z.boolean()),
    socketLB: fact(z.object({ enabled: z.boolean(), hostnsOnly: z.boolean() })),
    attachMode: fact(z.enum(['tc', 'tcx'])),
    deviceMode: fact(z.enum(['veth', 'netkit', 'netkit-l2'])),
    masquerade: fact(
      z.object({
        mode: z.enum(['bpf', 'iptables', 'disabled']),
        ipv4: z.boolean(),
        ipv6: z.boolean(),
        exclusionCidrs: z.array(z.string()),
        devices: z.array(z.string()),
      }),
    ),
    encryption: fact(z.object({ mode: z.string(), device: z.string().optional() })),
    nativeRoutingCidrV4: fact(z.string()),
    nativeRoutingCidrV6: fact(z.string()),
    devices: fact(z.array(z.string())),
    directRoutingDevice: fact(z.string()),
    endpointRoutes: fact(z.boolean()),
  }),
  /** why host routing is legacy, when it is (version-specific fallback reasons the state shows) */
  legacyHostRoutingReasons: z.array(z.string()),
  /** every probe netpath looked for, and what it found */
  probes: z.array(
    z.object({
      probe: z.string(),
      status: z.enum(['ok', 'partial', 'missing', 'failed']),
      origin: z.string().optional(),
      message: z.string().optional(),
    }),
  ),
  /**
   * the probes that were not there or could not be read, with why when the source says: those read for the
   * node state, and those the source's manifest says it could not capture (Service layers, conntrack)
   */
  missingProbes: z.array(z.object({ probe: z.string(), status: z.enum(['missing', 'failed']), why: z.string() })),
  warnings: z.array(warning),
});

export type NodeReport = z.infer<typeof nodeJsonSchema>;

/** The contract object of a node report (what `-o json` and `-o yaml` print), checked by its schema. */
export function nodeContract(r: NodeReport): NodeReport {
  return nodeJsonSchema.parse(r);
}

type Facts = NodeReport['facts'];

/** Each fact's label and how its value reads, in the order a person checks a node. */
const ROWS: { [K in keyof Facts]: [label: string, show: (v: Extract<Facts[K], { known: true }>['value']) => string] } =
  {
    ciliumVersion: ['Cilium version', (v) => v],
    kernel: ['kernel', (v) => v],
    routingMode: ['routing mode', (v) => v],
    hostRouting: ['host routing', (v) => v],
    kubeProxyReplacement: ['kube-proxy replacement', (v) => (v ? 'on' : 'off')],
    socketLB: [
      'socket LB',
      (v) => (v.enabled ? `on, ${v.hostnsOnly ? 'host namespace only' : 'every namespace'}` : 'off'),
    ],
    attachMode: ['attach mode', (v) => v],
    deviceMode: ['device mode', (v) => v],
    masquerade: [
      'masquerade',
      (v) =>
        v.mode === 'disabled'
          ? 'disabled'
          : `${v.mode} (${[v.ipv4 ? 'IPv4' : '', v.ipv6 ? 'IPv6' : ''].filter(Boolean).join(', ') || 'no family'})${v.exclusionCidrs.length ? `, not for ${v.exclusionCidrs.join(', ')}` : ''}${v.devices.length ? `, on ${v.devices.join(', ')}` : ''}`,
    ],
    encryption: ['encryption', (v) => `${v.mode}${v.device ? ` (${v.device})` : ''}`],
    nativeRoutingCidrV4: ['native-routing CIDR v4', (v) => v],
    nativeRoutingCidrV6: ['native-routing CIDR v6', (v) => v],
    devices: ['devices', (v) => v.join(', ')],
    directRoutingDevice: ['direct-routing device', (v) => v],
    endpointRoutes: ['endpoint routes', (v) => (v ? 'on' : 'off')],
  };

/** `netpath node` as text: one line per conclusion, its evidence under it; then missing probes and warnings. */
export function renderNodeText(r: NodeReport, opts: RenderOptions): string {
  const c = painter(opts);
  const width = Math.max(...Object.values(ROWS).map(([l]) => l.length)) + 2;
  const pad = ' '.repeat(width + 2);
  const out = [`${c.bold(`node ${r.node ?? '(unnamed)'}`)} ${c.dim(`— ${r.source}`)}`];
  for (const key of Object.keys(ROWS) as (keyof Facts)[]) {
    const [label, show] = ROWS[key];
    const f = r.facts[key];
    const head = `  ${label.padEnd(width)}`;
    if (!f.known) {
      out.push(`${head}${c.yellow('unknown')} ${c.dim(`— ${f.because}`)}`);
      continue;
    }
    out.push(`${head}${(show as (v: unknown) => string)(f.value)}${f.inferred ? c.yellow(' (inferred)') : ''}`);
    if (f.because) out.push(`${pad}${c.yellow('because')} ${f.because}`);
    for (const e of f.evidence) {
      const s = `↳ ${e.probe}: ${e.text.replace(/\s+/g, ' ').trim()}`;
      const room = opts.width - pad.length;
      out.push(`${pad}${c.dim(room > 20 && s.length > room ? `${s.slice(0, room - 1)}…` : s)}`);
    }
  }
  if (r.legacyHostRoutingReasons.length)
    out.push('', 'why legacy host routing:', ...r.legacyHostRoutingReasons.map((w) => `  - ${w}`));
  if (r.missingProbes.length) {
    const w = Math.max(...r.missingProbes.map((m) => m.probe.length)) + 2;
    out.push(
      '',
      c.yellow(`missing probes (${r.missingProbes.length}):`),
      ...r.missingProbes.map(
        (m) => `  ${m.probe.padEnd(w)}${c.dim(`${m.status === 'failed' ? 'unreadable: ' : ''}${m.why}`)}`,
      ),
    );
  }
  out.push(...warningLines(r, opts));
  return `${out.join('\n')}\n`;
}

/** `--quiet`: the node and its four deciding facts on one line. */
export function renderNodeQuiet(r: NodeReport): string {
  const v = <K extends keyof Facts>(k: K) => {
    const f = r.facts[k];
    return f.known ? (ROWS[k][1] as (x: unknown) => string)(f.value) : 'unknown';
  };
  return `${r.node ?? '(unnamed)'}: Cilium ${v('ciliumVersion')}, ${v('routingMode')} routing, host routing ${v('hostRouting')}, kube-proxy replacement ${v('kubeProxyReplacement')}\n`;
}
