import { type Backend, type ServiceEntry, unknownWhy } from '../model/service.js';
import type { Evidence, Warning } from '../model/types.js';
import type {
  BackendPath,
  Flow,
  Hop,
  HopBackend,
  KubeProxyHop,
  MasqueradeHop,
  ServiceHopFlags,
  TcLbHop,
  Trace,
  TraceEndpoint,
} from '../model/trace.js';
import type { ServiceFlags } from '../model/service.js';
import { hopDev } from '../model/trace.js';
import { familyOf } from '../model/addr.js';
import { lookupServices } from './services.js';
import { classify, traceAddress, type TraceContext } from './trace.js';
import { judgeConntrack } from './conntrack.js';
import { socketLbDecision, socketLbNoBackend, socketLbWildcard } from './trace-socket-lb.js';
import { icmpToService } from './trace-service-icmp.js';
import { natAcrossFamilies } from './trace-service-nat46.js';

const PROTO = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP', icmp: 'ANY' } as const;

const hostPort = (a: string, p: number) => `${a.includes(':') ? `[${a}]` : a}:${p}`;

function backendList(bs: Backend[]): HopBackend[] {
  return bs.map((b) => ({
    address: b.address,
    port: b.port,
    state: b.state,
    ...(b.probability !== undefined ? { probability: b.probability } : {}),
  }));
}

/**
 * A flow to a Service frontend: which layer translates it (socket-LB in a cgroup hook, per-packet LB in a
 * tc program, or kube-proxy's DNAT), every candidate backend, then the path to one backend. Undefined
 * when the destination is not a frontend any layer programs.
 */
export function traceService(ctx: TraceContext, flow: Flow): Trace | undefined {
  if (ctx.services.length === 0) return undefined;
  const q = { kind: 'address' as const, address: flow.dst, ...(flow.dport !== undefined ? { port: flow.dport } : {}) };
  let all = lookupServices(ctx.services, q, { kubeProxyReplacement: ctx.dp.kubeProxyReplacement }).frontends;
  const proto = PROTO[flow.proto];
  const byProto = (fs: typeof all) =>
    flow.proto === 'icmp' ? fs : fs.filter((f) => f.proto === proto || f.proto === 'ANY');
  if (byProto(all).length === 0 && flow.dport !== undefined && ctx.state.addrs.some((a) => a.local === flow.dst)) {
    // kube-proxy programs a NodePort for every local address (`--dst-type LOCAL`, the nodeport-ips set): its
    // frontend is 0.0.0.0:PORT, which a packet to this node's address hits
    const any = familyOf(flow.dst) === 6 ? '::' : '0.0.0.0';
    all = lookupServices(
      ctx.services.filter((e) => e.source === 'kube-proxy-iptables' || e.source === 'kube-proxy-nftables'),
      { kind: 'address', address: any, port: flow.dport },
      { kubeProxyReplacement: ctx.dp.kubeProxyReplacement },
    ).frontends.filter((f) => f.type === 'NodePort');
  }
  const src = classify(ctx, flow.src);
  const warnings: Warning[] = [];
  let views = byProto(all);
  if (views.length === 0) {
    // socket-LB's wildcard NodePort entry: a node's address or loopback with no frontend of its own
    const wild = socketLbWildcard(ctx, flow, src);
    views = wild.views;
    if (views.length === 0 && wild.maybe) {
      // traced as the address it is, saying what the state cannot decide
      const t = traceAddress(ctx, flow);
      return { ...t, warnings: [...t.warnings, { code: 'wildcard-nodeport-unknown', message: wild.maybe }] };
    }
  }
  if (views.length === 0) return undefined;
  const view = views[0]!;
  if (views.length > 1)
    warnings.push({
      code: 'several-frontends',
      message: `${views.length} frontends match ${flow.dst}${flow.dport !== undefined ? `:${flow.dport}` : ''}: ${views.map((v) => v.frontend).join(', ')}; following ${view.frontend}`,
    });
  if (view.conflict) warnings.push({ code: 'service-conflict', message: `${view.frontend}: ${view.conflict}` });
  const dst: TraceEndpoint = {
    kind: 'service',
    ip: flow.dst,
    port: view.port,
    evidence: view.bySource.flatMap((b) => b.evidence).slice(0, 3),
  };
  if (view.name) dst.service = view.name;
  const base = (hops: Hop[], disposition: Trace['disposition'], extra: Warning[] = []): Trace => ({
    schemaVersion: 1,
    node: ctx.state.node.name,
    flow,
    src,
    dst,
    hops,
    disposition,
    warnings: [...warnings, ...extra],
  });
  const cilium = view.bySource.find((b) => b.source === 'cilium-bpf' || b.source === 'cilium-dbg');
  const layer = cilium ?? view.bySource[0]!;
  const ev: Evidence[] = layer.evidence.slice(0, 3);
  const active = layer.backends.filter((b) => b.state === 'active' || b.state === 'unknown');

  // no load balancer translates ICMP: routed as the address it is (trace-service-icmp.ts)
  if (flow.proto === 'icmp') return icmpToService(ctx, flow, view, layer.source, warnings);
  // An L7 load-balancer frontend (Gateway API, Ingress, CiliumEnvoyConfig) has no backend slots: its
  // slot 0 holds the proxy port, and bpf_lxc / bpf_host redirect the flow to Envoy on this node.
  const l7 = cilium
    ? ctx.services.find(
        (e) =>
          e.source === cilium.source &&
          e.frontend.address === view.address &&
          e.frontend.port === view.port &&
          e.frontend.proto === view.proto &&
          e.flags.l7LoadBalancer === true,
      )
    : undefined;
  if (l7) {
    const port = l7.flags.l7ProxyPort;
    return base(
      [
        {
          kind: 'deliver',
          detail: `${view.frontend} is an L7 load-balancer frontend: Cilium redirects the flow to the node's L7 proxy (Envoy)${port !== undefined ? ` on port ${port}` : ', on a port this source does not show'}; the proxy opens its own connection to a backend, a new flow not traced here`,
          evidence: l7.evidence.slice(0, 3),
          target: 'l7-proxy',
          address: view.address,
          ...(port !== undefined ? { proxyPort: port } : {}),
        },
      ],
      'delivered',
    );
  }
  if (active.length === 0) {
    // with socket-LB taking the flow, the system call fails and no packet exists (trace-socket-lb.ts)
    const refused = cilium ? socketLbNoBackend(ctx, flow, src, view, ev, backendList(layer.backends)) : undefined;
    if (refused) return base([refused], 'dropped');
    const byKubeProxy = view.bySource.some((b) => b.source.startsWith('kube-proxy')) && !cilium;
    const why = byKubeProxy
      ? 'kube-proxy REJECTs it (the Service has no endpoints)'
      : 'Cilium drops it (DROP_NO_SERVICE: no backend)';
    return base(
      [
        {
          kind: 'drop',
          detail: `${view.frontend} has no active backend: ${why}`,
          reason: 'Service without backends',
          code: byKubeProxy ? 'kube-proxy-reject' : 'DROP_NO_SERVICE',
          evidence: ev,
          frontend: view.frontend,
          backends: backendList(layer.backends),
        },
      ],
      'dropped',
    );
  }
  const fromOutside = src.kind !== 'host' && src.kind !== 'local-pod';
  const entry = ctx.services.find(
    (e) =>
      e.source === layer.source &&
      e.frontend.address === view.address &&
      e.frontend.port === view.port &&
      e.frontend.proto === view.proto,
  );
  let candidates = active;
  const etpUnknown = entry ? unknownWhy(entry, 'traffic-policy') : undefined;
  if (fromOutside && cilium && etpUnknown !== undefined && view.type !== 'ClusterIP')
    // Cilium lists an externalTrafficPolicy=Local frontend with its node-local backends only: the list stands
    warnings.push({
      code: 'traffic-policy-unknown',
      message: `${view.frontend}: externalTrafficPolicy unknown (${etpUnknown}); the backends are those listed for this frontend`,
    });
  if (fromOutside && cilium && entry?.flags.externalTrafficPolicyLocal && view.type !== 'ClusterIP') {
    // externalTrafficPolicy=Local: the external scope holds only this node's backends
    candidates = active.filter((b) => classify(ctx, b.address).kind === 'local-pod');
    if (candidates.length === 0) {
      return base(
        [
          {
            kind: 'drop',
            detail: `${view.frontend} has externalTrafficPolicy=Local and none of its backends (${active.map((b) => hostPort(b.address, b.port)).join(', ')}) is a pod of this node: cil_from_netdev drops traffic from outside (DROP_NO_SERVICE)`,
            reason: 'externalTrafficPolicy=Local without a local backend',
            code: 'DROP_NO_SERVICE',
            evidence: ev,
            frontend: view.frontend,
            backends: backendList(layer.backends),
          },
        ],
        'dropped',
      );
    }
  }
  // an existing connection keeps the backend its conntrack entry holds (netfilter NAT only: kube-proxy)
  const pin =
    !cilium && !flow.backend
      ? judgeConntrack(ctx.conntrack, flow, { backends: active, natByRules: true })?.pin
      : undefined;
  const pinned = pin
    ? (candidates.find((b) => b.address === pin.address && (pin.port === undefined || b.port === pin.port)) ?? {
        address: pin.address,
        port: pin.port ?? view.port,
        state: 'unknown' as const,
      })
    : undefined;
  const chosen = pinned ?? pickBackend(candidates, flow.backend);
  if (!chosen) {
    return base(
      [
        {
          kind: 'drop',
          detail: `--backend ${flow.backend} is not a backend of ${view.frontend}`,
          reason: 'unknown backend',
          code: 'unknown-backend',
          evidence: ev,
        },
      ],
      'unknown',
      [
        {
          code: 'backend-not-found',
          message: `backends of ${view.frontend}: ${active.map((b) => hostPort(b.address, b.port)).join(', ')}`,
        },
      ],
    );
  }
  if (candidates.length > 1 && !flow.backend && !pinned)
    warnings.push({
      code: 'backend-choice',
      message: `${candidates.length} candidate backends; the path follows ${hostPort(chosen.address, chosen.port)} (choose with --backend)`,
    });

  if (cilium && familyOf(chosen.address) !== familyOf(flow.dst)) {
    // a backend of the other family: NAT46/64, decided in trace-service-nat46.ts
    const r = natAcrossFamilies(ctx, flow, src, view.frontend, chosen, {
      evidence: ev,
      frontend: view.frontend,
      source: layer.source,
      backends: backendList(layer.backends),
      backend: hostPort(chosen.address, chosen.port),
      candidateBackends: candidates.map((b) => hostPort(b.address, b.port)),
      flags: hopFlags(entry?.flags),
      paths: [],
    });
    return { ...base(r.hops, r.disposition, r.warnings), flow };
  }
  const rewritten: Flow = { ...flow, dst: chosen.address, dport: chosen.port };
  delete rewritten.backend;
  // where the path to each candidate ends (bounded: a Service may have thousands of backends)
  const paths: BackendPath[] = candidates.slice(0, 32).map((b) => {
    const t = traceAddress(ctx, { ...flow, dst: b.address, dport: b.port });
    return { backend: hostPort(b.address, b.port), disposition: t.disposition, summary: summaryOf(t) };
  });
  const lb = {
    evidence: ev,
    frontend: view.frontend,
    source: layer.source,
    backends: backendList(layer.backends),
    backend: hostPort(chosen.address, chosen.port),
    candidateBackends: candidates.map((b) => hostPort(b.address, b.port)),
    flags: hopFlags(entry?.flags),
    paths,
  };

  if (cilium) {
    const sock = socketLbDecision(ctx, flow, src, view, lb);
    if ('hop' in sock) {
      const rest = traceAddress(ctx, rewritten);
      return { ...base([sock.hop, ...rest.hops], rest.disposition, rest.warnings), flow };
    }
    const { why, cgroupUnknown } = sock;
    const sl = ctx.dp.socketLB;
    const rest = traceAddress(ctx, rewritten);
    const hops = [...rest.hops];
    if (src.kind === 'local-pod') {
      const at = hops.findIndex((h) => h.kind === 'bpf');
      const tcLb: TcLbHop = {
        kind: 'tc-lb',
        detail: `per-packet load balancing in cil_from_container (${why}): ${view.frontend} → ${hostPort(chosen.address, chosen.port)}, reverse NAT on the reply`,
        ...lb,
        layer: 'tc',
        at: 'cil_from_container',
        noSocketLb: why,
      };
      if (cgroupUnknown && sl.known && sl.value.enabled) {
        tcLb.inferred = true;
        tcLb.because = `socket-LB is enabled, but whether a cil_sock hook rewrites ${view.frontend} at connect() is unknown (${cgroupUnknown}); if one does, this is a socket-lb hop and no packet carries the Service address`;
      }
      hops.splice(at + 1, 0, tcLb);
    } else if (src.kind !== 'host') {
      if (
        view.bySource.some((b) => b.source === 'cilium-bpf') &&
        view.type === 'ClusterIP' &&
        !(layer === cilium && isRoutable(ctx, view.frontend))
      ) {
        return base(
          [
            {
              kind: 'drop',
              detail: `${view.frontend} is a ClusterIP that is not reachable from outside the node: cil_from_netdev drops it (DROP_IS_CLUSTER_IP) unless bpf-lb-external-clusterip is set`,
              evidence: ev,
              reason: 'DROP_IS_CLUSTER_IP',
              code: 'DROP_IS_CLUSTER_IP',
              frontend: lb.frontend,
              backends: lb.backends,
              backend: lb.backend,
              paths,
            },
          ],
          'dropped',
        );
      }
      const at = hops.findIndex((h) => h.kind === 'bpf' && h.program === 'cil_from_netdev');
      const inDev = hops[0] ? hopDev(hops[0]) : undefined;
      const xdp = inDev ? ctx.dp.programs.find((p) => p.dev === inDev && p.hook === 'xdp') : undefined;
      const np: TcLbHop = {
        kind: 'tc-lb',
        detail: `NodePort/LB load balancing in ${xdp ? `XDP (${xdp.program} on ${inDev}, before the stack and tc)` : 'cil_from_netdev'}: ${view.frontend} → ${hostPort(chosen.address, chosen.port)}`,
        ...lb,
        layer: xdp ? 'xdp' : 'tc',
        at: xdp ? 'xdp' : 'cil_from_netdev',
        ...(xdp ? { program: xdp.program, dev: xdp.dev } : {}),
      };
      const added: Hop[] = [np];
      if (xdp)
        added.unshift({
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
      if (classify(ctx, chosen.address).kind !== 'local-pod') added.push(nodePortNat(ctx, entry, flow));
      hops.splice(xdp ? Math.max(0, at) : at + 1, 0, ...added);
    } else {
      hops.unshift({
        kind: 'tc-lb',
        detail: `per-packet load balancing (${why}): ${view.frontend} → ${hostPort(chosen.address, chosen.port)}`,
        ...lb,
        layer: 'tc',
        at: 'bpf_host',
        noSocketLb: why,
        inferred: true,
        because:
          'host-namespace traffic to a Service without socket-LB is translated per packet in bpf_host; the exact program is not decided by the state',
      });
    }
    return { ...base(hops, rest.disposition, rest.warnings), flow };
  }

  // only kube-proxy programs it: DNAT in nat PREROUTING (from a pod or outside) or OUTPUT (from the host)
  const hook = src.kind === 'host' ? 'OUTPUT' : 'PREROUTING';
  const kp: KubeProxyHop = {
    kind: 'kube-proxy',
    detail: `${layer.source}: nat ${hook} → KUBE-SERVICES → ${layer.chain ?? 'the Service chain'} DNATs ${view.frontend} to ${hostPort(chosen.address, chosen.port)}`,
    ...lb,
    layer: 'netfilter',
    mode: layer.source === 'ipvs' ? 'ipvs' : layer.source === 'kube-proxy-nftables' ? 'nftables' : 'iptables',
    natHook: hook,
    ...(layer.chain ? { chain: layer.chain } : {}),
  };
  const rest = traceAddress(ctx, rewritten);
  const hops = [...rest.hops];
  const at = src.kind === 'host' ? 0 : Math.max(0, hops.findIndex((h) => h.kind === 'bpf' || h.kind === 'stack') + 1);
  hops.splice(at, 0, kp);
  if (ctx.dp.hostRouting.known && ctx.dp.hostRouting.value === 'bpf' && src.kind === 'local-pod')
    warnings.push({
      code: 'kube-proxy-bypassed',
      message: `BPF host routing redirects pod traffic past netfilter: kube-proxy's DNAT for ${view.frontend} is never reached from pods`,
    });
  return { ...base(hops, rest.disposition, rest.warnings), flow };
}

/** NodePort to a remote backend: SNAT to this node (replies come back here) or DSR (the backend answers the client). */
function nodePortNat(ctx: TraceContext, entry: ServiceEntry | undefined, flow: Flow): MasqueradeHop {
  const st = ctx.state.cilium.status?.kprMode;
  const mode = entry?.flags.dsr ? 'DSR' : st?.mode;
  const ev = st ? [st.source] : [];
  if (mode === 'DSR' || (mode === 'Hybrid' && flow.proto === 'tcp')) {
    const reason = `${mode === 'Hybrid' ? 'hybrid mode uses DSR for TCP' : 'DSR'} — the backend sees the client ${flow.src} and replies to it directly, not through this node`;
    return {
      kind: 'masquerade',
      detail: `not source-NATed: ${reason}`,
      reason,
      evidence: ev,
      applied: false,
      by: 'bpf-nodeport',
      where: 'bpf-nodeport',
      why: 'nodeport-dsr',
      nodePortMode: mode,
    };
  }
  if (mode === 'SNAT' || mode === 'Hybrid') {
    return {
      kind: 'masquerade',
      detail: `SNAT to this node's address in cil_to_netdev (NodePort ${mode === 'Hybrid' ? 'hybrid mode, UDP' : 'SNAT mode'}): the backend sees this node, not ${flow.src}; the reply returns here and is reverse-NATed in cil_from_netdev`,
      evidence: ev,
      applied: true,
      by: 'bpf-nodeport',
      where: 'bpf-nodeport',
      why: 'nodeport-snat',
      nodePortMode: mode,
    };
  }
  return {
    kind: 'masquerade',
    detail: 'NodePort SNAT or DSR: the status does not say (KubeProxyReplacement Details: Mode)',
    evidence: [],
    applied: 'unknown',
    by: 'bpf-nodeport',
    where: 'bpf-nodeport',
    why: 'nodeport-mode-unknown',
    inferred: true,
    because: 'no Mode line in the status',
  };
}

/**
 * Where the path to one backend ends, in the words of its last decisive hop (the display text is copied
 * whole: this is a summary for people, not a value to parse).
 */
function summaryOf(t: Trace): string {
  const last = [...t.hops]
    .reverse()
    .find(
      (h) =>
        h.kind === 'deliver' ||
        h.kind === 'drop' ||
        h.kind === 'gateway' ||
        h.kind === 'redirect_neigh' ||
        h.kind === 'wireguard',
    );
  return last?.detail ?? t.disposition;
}

/** The flags of the translating entry that a reader of the path needs. */
function hopFlags(f: ServiceFlags | undefined): ServiceHopFlags {
  if (!f) return {};
  const out: ServiceHopFlags = {};
  for (const k of [
    'externalTrafficPolicyLocal',
    'internalTrafficPolicyLocal',
    'sessionAffinity',
    'dsr',
    'routable',
    'twoScopes',
  ] as const)
    if (f[k] !== undefined) out[k] = f[k];
  if (f.affinityTimeoutSeconds !== undefined) out.affinityTimeoutSeconds = f.affinityTimeoutSeconds;
  return out;
}

function pickBackend(active: Backend[], wanted: string | undefined): Backend | undefined {
  if (!wanted) return active[0];
  return active.find(
    (b) => wanted === b.address || wanted === hostPort(b.address, b.port) || wanted === `${b.address}:${b.port}`,
  );
}

function isRoutable(ctx: TraceContext, frontend: string): boolean {
  const e = ctx.services.find(
    (s) =>
      s.source === 'cilium-bpf' &&
      `${s.frontend.address}:${s.frontend.port}/${s.frontend.proto}` === frontend.replace(/^\[|\](?=:)/g, ''),
  );
  return e?.flags.routable === true;
}

export type { ServiceEntry };
