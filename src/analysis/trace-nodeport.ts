// A Service flow that arrives from outside the node (NodePort, LoadBalancer, ExternalIP, or a ClusterIP reached from
// outside): what bpf_host's cil_from_netdev (or XDP) does with it — DROP_IS_CLUSTER_IP, DNAT to a local backend, or
// DNAT + SNAT/DSR + FIB redirect to a remote one, all without the routing stack — and when Cilium does not look at
// the packet at all, so that kube-proxy (or nothing) decides. The rules are the NodePort block of model/cilium-rules.ts.
import { type CiliumRuleId, ciliumRuleHolds, parseCiliumVersion } from '../model/cilium-rules.js';
import type { Backend, FrontendView, ServiceEntry } from '../model/service.js';
import type {
  Disposition,
  DropHop,
  Flow,
  Hop,
  LbHop,
  MasqueradeHop,
  RedirectHop,
  TcLbHop,
  TraceEndpoint,
} from '../model/trace.js';
import type { Evidence, Family, Warning } from '../model/types.js';
import { familyOf } from '../model/addr.js';
import { configValue } from '../tools/cilium/config.js';
import type { Fact } from './datapath.js';
import { routeQuery } from './routing.js';
import { classify, type TraceContext } from './trace.js';
import { egressFromNode } from './trace/egress.js';
import { deviceAddress, drop, findProgram, routeFailure, routeHop, ruled, usable } from './trace/hops.js';

const known = <T>(value: T, evidence: Evidence[]): Fact<T> => ({ known: true, value, evidence });

type LbFields = Omit<TcLbHop, 'kind' | 'detail' | 'layer' | 'at'>;

/**
 * Whether bpf_host has NodePort compiled in (ENABLE_NODEPORT): kube-proxy replacement, or BPF NodePort on its own
 * (the status's `- NodePort:` line, JSON features.nodePort.enabled, or enable-node-port in the config).
 */
export function nodePortCompiled(ctx: TraceContext): Fact<boolean> {
  const kpr = ctx.dp.kubeProxyReplacement;
  if (kpr.known && kpr.value) return known(true, kpr.evidence);
  const st = ctx.state.cilium.status?.nodePortEnabled;
  if (st) return known(st.enabled, [st.source]);
  const cfg = configValue(ctx.state.cilium.config, 'enable-node-port');
  if (cfg && /^(true|false)$/i.test(cfg.value.trim())) return known(/^true$/i.test(cfg.value.trim()), [cfg.source]);
  return {
    known: false,
    because: kpr.known
      ? 'kube-proxy replacement is off and neither the status (`- NodePort:`) nor the config (enable-node-port) says whether BPF NodePort is on'
      : `kube-proxy replacement unknown (${kpr.because}), and no \`- NodePort:\` line or enable-node-port setting`,
  };
}

/**
 * Why Cilium's per-packet load balancer never sees this flow, or undefined when it may. From outside: bpf_host
 * without NodePort compiled in has no nodeport_lb4 (kube-proxy's PREROUTING DNAT, if any, decides).
 */
export interface CiliumSkip {
  because: string;
  rule: CiliumRuleId;
}

export function ciliumSkips(ctx: TraceContext, src: TraceEndpoint): CiliumSkip | undefined {
  if (src.kind === 'host' || src.kind === 'local-pod') return undefined;
  const np = nodePortCompiled(ctx);
  if (np.known && !np.value)
    return {
      because: `BPF NodePort is off (${np.evidence.map((e) => e.text.trim()).join('; ')}): bpf_host has no nodeport_lb4, so cil_from_netdev does not look the Service up and passes the packet to the stack`,
      rule: 'nodeport-needs-enable-nodeport',
    };
  return undefined;
}

/** Host → Service that no socket-LB hook rewrites: bpf_host does not load-balance the host's own packets. */
export function hostSkips(noSocketLb: string): CiliumSkip {
  return {
    because: `${noSocketLb}, and bpf_host never load-balances a packet the host sends (nodeport_lb4 runs only for traffic not from the host)`,
    rule: 'nodeport-not-from-host',
  };
}

export interface FromOutsideArgs {
  flow: Flow;
  src: TraceEndpoint;
  view: FrontendView;
  entry: ServiceEntry | undefined;
  lb: LbFields & Pick<LbHop, 'evidence'>;
  paths: TcLbHop['paths'];
  chosen: Pick<Backend, 'address' | 'port'>;
  /** the backend as the hop names it: the chosen one, or `one of N backends (…)` when the state does not decide */
  to: string;
  /** the path to the chosen backend as a plain address (arrival, cil_from_netdev, then the rest) */
  hops: Hop[];
  disposition: Disposition;
}

/**
 * From outside, with Cilium's maps programming the frontend and NodePort compiled in (or not known to be off):
 * nodeport_lb4 in cil_from_netdev, or in cil_xdp_entry with XDP acceleration.
 */
export function nodePortFromOutside(
  ctx: TraceContext,
  a: FromOutsideArgs,
): { hops: Hop[]; disposition: Disposition; warnings: Warning[] } {
  const { flow, view, entry, lb, paths, chosen, to } = a;
  const warnings: Warning[] = [];
  const np = nodePortCompiled(ctx);
  const npUnknown = np.known ? undefined : np.because;
  const at = a.hops.findIndex((h) => h.kind === 'bpf' && h.program === 'cil_from_netdev');
  const arrival = a.hops[0]?.kind === 'route' && a.hops[0].lookup === 'arrival' ? a.hops[0] : undefined;
  const inDev = arrival?.dev;
  const xdp = inDev ? ctx.dp.programs.find((p) => p.dev === inDev && p.hook === 'xdp') : undefined;
  const where = xdp ? 'cil_xdp_entry' : 'cil_from_netdev';
  // the hops up to the program that runs nodeport_lb4; without one seen, the arrival only
  const prefix = a.hops.slice(0, at >= 0 ? at + 1 : arrival ? 1 : 0);
  if (xdp)
    prefix.splice(arrival ? 1 : 0, 0, {
      kind: 'bpf',
      detail: `${xdp.program} on ${inDev} xdp`,
      evidence: xdp.evidence,
      dev: xdp.dev,
      hook: 'xdp',
      program: xdp.program,
      attachMode: 'xdp',
      direction: 'ingress',
      ...(xdp.progId !== undefined ? { progId: xdp.progId } : {}),
    });
  const maybe = <H extends Hop>(h: H): H =>
    npUnknown
      ? { ...h, inferred: true, because: `whether bpf_host has NodePort compiled in is unknown (${npUnknown})` }
      : h;

  const routable = routableOf(ctx, entry);
  if (view.type === 'ClusterIP' && !(routable.known && routable.value)) {
    const hop: DropHop = ruled(
      maybe<DropHop>({
        kind: 'drop',
        detail: `${view.frontend} is a ClusterIP that is not reachable from outside the node: nodeport_lb4 in ${where} finds the entry without the routable flag and drops it (DROP_IS_CLUSTER_IP); bpf-lb-external-clusterip would make it routable`,
        evidence: [...lb.evidence, ...(routable.known ? routable.evidence : [])],
        reason: 'DROP_IS_CLUSTER_IP',
        code: 'DROP_IS_CLUSTER_IP',
        frontend: lb.frontend,
        backends: lb.backends,
        backend: lb.backend,
        paths,
      }),
      'nodeport-drop-is-cluster-ip',
      'nodeport-needs-enable-nodeport',
    );
    if (!routable.known && !npUnknown) {
      hop.inferred = true;
      hop.because = routable.because;
    }
    return { hops: [...prefix, hop], disposition: 'dropped', warnings };
  }

  const local = classify(ctx, chosen.address).kind === 'local-pod';
  const np0: TcLbHop = maybe({
    kind: 'tc-lb',
    detail: `NodePort/LB load balancing by nodeport_lb4 in ${xdp ? `XDP (${xdp.program} on ${inDev}, before the stack and tc)` : 'cil_from_netdev'}: ${view.frontend} → ${to}${local ? ' (a pod of this node: DNAT only, then local delivery)' : ''}`,
    ...lb,
    layer: xdp ? 'xdp' : 'tc',
    at: xdp ? 'xdp' : 'cil_from_netdev',
    ...(xdp ? { program: xdp.program, dev: xdp.dev } : {}),
  });
  const lbHop = ruled(np0, 'nodeport-needs-enable-nodeport', ...(xdp ? (['nodeport-xdp'] as const) : []));
  if (local) {
    // nodeport_lb4 returns to handle_ipv4, which delivers to the endpoint as for any packet from outside
    const rest = a.hops.slice(prefix.length - (xdp ? 1 : 0));
    return {
      hops: [...prefix, ruled(lbHop, 'nodeport-local-backend'), ...rest],
      disposition: a.disposition,
      warnings,
    };
  }

  // a remote backend: NAT (or DSR) and the FIB redirect happen in the same program, never in the stack
  const b = { hops: [...prefix, lbHop], warnings };
  const fam = familyOf(chosen.address) as Family;
  const nat = nodePortNat(ctx, entry, flow, fam);
  b.hops.push(npUnknown && !nat.inferred ? maybe(nat) : nat);
  const disposition = fibForward(ctx, b, { ...flow, dst: chosen.address, dport: chosen.port }, a.src, inDev, xdp);
  return { hops: b.hops, disposition, warnings };
}

/** The routable flag of the translating entry: its own flag, or for a source that cannot show it, the config. */
function routableOf(ctx: TraceContext, entry: ServiceEntry | undefined): Fact<boolean> {
  if (entry?.flags.routable !== undefined) return known(entry.flags.routable, entry.evidence.slice(0, 1));
  const cfg = configValue(ctx.state.cilium.config, 'bpf-lb-external-clusterip');
  if (cfg && /^(true|false)$/i.test(cfg.value.trim())) return known(/^true$/i.test(cfg.value.trim()), [cfg.source]);
  return {
    known: false,
    because: `${entry ? `the ${entry.source} entry` : 'the frontend'} does not show the routable flag and bpf-lb-external-clusterip is not in the config: a ClusterIP is non-routable unless it is set`,
  };
}

type Mode = 'SNAT' | 'DSR' | 'Hybrid';

/** NodePort mode: the Service's own DSR flag (1.17+), the status's Mode line, or bpf-lb-mode in the config. */
function nodePortMode(ctx: TraceContext, entry: ServiceEntry | undefined): Fact<Mode> {
  if (entry?.flags.dsr) return known('DSR', entry.evidence.slice(0, 1));
  const st = ctx.state.cilium.status?.kprMode;
  if (st && /^(SNAT|DSR|Hybrid)$/i.test(st.mode)) return known(canonMode(st.mode), [st.source]);
  const cfg = configValue(ctx.state.cilium.config, 'bpf-lb-mode');
  if (cfg && /^(snat|dsr|hybrid)$/i.test(cfg.value.trim())) return known(canonMode(cfg.value.trim()), [cfg.source]);
  return {
    known: false,
    because: 'no Mode line in the status (KubeProxyReplacement Details) and no bpf-lb-mode in the config',
  };
}

function canonMode(m: string): Mode {
  return /^snat$/i.test(m) ? 'SNAT' : /^dsr$/i.test(m) ? 'DSR' : 'Hybrid';
}

type Dispatch = 'opt' | 'ipip' | 'geneve';

/** DSR dispatch: `DSR Dispatch Mode:` (IP Option/Extension, IPIP, Geneve) or bpf-lb-dsr-dispatch. */
function dsrDispatch(ctx: TraceContext): Fact<Dispatch> {
  const canon = (v: string): Dispatch | undefined =>
    /option|^opt$/i.test(v) ? 'opt' : /^ipip$/i.test(v) ? 'ipip' : /^geneve$/i.test(v) ? 'geneve' : undefined;
  const st = ctx.state.cilium.status?.dsrDispatch;
  const s = st ? canon(st.value.trim()) : undefined;
  if (st && s) return known(s, [st.source]);
  const cfg = configValue(ctx.state.cilium.config, 'bpf-lb-dsr-dispatch');
  const c = cfg ? canon(cfg.value.trim()) : undefined;
  if (cfg && c) return known(c, [cfg.source]);
  return { known: false, because: 'no DSR Dispatch Mode line in the status and no bpf-lb-dsr-dispatch in the config' };
}

// What each dispatch adds to the packet the backend receives (the MTU cost), by family: the IPv4 option is
// struct dsr_opt_v4 (8 bytes), the IPv6 destination-options header struct dsr_opt_v6 (24 bytes).
const DISPATCH: Record<Dispatch, (fam: Family) => string> = {
  opt: (fam) =>
    fam === 4
      ? 'the Service address and port ride in an 8-byte IPv4 option (MTU cost 8 bytes)'
      : 'the Service address and port ride in a 24-byte IPv6 Destination Options header (MTU cost 24 bytes)',
  ipip: (fam) =>
    `the packet is encapsulated in ${fam === 4 ? 'IPIP (MTU cost 20 bytes)' : 'IPv6-in-IPv6 (MTU cost 40 bytes)'}`,
  geneve: (fam) =>
    `the packet is encapsulated in Geneve carrying the Service address as an option (MTU cost: outer ${fam === 4 ? 'IPv4 20' : 'IPv6 40'} + UDP 8 + Geneve 8 + inner Ethernet 14 bytes, plus the option)`,
};

/** NodePort to a remote backend: SNAT to this node (replies come back here) or DSR (the backend answers the client). */
function nodePortNat(ctx: TraceContext, entry: ServiceEntry | undefined, flow: Flow, fam: Family): MasqueradeHop {
  const mode = nodePortMode(ctx, entry);
  if (!mode.known)
    return {
      kind: 'masquerade',
      detail: 'NodePort SNAT or DSR: the node state does not say (KubeProxyReplacement Details: Mode)',
      evidence: [],
      applied: 'unknown',
      by: 'bpf-nodeport',
      where: 'bpf-nodeport',
      why: 'nodeport-mode-unknown',
      inferred: true,
      because: mode.because,
    };
  const m = mode.value;
  if (m === 'DSR' || (m === 'Hybrid' && flow.proto === 'tcp')) {
    const d = dsrDispatch(ctx);
    const how = d.known
      ? DISPATCH[d.value](fam)
      : 'how the Service address travels (IP option, IPIP or Geneve) is unknown';
    const reason = `${m === 'Hybrid' ? 'hybrid mode uses DSR for TCP' : entry?.flags.dsr ? 'the Service is DSR' : 'DSR'} — the backend sees the client ${flow.src} and replies to it directly, not through this node`;
    const hop: MasqueradeHop = {
      kind: 'masquerade',
      detail: `not source-NATed in cil_from_netdev (tail_nodeport_ipv4_dsr): ${reason}; ${how}`,
      reason,
      evidence: [...mode.evidence, ...(d.known ? d.evidence : [])],
      applied: false,
      by: 'bpf-nodeport',
      where: 'bpf-nodeport',
      why: 'nodeport-dsr',
      nodePortMode: m,
    };
    if (!d.known) {
      hop.inferred = true;
      hop.because = d.because;
    }
    return ruled(hop, 'nodeport-dsr-mode');
  }
  const dr = ctx.dp.directRoutingDevice;
  const addr = dr.known ? deviceAddress(ctx, dr.value, fam)?.local : undefined;
  const hop: MasqueradeHop = {
    kind: 'masquerade',
    detail: `SNAT to ${addr ?? "this node's address"}${dr.known ? ` (the direct-routing device ${dr.value})` : ''} in cil_from_netdev, before the FIB lookup (NodePort ${m === 'Hybrid' ? 'hybrid mode, not TCP' : 'SNAT mode'}): the backend sees this node, not ${flow.src}; the reply returns here and is reverse-NATed in cil_from_netdev`,
    evidence: [...mode.evidence, ...(dr.known ? dr.evidence : [])],
    applied: true,
    by: 'bpf-nodeport',
    where: 'bpf-nodeport',
    why: 'nodeport-snat',
    nodePortMode: m,
  };
  if (addr) hop.snatTo = addr;
  return hop;
}

// NUD_VALID: the neighbour states in which bpf_fib_lookup answers with the MAC instead of NO_NEIGH
const NUD_VALID = ['PERMANENT', 'NOARP', 'REACHABLE', 'PROBE', 'STALE', 'DELAY'];

/** After the NAT: bpf_fib_lookup from the arrival device, then the redirect out of the device it names. */
function fibForward(
  ctx: TraceContext,
  b: { hops: Hop[]; warnings: Warning[] },
  flow: Flow,
  src: TraceEndpoint,
  inDev: string | undefined,
  xdp: { program: string } | undefined,
): Disposition {
  const fam = familyOf(flow.dst) as Family;
  const where = xdp ? xdp.program : 'cil_from_netdev';
  // bpf_fib_lookup first checks forwarding on the device it is asked for: off, it answers FWD_DISABLED (the agent
  // turns forwarding on; a node where it is off drops every NodePort packet to another node)
  const fwd = ctx.state.sysctl[fam === 4 ? 'net.ipv4.conf.all.forwarding' : 'net.ipv6.conf.all.forwarding'];
  const ipFwd = fam === 4 ? ctx.state.sysctl['net.ipv4.ip_forward'] : undefined;
  const off = [fwd, ipFwd].find((x) => x?.value.trim() === '0');
  if (off) {
    b.hops.push(
      drop(
        `forwarding is off on this node (${off.source.text.trim()}): bpf_fib_lookup in ${where} answers BPF_FIB_LKUP_RET_FWD_DISABLED and Cilium drops the packet (DROP_NO_FIB)`,
        [off.source],
        'DROP_NO_FIB',
      ),
    );
    return 'dropped';
  }
  const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, ...(inDev ? { iif: inDev } : {}), bpfFib: true });
  const fib = routeHop(ans, `FIB lookup in ${where} (bpf_fib_lookup${inDev ? `, ifindex ${inDev}` : ''})`, {
    lookup: 'bpf_fib_lookup',
    dst: flow.dst,
    ...(inDev ? { iif: inDev } : {}),
  });
  b.hops.push(fib);
  for (const d of ans.divergence) b.warnings.push({ code: 'fib-policy-divergence', message: d });
  if (ans.result === 'unknown') return routeFailure(b, ans, flow);
  if (ans.result !== 'unicast') {
    b.hops.push(
      drop(
        `bpf_fib_lookup returns ${ans.result} for the backend ${flow.dst}: Cilium drops with DROP_NO_FIB`,
        ans.evidence,
        'DROP_NO_FIB',
      ),
    );
    return 'dropped';
  }
  const ver = ctx.dp.ciliumVersion.known ? parseCiliumVersion(ctx.dp.ciliumVersion.value) : null;
  const old = ver !== null && ciliumRuleHolds('nodeport-remote-fib-redirect-1.13', ver);
  if (!old && !xdp) {
    const before = b.hops.length;
    const disp = egressFromNode(ctx, b, flow, src, classify(ctx, flow.dst), ans, 'redirect_neigh');
    const i = b.hops.findIndex((h, k) => k >= before && h.kind === 'redirect_neigh');
    if (i >= 0) {
      let h = ruled(b.hops[i]!, 'nodeport-remote-fib-redirect');
      if (ver === null)
        h = {
          ...h,
          inferred: true,
          because: `the Cilium version is unknown (${ctx.dp.ciliumVersion.known ? ctx.dp.ciliumVersion.value : ctx.dp.ciliumVersion.because}): 1.14+ redirects with bpf_redirect_neigh; 1.13 does a plain bpf_redirect and drops (DROP_NO_FIB) when the next hop has no valid neighbour entry`,
        };
      b.hops[i] = h;
    }
    return disp;
  }
  // 1.13 (and XDP, which has no bpf_redirect_neigh): the FIB must hand back the next hop's MAC address
  const first = ans.nexthops[0]!;
  const dev = first.dev ?? '?';
  const next = first.gateway ?? flow.dst;
  const neigh = ctx.state.neigh.find((n) => n.dst === next && n.dev === dev);
  const valid = neigh ? neigh.state.some((s) => NUD_VALID.includes(s)) : false;
  const rule: CiliumRuleId = old ? 'nodeport-remote-fib-redirect-1.13' : 'nodeport-xdp';
  if (!valid && usable(ctx, 'ip-neigh')) {
    b.hops.push(
      ruled(
        drop(
          `no valid neighbour entry for ${next} on ${dev}${neigh ? ` (${neigh.state.join(',')})` : ''}: bpf_fib_lookup answers NO_NEIGH and ${where} drops the packet (DROP_NO_FIB)${old ? '; Cilium 1.13 does not fall back to bpf_redirect_neigh' : '; XDP cannot resolve the neighbour'}`,
          neigh ? [neigh.source] : ans.evidence,
          'DROP_NO_FIB',
        ),
        rule,
      ),
    );
    return 'dropped';
  }
  const hop: RedirectHop = {
    kind: 'redirect',
    detail: `bpf_redirect out of ${dev} to ${next}${neigh?.lladdr ? ` (${neigh.lladdr})` : ''} with the MAC addresses bpf_fib_lookup returned: bypasses the host stack and netfilter`,
    evidence: neigh ? [neigh.source] : [],
    helper: 'bpf_redirect',
    why: 'nodeport-fib',
    reason: 'NodePort to a remote backend: the FIB result, not bpf_redirect_neigh',
    dev,
  };
  if (!valid) {
    hop.inferred = true;
    hop.because = `the neighbour table was not read (ip-neigh): without a valid entry for ${next} the packet is dropped (DROP_NO_FIB) instead`;
  }
  b.hops.push(ruled(hop, rule));
  if (!xdp) {
    // a redirect to the egress side: the device's tc egress program still runs
    const p = findProgram(ctx, dev, 'egress', 'cil_to_netdev');
    if (p) b.hops.push(p);
  }
  return 'forwarded';
}
