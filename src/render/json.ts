import { z } from 'zod';
import type { Trace } from '../model/trace.js';

const evidence = z.object({ probe: z.string(), text: z.string() });
const warning = z.object({ code: z.string(), message: z.string(), source: z.string().optional() });

/** The `--json` contract of `trace` (README "JSON output"); additions only within a schemaVersion. */
export const traceJsonSchema = z.object({
  schemaVersion: z.literal(1),
  node: z.string().nullable(),
  flow: z.object({
    src: z.string(),
    dst: z.string(),
    proto: z.enum(['tcp', 'udp', 'icmp', 'sctp']),
    dport: z.number().int().optional(),
    sport: z.number().int().optional(),
    backend: z.string().optional(),
  }),
  src: z.looseObject({ kind: z.string(), ip: z.string(), evidence: z.array(evidence) }),
  dst: z.looseObject({ kind: z.string(), ip: z.string(), evidence: z.array(evidence) }),
  hops: z.array(
    z.looseObject({
      kind: z.enum([
        'socket-lb', 'tc-lb', 'kube-proxy', 'bpf', 'redirect_peer', 'redirect_neigh', 'redirect', 'stack',
        'netfilter', 'route', 'gateway', 'wireguard', 'masquerade', 'conntrack', 'deliver', 'drop',
      ]),
      detail: z.string(),
      evidence: z.array(evidence),
      inferred: z.boolean().optional(),
      because: z.string().optional(),
      explain: z
        .object({ what: z.string(), why: z.string(), confirm: z.array(z.object({ command: z.string(), shows: z.string() })) })
        .optional(),
    }),
  ),
  disposition: z.enum(['delivered', 'forwarded', 'dropped', 'no-route', 'unknown']),
  warnings: z.array(warning),
});

/** The contract object of a trace (what `-o json` and `-o yaml` print). */
export function traceContract(trace: Trace): z.infer<typeof traceJsonSchema> {
  return traceJsonSchema.parse(trace);
}

export function renderTraceJson(trace: Trace): string {
  return JSON.stringify(traceContract(trace), null, 2) + '\n';
}
