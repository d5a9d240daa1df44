import type { Evidence, Warning } from './types.js';

/** Words of the hop vocabulary (docs/json.md, "The hop vocabulary"); in path order. */
export type HopKind =
  | 'socket-lb'
  | 'tc-lb'
  | 'kube-proxy'
  | 'bpf'
  | 'redirect_peer'
  | 'redirect_neigh'
  | 'redirect'
  | 'stack'
  | 'netfilter'
  | 'route'
  | 'gateway'
  | 'wireguard'
  | 'masquerade'
  | 'conntrack'
  | 'deliver'
  | 'drop';

export type EndpointKind = 'local-pod' | 'remote-pod' | 'host' | 'remote-node' | 'service' | 'external' | 'unknown';

export type Disposition = 'delivered' | 'forwarded' | 'dropped' | 'no-route' | 'unknown';

export interface Flow {
  src: string;
  dst: string;
  proto: 'tcp' | 'udp' | 'icmp' | 'sctp';
  dport?: number;
  sport?: number;
  /** for a Service destination: the backend to follow (address or address:port); default the first active */
  backend?: string;
}

export interface TraceEndpoint {
  kind: EndpointKind;
  ip: string;
  /** host-side device of a local pod (lxc…), or the device a remote address is reached through */
  dev?: string;
  netns?: string;
  /** Cilium endpoint id / pod name when the endpoint list names it */
  endpointId?: number;
  pod?: string;
  /** node address that owns a remote pod's CIDR */
  node?: string;
  /** Service frontend port, for kind 'service' */
  port?: number;
  service?: string;
  because?: string;
  evidence: Evidence[];
}

/**
 * One step of the path. `evidence` holds the probe lines that decided it; a hop that was
 * inferred rather than read says so with `inferred: true` and `because`.
 */
export interface Hop {
  kind: HopKind;
  detail: string;
  evidence: Evidence[];
  inferred?: boolean;
  because?: string;
  /** network namespace the hop happens in, when it is not the node's own */
  netns?: string;
  dev?: string;
  hook?: string;
  program?: string;
  progId?: number;
  nexthop?: string;
  neighbor?: { lladdr?: string; state: string[] };
  rule?: string;
  table?: number;
  route?: string;
  gateway?: string;
  /** multipath: every candidate next hop (the kernel picks one by hash) */
  candidates?: { gateway?: string; dev?: string; weight?: number }[];
  peer?: string;
  allowedIps?: string;
  endpoint?: string;
  applied?: boolean | 'unknown';
  by?: string;
  snatTo?: string;
  hooks?: string[];
  reason?: string;
  /** socket-lb / tc-lb / kube-proxy: the Service frontend, every candidate backend, the chosen one */
  frontend?: string;
  backends?: { address: string; port: number; state: string; probability?: number }[];
  backend?: string;
  chain?: string;
  /** the path to every candidate backend, in short: where each one would end */
  paths?: { backend: string; disposition: Disposition; summary: string }[];
  /** with --explain: the mechanism, why it applies here, and live commands that would confirm it */
  explain?: HopExplain;
}

export interface HopExplain {
  /** what this kernel or Cilium mechanism is */
  what: string;
  /** why the node state leads here, tied to the hop's evidence */
  why: string;
  /** commands to run on the live node (never run by netpath), each with what it should show */
  confirm: { command: string; shows: string }[];
}

export interface Trace {
  schemaVersion: 1;
  node: string | null;
  flow: Flow;
  src: TraceEndpoint;
  dst: TraceEndpoint;
  hops: Hop[];
  disposition: Disposition;
  warnings: Warning[];
}
