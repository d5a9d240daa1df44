// Answers a caller that traces many flows of one node (check) keeps for the whole run: who an address is, and
// which frontends a Service question finds. Both read only the node state, the context's Service list and its
// datapath facts, which stay the same through such a run; never a flow's source, ports or conntrack entries.
import type { FrontendView, ServiceEntry } from '../../model/service.js';
import type { Flow, Trace, TraceEndpoint } from '../../model/trace.js';
import type { NodeState } from '../../model/types.js';
import type { TraceContext } from './context.js';

export interface TraceMemo {
  /** classify's answer by address (a copy is handed out each time: callers may add to theirs) */
  endpoints: Map<string, TraceEndpoint>;
  /**
   * The frontends of the latest Service look-ups, by the question (with the list searched, compared on a hit).
   * Bounded: check plans each frontend's flows one after another, and 10,000 kept views were ~50 MiB of heap.
   */
  frontends: Map<string, { list: ServiceEntry[]; views: FrontendView[] }>;
  /**
   * Plain-address traces (traceAddress) by `source|destination` (with the ports when a policy rule selects on
   * them): a Service flow's path on to its backend. check's 20,000 Service flows meet ~1,200 such pairs on a
   * 110-pod node. Bounded like `frontends` (oldest out).
   */
  plain: Map<string, Trace>;
  /** the node's failed probes (every trace warns of them) */
  failed?: NodeState['sources'];
  /**
   * Applied to each value as it is kept. The frontends are shared, not copied: tests pass a deep freeze here,
   * so a caller that edits a shared view throws instead of changing the next flow's answer.
   */
  keep?: <T>(v: T) => T;
}

export function createTraceMemo(keep?: <T>(v: T) => T): TraceMemo {
  return { endpoints: new Map(), frontends: new Map(), plain: new Map(), ...(keep ? { keep } : {}) };
}

/** classify's answer through the context's memo, when it has one. */
export function memoEndpoint(ctx: TraceContext, ip: string, compute: () => TraceEndpoint): TraceEndpoint {
  const m = ctx.memo;
  if (!m) return compute();
  const hit = keptIn(m, m.endpoints, ip, compute);
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
  const hit = m.frontends.get(key);
  if (hit?.list === list) return hit.views;
  const views = compute();
  m.frontends.delete(key);
  m.frontends.set(key, { list, views: m.keep ? m.keep(views) : views });
  // the oldest question out (a Map iterates in insertion order)
  if (m.frontends.size > FRONTEND_MEMO) m.frontends.delete(m.frontends.keys().next().value!);
  return views;
}

/** Service questions kept: the flows to one frontend (from pods, the host, a hairpin, outside) come together. */
const FRONTEND_MEMO = 64;

/**
 * A plain-address trace through the context's memo, when it has one. `key` names the flow's addresses (and its
 * ports when they can change a route: trace-service.ts); the engine reads nothing else of a flow (trace/ and
 * traceAddress read only its src and dst), so one trace serves every flow between the two addresses: each caller
 * gets its own copy of the trace with its own flow, its own hop and warning lists, and the shared hops.
 */
export function memoPlain(ctx: TraceContext, key: string, flow: Flow, compute: () => Trace): Trace {
  const m = ctx.memo;
  if (!m) return compute();
  const hit = keptIn(m, m.plain, key, compute, PLAIN_MEMO);
  return { ...hit, flow, hops: [...hit.hops], warnings: [...hit.warnings] };
}

/** Plain traces kept: every (source, backend) pair check-110 meets, ~1,200, with room for a node ten times larger. */
const PLAIN_MEMO = 16_384;

/** `map`'s value for `key`, computed and kept (through the memo's `keep`) on a miss; past `limit` the oldest goes. */
function keptIn<T>(m: TraceMemo, map: Map<string, T>, key: string, compute: () => T, limit = Infinity): T {
  let hit = map.get(key);
  if (hit === undefined) {
    hit = compute();
    map.set(key, m.keep ? m.keep(hit) : hit);
    // a Map iterates in insertion order
    if (map.size > limit) map.delete(map.keys().next().value!);
  }
  return hit;
}
