/**
 * Tool-neutral node model. Plain, serialisable data: addresses are canonical strings
 * (IPv4 dotted quad, IPv6 RFC 5952 lower case), prefixes are "addr/len".
 * Every record that a decision can rest on carries `source`: the probe and the text
 * (a line of tool output, or an ip-style rendering of a JSON object) that proves it.
 */

import type { RouteColumns } from './route-columns.js';

export type Family = 4 | 6;

/** The probe output that proves a fact: probe id (file name in a snapshot) and one line of text. */
export interface Evidence {
  probe: string;
  text: string;
}

export interface Warning {
  code: string;
  message: string;
  /** Probe id (snapshot file name) the warning is about, when there is one. */
  source?: string;
}

/** Result of a pure parser: never throws for bad data, reports what it skipped. */
export interface Parsed<T> {
  value: T;
  warnings: Warning[];
}

export interface Link {
  ifindex: number;
  name: string;
  /** `ip -d` linkinfo kind: veth, bridge, tun, wireguard, vxlan, geneve, netkit, macvlan, ...; undefined for plain devices. */
  kind?: string;
  mtu?: number;
  operstate?: string;
  flags: string[];
  mac?: string;
  master?: string;
  /** ifindex of the peer/lower device (`link_index`, or `@ifN` in text). */
  linkIndex?: number;
  /** netns id of the peer for a veth whose peer lives in another namespace (`link_netnsid`). */
  linkNetnsId?: number;
  /** name of that namespace when text output resolved it (`link-netns NAME`; JSON only has the id). */
  linkNetns?: string;
  /** Segmentation limits `ip -d link` prints (gso_max_size, gro_max_size, and the IPv4 BIG TCP ones), when shown. */
  offload?: { gsoMaxSize?: number; groMaxSize?: number; gsoIpv4MaxSize?: number; groIpv4MaxSize?: number };
  /** XDP program attached, if `ip -d link` shows one. */
  xdp?: { mode: string; progId?: number };
  source: Evidence;
}

export interface Address {
  ifindex: number;
  ifname: string;
  family: Family;
  local: string;
  prefixlen: number;
  /** point-to-point peer address, if any */
  peer?: string;
  scope: string;
  secondary?: boolean;
  source: Evidence;
}

export type RouteType =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'anycast'
  | 'multicast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'throw'
  | 'nat';

export interface NextHop {
  /** gateway address; its family may differ from the route's (IPv4 via IPv6 next hop, RFC 5549). */
  gateway?: string;
  gatewayFamily?: Family;
  dev?: string;
  weight?: number;
  flags?: string[];
}

export interface Route {
  family: Family;
  /** numeric table id: main=254, local=255, default=253 */
  table: number;
  type: RouteType;
  /** destination prefix, canonical, always with /len (default → 0.0.0.0/0 or ::/0) */
  dst: string;
  /** set when the route is selective on source (IPv6 `from`) */
  src?: string;
  tos?: number;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  /** single-path routes: one entry; multipath: one per nexthop; blackhole etc.: none */
  nexthops: NextHop[];
  flags?: string[];
  mtu?: number;
  /** nexthop object id (`nhid`); `nexthops` holds what the kernel expanded from it. */
  nhid?: number;
  source: Evidence;
}

export type RuleAction = 'lookup' | 'goto' | 'nop' | 'blackhole' | 'unreachable' | 'prohibit';

export interface Rule {
  family: Family;
  priority: number;
  not?: boolean;
  src?: string; // prefix; undefined = all
  dst?: string;
  iif?: string;
  oif?: string;
  fwmark?: number;
  fwmask?: number;
  tos?: number;
  ipproto?: number;
  sport?: [number, number];
  dport?: [number, number];
  uidrange?: [number, number];
  l3mdev?: boolean;
  action: RuleAction;
  /** numeric table for `lookup` */
  table?: number;
  /** target priority for `goto` */
  goto?: number;
  suppressPrefixlen?: number;
  suppressIfgroup?: number;
  source: Evidence;
}

export interface Neighbor {
  dst: string;
  family: Family;
  dev: string;
  lladdr?: string;
  state: string[];
  router?: boolean;
  /** proxy ARP/NDP entry (`ip neigh show proxy`): the node answers for dst, no lladdr/state. */
  proxy?: boolean;
  source: Evidence;
}

/** State read inside one network namespace (a pod's, usually `cni-…`). */
export interface NetnsState {
  name: string;
  links: Link[];
  addrs: Address[];
  routes: Route[];
}

export type TcDirection = 'ingress' | 'egress';

/** A classifier from `tc filter show dev X ingress|egress`. */
export interface TcFilter {
  dev: string;
  direction: TcDirection;
  pref?: number;
  protocol?: string;
  kind: string; // bpf, u32, flower, ...
  handle?: string;
  chain?: number;
  /** cls_bpf name, e.g. `cil_from_container-lxc1a2b` or `bpf.o:[tc]` */
  bpfName?: string;
  directAction?: boolean;
  progId?: number;
  /** kernel program name (15 chars max) */
  progName?: string;
  tag?: string;
  source: Evidence;
}

export type BpfHook =
  | 'tc-ingress'
  | 'tc-egress'
  | 'tcx-ingress'
  | 'tcx-egress'
  | 'xdp'
  | 'netkit-peer'
  | 'netkit-primary';

/** An attachment listed by `bpftool net show`. */
export interface BpfNetAttachment {
  dev: string;
  ifindex: number;
  hook: BpfHook;
  /** program or filter name as bpftool prints it */
  name: string;
  progId?: number;
  linkId?: number;
  /** xdp mode: driver, generic, offload */
  mode?: string;
  source: Evidence;
}

export interface BpfProgram {
  id: number;
  type: string;
  name: string;
  tag?: string;
  mapIds?: number[];
  btfId?: number;
  source: Evidence;
}

export interface BpfLink {
  id: number;
  /** libbpf name (`tcx`, `netkit`, `cgroup`, `xdp`) or `type N` when bpftool is too old to name it */
  type: string;
  progId?: number;
  ifindex?: number;
  /** device name, when bpftool could resolve the ifindex (it runs in the device's netns) */
  dev?: string;
  attachType?: string;
  source: Evidence;
}

/** cgroup sock_addr / sock attachment from `bpftool cgroup tree|show`. */
export interface CgroupAttachment {
  cgroup: string;
  id: number;
  /** normalised to libbpf names: cgroup_inet4_connect, cgroup_udp4_sendmsg, ... */
  attachType: string;
  flags?: string;
  name: string;
  source: Evidence;
}

export interface WgPeer {
  publicKey: string;
  endpoint?: string;
  allowedIps: string[];
  latestHandshake?: number;
  rxBytes?: number;
  txBytes?: number;
  persistentKeepalive?: number;
  source: Evidence;
}

export interface WgDevice {
  name: string;
  publicKey: string;
  listenPort?: number;
  fwmark?: number;
  peers: WgPeer[];
  source: Evidence;
}

/** What `cilium-dbg status` says, field by field; absent = the status did not say. */
export interface CiliumStatus {
  version?: string;
  /** the `Cilium:` line that gave the version */
  versionSource?: Evidence;
  kubeProxyReplacement?: {
    mode: string;
    devices: { name: string; ips: string[]; directRouting: boolean }[];
    source: Evidence;
  };
  hostRouting?: { mode: 'BPF' | 'Legacy'; source: Evidence };
  networkRouting?: { mode: 'Native' | 'Tunnel'; tunnelProtocol?: string; source: Evidence };
  attachMode?: { mode: 'TCX' | 'Legacy TC'; source: Evidence };
  deviceMode?: { mode: string; source: Evidence };
  /** `IPv4 BIG TCP:` / `IPv6 BIG TCP:` lines: enabled, with the GSO and GRO maximum the agent set */
  bigTcpV4?: { enabled: boolean; maxGso?: number; maxGro?: number; source: Evidence };
  bigTcpV6?: { enabled: boolean; maxGso?: number; maxGro?: number; source: Evidence };
  masquerading?: {
    mode: 'BPF' | 'IPTables' | 'Disabled';
    ipMasqAgent?: boolean;
    devices?: string[];
    cidrs?: string[];
    ipv4?: boolean;
    ipv6?: boolean;
    source: Evidence;
  };
  socketLB?: { enabled: boolean; source: Evidence };
  socketLBCoverage?: { coverage: 'Full' | 'Hostns-only'; source: Evidence };
  kprMode?: { mode: string; source: Evidence }; // SNAT | DSR | Hybrid
  backendSelection?: { value: string; source: Evidence };
  hostFirewall?: { enabled: boolean; devices?: string[]; source: Evidence };
  xdpAcceleration?: { value: string; source: Evidence };
  /** `- NodePort: Enabled|Disabled` under Services (JSON features.nodePort.enabled): BPF NodePort in bpf_host */
  nodePortEnabled?: { enabled: boolean; source: Evidence };
  /** `DSR Dispatch Mode:` (JSON features.nodePort.dsrMode): opt | ipip | geneve */
  dsrDispatch?: { value: string; source: Evidence };
  /**
   * Whether Services may translate between families (`NAT46/64 Support:` and, when it is on, its `- Services:`
   * line; JSON features.nat46X64.service.enabled). A lone `Enabled` (older agents, Services the only NAT46/64
   * feature) counts as Services enabled.
   */
  nat46x64Services?: { enabled: boolean; source: Evidence };
  encryption?: {
    mode: string;
    source: Evidence /** WireGuard device named on the line (`cilium_wg0`) */;
    device?: string;
  };
}

export interface CiliumEndpoint {
  id: number;
  ipv4?: string;
  ipv6?: string;
  /** namespace/pod name when known */
  name?: string;
  identity?: number;
  ifname?: string;
  ifindex?: number;
  labels?: string[];
  state?: string;
  isHost?: boolean;
  source: Evidence;
}

/**
 * One entry of Cilium's ipcache (`cilium-dbg bpf ipcache list`, or the pinned `cilium_ipcache[_v2]` map):
 * which identity a prefix has and, for a remote one, the node it is tunnelled or encrypted to.
 */
export interface IpcacheEntry {
  /** canonical prefix, always with /len */
  prefix: string;
  identity: number;
  /** IPsec key index (0: none; WireGuard marks an entry with a non-zero key too from 1.14) */
  encryptKey?: number;
  /** the remote node's address; absent when the entry has none (0.0.0.0) */
  tunnelEndpoint?: string;
  /** flag names as Cilium prints them (`hastunnel`, `skiptunnel`, ...); absent where the version prints none */
  flags?: string[];
  /** clustermesh cluster id (a `@N` suffix on the prefix, or the key's cluster_id) */
  clusterId?: number;
  /** other `key=value` fields of older versions (`nodeid`, `vtepmac`), as printed */
  extra?: Record<string, string>;
  source: Evidence;
}

/** `cilium-dbg encrypt status`. */
export interface CiliumEncryptStatus {
  /** as printed: `Disabled`, `Wireguard`, `IPsec` (`ipsec` before 1.12) */
  mode: string;
  wireguard?: { name: string; publicKey?: string; peers?: number; source: Evidence }[];
  ipsec?: {
    decryptInterfaces?: string[];
    keysInUse?: number;
    maxSeqNumber?: string;
    errors?: number;
    xfrmErrors: Record<string, number>;
  };
  nodeEncryption?: string;
  source: Evidence;
}

/** One row of `cilium-dbg bpf egress list` (the egress gateway policy map). */
export interface EgressGatewayEntry {
  sourceIp: string;
  destCidr: string;
  egressIp: string;
  /** the gateway node's address, when the entry has one */
  gatewayIp?: string;
  /** what Cilium prints instead of an address: `not-found` (no gateway node known), `excluded` (excludedCIDRs) */
  gatewayNone?: 'not-found' | 'excluded';
  source: Evidence;
}

export interface CiliumInfo {
  status?: CiliumStatus;
  /** `cilium-dbg bpf ipcache list`; undefined when not read (unknown, never empty by default) */
  ipcache?: IpcacheEntry[];
  /** the pinned ipcache map as bpftool dumped it (`cilium_ipcache_v2`, or `cilium_ipcache` before 1.18) */
  ipcacheMap?: IpcacheEntry[];
  encryptStatus?: CiliumEncryptStatus;
  egressGateway?: EgressGatewayEntry[];
  /**
   * issue 15: ip-masq-agent's non-masquerade CIDRs, the pinned `cilium_ipmasq_v4` / `_v6` maps; each family
   * undefined when its map was not read
   */
  ipMasqMap?: { v4?: { prefix: string; source: Evidence }[]; v6?: { prefix: string; source: Evidence }[] };
  /** agent configuration: `cilium-dbg config -a` or the cilium-config ConfigMap; keys in kebab-case */
  config: Record<string, { value: string; source: Evidence }>;
  endpoints?: CiliumEndpoint[];
}

/** An xfrm (IPsec) state from `ip xfrm state`; key bytes are never kept, only the algorithm names. */
export interface XfrmState {
  src: string;
  dst: string;
  /** esp, ah, comp, route2, hao */
  proto: string;
  spi?: number;
  reqid?: number;
  mode?: string;
  mark?: { value: number; mask: number };
  outputMark?: { value: number; mask: number };
  /** `aead rfc4106(gcm(aes))`, `enc cbc(aes)`, `auth-trunc hmac(sha256)` */
  algorithms: { kind: string; name: string }[];
  /** the selector (`sel src … dst …`) */
  sel?: { src: string; dst: string };
  /** ESP-in-UDP (`encap type espinudp sport … dport …`) */
  encap?: { type: string; sport: number; dport: number };
  source: Evidence;
}

export interface XfrmTemplate {
  src: string;
  dst: string;
  proto: string;
  spi?: number;
  reqid?: number;
  mode?: string;
  /** `use` (optional template) or `required` */
  level?: string;
}

/** An xfrm policy from `ip xfrm policy`. */
export interface XfrmPolicy {
  src: string;
  dst: string;
  dir: string;
  /**
   * other selector conditions of the header line, as printed (`proto tcp`, `dport 22`, `dev eth0`): a reader
   * that does not evaluate them must take the policy as matching less than src/dst alone say
   */
  match?: Record<string, string>;
  priority?: number;
  /** allow (default) or block */
  action?: string;
  ptype?: string;
  mark?: { value: number; mask: number };
  templates: XfrmTemplate[];
  source: Evidence;
}

export type ProbeStatus = 'ok' | 'missing' | 'failed' | 'partial';

/** What happened to each probe (file or command), for warnings and `manifest.json`. */
export interface SourceReport {
  probe: string;
  status: ProbeStatus;
  /** the file read or the command run */
  origin?: string;
  message?: string;
}

export interface NodeState {
  node: { name: string | null; kernel: string | null };
  links: Link[];
  addrs: Address[];
  /** the node's routes as objects; empty when they were loaded as `routeColumns` */
  routes: Route[];
  /**
   * the node's routes held column-wise (loadNodeState with `routes: 'columns'`, what a trace uses):
   * Route objects are built only for the routes a question touches
   */
  routeColumns?: RouteColumns[];
  rules: Rule[];
  neigh: Neighbor[];
  netns: NetnsState[];
  tc: TcFilter[];
  bpfNet: BpfNetAttachment[];
  bpfProgs: BpfProgram[];
  bpfLinks: BpfLink[];
  cgroup: CgroupAttachment[];
  wg: WgDevice[];
  sysctl: Record<string, { value: string; source: Evidence }>;
  cilium: CiliumInfo;
  /** `ip xfrm state` / `ip xfrm policy`; each undefined when not read */
  xfrm: { states?: XfrmState[]; policies?: XfrmPolicy[] };
  /** which probes were present; a probe not listed here was never asked for */
  sources: SourceReport[];
  warnings: Warning[];
}

export function emptyNodeState(): NodeState {
  return {
    node: { name: null, kernel: null },
    links: [],
    addrs: [],
    routes: [],
    rules: [],
    neigh: [],
    netns: [],
    tc: [],
    bpfNet: [],
    bpfProgs: [],
    bpfLinks: [],
    cgroup: [],
    wg: [],
    sysctl: {},
    cilium: { config: {} },
    xfrm: {},
    sources: [],
    warnings: [],
  };
}

export const RT_TABLE = { unspec: 0, default: 253, main: 254, local: 255 } as const;
