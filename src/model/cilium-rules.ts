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
  /**
   * A release line older than `versions.from` that got the change in a patch release: from `patch` on when it is
   * known, else the whole line is undecided (ciliumRuleHoldsAt answers 'unknown' there).
   */
  backport?: { line: `${number}.${number}`; patch?: number };
}

const TABLE = [
  // --- the layout of the pinned LB maps (tools/bpf-map/lb-maps.ts decodes their raw bytes; its layout eras are cut
  // where one of these starts) ---
  {
    id: 'lb-maps-v3',
    what: 'Services live in cilium_lb{4,6}_services_v2, cilium_lb{4,6}_backends_v3 and cilium_lb{4,6}_reverse_nat',
    cilium: 'bpf/node_config.h: LB4_SERVICES_MAP_V2, LB4_BACKEND_MAP, LB4_REVERSE_NAT_MAP (and the LB6_ ones)',
    versions: { from: '1.13' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
    checked: ['v1.13.9', 'main@2ba24a2a (1.19 branch point)', 'main@aeb2d1b6 (1.20.0-dev)'],
  },
  {
    id: 'lb-backend-cluster-id-u16',
    what: 'backend value: cluster_id is a u16 (byte 9 may be non-zero); before, a u8 followed by padding',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): struct lb4_backend / lb6_backend',
    versions: { from: '1.15' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
    checked: ['v1.14.4', 'v1.15.4'],
  },
  {
    id: 'lb-backend-zone',
    what: 'backend value: a zone byte after cluster_id',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): struct lb4_backend / lb6_backend',
    versions: { from: '1.16' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
    checked: ['v1.15.4', 'v1.16.15'],
  },
  {
    id: 'lb-l4-protocol',
    what: 'service key byte 8 and backend proto carry the L4 protocol (6/17/132); before, always 0 (ANY)',
    cilium:
      'bpf/lib/common.h (lb.h from 1.19): struct lb4_key, lb4_backend; pkg/maps/lbmap/ipv4.go (pkg/loadbalancer/maps/types.go from 1.18)',
    versions: { from: '1.17' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
    when: 'Cilium 1.17–1.18: bpf-lb-proto-diff=true (the default); from 1.19 always',
    checked: ['v1.16.15', 'v1.17.14', 'v1.18.3', 'main@2ba24a2a (1.19 branch point)'],
  },
  {
    id: 'lb-service-qcount',
    what: 'service slot 0: qcount, the quarantined backends after the `count` active ones (before, padding)',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): struct lb4_service',
    versions: { from: '1.17' },
    usedBy: ['tools/bpf-map/lb-maps.ts', 'model/service.ts'],
    checked: ['v1.16.15', 'v1.17.14'],
  },
  {
    id: 'lb-service-algorithm',
    what: 'service slot 0: the top byte of the affinity-timeout union is the LB algorithm (0 default, 1 random, 2 maglev)',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): struct lb4_service',
    versions: { from: '1.17' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
    checked: ['v1.16.15', 'v1.17.14'],
  },
  {
    id: 'lb-service-flags2-high-bits',
    what: 'service flags2 bit 0x40 (source-range deny / quarantined) and 0x80 (per-Service DSR) have a meaning',
    cilium: 'bpf/lib/common.h (lb.h from 1.19): SVC_FLAG_SOURCE_RANGE_DENY, SVC_FLAG_FWD_MODE_DSR',
    versions: { from: '1.17' },
    usedBy: ['tools/bpf-map/lb-maps.ts'],
    checked: ['v1.16.15', 'v1.17.14'],
  },

  // --- the agent CLI's text and JSON (tools/cilium, tools/cilium-lb, collect/probes.ts) ---
  {
    id: 'status-format-known',
    what: '`cilium[-dbg] status --verbose` formats the status parser was written against',
    cilium: 'pkg/client/client.go: FormatStatusResponse',
    // 1.10-1.12 forms are read too (the public real-output corpus, fixtures/corpus/cilium-status)
    versions: { from: '1.10', to: '1.19' },
    usedBy: ['tools/cilium/status.ts'],
    checked: ['v1.13.9', 'v1.16.15', 'v1.18.3', 'main@2ba24a2a (1.19 branch point)'],
  },
  {
    id: 'status-routing-line',
    what: 'the status prints `Routing: Network: … Host: …` (JSON `routing`); before, `Host Routing:` (`host-routing`)',
    cilium: 'pkg/client/client.go: FormatStatusResponse',
    versions: { from: '1.16' },
    usedBy: ['tools/cilium/status.ts', 'tools/cilium/schema.ts', 'analysis/datapath.ts'],
    // cilium/cilium#32036 (merged 2024-04, the 1.16 cycle) replaced the Host Routing line
    checked: ['v1.15.4', 'v1.16.15'],
  },
  {
    id: 'status-attach-device-mode',
    what: 'the status prints `Attach Mode:` and `Device Mode:` lines',
    cilium: 'pkg/client/client.go: FormatStatusResponse',
    versions: { from: '1.16' },
    usedBy: ['tools/cilium/status.ts'],
    checked: ['v1.15.4', 'v1.16.15'],
  },
  {
    id: 'cilium-dbg-binary',
    what: 'the agent image ships the debug CLI as `cilium-dbg`; before, as `cilium`',
    cilium: 'cilium-dbg/cmd/root.go: RootCmd (Use "cilium-dbg"; cilium/cmd/root.go before 1.15)',
    versions: { from: '1.15' },
    usedBy: ['collect/probes.ts'],
    checked: ['v1.14.4', 'v1.15.4'],
  },
  {
    id: 'frontend-protocol-printed',
    what: 'frontends print as `IP:port/PROTO`; before, `IP:port` (the maps hold ANY)',
    cilium: 'pkg/loadbalancer/loadbalancer.go: L3n4Addr.String',
    versions: { from: '1.17' },
    usedBy: [
      'tools/cilium-lb/l3n4.ts',
      'tools/cilium-lb/parse-service-list.ts',
      'analysis/diff-services.ts',
      'model/diff.ts',
    ],
    checked: ['v1.16.15', 'v1.17.14'],
  },
  {
    id: 'lb-list-row-per-slot',
    what: '`bpf lb list` prints every slot as its own row with `(slot)`; before, one frontend groups its slots',
    cilium: 'cilium[-dbg]/cmd/bpf_lb_list.go: dumpSVC',
    versions: { from: '1.15' },
    usedBy: ['tools/cilium-lb/parse-lb-list.ts'],
    checked: ['v1.14.4', 'v1.15.4'],
  },
  {
    id: 'service-list-remote',
    what: '`service list` may append ` (Remote)` to a type (clustermesh)',
    cilium: 'cilium[-dbg]/cmd/service_list.go: printServiceList (appends it when spec.flags.cluster is set)',
    versions: { from: '1.14' },
    usedBy: ['tools/cilium-lb/parse-service-list.ts'],
    checked: ['v1.13.9', 'v1.14.4'],
  },
  {
    id: 'ct-list-svc-entries',
    what: '`bpf ct list global` prints Service entries as `<PROTO> SVC …`',
    cilium: 'pkg/maps/ctmap/types.go: CtKey4Global.Dump (pkg/tuple/ipv4.go: TupleKey4Global.Dump before 1.15)',
    versions: { from: '1.15' },
    usedBy: ['analysis/explain.ts'],
    // cilium/cilium#28913 (merged 2023-11, the 1.15 cycle): before, `<PROTO> OUT <vip> -> <client> service`
    checked: ['v1.14.4', 'v1.15.4'],
  },
  {
    id: 'config-tunnel-key',
    what: 'the agent reads `tunnel: disabled|vxlan|geneve` (deprecated in 1.14 for `routing-mode` + `tunnel-protocol`, removed in 1.15)',
    cilium: 'pkg/option/config.go: DaemonConfig.Tunnel, TunnelDisabled (RoutingMode and TunnelProtocol from 1.14)',
    // cilium/cilium#24561 (1.14) deprecated the key, #29053 (merged 2023-11, 1.15) removed it
    versions: { to: '1.14' },
    usedBy: ['analysis/datapath.ts'],
    when: 'the ConfigMap has a `tunnel` key',
    checked: ['v1.13.9'],
  },

  // --- what the agent decides at start (analysis/datapath.ts) ---
  {
    id: 'tcx-attach',
    what: 'programs may attach with tcx (enable-tcx, Linux 6.6+); before, legacy tc only',
    cilium: 'pkg/datapath/loader/tc.go: attachSKBProgram → upsertTCXProgram (tcx.go), else legacy tc',
    versions: { from: '1.16' },
    usedBy: ['analysis/datapath.ts'],
    when: 'enable-tcx=true (the default) and a kernel with tcx (6.6+, probes.HaveTCX)',
    checked: ['v1.15.4', 'v1.16.15'],
  },
  {
    id: 'netkit-device',
    what: 'pods may get netkit devices (datapath-mode netkit|netkit-l2, Linux 6.7+); before, veth only',
    cilium: 'pkg/datapath/loader/tc.go: attachSKBProgram → upsertNetkitProgram (netkit.go) for netkit devices',
    versions: { from: '1.16' },
    usedBy: ['analysis/datapath.ts'],
    when: 'datapath-mode netkit or netkit-l2',
    checked: ['v1.15.4', 'v1.16.15'],
  },
  {
    id: 'legacy-routing-ipsec',
    what: 'IPsec encryption forces legacy host routing',
    cilium: 'daemon/cmd/kube_proxy_replacement.go: finishKubeProxyReplacementInit (pkg/kpr/initializer from 1.19)',
    versions: { from: '1.13', to: '1.18' },
    usedBy: ['analysis/datapath.ts'],
    when: 'enable-ipsec=true, enable-host-legacy-routing not set',
    checked: ['v1.13.9', 'v1.18.3', 'main@2ba24a2a (1.19 branch point)'],
  },
  {
    id: 'legacy-routing-endpoint-routes',
    what: 'per-endpoint routes (enable-endpoint-routes) force legacy host routing',
    cilium: 'daemon/cmd/kube_proxy_replacement.go: finishKubeProxyReplacementInit',
    versions: { from: '1.13', to: '1.13' },
    usedBy: ['analysis/datapath.ts'],
    when: 'enable-endpoint-routes=true',
    checked: ['v1.13.9', 'v1.14.4'],
  },
  {
    id: 'legacy-routing-wireguard',
    what: 'WireGuard encryption forces legacy host routing',
    cilium: 'daemon/cmd/kube_proxy_replacement.go: finishKubeProxyReplacementInit',
    versions: { from: '1.13', to: '1.13' },
    usedBy: ['analysis/datapath.ts'],
    when: 'enable-wireguard=true',
    checked: ['v1.13.9', 'v1.14.4'],
  },
  {
    id: 'legacy-routing-kernel-helpers',
    what: 'a kernel without bpf_redirect_peer / bpf_redirect_neigh (before 5.10) forces legacy host routing',
    cilium:
      'daemon/cmd/kube_proxy_replacement.go: finishKubeProxyReplacementInit (probes: sched_cls helpers bpf_redirect_neigh, bpf_redirect_peer)',
    versions: { from: '1.13', to: '1.17' },
    usedBy: ['analysis/datapath.ts'],
    when: 'a kernel without bpf_redirect_peer or bpf_redirect_neigh (before 5.10)',
    checked: ['v1.13.9', 'v1.17.14', 'v1.18.3'],
  },
  {
    id: 'bpf-masquerade-needs-nodeport',
    what: 'BPF masquerade needs BPF NodePort (kube-proxy replacement), else the agent falls back to iptables (from 1.16 it refuses to start)',
    cilium:
      'daemon/cmd/daemon.go: the BPF masquerade checks in newDaemon (NewDaemon ≤ 1.13), after finishKubeProxyReplacementInit',
    // cilium/cilium#29778 (merged after 2023-12-16, the 1.16 cycle) turned the fallback into a start-up error
    versions: { from: '1.13', to: '1.15' },
    usedBy: ['analysis/datapath.ts'],
    when: 'enable-bpf-masquerade=true with masquerading on and BPF NodePort off',
    checked: ['v1.13.9', 'asauber/cilium@d4560a47 (1.15, falls back)', '1.16-era daemon.go (returns the error)'],
  },

  // --- legacy routing, netkit, FIB-local, single-device FIB skip (analysis/trace/from-pod.ts, from-host.ts) ---
  {
    id: 'legacy-routing-local-redirect',
    what: 'pod → local pod with legacy host routing, no per-endpoint routes: ENABLE_ROUTING is defined, the local endpoint lookup hits and local delivery ends in a plain bpf_redirect to the destination lxc (no redirect_peer)',
    cilium:
      'bpf/bpf_lxc.c: handle_ipv4_from_lxc, handle_ipv6_from_lxc; pkg/datapath/linux/config/config.go: writeTemplateConfig (ENABLE_ROUTING when RequireRouting)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace/from-pod.ts'],
    when: 'host routing Legacy, enable-endpoint-routes false',
  },
  {
    id: 'legacy-endpoint-routes-to-stack',
    what: 'pod → local pod with legacy host routing and per-endpoint routes: endpoint routes set RequireRouting false, so neither ENABLE_ROUTING nor ENABLE_HOST_ROUTING is defined; cil_from_container skips the local endpoint lookup and passes the packet to the stack, which routes it by `podIP dev lxc…` through FORWARD to cil_to_container on that device',
    cilium:
      'bpf/bpf_lxc.c: handle_ipv4_from_lxc (pass_to_stack); daemon/cmd/endpoint.go: createEndpoint (RequireRouting = false with EnableEndpointRoutes)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace/from-pod.ts'],
    when: 'host routing Legacy, enable-endpoint-routes true',
  },
  {
    id: 'netkit-netdev-redirect-peer',
    what: 'native device → local pod on netkit with BPF host routing: bpf_redirect_peer, because the packet has an ingress ifindex (> 0); only bpf_lxc at the pod peer (ingress ifindex 0) uses a plain redirect',
    cilium: 'bpf/lib/local_delivery.h: should_redirect_peer (1.16: redirect_ep in bpf/lib/common.h)',
    versions: { from: '1.16' },
    usedBy: ['analysis/trace/from-pod.ts', 'analysis/trace/from-host.ts'],
    when: 'device mode netkit or netkit-l2, host routing BPF, packet from a native device',
  },
  {
    id: 'fib-local-drop',
    what: 'bpf_fib_lookup in cil_from_container answers NOT_FWDED (a local route) for an address that is not an endpoint: fib_redirect treats every result but SUCCESS and NO_NEIGH as DROP_NO_FIB',
    cilium: 'bpf/lib/fib.h: fib_redirect_v4 / fib_redirect_v6 (1.13: redirect_direct_v4 drops likewise)',
    versions: { to: '1.17' },
    usedBy: ['analysis/trace/from-pod.ts'],
    when: 'host routing BPF, destination not an endpoint, the FIB answers local',
  },
  {
    id: 'fib-local-to-stack',
    what: 'bpf_fib_lookup answering NOT_FWDED (local route) sends the packet to the stack (pass_to_stack) instead of DROP_NO_FIB',
    cilium: 'bpf/bpf_lxc.c: handle_ipv4_from_lxc (DROP_NO_FIB with ext_err BPF_FIB_LKUP_RET_NOT_FWDED → pass_to_stack)',
    versions: { from: '1.19' },
    // backported into a 1.18 patch release whose number was not verified: 1.18 is unknown
    backport: { line: '1.18' },
    usedBy: ['analysis/trace/from-pod.ts'],
    when: 'host routing BPF, destination not an endpoint, the FIB answers local',
  },
  {
    id: 'bpf-skip-fib-single-device',
    what: 'with BPF host routing, a direct-routing device and exactly one native device, ENABLE_SKIP_FIB is compiled in: the packet is redirect_neigh-ed to the direct-routing device without a bpf_fib_lookup (later lines add a condition, EnforceLXCFibLookup, for endpoint programs)',
    cilium:
      'pkg/datapath/linux/config/config.go: writeTemplateConfig (ENABLE_SKIP_FIB); bpf/lib/fib.h: fib_redirect_v4 (1.13: redirect_direct_v4)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace/from-pod.ts'],
    when: 'host routing BPF, one native device, a Direct Routing device',
  },

  // --- how Cilium's datapath treats packets (analysis/) ---
  {
    id: 'lb-no-icmp-echo-for-vips',
    what: 'the load balancer translates TCP, UDP and SCTP only and nothing answers ICMP echo to a Service address (an opt-in VIP echo responder, bpf-lb-reply-icmp-echo-virtual-ips, was proposed upstream but is in no release up to 1.19)',
    cilium: 'bpf/lib/lb.h: lb4_extract_tuple, lb6_extract_tuple (ICMP → DROP_UNSUPP_SERVICE_PROTO)',
    versions: { to: '1.19' },
    usedBy: ['analysis/diff-behaviour.ts', 'analysis/trace-service-icmp.ts'],
    checked: ['v1.13.8', 'v1.14.16', 'v1.16.15', 'v1.17.8', 'v1.18.3', 'main@2ba24a2a (1.19 branch point)'],
  },

  // --- NodePort / LoadBalancer / ExternalIP from outside the node, and where kube-proxy decides instead
  // (analysis/trace-nodeport.ts; issue 14). Read in a 1.13-era bpf/lib/nodeport.h (tail_nodeport_nat_ipv4 with
  // the NODEPORT_NEIGH4 map and lb4_extract_key) and a 1.14+-era one (tail_nodeport_nat_egress_ipv4 with
  // fib_redirect_v4), bpf/bpf_host.c handle_ipv4 in several releases, and the kernel's bpf_ipv4_fib_lookup. ---
  {
    id: 'nodeport-needs-enable-nodeport',
    what: 'bpf_host runs nodeport_lb4 (Service lookup, DROP_IS_CLUSTER_IP, NodePort NAT) only when NodePort is compiled in (ENABLE_NODEPORT: kube-proxy replacement, or enable-node-port); otherwise a packet from outside to a Service address is left to the stack and kube-proxy',
    cilium: 'bpf/bpf_host.c: handle_ipv4 (#ifdef ENABLE_NODEPORT … nodeport_lb4)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-nodeport.ts'],
    when: 'a packet from outside the node to a Service frontend; NodePort off (status `- NodePort: Disabled`)',
    checked: ['1.13-era bpf_host.c', '1.16-era bpf_host.c', 'main (1.19) bpf_host.c'],
  },
  {
    id: 'nodeport-not-from-host',
    what: "bpf_host never load-balances a packet the host itself sends (nodeport_lb4 runs only when !from_host): host → Service without socket-LB is translated by kube-proxy's OUTPUT DNAT, or by nothing",
    cilium: 'bpf/bpf_host.c: handle_ipv4 (if (!from_host) … nodeport_lb4)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-nodeport.ts'],
    when: 'a packet from the host namespace to a Service frontend that no socket-LB hook rewrites',
    checked: ['1.16-era bpf_host.c', 'main (1.19) bpf_host.c'],
  },
  {
    id: 'nodeport-drop-is-cluster-ip',
    what: 'from outside, a Service entry without the routable flag (a ClusterIP, unless bpf-lb-external-clusterip) is dropped with DROP_IS_CLUSTER_IP after the lookup',
    cilium: 'bpf/lib/nodeport.h: nodeport_lb4 (lb4_svc_is_routable)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-nodeport.ts'],
    when: 'NodePort compiled in; a packet from outside to a non-routable frontend',
    checked: ['1.13-era nodeport.h', '1.14+-era nodeport.h'],
  },
  {
    id: 'nodeport-local-backend',
    what: 'a backend on this node: nodeport_lb4 DNATs, creates the CT entry and returns to handle_ipv4, which delivers locally (no SNAT); the reply is reverse-NATed in bpf_lxc',
    cilium:
      'bpf/lib/nodeport.h: nodeport_lb4 (backend_local → CTX_ACT_OK); bpf/bpf_host.c: handle_ipv4 → ipv4_local_delivery',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-nodeport.ts'],
    when: 'NodePort compiled in; the chosen backend is a pod of this node',
    checked: ['1.13-era nodeport.h', '1.14+-era nodeport.h'],
  },
  {
    id: 'nodeport-remote-fib-redirect',
    what: 'a backend on another node, SNAT: tail_nodeport_nat_egress_ipv4 SNATs to the direct-routing device address, then fib_redirect_v4 (bpf_fib_lookup, then bpf_redirect_neigh, also when the neighbour is unresolved) sends it out of the FIB device, all inside cil_from_netdev: no routing stack, no netfilter',
    cilium: 'bpf/lib/nodeport.h: nodeport_lb4 → tail_nodeport_nat_egress_ipv4 → bpf/lib/fib.h: fib_redirect_v4',
    versions: { from: '1.14' },
    usedBy: ['analysis/trace-nodeport.ts'],
    when: 'NodePort compiled in, NodePort mode SNAT (or Hybrid for non-TCP), the chosen backend on another node',
    checked: ['1.14+-era nodeport.h (cilium/cilium f541499)'],
  },
  {
    id: 'nodeport-remote-fib-redirect-1.13',
    what: 'a backend on another node, SNAT: tail_nodeport_nat_ipv4 SNATs to the direct-routing device address, then bpf_fib_lookup; any non-zero answer, including BPF_FIB_LKUP_RET_NO_NEIGH (no valid neighbour entry), drops with DROP_NO_FIB; on success a plain bpf_redirect with the MAC addresses from the FIB',
    cilium: 'bpf/lib/nodeport.h: nodeport_lb4 → tail_nodeport_nat_ipv4 (fib_lookup, ctx_redirect)',
    versions: { from: '1.13', to: '1.13' },
    usedBy: ['analysis/trace-nodeport.ts'],
    when: 'Cilium 1.13, NodePort compiled in, NodePort mode SNAT, the chosen backend on another node',
    checked: ['1.13-era nodeport.h (tail_nodeport_nat_ipv4)'],
  },
  {
    id: 'nodeport-dsr-mode',
    what: 'DSR keeps the client source: the Service address travels to the backend in an IPv4 option / IPv6 destination-option header (dispatch opt), or the packet is encapsulated (IPIP, Geneve); hybrid mode uses DSR for TCP only. The backend replies to the client directly',
    cilium:
      'bpf/lib/nodeport.h: nodeport_uses_dsr, nodeport_lb4 → tail_nodeport_ipv4_dsr (dsr_set_opt4 / dsr_set_ipip4 / Geneve)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-nodeport.ts'],
    when: 'NodePort mode DSR, or Hybrid and TCP, or the Service DSR flag (1.17+); the chosen backend on another node',
    checked: ['1.13-era nodeport.h', '1.14+-era nodeport.h'],
  },
  {
    id: 'nodeport-xdp',
    what: 'with XDP acceleration the same nodeport_lb4 runs in cil_xdp_entry before the stack and tc; the translated packet is sent from XDP (no tc egress program sees it)',
    cilium: 'bpf/bpf_xdp.c: cil_xdp_entry → check_v4_lb → nodeport_lb4',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-nodeport.ts'],
    when: 'XDP Acceleration Native / Best-Effort / Generic, a cil_xdp_entry program on the arrival device',
    checked: ['main (1.19) bpf_xdp.c'],
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

  // --- hairpin: a pod reaching itself through its own Service (analysis/trace-service.ts; issue 19). Read in the
  // one revision of each file the code search holds (lb.h at 0040d667, bpf_sock.c at 00c22b1c, both untagged;
  // bpf_lxc.c at d7be9552 defines USE_LOOPBACK_LB); no release tag was read, so no `checked`: the range is open. ---
  {
    id: 'lb-loopback-snat',
    what: "per-packet load balancing in cil_from_container: when the selected backend is the client's own address, lb4_local also rewrites the source to the service loopback address (IPV4_LOOPBACK, ipv4-service-loopback-address, default 169.254.42.1) and marks the connection loopback, because Linux drops a packet whose source is its own address as a martian; the packet is delivered back into the pod, and the reply to the loopback address is reverse-translated in cil_from_container",
    cilium:
      'bpf/lib/lb.h: lb4_local (saddr == backend->address → new_saddr = IPV4_LOOPBACK, state->loopback), lb4_xlate; bpf/bpf_lxc.c (USE_LOOPBACK_LB)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-service.ts', 'analysis/trace/hairpin.ts'],
    when: 'IPv4, a pod to a Service frontend translated per packet (socket-LB off or not covering pods), the backend followed is the pod itself',
  },
  {
    id: 'socket-lb-hairpin-own-address',
    what: "socket-LB: connect()/sendmsg() to a Service whose selected backend is the calling pod itself is rewritten to the pod's own address like any backend (no special case but for local-redirect Services); the pod's namespace then delivers it locally over lo, and no packet leaves the pod",
    cilium:
      'bpf/bpf_sock.c: __sock4_xlate_fwd (only lb4_svc_is_localredirect → sock4_skip_xlate_if_same_netns skips), __sock6_xlate_fwd (likewise: no case for the caller being the backend)',
    versions: { from: '1.13' },
    usedBy: ['analysis/trace-service.ts'],
    when: 'socket-LB translates the flow, the backend followed is the client pod itself',
  },
  // --- IPv6 hairpin (issue 19, IPv6). lb.h read at 0040d667 and e61549c7, bpf_sock.c at 00c22b1c, bpf_lxc.c in the
  // code search's newest revision (1.19+: __per_packet_lb_svc_xlate_6 sets ct_state.loopback); no release tag.
  // The cut at 1.19 is cilium/cilium#39594 (merged 2025-09-04, its release note for v1.19; #42497 says it is not in
  // 1.18); the failure before it is cilium/cilium#7150, #22275 (1.12), #26733, #35371 (1.14). ---
  {
    id: 'lb6-no-loopback-snat',
    what: "per-packet load balancing in cil_from_container, IPv6: lb6_local has no case for the selected backend being the client's own address (lb6_ctx_restore_state: no loopback support for IPv6), so the packet is handed back to the pod with its own address as both source and destination; the pod accepts it (IPv6 has no martian-source check for its own address) and answers itself over lo, that answer never passes cil_from_container and is not reverse-translated, so the client waiting on the frontend gets no reply: the connection does not complete",
    cilium:
      'bpf/lib/lb.h: lb6_local (no saddr == backend->address case), lb6_ctx_restore_state; bpf/bpf_lxc.c (IPv6 loopback code removed, cilium/cilium#27601)',
    versions: { from: '1.13', to: '1.18' },
    usedBy: ['analysis/trace-service.ts', 'analysis/trace/hairpin.ts'],
    when: 'IPv6, a pod to a Service frontend translated per packet, the backend followed is the pod itself',
  },
  {
    id: 'lb6-loopback-snat',
    what: "per-packet load balancing in cil_from_container, IPv6: when the selected backend is the client's own address, the source is also rewritten to the IPv6 service loopback address (CONFIG service_loopback_ipv6, agent option ipv6-service-loopback-address, default fe80::1) and the connection is marked loopback; the packet is delivered back into the pod and the reply is reverse-translated in cil_from_container, as for IPv4",
    cilium:
      'bpf/bpf_lxc.c: __per_packet_lb_svc_xlate_6 (ipv6_addr_equals(saddr, backend->address) → ct_state_new.loopback), lb6_dnat_request; bpf/lib/lb.h',
    versions: { from: '1.19' },
    usedBy: ['analysis/trace-service.ts', 'analysis/trace/hairpin.ts'],
    when: 'IPv6, a pod to a Service frontend translated per packet, the backend followed is the pod itself',
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

/**
 * Whether the rule holds in `version` (`1.18.3`, `v1.19.0-rc.1`), patch-aware for a backported rule: 'unknown' when the
 * version is unreadable, or lies on the backport's line and either the patch that carries it or the version's own
 * patch is not known.
 */
export function ciliumRuleHoldsAt(id: CiliumRuleId, version: string): boolean | 'unknown' {
  const v = parseCiliumVersion(version);
  if (!v) return 'unknown';
  const r = ciliumRule(id);
  if (inVersionRange(v, r.versions)) return true;
  if (r.backport && compare(v, minor(r.backport.line)) === 0) {
    const patch = /^v?\d+\.\d+\.(\d+)/.exec(version.trim());
    if (r.backport.patch === undefined || !patch) return 'unknown';
    return Number(patch[1]) >= r.backport.patch;
  }
  return false;
}

/** The range as prose puts it: `1.13–1.18`, `1.13`, `1.16+`, `≤ 1.19`. */
export function versionRangeText(range: VersionRange): string {
  if (range.from !== undefined && range.to !== undefined)
    return range.from === range.to ? range.from : `${range.from}–${range.to}`;
  if (range.from !== undefined) return `${range.from}+`;
  if (range.to !== undefined) return `≤ ${range.to}`;
  return 'every version';
}
