import type { L4Proto, ServiceSource, ServiceType } from './service.js';
import type { Disposition, Flow, HopKind } from './trace.js';
import type { Evidence, Warning } from './types.js';

/**
 * What changes on a node when kube-proxy is removed: two node states (before, after) compared
 * Service by Service, leftover by leftover, flow by flow. Plain serialisable data (the `diff --json`
 * contract is this shape).
 */

/** One Service frontend as one side programs it. */
export interface FrontendSide {
  type: ServiceType;
  name?: string;
  /** every layer that programs the frontend on this side */
  layers: ServiceSource[];
  /** the layer that translates a packet first: Cilium's BPF acts before netfilter and IPVS */
  owner: ServiceSource;
  /** the frontend as the owner keys it: `0.0.0.0:30080/TCP` for a kube-proxy NodePort, `/ANY` for Cilium ≤ 1.16 */
  programmedAs: string;
  proto: L4Proto;
  /** active backends, `addr:port`, sorted */
  backends: string[];
  /** session affinity; `enabled: 'unknown'` when the input does not show it (a `cilium service list`) */
  affinity: { enabled: boolean | 'unknown'; timeoutSeconds?: number };
  /** externalTrafficPolicy for NodePort/ExternalIP/LoadBalancer, internalTrafficPolicy for ClusterIP; `unknown` when the
   * layer does not show it (IPVS without its ipsets, a text `cilium service list`) */
  trafficPolicy: 'Cluster' | 'Local' | 'unknown';
  /** why each property above that reads `unknown` is unknown */
  unknown?: { field: 'affinity' | 'traffic-policy' | 'type'; because: string }[];
  /** kube-proxy chain or IPVS virtual server of the owner */
  chain?: string;
  /** set when the owner's backends could not be read from this input */
  incomplete?: string;
  evidence: Evidence[];
}

export type ServiceStatus = 'unchanged' | 'changed' | 'added' | 'removed';

export interface ServiceChange {
  field: 'backends' | 'protocol' | 'affinity' | 'traffic-policy' | 'type' | 'owner' | 'reach';
  before: string;
  after: string;
  regression: boolean;
  because?: string;
}

export interface ServiceDiff {
  /** `10.96.0.10:53/UDP`; NodePorts per node address, and `0.0.0.0:PORT/PROTO` for "any local address" */
  frontend: string;
  address: string;
  port: number;
  proto: L4Proto;
  type: ServiceType;
  name?: string;
  status: ServiceStatus;
  regression: boolean;
  /** one line: why this is (not) a regression */
  summary: string;
  owner: { before: ServiceSource | null; after: ServiceSource | null };
  before?: FrontendSide;
  after?: FrontendSide;
  changes: ServiceChange[];
  /** properties not compared because one side's input does not show them: never reported as a change */
  notCompared?: { field: 'affinity' | 'traffic-policy' | 'type'; side: 'before' | 'after' | 'both'; because: string }[];
}

export type LeftoverKind = 'iptables-chains' | 'nft-table' | 'ipvs' | 'kube-ipvs0' | 'ipset' | 'conntrack';

/** Something kube-proxy left on the after node. */
export interface Leftover {
  kind: LeftoverKind;
  /** what it is, in a few words (`nat KUBE-* chains (IPv4)`, `table ip kube-proxy`) */
  name: string;
  count: number;
  /** whether packets still meet it (hooked chains, local addresses, IPVS, NATed connections) */
  actsOnPackets: boolean;
  regression: boolean;
  /** what it breaks, stated for this node */
  breaks: string;
  /** the read-only command that shows it on the node */
  command: string;
  /** how it is usually removed (for the reader; netpath never runs it) */
  cleanup?: string;
  /** frontends it still translates differently from (or instead of) Cilium */
  frontends?: string[];
  evidence: Evidence[];
}

export type FlowCategory = 'service-from-pod' | 'service-from-host' | 'nodeport-from-outside' | 'pod-to-pod';

/** A hop, reduced to what a before/after picture needs. */
export interface PathHop {
  kind: HopKind;
  /** a few words: `socket-lb cil_sock4_connect`, `kube-proxy KUBE-SVC-…`, `bpf cil_from_netdev eth0 tc-ingress` */
  label: string;
  detail: string;
  program?: string;
  chain?: string;
  dev?: string;
  hook?: string;
  inferred?: boolean;
}

export interface PathSide {
  disposition: Disposition;
  hops: PathHop[];
  warnings: string[];
}

export interface PathStep {
  change: 'same' | 'removed' | 'added' | 'replaced';
  before?: PathHop;
  after?: PathHop;
}

export interface PathDiff {
  id: string;
  category: FlowCategory;
  /** `pod 10.244.1.12 → 10.96.0.10:53/udp` */
  label: string;
  flow: Flow;
  frontend?: string;
  service?: string;
  before: PathSide;
  after: PathSide;
  /** hop kinds only before / only after (as multisets) */
  changedKinds: { removed: HopKind[]; added: HopKind[] };
  /** the two hop lists aligned: same, removed, added, or one replaced by another */
  steps: PathStep[];
  changed: boolean;
  regression: boolean;
  summary: string;
}

export type BehaviourCode =
  | 'icmp-echo'
  | 'client-source-address'
  | 'socket-lb'
  | 'hostport'
  | 'external-clusterip'
  | 'host-routing'
  | 'masquerade';

/** A known behaviour change of the migration that the two states show applies to this node. */
export interface BehaviourChange {
  code: BehaviourCode;
  title: string;
  detail: string;
  regression: boolean;
  frontends?: string[];
  evidence: Evidence[];
}

export interface DiffSideInfo {
  /** the snapshot path, `.tar.gz`, or `live node` */
  source: string;
  node: string | null;
  /** layers that program Services on this side */
  layers: ServiceSource[];
  frontends: number;
  cilium: { version?: string; kubeProxyReplacement?: boolean };
}

export interface Diff {
  schemaVersion: 1;
  before: DiffSideInfo;
  after: DiffSideInfo;
  summary: {
    verdict: 'clean' | 'regressions';
    regressions: number;
    services: {
      before: number;
      after: number;
      unchanged: number;
      changed: number;
      added: number;
      removed: number;
      regressions: number;
    };
    leftovers: { total: number; acting: number };
    paths: { traced: number; candidates: number; sampled: boolean; changed: number; regressions: number };
    behaviour: number;
    /** the summary as sentences, first the verdict */
    lines: string[];
  };
  services: ServiceDiff[];
  leftovers: Leftover[];
  paths: { sampled: boolean; candidates: number; note?: string; flows: PathDiff[] };
  behaviour: BehaviourChange[];
  warnings: Warning[];
}
