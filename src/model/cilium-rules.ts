// Every place where what netpath reads or decides depends on the Cilium version, as one table. A consumer takes its
// cut-off from here (ciliumRuleHolds, ciliumRule(id).versions) and never writes a version number of its own, so a new
// release is one edit of this file (docs/architecture.md, "Adding a Cilium version").
// Facts come from Cilium's source; the verified readings are in the project's Cilium datapath reference
// (docs/cilium-datapath.md: LB map layouts §1, CLI formats §2, attach modes §3.2, host routing §4.1); the rules audit that will build on it is the Service and routing rules work.

/** A Cilium release line, major.minor (`1.16`): the rules here change between minor releases, not patch releases. */
export type CiliumMinor = readonly [major: number, minor: number];

/** Release lines a rule holds in, both ends inclusive; an absent end is open (every older or every later line). */
export interface VersionRange {
  from?: `${number}.${number}`;
  to?: `${number}.${number}`;
}

export interface CiliumRule {
  id: string;
  /** what holds in those versions */
  what: string;
  /** where Cilium decides it: file, and function or struct */
  cilium: string;
  versions: VersionRange;
  /** the netpath files that read this rule */
  usedBy: readonly string[];
  /** the node facts that select the rule, as a person checks them (`kube-proxy replacement on, NodePort mode SNAT`) */
  when?: string;
  /** the Cilium release tags whose source was read to confirm the rule (`v1.14.0`), when it was checked there */
  checked?: readonly string[];
}

const TABLE = [
  // --- the layout of the pinned LB maps (tools/bpf-map/lb-maps.ts decodes their raw bytes; its layout eras are cut
  // where one of these starts) ---
  {
    id: 'lb-maps-v3',
    what: 'Services live in cilium_lb{4,6}_services_v2, cilium_lb{4,6}_backends_v3 and cilium_lb{4,6}_reverse_nat',
    cilium: 'bpf/node_config.h: LB4_BACKEND_MAP, LB6_BACKEND_MAP',
    versions: { from: '1.13' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
  },
  {
    id: 'lb-backend-cluster-id-u16',
    what: 'backend value: cluster_id is a u16 (byte 9 may be non-zero); before, a u8 followed by padding',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): struct lb4_backend / lb6_backend',
    versions: { from: '1.15' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
  },
  {
    id: 'lb-backend-zone',
    what: 'backend value: a zone byte after cluster_id',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): struct lb4_backend / lb6_backend',
    versions: { from: '1.16' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
  },
  {
    id: 'lb-l4-protocol',
    what: 'service key byte 8 and backend proto carry the L4 protocol (6/17/132); before, always 0 (ANY)',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): struct lb4_key, lb4_backend; pkg/maps/lbmap (≤ 1.17)',
    versions: { from: '1.17' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
  },
  {
    id: 'lb-service-qcount',
    what: 'service slot 0: qcount, the quarantined backends after the `count` active ones (before, padding)',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): struct lb4_service',
    versions: { from: '1.17' },
    usedBy: ['tools/bpf-map/lb-maps.ts', 'model/service.ts'],
  },
  {
    id: 'lb-service-algorithm',
    what: 'service slot 0: the top byte of the affinity-timeout union is the LB algorithm (0 default, 1 random, 2 maglev)',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): struct lb4_service',
    versions: { from: '1.17' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
  },
  {
    id: 'lb-service-flags2-high-bits',
    what: 'service flags2 bit 0x40 (source-range deny / quarantined) and 0x80 (per-Service DSR) have a meaning',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): SVC_FLAG_SOURCE_RANGE_DENY, SVC_FLAG_FWD_MODE_DSR',
    versions: { from: '1.17' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
  },

  // --- the agent CLI's text and JSON (tools/cilium, tools/cilium-lb, collect/probes.ts) ---
  {
    id: 'status-format-known',
    what: '`cilium[-dbg] status --verbose` formats the status parser was written against',
    cilium: 'pkg/client/client.go: FormatStatusResponse',
    // 1.10-1.12 forms are read too (the public real-output corpus, fixtures/corpus/cilium-status)
    versions: { from: '1.10', to: '1.19' },
    usedBy: ['tools/cilium/status.ts'],
  },
  {
    id: 'status-routing-line',
    what: 'the status prints `Routing: Network: … Host: …` (JSON `routing`); before, `Host Routing:` (`host-routing`)',
    cilium: 'pkg/client/client.go: FormatStatusResponse',
    versions: { from: '1.16' },
    usedBy: ['tools/cilium/status.ts', 'tools/cilium/schema.ts', 'analysis/datapath.ts'],
  },
  {
    id: 'status-attach-device-mode',
    what: 'the status prints `Attach Mode:` and `Device Mode:` lines',
    cilium: 'pkg/client/client.go: FormatStatusResponse',
    versions: { from: '1.16' },
    usedBy: ['tools/cilium/status.ts'],
  },
  {
    id: 'cilium-dbg-binary',
    what: 'the agent image ships the debug CLI as `cilium-dbg`; before, as `cilium`',
    cilium: 'cilium-dbg/cmd (cilium/cmd before 1.15)',
    versions: { from: '1.15' },
    usedBy: ['collect/probes.ts'],
  },
  {
    id: 'frontend-protocol-printed',
    what: 'frontends print as `IP:port/PROTO`; before, `IP:port` (the maps hold ANY)',
    cilium: 'pkg/loadbalancer: L3n4Addr.String',
    versions: { from: '1.17' },
    usedBy: [
      'tools/cilium-lb/l3n4.ts',
      'tools/cilium-lb/parse-service-list.ts',
      'analysis/diff-services.ts',
      'model/diff.ts',
    ],
  },
  {
    id: 'lb-list-row-per-slot',
    what: '`bpf lb list` prints every slot as its own row with `(slot)`; before, one frontend groups its slots',
    cilium: 'cilium[-dbg]/cmd/bpf_lb_list.go',
    versions: { from: '1.15' },
    usedBy: ['tools/cilium-lb/parse-lb-list.ts'],
  },
  {
    id: 'service-list-remote',
    what: '`service list` may append ` (Remote)` to a type (clustermesh)',
    cilium: 'cilium[-dbg]/cmd/service_list.go',
    versions: { from: '1.14' },
    usedBy: ['tools/cilium-lb/parse-service-list.ts'],
  },
  {
    id: 'ct-list-svc-entries',
    what: '`bpf ct list global` prints Service entries as `<PROTO> SVC …`',
    cilium: 'cilium[-dbg]/cmd/bpf_ct_list.go (keys as pkg/maps/ctmap prints them)',
    versions: { from: '1.15' },
    usedBy: ['analysis/explain.ts'],
  },
  {
    id: 'config-tunnel-key',
    what: 'the agent config says `tunnel: disabled|vxlan|geneve`; later, `routing-mode`',
    cilium: 'pkg/option/config.go: the tunnel option (routing-mode and tunnel-protocol replace it)',
    versions: { to: '1.13' },
    usedBy: ['analysis/datapath.ts'],
  },

  // --- what the agent decides at start (analysis/datapath.ts) ---
  {
    id: 'tcx-attach',
    what: 'programs may attach with tcx (enable-tcx, Linux 6.6+); before, legacy tc only',
    cilium: 'pkg/datapath/loader/tcx.go',
    versions: { from: '1.16' },
    usedBy: ['analysis/datapath.ts'],
  },
  {
    id: 'netkit-device',
    what: 'pods may get netkit devices (datapath-mode netkit|netkit-l2, Linux 6.7+); before, veth only',
    cilium: 'pkg/datapath/loader/netkit.go',
    versions: { from: '1.16' },
    usedBy: ['analysis/datapath.ts'],
  },
  {
    id: 'legacy-routing-ipsec',
    what: 'IPsec encryption forces legacy host routing',
    cilium: 'daemon/cmd/kube_proxy_replacement.go: finishKubeProxyReplacementInit (pkg/kpr/initializer from 1.19)',
    versions: { from: '1.13', to: '1.18' },
    usedBy: ['analysis/datapath.ts'],
  },
  {
    id: 'legacy-routing-endpoint-routes',
    what: 'per-endpoint routes (enable-endpoint-routes) force legacy host routing',
    cilium: 'daemon/cmd/kube_proxy_replacement.go: finishKubeProxyReplacementInit',
    versions: { from: '1.13', to: '1.13' },
    usedBy: ['analysis/datapath.ts'],
  },
  {
    id: 'legacy-routing-wireguard',
    what: 'WireGuard encryption forces legacy host routing',
    cilium: 'daemon/cmd/kube_proxy_replacement.go: finishKubeProxyReplacementInit',
    versions: { from: '1.13', to: '1.13' },
    usedBy: ['analysis/datapath.ts'],
  },
  {
    id: 'legacy-routing-kernel-helpers',
    what: 'a kernel without bpf_redirect_peer / bpf_redirect_neigh (before 5.10) forces legacy host routing',
    cilium: 'daemon/cmd/kube_proxy_replacement.go: finishKubeProxyReplacementInit (helper probe)',
    versions: { from: '1.13', to: '1.17' },
    usedBy: ['analysis/datapath.ts'],
  },
  {
    id: 'bpf-masquerade-needs-nodeport',
    what: 'BPF masquerade needs BPF NodePort (kube-proxy replacement), else the agent falls back to iptables',
    cilium: "daemon/cmd: start-up checks (log 'Falling back to iptables-based masquerading')",
    versions: { from: '1.13', to: '1.14' },
    usedBy: ['analysis/datapath.ts'],
  },

  // --- how Cilium's datapath treats packets (analysis/) ---
  {
    id: 'lb-no-icmp-echo-for-vips',
    what: 'the load balancer translates TCP, UDP and SCTP only and nothing answers ICMP echo to a Service address (an opt-in VIP echo responder, bpf-lb-reply-icmp-echo-virtual-ips, was proposed upstream but is in no release up to 1.19)',
    cilium: 'bpf/lib/lb.h: lb4_extract_tuple, lb6_extract_tuple (ICMP → DROP_UNSUPP_SERVICE_PROTO)',
    versions: { to: '1.19' },
    usedBy: ['analysis/diff-behaviour.ts', 'analysis/trace-service-icmp.ts'],
  },

  // --- socket-LB, ICMP to a Service, NAT46/64 (analysis/trace-socket-lb.ts, analysis/trace-service-icmp.ts,
  // analysis/trace-service.ts; issue 14). Read at the bpf_sock.c / lb.h / nodeport.h revisions the code search
  // holds (1.14-era and main); the 1.13–1.19 range is the rules audit's reading of the release tags. ---
  {
    id: 'lb-icmp-skips-service-lookup',
    what: 'ICMP to a Service address: lb4/lb6_extract_tuple return DROP_UNSUPP_SERVICE_PROTO, every caller skips the Service lookup, and the packet is routed like any packet to that address',
    cilium:
      'bpf/lib/lb.h: lb4_extract_tuple, lb6_extract_tuple; bpf/bpf_lxc.c: __per_packet_lb_svc_xlate_4 (skip_service_lookup); bpf/lib/nodeport.h: nodeport_lb4, nodeport_lb6',
    versions: { from: '1.13', to: '1.19' },
    usedBy: ['analysis/trace-service-icmp.ts'],
    when: 'a flow of protocol ICMP / ICMPv6 to a frontend address, any load-balancing mode',
  },
  {
    id: 'socket-lb-wildcard-nodeport',
    what: "socket-LB: connect()/sendmsg() to an address with no frontend of its own, a port in the NodePort range, and an address that is a node's (this node's or, by ipcache identity, a remote node's) or, from the host namespace, in 127.0.0.0/8, matches the wildcard 0.0.0.0:port NodePort entry and is translated",
    cilium: 'bpf/bpf_sock.c: __sock4_xlate_fwd → sock4_wildcard_lookup_full → sock4_wildcard_lookup (sock6_* likewise)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-socket-lb.ts', 'analysis/trace-service.ts'],
    when: 'socket-LB on, NodePort compiled in (kube-proxy replacement), TCP or UDP',
  },
  {
    id: 'socket-lb-externalip-own-address',
    what: "socket-LB translates an ExternalIP frontend (and a HostPort one on a non-loopback address) only when the address carries the host identity in the ipcache — one of this node's own addresses; otherwise it leaves the socket alone (MITM protection)",
    cilium: 'bpf/bpf_sock.c: sock4_skip_xlate, sock6_skip_xlate',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-socket-lb.ts'],
    when: 'socket-LB on, an ExternalIPs or HostPort frontend',
  },
  {
    id: 'socket-lb-no-backend-connect-fails',
    what: 'socket-LB: a frontend whose entry has no backend (count 0, not an L7 load balancer) makes the connect/sendmsg hook reject the call: connect() or sendto() fails with EHOSTUNREACH (bpf_set_retval, Linux 5.18+; EPERM where the helper is missing), and no packet is sent',
    cilium:
      'bpf/bpf_sock.c: __sock4_xlate_fwd (svc->count == 0 → -EHOSTUNREACH), cil_sock4_connect, cil_sock4_sendmsg (try_set_retval)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-socket-lb.ts'],
    when: 'socket-LB translates the flow (source in scope, TCP or UDP), the frontend has no active backend',
  },
  {
    id: 'socket-lb-udp-recvmsg-revnat',
    what: "socket-LB, UDP: the recvmsg hook rewrites a reply's source from the backend back to the frontend, from the (socket cookie, backend) entry connect/sendmsg wrote in cilium_lb4_reverse_sk / cilium_lb6_reverse_sk",
    cilium: 'bpf/bpf_sock.c: cil_sock4_recvmsg → __sock4_xlate_rev; sock4_update_revnat',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-socket-lb.ts'],
    when: 'socket-LB translates a UDP flow',
  },
  {
    id: 'socket-lb-skips-nat46x64',
    what: 'socket-LB leaves a Service whose frontend and backends are of different families (NAT46/64) to the per-packet load balancer',
    cilium: 'bpf/bpf_sock.c: sock4_skip_xlate (lb4_to_lb6_service), sock6_skip_xlate (lb6_to_lb4_service)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-service.ts'],
    when: 'a frontend of one family with backends of the other',
  },
  {
    id: 'lb-nat46x64-nodeport',
    what: 'NodePort/LoadBalancer from outside to an IPv4 frontend with IPv6 backends: nodeport_lb4 rewrites the packet to IPv6 (source and destination as IPv4-mapped addresses, lb4_to_lb6) and recirculates it into nodeport_lb6, which picks the backend; without NAT46/64 compiled in the same step drops with DROP_NAT_46X64_DISABLED (the reverse, 6→4, is symmetric)',
    cilium: 'bpf/lib/lb.h: lb4_to_lb6, lb6_to_lb4; bpf/lib/nodeport.h: nodeport_lb4 (NAT_46X64_RECIRC), nodeport_lb6',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-service.ts'],
    when: 'kube-proxy replacement on, NAT46/64 Support: Services Enabled, a frontend of one family with backends of the other',
  },
] as const satisfies readonly CiliumRule[];

export type CiliumRuleId = (typeof TABLE)[number]['id'];

/** The whole table, in the order above (the docs list it from here). */
export const CILIUM_RULES: readonly CiliumRule[] = TABLE;

const byId = new Map<string, CiliumRule>(TABLE.map((r) => [r.id, r]));

export function ciliumRule(id: CiliumRuleId): CiliumRule {
  return byId.get(id)!;
}

/** [major, minor] of a Cilium version string (`1.17.6-cee.1`, `v1.18.0`), or null when it does not start with one. */
export function parseCiliumVersion(version: string): CiliumMinor | null {
  const m = /^v?(\d{1,3})\.(\d{1,3})/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function compare(a: CiliumMinor, b: CiliumMinor): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

function minor(text: `${number}.${number}`): CiliumMinor {
  return parseCiliumVersion(text)!;
}

/** Whether `version` lies in `range` (both ends inclusive, absent ends open). */
export function inVersionRange(version: CiliumMinor, range: VersionRange): boolean {
  if (range.from !== undefined && compare(version, minor(range.from)) < 0) return false;
  if (range.to !== undefined && compare(version, minor(range.to)) > 0) return false;
  return true;
}

/** Whether the rule holds in `version`. */
export function ciliumRuleHolds(id: CiliumRuleId, version: CiliumMinor): boolean {
  return inVersionRange(version, ciliumRule(id).versions);
}

/** The range as prose puts it: `1.13–1.18`, `1.13`, `1.16+`, `≤ 1.19`. */
export function versionRangeText(range: VersionRange): string {
  if (range.from !== undefined && range.to !== undefined)
    return range.from === range.to ? range.from : `${range.from}–${range.to}`;
  if (range.from !== undefined) return `${range.from}+`;
  if (range.to !== undefined) return `≤ ${range.to}`;
  return 'every version';
}
