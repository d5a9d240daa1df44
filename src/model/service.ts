import type { Evidence, Warning } from './types.js';

/** Tool-neutral Service model: what one layer (Cilium's LB maps, kube-proxy, IPVS) programs. */

export type ServiceType = 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer' | 'HostPort' | 'LocalRedirect';

/** Which layer programs a frontend (docs/services.md). */
export type ServiceSource = 'cilium-bpf' | 'cilium-dbg' | 'kube-proxy-iptables' | 'kube-proxy-nftables' | 'ipvs';

export type L4Proto = 'TCP' | 'UDP' | 'SCTP' | 'ANY';

export interface Frontend {
  /** canonical IP; 0.0.0.0 / :: for a NodePort/HostPort surrogate on every node address */
  address: string;
  port: number;
  proto: L4Proto;
  /** Cilium lookup scope: external (default) or internal (`/i`, two-scopes services) */
  scope?: 'external' | 'internal';
  /**
   * The service name a tool printed instead of a number (`ipvsadm -L` without `-n`: `http`,
   * `postgresql`): unresolved, never looked up; `port` is then 0, which no packet carries.
   */
  portName?: string;
}

export type BackendState =
  | 'active'
  | 'terminating'
  | 'terminating-not-serving'
  | 'quarantined'
  | 'maintenance'
  | 'unknown';

export interface Backend {
  address: string;
  port: number;
  proto?: L4Proto;
  state: BackendState;
  /** as Frontend.portName: a port printed as a name, unresolved (`port` is 0) */
  portName?: string;
  /** Cilium backend id, kube-proxy endpoint chain (KUBE-SEP-…), or IPVS real server */
  id?: string;
  weight?: number;
  /** kube-proxy iptables: the statistic probability of the rule that picks it */
  probability?: number;
  nodeName?: string;
  zone?: string;
  /** Cilium LB backend slot (1..N) in the services map; slots past the service's count are not picked at random */
  slot?: number;
  source: Evidence;
}

export interface ServiceFlags {
  externalTrafficPolicyLocal?: boolean;
  internalTrafficPolicyLocal?: boolean;
  sessionAffinity?: boolean;
  affinityTimeoutSeconds?: number;
  algorithm?: 'random' | 'maglev';
  dsr?: boolean;
  /** SVC_FLAG_ROUTABLE: reachable from outside the node (false = `non-routable`) */
  routable?: boolean;
  sourceRangeCheck?: boolean;
  l7LoadBalancer?: boolean;
  twoScopes?: boolean;
  /** Envoy proxy port of an L7 load-balancer service (Cilium slot 0 union, or `(L7LB Proxy Port: N)`) */
  l7ProxyPort?: number;
  /** raw flag words or bits as the source printed them, for evidence */
  raw?: string[];
}

/** Which frontends a reader builds, by frontend and Service name (one question's filter). */
export type FrontendKeep = (f: { address: string; port: number; proto: L4Proto }, name: string | undefined) => boolean;

/** Properties of a Service that some inputs cannot show (a text `cilium service list` prints no traffic policy). */
export type ServiceProperty =
  | 'traffic-policy'
  | 'affinity'
  | 'type'
  | 'l7-redirect'
  // svc lookup's flag report (issue 14): what one input cannot show about a flag
  | 'internal-traffic-policy'
  | 'routable'
  | 'dsr'
  | 'algorithm'
  | 'affinity-timeout'
  | 'source-range-check'
  | 'source-ranges';

export interface ServiceEntry {
  source: ServiceSource;
  frontend: Frontend;
  type: ServiceType;
  /** namespace/name[:portName] when the source names it (cilium-dbg JSON, kube-proxy comments) */
  name?: string;
  /** Cilium service id (= rev NAT index) */
  id?: number;
  flags: ServiceFlags;
  backends: Backend[];
  /** Cilium slot-0 counters: `count` slots picked at random, then `qcount` quarantined ones (v1.17+) */
  slots?: { count: number; qcount?: number };
  /** kube-proxy chain (KUBE-SVC-…, KUBE-EXT-…) or IPVS virtual server text */
  chain?: string;
  /** kube-proxy: what the filter layer does to this frontend when it has no (local) endpoints */
  noEndpoints?: 'reject' | 'drop';
  /** loadBalancerSourceRanges as programmed (kube-proxy KUBE-FW-… / nft firewall-… chains) */
  sourceRanges?: string[];
  /** set when the backends could not be read from this input (e.g. a chain missing from a partial dump) */
  incomplete?: string;
  /**
   * Properties this input's format cannot show, with why: unknown, never read from a default (an unset flag in
   * `flags` is otherwise "off"). Set by the loader, which knows the format.
   */
  unknown?: { property: ServiceProperty; because: string }[];
  evidence: Evidence[];
}

/** Why `prop` is unknown for this entry, or undefined when its input shows it. */
export function unknownWhy(e: Pick<ServiceEntry, 'unknown'>, prop: ServiceProperty): string | undefined {
  return e.unknown?.find((u) => u.property === prop)?.because;
}

/** A question about Services: an address with optional port and protocol, or namespace/name. */
export type ServiceQuery =
  | { kind: 'address'; address: string; port?: number; proto?: L4Proto }
  | { kind: 'name'; namespace: string; name: string };

/** Whether an entry answers the question (svc lookup's and the trace's rule). */
export function serviceMatches(e: Pick<ServiceEntry, 'frontend' | 'name'>, q: ServiceQuery): boolean {
  if (q.kind === 'name') {
    const n = e.name ?? '';
    return n === `${q.namespace}/${q.name}` || n.startsWith(`${q.namespace}/${q.name}:`);
  }
  if (e.frontend.address !== q.address) return false;
  if (q.port !== undefined && e.frontend.port !== q.port) return false;
  if (q.proto !== undefined && e.frontend.proto !== q.proto && e.frontend.proto !== 'ANY') return false;
  return true;
}

/** One frontend as all layers together program it. */
export interface FrontendView {
  frontend: string;
  address: string;
  port: number;
  proto: L4Proto;
  type: ServiceType;
  /** why the type is unknown, when the first source cannot show it (`type` is then a placeholder) */
  typeUnknown?: string;
  name?: string;
  sources: ServiceSource[];
  /** the backends of the first source in precedence order (Cilium BPF maps first) */
  backends: Backend[];
  bySource: {
    source: ServiceSource;
    type: ServiceType;
    backends: Backend[];
    chain?: string;
    evidence: Evidence[];
    /** every flag as this source shows it */
    flags: ServiceFlagReport;
  }[];
  /** every flag, each from the first source (in precedence order) that shows it, or unknown with every source's why */
  flags: ServiceFlagReport;
  /** flags the layers program differently (`sessionAffinity: cilium-bpf false, kube-proxy-iptables true`) */
  flagsDiffer?: string[];
  conflict?: string;
  /** why two layers programming this frontend is expected here (not a conflict) */
  note?: string;
}

/** What `svc lookup` answers: every frontend matching the query. */
export interface LookupResult {
  query: ServiceQuery;
  frontends: FrontendView[];
  warnings: Warning[];
}

// --- svc lookup's flag report (issue 14): every flag that decides behaviour, from each source ---

/**
 * One flag as a source shows it: a value with what showed it (a bit, a flag word, a rule), or unknown with why.
 * Never a default: a source that cannot show a flag says so.
 */
export type FlagReading<T> = { value: T; from: string } | { unknown: string };

export type TrafficPolicy = 'Cluster' | 'Local';

/** Every flag of a frontend that decides what happens to a packet (docs/services.md, "Flags"). */
export interface ServiceFlagReport {
  /** reachable from outside the node (Cilium's SVC_FLAG_ROUTABLE; a ClusterIP has it with bpf-lb-external-clusterip) */
  routable: FlagReading<boolean>;
  /** NodePort traffic to a remote backend keeps the client address (DSR) instead of SNAT */
  dsr: FlagReading<boolean>;
  /** how a new connection gets its backend: `random`, `maglev`, or `ipvs:<scheduler>` */
  algorithm: FlagReading<string>;
  sessionAffinity: FlagReading<boolean>;
  /** only when affinity is on or unknown */
  affinityTimeoutSeconds?: FlagReading<number>;
  externalTrafficPolicy: FlagReading<TrafficPolicy>;
  internalTrafficPolicy: FlagReading<TrafficPolicy>;
  /** redirected to the node's L7 proxy (Envoy) instead of a backend */
  l7LoadBalancer: FlagReading<boolean>;
  /** only when the L7 load balancer is on or unknown */
  l7ProxyPort?: FlagReading<number>;
  /** loadBalancerSourceRanges are checked */
  sourceRangeCheck: FlagReading<boolean>;
  /** only when the check is on or unknown: the allowed ranges */
  sourceRanges?: FlagReading<string[]>;
}

export const FLAG_NAMES = [
  'routable',
  'dsr',
  'algorithm',
  'sessionAffinity',
  'affinityTimeoutSeconds',
  'externalTrafficPolicy',
  'internalTrafficPolicy',
  'l7LoadBalancer',
  'l7ProxyPort',
  'sourceRangeCheck',
  'sourceRanges',
] as const satisfies readonly (keyof ServiceFlagReport)[];
