import type { BehaviourChange, ServiceDiff } from '../model/diff.js';
import type { ServiceEntry } from '../model/service.js';
import type { Evidence } from '../model/types.js';
import { configValue } from '../tools/cilium/config.js';
import { ciliumRule, versionRangeText } from '../model/cilium-rules.js';

import { isCilium } from './diff-services.js';
import { isPortmapChain } from './diff-chain-names.js';
import type { DiffSideInput, SideView } from './diff.js';

const FALSE = /^(false|disabled|no|0)$/i;
const TRUE = /^(true|enabled|yes|1)$/i;
const MAX_LIST = 8;
const few = (xs: string[]) => (xs.length <= MAX_LIST ? xs : [...xs.slice(0, MAX_LIST), `… (${xs.length})`]);

/** ICMP echo to a Service address: answered before (a local VIP, or kube-proxy's reject), silent under Cilium. */
function icmpEcho(before: DiffSideInput, after: DiffSideInput, services: ServiceDiff[]): BehaviourChange | undefined {
  // no Cilium release answers echo for VIPs (lb-no-icmp-echo-for-vips); a build whose config sets the proposed
  // bpf-lb-reply-icmp-echo-virtual-ips may, so the change is not claimed there
  const reply = configValue(after.state.cilium.config, 'bpf-lb-reply-icmp-echo-virtual-ips');
  if (reply && TRUE.test(reply.value.trim())) return undefined;
  const servedByCilium = new Set(services.filter((s) => s.after && isCilium(s.after.owner)).map((s) => s.address));
  const afterLocal = new Set(after.state.addrs.map((a) => a.local));
  const vips = before.state.addrs.filter(
    (a) => a.ifname === 'kube-ipvs0' && servedByCilium.has(a.local) && !afterLocal.has(a.local),
  );
  if (vips.length > 0) {
    return {
      code: 'icmp-echo',
      title: 'ping to a Service address is no longer answered',
      detail: `Before, ${vips.length} Service addresses sat on kube-ipvs0 as local addresses, so the kernel answered ICMP echo for them. Cilium's load balancer translates TCP, UDP and SCTP only: a ping to these addresses is now routed like any packet to them and gets no reply from this node (Cilium ${versionRangeText(ciliumRule('lb-no-icmp-echo-for-vips').versions)} has no echo responder for Service addresses; netpath trace --proto icmp shows where it goes). Health checks or monitoring that ping ClusterIPs or LoadBalancer IPs will report them down.`,
      regression: false,
      frontends: few(vips.map((a) => a.local)),
      evidence: vips.slice(0, 3).map((a) => a.source),
    };
  }
  const kp = before.nft?.rules.tables.find((t) => t.name === 'kube-proxy' && t.family === 'ip');
  const rej = kp?.chains.find((c) => c.name === 'cluster-ips-check')?.rules.find((r) => r.verdict?.kind === 'reject');
  const stillThere = after.nft?.rules.tables.some((t) => t.name === 'kube-proxy');
  if (rej && !stillThere && servedByCilium.size > 0) {
    return {
      code: 'icmp-echo',
      title: 'ping to a ClusterIP no longer gets "port unreachable"',
      detail: `Before, kube-proxy's nftables cluster-ips-check rejected anything but a Service port sent to a ClusterIP, so a ping got ICMP port unreachable at once. Cilium has no such rule: the ping now goes unanswered (it times out instead of failing fast).`,
      regression: false,
      evidence: [rej.source],
    };
  }
  return undefined;
}

type Mode = 'SNAT' | 'DSR' | 'Hybrid';

function kprMode(after: DiffSideInput): { mode?: Mode; evidence: Evidence[] } {
  const st = after.state.cilium.status?.kprMode;
  if (st) {
    const m = /^(snat|dsr|hybrid)/i.exec(st.mode.trim());
    if (m)
      return {
        mode: (m[1]!.toLowerCase() === 'snat' ? 'SNAT' : m[1]!.toLowerCase() === 'dsr' ? 'DSR' : 'Hybrid') as Mode,
        evidence: [st.source],
      };
  }
  const c = configValue(after.state.cilium.config, 'bpf-lb-mode');
  if (c) {
    const v = c.value.trim().toLowerCase();
    if (v === 'snat' || v === 'dsr' || v === 'hybrid')
      return { mode: (v === 'snat' ? 'SNAT' : v === 'dsr' ? 'DSR' : 'Hybrid') as Mode, evidence: [c.source] };
  }
  return { evidence: [] };
}

/** What source address a backend sees for a client outside the node: kube-proxy masquerades, Cilium depends on the mode. */
function clientSource(after: DiffSideInput, services: ServiceDiff[]): BehaviourChange | undefined {
  const ext = services.filter(
    (s) =>
      s.before &&
      s.after &&
      s.before.layers.some((l) => !isCilium(l)) &&
      isCilium(s.after.owner) &&
      s.type !== 'ClusterIP' &&
      s.address !== '0.0.0.0' &&
      s.address !== '::' &&
      s.before.trafficPolicy !== 'Local' &&
      s.after.trafficPolicy === 'Cluster',
  );
  if (ext.length === 0) return undefined;
  const { mode, evidence } = kprMode(after);
  const dsr = after.services.filter((e) => isCilium(e.source) && e.flags.dsr).length;
  const masq = ext.flatMap((s) => s.before!.evidence).find((e) => /KUBE-MARK-MASQ|mark-for-masquerade/.test(e.text));
  const now =
    mode === 'SNAT'
      ? 'In SNAT mode Cilium source-NATs to this node only when the chosen backend is on another node: a backend on this node now sees the real client address, one elsewhere still sees this node.'
      : mode === 'DSR'
        ? 'In DSR mode no backend is source-NATed: every backend sees the real client address and answers it directly with the Service address as source, so the return path must accept packets that did not pass this node.'
        : mode === 'Hybrid'
          ? 'In hybrid mode TCP goes DSR (the backend sees the client and answers it directly) and UDP goes SNAT (a backend on another node sees this node).'
          : 'The after state does not say whether Cilium runs SNAT, DSR or hybrid (KubeProxyReplacement Details: Mode), so what backends see now is unknown.';
  return {
    code: 'client-source-address',
    title: 'backends see a different client source address',
    detail: `Before, kube-proxy masqueraded outside traffic to externalTrafficPolicy=Cluster frontends, so every backend saw a node address. ${now}${dsr ? ` ${dsr} Cilium frontends carry the per-Service DSR flag.` : ''} Policies, logs and rate limits keyed on the client address see the change.`,
    regression: false,
    frontends: few(ext.map((s) => s.frontend)),
    evidence: [...(masq ? [masq] : []), ...evidence, ...ext.slice(0, 1).flatMap((s) => s.after!.evidence.slice(0, 1))],
  };
}

function socketLb(bctx: SideView, actx: SideView, after: DiffSideInput): BehaviourChange | undefined {
  const hook = (ctx: SideView) =>
    ctx.state.cgroup.find((c) => c.name.startsWith('cil_sock') && /connect/.test(c.attachType));
  const a = actx.dp.socketLB;
  const ah = hook(actx);
  const on = (a.known && a.value.enabled) || (!a.known && ah !== undefined);
  if (!on) return undefined;
  const b = bctx.dp.socketLB;
  const bOn = (b.known && b.value.enabled) || (!b.known && hook(bctx) !== undefined);
  const hostns = a.known && a.value.hostnsOnly;
  if (bOn && b.known && a.known && b.value.hostnsOnly === hostns) return undefined;
  if (!after.services.some((e) => isCilium(e.source))) return undefined;
  const evidence = [...(ah ? [ah.source] : []), ...(a.known ? a.evidence : [])].slice(0, 3);
  return {
    code: 'socket-lb',
    title: hostns
      ? 'Services are translated at the socket in the host namespace only'
      : 'Services are translated at the socket, before any packet exists',
    detail: hostns
      ? 'Socket-LB covers the host namespace only (Socket LB Coverage: Hostns-only): connections from the host are rewritten to a backend at connect()/sendmsg(); pod traffic keeps the Service address until cil_from_container translates it per packet, which is what sidecar proxies (Istio) and KubeVirt need.'
      : 'Connections from pods and from the host to a Service are rewritten to a backend at connect()/sendmsg() (cil_sock*_connect): packets carry the backend address from the start, so tcpdump in a pod or on the node shows backend IPs, netfilter and conntrack never see the ClusterIP, and a sidecar proxy that relies on the original ClusterIP inside the pod (Istio) breaks unless socketLB.hostNamespaceOnly=true.',
    regression: false,
    evidence,
  };
}

export { isPortmapChain } from './diff-chain-names.js';

/** hostPort: kube-proxy never did it; the portmap CNI plugin's iptables DNAT or Cilium's BPF does. */
function hostPortChange(before: DiffSideInput, after: DiffSideInput): BehaviourChange | undefined {
  const portmap = (s: DiffSideInput) => {
    const rules: Evidence[] = [];
    for (const { rules: rs } of s.iptables) {
      const nat = rs.tables.find((t) => t.name === 'nat');
      for (const c of nat?.chains ?? [])
        if (isPortmapChain('nat', c.name)) for (const r of c.rules) if (r.target?.name === 'DNAT') rules.push(r.source);
    }
    return rules;
  };
  const bp = portmap(before);
  const ap = portmap(after);
  const hp = (s: DiffSideInput): ServiceEntry[] =>
    s.services.filter((e) => isCilium(e.source) && e.type === 'HostPort');
  const bh = hp(before);
  const ah = hp(after);
  const ports = (es: ServiceEntry[]) => [...new Set(es.map((e) => `${e.frontend.port}/${e.frontend.proto}`))];
  if (bp.length > 0 && ah.length === 0 && ap.length === 0) {
    return {
      code: 'hostport',
      title: 'hostPorts are no longer served',
      detail: `Before, the portmap CNI plugin DNATed ${bp.length} hostPort mappings in iptables (CNI-DN-* chains). After, neither portmap rules nor Cilium HostPort entries exist: pods' hostPorts are unreachable. Cilium serves hostPort natively with kube-proxy replacement (enable-host-port); pods created before the change need a restart to be picked up.`,
      regression: true,
      evidence: bp.slice(0, 3),
    };
  }
  if (ah.length > 0 && (bp.length > 0 || bh.length === 0)) {
    return {
      code: 'hostport',
      title: 'hostPort is now Cilium BPF, not iptables DNAT',
      detail: `Cilium now serves ${ports(ah).length} hostPorts (${few(ports(ah)).join(', ')}) in BPF${bp.length ? " instead of the portmap plugin's iptables DNAT" : ''}: a hostPort without hostIP is exposed on the addresses Cilium uses for NodePorts and on 127.0.0.1; one inside the NodePort range is ignored, and a hostIP of 127.0.0.1 is not supported (the agent logs a warning).${ap.length ? ` ${ap.length} portmap DNAT rules are still there after; Cilium acts first at the socket and in tc.` : ''}`,
      regression: false,
      frontends: few(ah.map((e) => `${e.frontend.address}:${e.frontend.port}/${e.frontend.proto}`)),
      evidence: [...ah.slice(0, 2).flatMap((e) => e.evidence.slice(0, 1)), ...bp.slice(0, 1)],
    };
  }
  return undefined;
}

/** A ClusterIP from outside the node: kube-proxy DNATs it from any source, Cilium drops it unless bpf-lb-external-clusterip. */
function externalClusterIp(after: DiffSideInput, services: ServiceDiff[]): BehaviourChange | undefined {
  const cips = services.filter(
    (s) =>
      s.type === 'ClusterIP' &&
      s.before &&
      s.after &&
      s.before.layers.some((l) => !isCilium(l)) &&
      isCilium(s.after.owner),
  );
  if (cips.length === 0) return undefined;
  const cfg = configValue(after.state.cilium.config, 'bpf-lb-external-clusterip');
  if (cfg && TRUE.test(cfg.value.trim())) return undefined;
  const entries = after.services.filter(
    (e) => isCilium(e.source) && e.type === 'ClusterIP' && e.frontend.scope !== 'internal',
  );
  const nonRoutable = entries.filter((e) => e.flags.routable === false);
  if (entries.some((e) => e.flags.routable === true)) return undefined;
  const evidence: Evidence[] = [
    ...(cfg && FALSE.test(cfg.value.trim()) ? [cfg.source] : []),
    ...nonRoutable.slice(0, 2).flatMap((e) => e.evidence.slice(0, 1)),
  ];
  if (evidence.length === 0) return undefined;
  return {
    code: 'external-clusterip',
    title: 'ClusterIPs are no longer reachable from outside the node',
    detail: `Before, kube-proxy translated a packet to a ClusterIP from any source (nat PREROUTING, or IPVS for the VIPs on kube-ipvs0), so a client outside the cluster that routes the Service CIDR to this node reached the Service. Cilium marks its ClusterIP entries non-routable and cil_from_netdev drops such packets (DROP_IS_CLUSTER_IP) unless bpf.lbExternalClusterIP=true. This matters only if something outside routes Service addresses to the nodes (static routes, BGP announcing ClusterIPs).`,
    regression: false,
    frontends: few(cips.map((s) => s.frontend)),
    evidence,
  };
}

/** Host routing Legacy → BPF: pod traffic stops crossing the host stack, netfilter and conntrack. */
function hostRouting(bctx: SideView, actx: SideView): BehaviourChange | undefined {
  const b = bctx.dp.hostRouting;
  const a = actx.dp.hostRouting;
  if (!b.known || !a.known || b.value === a.value) return undefined;
  const toBpf = a.value === 'bpf';
  return {
    code: 'host-routing',
    title: toBpf
      ? 'pod traffic no longer crosses the host stack (host routing Legacy → BPF)'
      : 'pod traffic goes through the host stack again (host routing BPF → Legacy)',
    detail: toBpf
      ? "With BPF host routing, cil_from_container and cil_from_netdev redirect pod traffic (bpf_redirect_peer, bpf_redirect_neigh) past the kernel's routing and netfilter: iptables rules on FORWARD or POSTROUTING, their counters and the kernel conntrack table no longer see pod-to-pod and pod-to-outside packets."
      : 'With legacy host routing, pod traffic is handed to the kernel stack: routing tables, netfilter (FORWARD/POSTROUTING) and conntrack see it again.',
    regression: false,
    evidence: [b.evidence[0], a.evidence[0]].filter((e): e is Evidence => e !== undefined),
  };
}

/** Masquerading iptables → BPF: the SNAT moves from CILIUM_POST_nat to cil_to_netdev. */
function masqueradeChange(bctx: SideView, actx: SideView): BehaviourChange | undefined {
  const b = bctx.dp.masquerade;
  const a = actx.dp.masquerade;
  if (!b.known || !a.known || b.value.mode === a.value.mode) return undefined;
  const word = { bpf: 'BPF', iptables: 'iptables', disabled: 'disabled' } as const;
  return {
    code: 'masquerade',
    title: `pod masquerading moves from ${word[b.value.mode]} to ${word[a.value.mode]}`,
    detail:
      a.value.mode === 'bpf'
        ? "Pod traffic leaving the node is source-NATed in cil_to_netdev (BPF masquerade, Cilium's own NAT table) instead of by CILIUM_POST_nat's MASQUERADE rule: `iptables -t nat` counters and `conntrack -L` no longer show it, and the exclusion CIDRs are the ones the status names."
        : a.value.mode === 'iptables'
          ? 'Pod traffic leaving the node is source-NATed by the MASQUERADE rule in CILIUM_POST_nat (netfilter) instead of in BPF.'
          : 'Pod traffic leaves the node with the pod address: masquerading is off.',
    regression: false,
    evidence: [b.evidence[0], a.evidence[0]].filter((e): e is Evidence => e !== undefined),
  };
}

/** Known behaviour changes of the migration, each only when the two states show that it applies here. */
export function behaviourChanges(
  before: DiffSideInput,
  after: DiffSideInput,
  bctx: SideView,
  actx: SideView,
  services: ServiceDiff[],
): BehaviourChange[] {
  return [
    icmpEcho(before, after, services),
    clientSource(after, services),
    socketLb(bctx, actx, after),
    hostPortChange(before, after),
    externalClusterIp(after, services),
    hostRouting(bctx, actx),
    masqueradeChange(bctx, actx),
  ].filter((x): x is BehaviourChange => x !== undefined);
}
