// What every part of the trace engine shares: the context it reads and the hop list it builds.
import type { Family, NodeState, Warning } from '../../model/types.js';
import type { Disposition, Hop } from '../../model/trace.js';
import type { Datapath } from '../datapath.js';
import type { Routing } from '../routing.js';
import type { ServiceEntry } from '../../model/service.js';
import type { FlowConntrack } from '../../model/conntrack.js';
import type { TraceMemo } from './memo.js';

/** What the trace engine works on: the node, what Cilium does there, and the routing tables. */
export interface TraceContext {
  state: NodeState;
  /** Service frontends from every layer, when the node state has any Service source */
  services: ServiceEntry[];
  dp: Datapath;
  routing: Routing;
  /** routing per pod namespace, built lazily */
  nsRouting: Map<string, Routing>;
  /** the node's conntrack entries for this flow's tuples (stream-filtered from the table), when looked up */
  conntrack?: FlowConntrack;
  /**
   * When set, where the path to each candidate backend of a Service ends is kept here by the flow that was
   * traced (trace-service.ts): a caller tracing many Service flows of one node (check) meets the same backend
   * from the same source again and again. Sound because a plain-address trace reads the node state, never the
   * Service list or the conntrack lookup that change from flow to flow. Keyed by the source, then the backend
   * (a key made of both was rebuilt and hashed for each of check's 200,000 candidates).
   */
  backendPaths?: Map<string, Map<string, { disposition: Disposition; summary: string }>>;
  /**
   * When set, who each address is and the frontends of each Service question are kept here (trace/memo.ts):
   * check asks the same 110 pods and 10,000 frontends in 20,000 flows. The caller that sets it keeps the
   * node state, the Service lists and the datapath facts unchanged while it is set.
   */
  memo?: TraceMemo;
  /**
   * Set when the kernel answered the route lookups of some families and their large tables were not read
   * (commands/trace.ts): `narrowed` are those families; a question that needs a table's routes as a list
   * (default gateways, pod-CIDR routes) adds its family to `needed`, and the trace is made again from the
   * full tables.
   */
  routeGaps?: { narrowed: Set<Family>; needed: Set<Family> };
}

export interface Builder {
  hops: Hop[];
  warnings: Warning[];
}

export const NF_LOCAL_IN = ['PREROUTING', 'INPUT'];
export const NF_FORWARD = ['PREROUTING', 'FORWARD', 'POSTROUTING'];
export const NF_LOCAL_OUT = ['OUTPUT', 'POSTROUTING'];
