// A pod reaching itself through its own Service, translated per packet (issue 19): the packet leaves the pod for
// the frontend, cil_from_container picks the pod itself as the backend and hands the packet back to it.
import type { Evidence } from '../../model/types.js';
import type { Disposition, Flow, Hop, TraceEndpoint } from '../../model/trace.js';
import type { Warning } from '../../model/types.js';
import type { Builder, TraceContext } from './context.js';
import { fromLocalPod } from './from-pod.js';

/** Cilium's default service loopback address (daemon option ipv4-service-loopback-address). */
const DEFAULT_LOOPBACK4 = '169.254.42.1';

/**
 * The path of `flow` (still addressed to the frontend) from pod `src` back into `src`: the pod's own routing
 * towards the frontend, cil_from_container, then local delivery to the pod as to any local backend.
 */
export function hairpinPath(
  ctx: TraceContext,
  flow: Flow,
  src: TraceEndpoint,
): { hops: Hop[]; disposition: Disposition; warnings: Warning[] } {
  const b: Builder = { hops: [], warnings: [] };
  const disposition = fromLocalPod(ctx, b, flow, src, src);
  return { hops: b.hops, disposition, warnings: b.warnings };
}

/** The source address lb4_local writes on a hairpin packet, from the agent's configuration when it was read. */
export function serviceLoopback4(ctx: TraceContext): { address: string; evidence: Evidence[]; because?: string } {
  const c = ctx.state.cilium.config['ipv4-service-loopback-address'];
  if (c) return { address: c.value, evidence: [c.source] };
  return {
    address: DEFAULT_LOOPBACK4,
    evidence: [],
    because: `ipv4-service-loopback-address is not in the captured agent configuration: Cilium's default ${DEFAULT_LOOPBACK4} is assumed`,
  };
}
