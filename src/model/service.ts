import type { Evidence } from './types.js';

/** Tool-neutral Service model: what one layer (Cilium's LB maps, kube-proxy, IPVS) programs. */

export type ServiceType = 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer' | 'HostPort' | 'LocalRedirect';

/** Which layer programs a frontend (README "svc lookup"). */
export type ServiceSource = 'cilium-bpf' | 'cilium-dbg' | 'kube-proxy-iptables' | 'kube-proxy-nftables' | 'ipvs';

export type L4Proto = 'TCP' | 'UDP' | 'SCTP' | 'ANY';

export interface Frontend {
  /** canonical IP; 0.0.0.0 / :: for a NodePort/HostPort surrogate on every node address */
  address: string;
  port: number;
  proto: L4Proto;
  /** Cilium lookup scope: external (default) or internal (`/i`, two-scopes services) */
  scope?: 'external' | 'internal';
}

export type BackendState = 'active' | 'terminating' | 'terminating-not-serving' | 'quarantined' | 'maintenance' | 'unknown';

export interface Backend {
  address: string;
  port: number;
  proto?: L4Proto;
  state: BackendState;
  /** Cilium backend id, kube-proxy endpoint chain (KUBE-SEP-…), or IPVS real server */
  id?: string;
  weight?: number;
  /** kube-proxy iptables: the statistic probability of the rule that picks it */
  probability?: number;
  nodeName?: string;
  zone?: string;
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
  /** raw flag words or bits as the source printed them, for evidence */
  raw?: string[];
}

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
  /** kube-proxy chain (KUBE-SVC-…, KUBE-EXT-…) or IPVS virtual server text */
  chain?: string;
  evidence: Evidence[];
}
