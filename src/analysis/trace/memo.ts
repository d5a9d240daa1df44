// Answers a caller that traces many flows of one node (check) keeps for the whole run: who an address is, and
// which frontends a Service question finds. Both read only the node state, the context's Service list and its
// datapath facts, which stay the same through such a run; never a flow's source, ports or conntrack entries.
import type { FrontendView, ServiceEntry } from '../../model/service.js';
import type { TraceEndpoint } from '../../model/trace.js';
import type { NodeState } from '../../model/types.js';
import type { TraceContext } from './context.js';

export interface TraceMemo {
  /** classify's answer by address (a copy is handed out each time: callers may add to theirs) */
  endpoints: Map<string, TraceEndpoint>;
  /** the frontends a Service look-up found, by the Service list it searched and the question */
  frontends: WeakMap<ServiceEntry[], Map<string, FrontendView[]>>;
  /** the node's failed probes (every trace warns of them) */
  failed?: NodeState['sources'];
  /**
   * Applied to each value as it is kept. The frontends are shared, not copied: tests pass a deep freeze here,
   * so a caller that edits a shared view throws instead of changing the next flow's answer.
   */
  keep?: <T>(v: T) => T;
}

export function createTraceMemo(keep?: <T>(v: T) => T): TraceMemo {
  return { endpoints: new Map(), frontends: new WeakMap(), ...(keep ? { keep } : {}) };
}

/** classify's answer through the context's memo, when it has one. */
export function memoEndpoint(ctx: TraceContext, ip: string, compute: () => TraceEndpoint): TraceEndpoint {
  const m = ctx.memo;
  if (!m) return compute();
  let hit = m.endpoints.get(ip);
  if (!hit) {
    hit = compute();
    m.endpoints.set(ip, m.keep ? m.keep(hit) : hit);
  }
  // every field but evidence is a string or number: a new object and evidence list are the whole copy
  return { ...hit, evidence: [...hit.evidence] };
}

/**
 * The frontends of a look-up through the context's memo. `key` names the question and every part of the
 * look-up's own context that varies (the list searched is the map's key); the views are shared: the trace
 * engine only reads them (trace-service.ts, trace-socket-lb.ts, trace-nodeport.ts, trace-service-icmp.ts).
 */
export function memoFrontends(
  ctx: TraceContext,
  list: ServiceEntry[],
  key: string,
  compute: () => FrontendView[],
): FrontendView[] {
  const m = ctx.memo;
  if (!m) return compute();
  let byKey = m.frontends.get(list);
  if (!byKey) m.frontends.set(list, (byKey = new Map()));
  let hit = byKey.get(key);
  if (!hit) {
    hit = compute();
    byKey.set(key, m.keep ? m.keep(hit) : hit);
  }
  return hit;
}
