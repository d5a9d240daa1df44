import type { CiliumRuleId } from './cilium-rules.js';
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
  | 'encap'
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
  /** issue 15: an address outside the cluster that this node routes through (a BGP / top-of-rack next hop) */
  role?: 'router';
  because?: string;
  evidence: Evidence[];
}

/** A next hop of a route answer (multipath lists several; the kernel picks one by hash). */
export interface NextHop {
  gateway?: string;
  dev?: string;
  weight?: number;
}

/** A Service backend as the LB hops list it (every candidate of the frontend). */
export interface HopBackend {
  address: string;
  port: number;
  state: string;
  probability?: number;
}

/** Where the path to one candidate backend ends, in short. */
export interface BackendPath {
  backend: string;
  disposition: Disposition;
  summary: string;
}

/**
 * What every hop carries. `detail` is display text only (the text and table renderers print it): no code
 * reads meaning back out of it — every fact a consumer needs is a typed field of the hop's kind.
 * `evidence` holds the probe lines that decided the hop; a hop that was inferred rather than read says so
 * with `inferred: true` and `because`.
 */
export interface HopBase {
  detail: string;
  evidence: Evidence[];
  inferred?: boolean;
  because?: string;
  /** network namespace the hop happens in, when it is not the node's own */
  netns?: string;
  /** with --explain: the mechanism, why it applies here, and live commands that would confirm it */
  explain?: HopExplain;
  /** the Cilium rules (src/model/cilium-rules.ts) that decided this hop, so a person can check it against the source */
  ciliumRules?: CiliumRuleId[];
}

/**
 * Which routing decision a `route` hop is:
 * - `pod-netns`: the pod's own table, in its namespace;
 * - `bpf_fib_lookup`: the FIB lookup a Cilium program makes (BPF host routing), `iif` the pod's device;
 * - `input`: the kernel's lookup for a packet that arrived on `iif` (to this node, or forwarded);
 * - `output`: the kernel's lookup for a packet this node sends;
 * - `wireguard-outer`: the route of the encrypted WireGuard packet to its endpoint (`dst`, with `fwmark`);
 * - `arrival`: not a lookup of the packet itself — the device it arrives on (`dev`), taken from the route
 *   back to its source (always `inferred`).
 */
export type RouteLookup =
  | 'pod-netns'
  | 'bpf_fib_lookup'
  | 'input'
  | 'output'
  | 'wireguard-outer'
  | 'arrival'
  // issue 15: the outer UDP packet of a vxlan / geneve tunnel
  | 'tunnel-outer';

/** What a route lookup answered (`arrival` hops carry the answer of the reverse lookup). */
export type RouteOutcome =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'no-route'
  | 'invalid'
  | 'unknown';

export interface RouteHop extends HopBase {
  kind: 'route';
  lookup: RouteLookup;
  result: RouteOutcome;
  /** the address looked up (the destination; for `arrival` the source, for `wireguard-outer` the endpoint) */
  dst: string;
  /** input interface of the lookup: the pod's device, or the device the packet arrived on */
  iif?: string;
  /** fwmark of the lookup (`wireguard-outer`: the WireGuard device's fwmark) */
  fwmark?: number;
  /** the policy rule that decided, as `ip rule` prints it, and its priority */
  rule?: string;
  rulePriority?: number;
  table?: number;
  /** the matched route entry as text */
  route?: string;
  /** the lookup's answer in words (`rule 0 → table local: local …`, `no route`, …), as the detail quotes it */
  answer: string;
  /** output device and gateway of the first next hop */
  dev?: string;
  gateway?: string;
  /** every next hop of the matched route */
  nexthops?: NextHop[];
  /** multipath: every candidate next hop (the kernel picks one by hash) */
  candidates?: NextHop[];
}

export type AttachMode = 'tc' | 'tcx' | 'xdp' | 'netkit';

export interface BpfHop extends HopBase {
  kind: 'bpf';
  program: string;
  /** `tc-ingress`, `tcx-egress`, `xdp`, `netkit-peer`, … */
  hook: string;
  attachMode: AttachMode;
  direction: 'ingress' | 'egress';
  /** the device; for a tcx link whose device the tool could not name, the device Cilium attaches it to */
  dev: string;
  progId?: number;
}

/**
 * Where a Service is translated: `socket` (a cgroup hook at connect/sendmsg), `tc` (per packet in a Cilium
 * program), `xdp` (NodePort in an XDP program), `netfilter` (kube-proxy's DNAT rules or IPVS).
 */
export type LbLayer = 'socket' | 'tc' | 'xdp' | 'netfilter';

interface LbFields {
  layer: LbLayer;
  /** the Service frontend (`address:port/PROTO`) */
  frontend: string;
  /** the source whose entry translates it: cilium-bpf, cilium-dbg, kube-proxy-iptables, kube-proxy-nftables, ipvs */
  source: string;
  /** every candidate backend of the frontend */
  backends: HopBackend[];
  /** the backend this path follows (`address:port`) */
  backend: string;
  /** the backends a packet may be sent to (externalTrafficPolicy=Local: the local ones), as `address:port` */
  candidateBackends: string[];
  /** the Service's flags as its source programs them (affinity, traffic policy, DSR, …) */
  flags: ServiceHopFlags;
  /** the path to every candidate backend, in short: where each one would end */
  paths: BackendPath[];
  /** how `backend` was decided, and how the datapath picks one for a new connection */
  selection: BackendSelection;
}

// --- backend selection (issue 14): which backend a connection gets is a fact only when something pins it ---

/**
 * Why the path follows `backend`. `asked`: --backend; `conntrack`: an existing connection's entry holds it;
 * `only-candidate`: the frontend has one; `not-decided`: a new connection gets one of `oneOf`, by `algorithm`,
 * and the path follows the first only to show one.
 */
export interface BackendSelection {
  decided: 'asked' | 'conntrack' | 'only-candidate' | 'not-decided';
  /** how the datapath picks for a new connection: `random`, `maglev`, `socket-cookie` (socket-LB, UDP), `ipvs:<scheduler>`, or `unknown` */
  algorithm: string;
  /** the backends a new connection may get (`address:port`) */
  oneOf: string[];
  /** session affinity is on: a client seen within the timeout keeps its earlier backend */
  affinity?: boolean;
  /** in words, with the reason the choice is or is not known */
  because: string;
}

/** The flags of the translating entry (a subset of the model's ServiceFlags, as programmed). */
export interface ServiceHopFlags {
  externalTrafficPolicyLocal?: boolean;
  internalTrafficPolicyLocal?: boolean;
  sessionAffinity?: boolean;
  affinityTimeoutSeconds?: number;
  dsr?: boolean;
  routable?: boolean;
  twoScopes?: boolean;
}

export interface SocketLbHop extends HopBase, LbFields {
  kind: 'socket-lb';
  layer: 'socket';
  program: string;
  /** cgroup attach type (`cgroup_inet4_connect`, `cgroup_udp4_sendmsg`, …) and the cgroup */
  attachType: string;
  cgroup: string;
  // --- socket-LB cases (analysis/trace-socket-lb.ts) ---
  /**
   * The frontend is the wildcard NodePort entry (0.0.0.0:port, [::]:port): the application connected to
   * `connectedTo`, a node's address or loopback, which has no frontend of its own (sock4_wildcard_lookup_full).
   */
  wildcard?: { connectedTo: string };
  /**
   * UDP: a reply's source is rewritten from the backend back to the frontend by the cgroup recvmsg hook (from the
   * socket cookie entry connect/sendmsg wrote); `attached` says whether that hook is seen on the cgroup.
   */
  replyXlate?: { hook: 'recvmsg'; attached: boolean | 'unknown'; program?: string; attachType?: string };
}

/**
 * `at`: which program translates — `cil_from_container` (a pod's packet), `cil_from_netdev` or `xdp`
 * (NodePort/LoadBalancer from outside), `bpf_host` (host traffic without socket-LB; program not decided).
 */
export interface TcLbHop extends HopBase, LbFields {
  kind: 'tc-lb';
  layer: 'tc' | 'xdp';
  at: 'cil_from_container' | 'cil_from_netdev' | 'xdp' | 'bpf_host';
  /** why socket-LB does not translate this flow (display text), for `cil_from_container` and `bpf_host` */
  noSocketLb?: string;
  /** the XDP program and device, for `at: 'xdp'` */
  program?: string;
  dev?: string;
}

export interface KubeProxyHop extends HopBase, LbFields {
  kind: 'kube-proxy';
  layer: 'netfilter';
  /** iptables, nftables or ipvs */
  mode: 'iptables' | 'nftables' | 'ipvs';
  /** the nat hook that DNATs: PREROUTING for a pod or outside, OUTPUT for the host */
  natHook: 'PREROUTING' | 'OUTPUT';
  /** the Service chain (KUBE-SVC-…, nft service-…) or IPVS virtual server */
  chain?: string;
}

interface RedirectFields {
  /** the device the packet is redirected to */
  dev: string;
  /** the namespace it ends in, when known */
  targetNetns?: string;
}

export interface RedirectPeerHop extends HopBase, RedirectFields {
  kind: 'redirect_peer';
  helper: 'bpf_redirect_peer';
}

export interface RedirectNeighHop extends HopBase, RedirectFields {
  kind: 'redirect_neigh';
  helper: 'bpf_redirect_neigh';
  /** the next hop: the route's gateway, or the destination itself on-link */
  nexthop: string;
  onLink: boolean;
  /** the neighbour entry of the next hop on dev, when the node state has one */
  neighbor?: { lladdr?: string; state: string[] };
  candidates?: NextHop[];
}

/**
 * `why`: `host-side` (the packet comes from the host side, where Cilium never uses redirect_peer), `netkit`,
 * `legacy-host-routing`, or `host-routing-unknown` (then the hop is inferred).
 */
export interface RedirectHop extends HopBase, RedirectFields {
  kind: 'redirect';
  helper: 'bpf_redirect';
  why:
    | 'host-side'
    | 'netkit'
    | 'legacy-host-routing'
    | 'host-routing-unknown'
    // NodePort to a remote backend with the FIB's MAC addresses (Cilium 1.13, or from XDP)
    | 'nodeport-fib';
  /** the same, in words (absent when host routing is unknown) */
  reason?: string;
}

/**
 * `why` the packet is handed to the stack: `to-host` (addressed to this node), `fib-local` (bpf_fib_lookup
 * says local), `legacy-host-routing`, `no-program` (no Cilium program on the device it arrives on),
 * `transit` (not for this node, forwarded).
 */
export interface StackHop extends HopBase {
  kind: 'stack';
  why: 'to-host' | 'fib-local' | 'legacy-host-routing' | 'no-program' | 'transit';
  /** the netfilter hooks the packet will pass */
  hooks: string[];
  /** for legacy host routing: why the node falls back to it */
  legacyReasons?: string[];
}

export interface NetfilterHop extends HopBase {
  kind: 'netfilter';
  hooks: string[];
  /** whether iptables or nftables rules are in the node state at all (they are not evaluated) */
  rulesPresent: boolean;
}

export interface GatewayHop extends HopBase {
  kind: 'gateway';
  gateway: string;
  dev?: string;
  /** true for the encrypted WireGuard packet leaving towards its endpoint */
  encrypted: boolean;
  /** issue 15: the next hop is no node by the ipcache (a BGP / top-of-rack router, the default gateway) */
  role?: 'router';
  /** the neighbour entry of the gateway, when the node state has one */
  neighbor?: { lladdr?: string; state: string[] };
}

// --- issue 15: tunnel mode (vxlan / geneve) ---
/** The packet is encapsulated for a remote node: Cilium redirects it to its tunnel device with the tunnel key set. */
export interface EncapHop extends HopBase {
  kind: 'encap';
  /** the tunnel device (`cilium_vxlan`, `cilium_geneve`) */
  dev: string;
  protocol: 'vxlan' | 'geneve';
  /** the remote node the outer packet goes to (the ipcache entry's tunnel endpoint) */
  tunnelEndpoint: string;
  /** the outer UDP destination port */
  port: number;
}

export interface WireguardHop extends HopBase {
  kind: 'wireguard';
  /** issue 15: what sent the packet to the WireGuard device, when Cilium did (`cil_to_netdev`, `ip-rule`) */
  redirectedBy?: 'cil_to_netdev' | 'ip-rule';
  dev: string;
  /** the peer's public key */
  peer: string;
  /** the allowed-ips prefix of the peer that holds the destination */
  allowedIps: string;
  /** UDP endpoint of the peer; absent when the peer has none (the packet cannot be sent) */
  endpoint?: string;
}

/**
 * `where`: `bpf` (cil_to_netdev), `iptables` (CILIUM_POST_nat), `bpf-nodeport` (NodePort SNAT/DSR),
 * `disabled`, or `unknown`. `why` is a code for the decision (see docs/hops.md).
 */
export interface MasqueradeHop extends HopBase {
  kind: 'masquerade';
  applied: boolean | 'unknown';
  where: 'bpf' | 'iptables' | 'bpf-nodeport' | 'disabled' | 'unknown';
  /** the masquerade mode as the hop has always named it (`bpf`, `iptables`, `bpf-nodeport`, `disabled`) */
  by?: string;
  why:
    | 'snat'
    | 'disabled'
    | 'family-disabled'
    | 'excluded'
    | 'remote-node'
    | 'other-device'
    | 'no-to-netdev'
    | 'no-exclusion-cidr'
    | 'mode-unknown'
    | 'nodeport-snat'
    | 'nodeport-dsr'
    | 'nodeport-mode-unknown'
    // issue 15: the ipcache, ip-masq-agent, egress gateway
    | 'no-ipcache-entry'
    | 'ipcache-unknown'
    | 'ip-masq-agent'
    | 'ip-masq-agent-unknown'
    | 'egress-gateway'
    | 'egress-gateway-unknown';
  /** the egress device */
  dev?: string;
  /** the source address after SNAT, when known */
  snatTo?: string;
  /** the exclusion CIDR that holds the destination (`why: 'excluded'`) */
  exclusionCidr?: string;
  /** the devices BPF masquerade runs on (`why: 'other-device'`) */
  devices?: string[];
  /** NodePort: the mode that decides (SNAT, DSR, Hybrid) */
  nodePortMode?: string;
  /** when not applied: why, in words */
  reason?: string;
}

/**
 * `match`: how the entry relates to the flow — `orig` (the flow's own tuple), `reply` (the flow is the reply
 * direction of an entry), `via-backend` (tracked to a backend: translated before netfilter), `none` (no entry:
 * a new connection), `connections` (without --sport: the existing connections from the source),
 * `reply-connections` (existing connections whose replies look like this flow).
 */
export interface ConntrackHop extends HopBase {
  kind: 'conntrack';
  match: 'orig' | 'reply' | 'via-backend' | 'none' | 'connections' | 'reply-connections';
  /** the entry that decides (orig / reply / via-backend): its tuples and state */
  entry?: ConntrackHopEntry;
  /** connections: how many entries, and what they translate to (`DNAT to …`, `no NAT`), each with a count */
  count?: number;
  translations?: { translation: string; count: number }[];
  /** the backend the entry DNATs this connection to (`address:port`) */
  backend?: string;
  /** the source NAT address of the entry */
  snatTo?: string;
}

export interface ConntrackHopEntry {
  orig: string;
  reply: string;
  state?: string;
  flags: string[];
  zone?: number;
  dnat: boolean;
  snat: boolean;
}

/**
 * `target`: `pod` (a pod of this node, `dev` its host-side device), `local-socket` (a socket of this node),
 * `loopback` (the host talking to itself), `pod-netns` (inside the source pod's own namespace).
 */
export interface DeliverHop extends HopBase {
  kind: 'deliver';
  /** `l7-proxy`: an L7 load-balancer frontend, handed to the node's proxy (Envoy) on `proxyPort` */
  target: 'pod' | 'local-socket' | 'loopback' | 'pod-netns' | 'l7-proxy';
  /** the destination address */
  address: string;
  pod?: string;
  /** a pod: its host-side device */
  dev?: string;
  /** a local socket reached from a pod: the device that holds the address */
  addressDev?: string;
  /** `l7-proxy`: the proxy port the Service source shows (absent when it does not show one) */
  proxyPort?: number;
}

/**
 * `code`: the reason as a word — a route result (`no-route`, `unreachable`, `blackhole`, `prohibit`, `broadcast`,
 * `invalid`), a Cilium drop reason (`DROP_NO_FIB`, `DROP_NO_SERVICE`, `DROP_IS_CLUSTER_IP`, `DROP_NAT_46X64_DISABLED`), or
 * `family-mismatch`, `forwarding-disabled`, `wireguard-no-peer`, `unknown-backend`, `EHOSTUNREACH`,
 * `kube-proxy-reject`.
 */
export interface DropHop extends HopBase {
  kind: 'drop';
  reason: string;
  code: string;
  frontend?: string;
  backends?: HopBackend[];
  backend?: string;
  paths?: BackendPath[];
  /**
   * The drop is a refused system call, not a packet (analysis/trace-socket-lb.ts): socket-LB rejected
   * connect()/sendmsg() for a frontend without backends, so no packet ever existed. `errno` is what the call
   * fails with where the kernel has bpf_set_retval; `errnoOtherwise` where it does not.
   */
  syscall?: { call: 'connect' | 'sendmsg'; errno: string; errnoOtherwise: string };
}

/** One step of the path, by kind. */
export type Hop =
  | SocketLbHop
  | TcLbHop
  | KubeProxyHop
  | BpfHop
  | RedirectPeerHop
  | RedirectNeighHop
  | RedirectHop
  | StackHop
  | NetfilterHop
  | RouteHop
  | GatewayHop
  | WireguardHop
  | EncapHop
  | MasqueradeHop
  | ConntrackHop
  | DeliverHop
  | DropHop;

/** The hop of one kind. */
export type HopOf<K extends HopKind> = Extract<Hop, { kind: K }>;

/** The LB hops: a Service translated at the socket, per packet, or by kube-proxy. */
export type LbHop = SocketLbHop | TcLbHop | KubeProxyHop;

export function isLbHop(h: Hop): h is LbHop {
  return h.kind === 'socket-lb' || h.kind === 'tc-lb' || h.kind === 'kube-proxy';
}

/** The device a hop happens on or leaves by, for the kinds that have one. */
export function hopDev(h: Hop): string | undefined {
  return 'dev' in h ? h.dev : undefined;
}

type KeysOf<H> = H extends unknown ? keyof H : never;
type ValueOf<H, K extends PropertyKey> = H extends unknown ? (K extends keyof H ? H[K] : undefined) : never;
/** A typed field that several kinds share (never `detail`: that is display text, not data). */
export type HopField = Exclude<KeysOf<Hop>, 'detail'>;

/**
 * A typed field of whichever kind the hop is, or undefined when its kind has none: for code that treats
 * hops alike (the next hop of the last hop that names one, the device column of a table).
 */
export function hopField<K extends HopField>(h: Hop, k: K): ValueOf<Hop, K> | undefined {
  return (h as unknown as Record<string, unknown>)[k] as ValueOf<Hop, K> | undefined;
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
