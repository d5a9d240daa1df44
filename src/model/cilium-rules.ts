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
    what: 'the load balancer translates TCP, UDP and SCTP only: nothing answers ICMP echo to a Service address (later: bpf-lb-reply-icmp-echo-virtual-ips)',
    cilium: 'bpf/lib/icmp.h',
    versions: { to: '1.19' },
    usedBy: ['analysis/diff-behaviour.ts'],
  },

  // --- issue 15: the ipcache, WireGuard, tunnel mode and masquerade (analysis/trace/classify, egress, encap) ---
  // Read in the stored main-branch sources (bpf/lib/wireguard.h, nat.h, identity.h); the release cut-offs are the
  // rules audit's (shared/reference/cilium-rules-audit.md rows 11, 13, 25-28), not re-read per tag here: no `checked`.
  {
    id: 'ipcache-remote-node-identity',
    what: 'a remote node is an ipcache entry of identity remote-node (6), kube-apiserver (7) or a per-node identity (scope 0x02); world (2, 9, 10) and CIDR identities are outside the cluster',
    cilium: 'bpf/lib/identity.h: identity_is_remote_node, identity_is_cluster',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace/ipcache.ts', 'analysis/trace/classify.ts'],
    when: 'the ipcache was read (cilium-dbg bpf ipcache list or the pinned map)',
  },
  {
    id: 'masq-bpf-ipcache-entry',
    what: "BPF masquerade SNATs a local endpoint's packet only when the destination has an ipcache entry (the world 0.0.0.0/0 entry usually covers the rest)",
    cilium: 'bpf/lib/nat.h: snat_v4_needs_masquerade (the remote_ep branch)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace/egress.ts'],
    when: 'Masquerading: BPF, destination outside the SNAT exclusion CIDR',
  },
  {
    id: 'masq-bpf-skip-remote-node',
    what: 'BPF masquerade leaves a packet to a remote-node identity alone in native routing',
    cilium: 'bpf/lib/nat.h: snat_v4_needs_masquerade (identity_is_remote_node under #ifndef TUNNEL_MODE)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace/egress.ts'],
    when: 'Masquerading: BPF, native routing, destination of remote-node identity in the ipcache',
  },
  {
    id: 'masq-bpf-tunnel-remote-node',
    what: "in tunnel mode a pod's packet to a remote node is not encapsulated and is masqueraded",
    cilium: 'bpf/lib/nat.h: snat_v4_needs_masquerade (the TUNNEL_MODE comment)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace/egress.ts'],
    when: 'Masquerading: BPF, tunnel mode, destination of remote-node identity',
  },
  {
    id: 'masq-bpf-ip-masq-agent',
    what: 'with ip-masq-agent a destination in the cilium_ipmasq_v4/v6 LPM map is not masqueraded (the default list holds the private ranges)',
    cilium: 'bpf/lib/nat.h: snat_v4_needs_masquerade (IP_MASQ_AGENT_IPV4 lookup); pkg/ipmasq',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace/egress.ts'],
    when: 'Masquerading: BPF (ip-masq-agent) or enable-ip-masq-agent=true',
  },
  {
    id: 'masq-egress-gateway',
    what: 'an egress gateway policy that selects the source and destination SNATs to its egress IP before the exclusion CIDR is checked; a destination of cluster identity is skipped',
    cilium: 'bpf/lib/nat.h: snat_v4_needs_masquerade (egress_gw_snat_needed_hook)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace/egress.ts'],
    when: 'egress gateway enabled (enable-ipv4-egress-gateway), BPF masquerade',
  },
  {
    id: 'wireguard-redirect-to-encrypt',
    what: "cil_to_netdev redirects to cilium_wg0 when the destination's ipcache entry has a key and the source is a cluster identity other than the host (or node encryption is on); in tunnel mode the overlay packet always",
    cilium: 'bpf/lib/wireguard.h: wg_maybe_redirect_to_encrypt (from bpf_host.c cil_to_netdev)',
    versions: { from: '1.14' },
    usedBy: ['analysis/trace/encap.ts'],
    when: 'Encryption: Wireguard (Cilium-managed cilium_wg0), Cilium 1.14+',
  },
  {
    id: 'wireguard-ip-rule',
    what: 'a packet for a WireGuard peer gets the encrypt mark, and the rule `fwmark 0xe00/0xf00 lookup 201` routes it to cilium_wg0',
    cilium: 'pkg/wireguard/agent: the rule and table 201; bpf_lxc.c sets the mark',
    versions: { from: '1.13', to: '1.13' },
    usedBy: ['analysis/trace/encap.ts'],
    when: 'Encryption: Wireguard, Cilium 1.13',
  },
  {
    id: 'tunnel-encap-from-pod',
    what: "tunnel mode: a pod's packet for a destination whose ipcache entry has a tunnel endpoint is encapsulated (tunnel key = that node) and redirected to cilium_vxlan / cilium_geneve (UDP 8472 / 6081 unless tunnel-port)",
    cilium: 'bpf/bpf_lxc.c: handle_ipv4_from_lxc → encap_and_redirect_lxc (bpf/lib/encap.h)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace/encap.ts'],
    when: 'Routing: Network: Tunnel [vxlan|geneve] (1.13: tunnel=vxlan|geneve)',
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
