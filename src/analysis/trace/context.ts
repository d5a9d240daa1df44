// What every part of the trace engine shares: the context it reads and the hop list it builds.
import type { NodeState, Warning } from '../../model/types.js';
import type { Hop } from '../../model/trace.js';
import type { Datapath } from '../datapath.js';
import type { Routing } from '../routing.js';
import type { ServiceEntry } from '../../model/service.js';
import type { FlowConntrack } from '../../model/conntrack.js';

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
}

export interface Builder {
  hops: Hop[];
  warnings: Warning[];
}

export const NF_LOCAL_IN = ['PREROUTING', 'INPUT'];
export const NF_FORWARD = ['PREROUTING', 'FORWARD', 'POSTROUTING'];
export const NF_LOCAL_OUT = ['OUTPUT', 'POSTROUTING'];
