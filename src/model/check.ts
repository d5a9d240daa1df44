import type { Disposition, Flow } from './trace.js';
import type { Evidence, Warning } from './types.js';

/** What `netpath check` answers (docs/check.md, docs/json.md "check"). */

export type Severity = 'error' | 'warning' | 'info';

/**
 * What a finding is about:
 * - `drop`, `no-route`: flows the engine ends in a drop or without a route (by reason);
 * - `service-no-backends`: a Service frontend with no active backend;
 * - `service-backend-drop`: a Service whose backend path ends in a drop;
 * - `rp-filter-asymmetric`: a packet arrives on one device while the route back leaves by another, and rp_filter
 *   is strict there; `rp-filter-unknown`: the same asymmetry, rp_filter not captured;
 * - `neighbor-failed`, `neighbor-incomplete`: the neighbour entry of a next hop a flow uses;
 * - `mtu-shrink`: a device later on the path has a smaller MTU than where the packet was sent;
 * - `kube-proxy-leftover`: kube-proxy state on a node whose Services Cilium serves;
 * - `stale-conntrack-nat`: connections still translated by kube-proxy's conntrack entries;
 * - `no-default-route`: pods of a family whose traffic outside the node has no route;
 * - `unknown`: flows the node state does not decide, and which probe would;
 * - `journey-drop` (--cluster): a pod → remote-pod flow its node forwards that ends in a drop on the receiving node.
 */
export type FindingKind =
  | 'drop'
  | 'no-route'
  | 'service-no-backends'
  | 'service-backend-drop'
  | 'rp-filter-asymmetric'
  | 'rp-filter-unknown'
  | 'neighbor-failed'
  | 'neighbor-incomplete'
  | 'mtu-shrink'
  | 'kube-proxy-leftover'
  | 'stale-conntrack-nat'
  | 'no-default-route'
  | 'unknown'
  | 'journey-drop'
  /** a pod cannot reach itself through its own IPv6 Service (per-packet LB before Cilium 1.19: no IPv6 loopback) */
  | 'hairpin-no-reply';

/** Which kind of path a checked flow stands for. */
export type CheckFlowCategory =
  | 'pod-to-pod'
  | 'pod-to-remote-pod'
  | 'pod-to-service'
  | 'pod-to-outside'
  | 'reply'
  | 'host-to-pod'
  /** `--cluster` journeys only: the host to another node's pod CIDR */
  | 'host-to-remote-pod'
  | 'host-to-service'
  | 'nodeport-from-outside'
  | 'outside-to-host';

/** One checked flow, as a finding names it. */
export interface CheckFlow {
  category: CheckFlowCategory;
  /** a few words: `pod 10.244.1.12 → Service 10.96.0.10:53/udp` */
  label: string;
  flow: Flow;
  disposition: Disposition;
  /** the node it was traced on (with --cluster) */
  node?: string;
}

export interface Finding {
  severity: Severity;
  kind: FindingKind;
  message: string;
  /** how many checked flows it affects, and a few of them */
  flows: { count: number; examples: CheckFlow[] };
  /** the probe lines that show it (from the hops' evidence, or the node state) */
  evidence: Evidence[];
  /** read-only commands that confirm it on the live node (netpath never runs them) */
  confirm: string[];
  /** with --cluster: the node it was found on */
  node?: string;
}

export interface CheckReport {
  schemaVersion: 1;
  node: string | null;
  flowsChecked: number;
  /** how many flows were enumerated; more than flowsChecked when --max-flows cut them */
  flowsEnumerated: number;
  /** the findings, errors first, then by how many flows they affect */
  findings: Finding[];
  warnings: Warning[];
  /** with --cluster: the nodes read */
  nodes?: string[];
}
