import { type Backend, type ServiceEntry, unknownWhy } from '../model/service.js';
import type { Evidence, Warning } from '../model/types.js';
import type {
  BackendPath,
  Flow,
  Hop,
  HopBackend,
  KubeProxyHop,
  ServiceHopFlags,
  TcLbHop,
  Trace,
  TraceEndpoint,
} from '../model/trace.js';
import type { ServiceFlags } from '../model/service.js';
import { familyOf, joinHostPort } from '../model/addr.js';
import { lookupServices } from './services.js';
import { classify, traceAddress, type TraceContext } from './trace.js';
import { judgeConntrack } from './conntrack.js';
import { flagKnown, flagReport, type NodeLbFacts } from './service-flags.js';
import type { BackendSelection } from '../model/trace.js';
import { type CiliumSkip, ciliumSkips, hostSkips, nodePortFromOutside } from './trace-nodeport.js';
import { ruled } from './trace/hops.js';
import { socketLbDecision, socketLbNoBackend, socketLbWildcard } from './trace-socket-lb.js';
import { icmpToService } from './trace-service-icmp.js';
import { natAcrossFamilies } from './trace-service-nat46.js';
import { hairpinLb, hairpinPath } from './trace/hairpin.js';
import { memoFrontends, memoPlain } from './trace/memo.js';

const PROTO = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP', icmp: 'ANY' } as const;

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
export function traceService(
  ctx: TraceContext,
  flow: Flow,
  /** Cilium's per-packet LB never sees this flow (trace-nodeport.ts): the other layers decide */
  skipCilium?: CiliumSkip,
): Trace | undefined {
  if (ctx.services.length === 0) return undefined;
  const q = { kind: 'address' as const, address: flow.dst, ...(flow.dport !== undefined ? { port: flow.dport } : {}) };
  const node = nodeLbFacts(ctx);
  const port = flow.dport ?? '';
  let all = memoFrontends(
    ctx,
    ctx.services,
    `svc|${flow.dst}|${port}`,
    () => lookupServices(ctx.services, q, { kubeProxyReplacement: ctx.dp.kubeProxyReplacement, node }).frontends,
  );
  const proto = PROTO[flow.proto];
  const byProto = (fs: typeof all) =>
    flow.proto === 'icmp' ? fs : fs.filter((f) => f.proto === proto || f.proto === 'ANY');
  if (byProto(all).length === 0 && flow.dport !== undefined && ctx.state.addrs.some((a) => a.local === flow.dst)) {
    // kube-proxy programs a NodePort for every local address (`--dst-type LOCAL`, the nodeport-ips set): its
    // frontend is 0.0.0.0:PORT, which a packet to this node's address hits
    const any = familyOf(flow.dst) === 6 ? '::' : '0.0.0.0';
    const dport = flow.dport;
    all = memoFrontends(ctx, ctx.services, `kp-nodeport|${any}|${dport}`, () =>
      lookupServices(
        ctx.services.filter((e) => e.source === 'kube-proxy-iptables' || e.source === 'kube-proxy-nftables'),
        { kind: 'address', address: any, port: dport },
        { kubeProxyReplacement: ctx.dp.kubeProxyReplacement, node },
      ).frontends.filter((f) => f.type === 'NodePort'),
    );
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
    evidence: firstEvidence(view.bySource, 3),
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
  const ciliumView = view.bySource.find((b) => b.source === 'cilium-bpf' || b.source === 'cilium-dbg');
  const skip = skipCilium ?? (ciliumView ? ciliumSkips(ctx, src) : undefined);
  if (skip)
    warnings.push({
      code: 'cilium-not-translating',
      message: `${view.frontend}: Cilium does not translate this flow: ${skip.because}`,
    });
  const cilium = skip ? undefined : ciliumView;
  const other = view.bySource.find((b) => b !== ciliumView);
  if (skip && !other) {
    // nobody else programs the frontend: the packet goes where its destination address leads
    const t = traceAddress(ctx, flow);
    return { ...t, dst, warnings: [...warnings, ...t.warnings] };
  }
  const layer = cilium ?? other ?? view.bySource[0]!;
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
            detail: `${view.frontend} has externalTrafficPolicy=Local and none of its backends (${active.map((b) => joinHostPort(b.address, b.port)).join(', ')}) is a pod of this node: cil_from_netdev drops traffic from outside (DROP_NO_SERVICE)`,
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
          message: `backends of ${view.frontend}: ${active.map((b) => joinHostPort(b.address, b.port)).join(', ')}`,
        },
      ],
    );
  }
  const selection = selectionOf(entry, node, candidates, flow.backend ? 'asked' : pinned ? 'conntrack' : undefined);
  // the backend a new connection gets is not in the node state: the path follows the first only to show one
  const toOf = (sel: BackendSelection) =>
    sel.decided === 'not-decided'
      ? `one of ${candidates.length} backends (${sel.algorithm === 'unknown' ? 'random or Maglev, not known which' : sel.algorithm}; this path follows ${joinHostPort(chosen.address, chosen.port)})`
      : joinHostPort(chosen.address, chosen.port);
  const to = toOf(selection);
  const choiceText = (sel: BackendSelection) =>
    `${candidates.length} candidate backends: ${sel.because}; the path follows ${joinHostPort(chosen.address, chosen.port)} (choose with --backend)`;
  const choiceWarning: Warning | undefined =
    selection.decided === 'not-decided' ? { code: 'backend-choice', message: choiceText(selection) } : undefined;
  if (choiceWarning) warnings.push(choiceWarning);

  if (cilium && familyOf(chosen.address) !== familyOf(flow.dst)) {
    // a backend of the other family: NAT46/64, decided in trace-service-nat46.ts
    const r = natAcrossFamilies(ctx, flow, src, view.frontend, chosen, {
      evidence: ev,
      frontend: view.frontend,
      source: layer.source,
      backends: backendList(layer.backends),
      backend: joinHostPort(chosen.address, chosen.port),
      candidateBackends: candidates.map((b) => joinHostPort(b.address, b.port)),
      flags: hopFlags(entry?.flags),
      paths: [],
      selection,
    });
    return { ...base(r.hops, r.disposition, r.warnings), flow };
  }
  const rewritten: Flow = { ...flow, dst: chosen.address, dport: chosen.port };
  delete rewritten.backend;
  // where the path to each candidate ends (bounded: a Service may have thousands of backends)
  const paths: BackendPath[] = candidates.slice(0, 32).map((b) => ({
    backend: joinHostPort(b.address, b.port),
    ...pathEnd(ctx, { ...flow, dst: b.address, dport: b.port }),
  }));
  const lb = {
    evidence: ev,
    frontend: view.frontend,
    source: layer.source,
    backends: backendList(layer.backends),
    backend: joinHostPort(chosen.address, chosen.port),
    candidateBackends: candidates.map((b) => joinHostPort(b.address, b.port)),
    flags: hopFlags(entry?.flags),
    paths,
    selection,
  };

  if (cilium) {
    // socket-LB picks a slot itself (sock_select_slot): the Service's Maglev table is never consulted
    const sockSel = socketSelection(selection, flow.proto);
    const sock = socketLbDecision(ctx, flow, src, view, { ...lb, selection: sockSel }, toOf(sockSel));
    if ('hop' in sock) {
      if (choiceWarning) choiceWarning.message = choiceText(sockSel);
      const rest = plainTrace(ctx, rewritten);
      // the pod picked as its own backend: connect() goes to its own address (delivered over lo, from-pod.ts)
      const hop =
        src.kind === 'local-pod' && chosen.address === flow.src
          ? ruled(sock.hop, 'socket-lb-hairpin-own-address')
          : sock.hop;
      return { ...base([hop, ...rest.hops], rest.disposition, rest.warnings), flow };
    }
    const { why, cgroupUnknown } = sock;
    const sl = ctx.dp.socketLB;
    // hairpin: the pod's own address as the backend (loopback SNAT, or for IPv6 before 1.19 none: trace/hairpin.ts)
    const hairpin = src.kind === 'local-pod' && chosen.address === flow.src;
    const hp = hairpin ? hairpinLb(ctx, view.frontend, to, why, flow.src) : undefined;
    const rest = hairpin ? hairpinPath(ctx, flow, src) : plainTrace(ctx, rewritten);
    const hops = [...rest.hops];
    if (src.kind === 'local-pod') {
      const at = hops.findIndex((h) => h.kind === 'bpf');
      let tcLb: TcLbHop = {
        kind: 'tc-lb',
        detail: hp
          ? hp.detail
          : `per-packet load balancing in cil_from_container (${why}): ${view.frontend} → ${to}, reverse NAT on the reply`,
        ...lb,
        layer: 'tc',
        at: 'cil_from_container',
        noSocketLb: why,
      };
      if (hp) {
        tcLb.evidence = [...tcLb.evidence, ...hp.evidence];
        if (hp.because) {
          tcLb.inferred = true;
          tcLb.because = hp.because;
        }
        if (hp.rule) tcLb = ruled(tcLb, hp.rule);
      }
      if (cgroupUnknown && sl.known && sl.value.enabled) {
        tcLb.inferred = true;
        tcLb.because = `socket-LB is enabled, but whether a cil_sock hook rewrites ${view.frontend} at connect() is unknown (${cgroupUnknown}); if one does, this is a socket-lb hop and no packet carries the Service address`;
      }
      hops.splice(at + 1, 0, tcLb);
      if (hp?.warning) rest.warnings.push(hp.warning);
      if (hp?.disposition && rest.disposition === 'delivered') rest.disposition = hp.disposition;
    } else if (src.kind !== 'host') {
      const out = nodePortFromOutside(ctx, {
        flow,
        src,
        view,
        entry,
        lb,
        paths,
        chosen,
        to,
        hops,
        disposition: rest.disposition,
      });
      return { ...base(out.hops, out.disposition, [...rest.warnings, ...out.warnings]), flow };
    } else {
      return traceService(ctx, flow, hostSkips(why));
    }
    return { ...base(hops, rest.disposition, rest.warnings), flow };
  }

  // only kube-proxy programs it: DNAT in nat PREROUTING (from a pod or outside) or OUTPUT (from the host)
  const hook = src.kind === 'host' ? 'OUTPUT' : 'PREROUTING';
  let kp: KubeProxyHop = {
    kind: 'kube-proxy',
    detail: `${layer.source}: nat ${hook} → KUBE-SERVICES → ${layer.chain ?? 'the Service chain'} DNATs ${view.frontend} to ${to}`,
    ...lb,
    layer: 'netfilter',
    mode: layer.source === 'ipvs' ? 'ipvs' : layer.source === 'kube-proxy-nftables' ? 'nftables' : 'iptables',
    natHook: hook,
    ...(layer.chain ? { chain: layer.chain } : {}),
  };
  if (skip) kp = ruled(kp, skip.rule);
  const rest = plainTrace(ctx, rewritten);
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

/**
 * Where the plain-address path of `f` ends, from the context's memo when the caller keeps one. The plain-address
 * engine (trace/, traceAddress) reads a flow's addresses only, never its protocol or ports, so Services whose
 * backends listen on different ports share one entry per (source, backend address); only a policy rule that
 * selects on ipproto/sport/dport would make the ports matter, and with one the ports are part of the key.
 */
function pathEnd(ctx: TraceContext, f: Flow): { disposition: Trace['disposition']; summary: string } {
  const memo = ctx.backendPaths;
  let from = memo?.get(f.src);
  if (memo && !from) memo.set(f.src, (from = new Map()));
  const key = from ? dstKey(ctx, f) : '';
  const had = from?.get(key);
  if (had) return had;
  const t = plainTrace(ctx, f);
  const end = { disposition: t.disposition, summary: summaryOf(t) };
  from?.set(key, end);
  return end;
}

/** The destination part of a plain path's memo key (the ports too when a policy rule selects on them). */
function dstKey(ctx: TraceContext, f: Flow): string {
  return portsRoute(ctx) ? `${f.dst}|${f.proto}|${f.sport ?? ''}|${f.dport ?? ''}` : f.dst;
}

/**
 * traceAddress of a Service flow's rewritten flow (or a candidate's), through the context's memo when it has one:
 * the path on to a backend is the same for every Service that sends this source there (trace/memo.ts, memoPlain).
 */
function plainTrace(ctx: TraceContext, f: Flow): Trace {
  return ctx.memo ? memoPlain(ctx, `${f.src}|${dstKey(ctx, f)}`, f, () => traceAddress(ctx, f)) : traceAddress(ctx, f);
}

const portRules = new WeakMap<TraceContext, boolean>();

/** Whether a policy rule of the node selects on the protocol or a port (then a route depends on them). */
function portsRoute(ctx: TraceContext): boolean {
  let v = portRules.get(ctx);
  if (v === undefined) {
    v = ctx.state.rules.some((r) => r.ipproto !== undefined || r.sport !== undefined || r.dport !== undefined);
    portRules.set(ctx, v);
  }
  return v;
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

/**
 * The first `n` evidence lines of the layers, in order: kube-proxy's entry of a Service lists every rule of its
 * chains, and flattening all of them for three was the largest part of a Service trace of its own.
 */
function firstEvidence(bySource: { evidence: Evidence[] }[], n: number): Evidence[] {
  const out: Evidence[] = [];
  for (const b of bySource)
    for (const e of b.evidence) {
      if (out.length === n) return out;
      out.push(e);
    }
  return out;
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
    (b) => wanted === b.address || wanted === joinHostPort(b.address, b.port) || wanted === `${b.address}:${b.port}`,
  );
}

export type { ServiceEntry };

/**
 * Socket-LB's own pick (bpf_sock.c, sock_select_slot): slot `(x % count) + 1` with x random for TCP and the
 * socket's cookie for UDP, so every sendmsg of one UDP socket reaches the same backend. It does not use the Maglev
 * table, whatever the Service's algorithm; session affinity still applies.
 */
function socketSelection(sel: BackendSelection, proto: Flow['proto']): BackendSelection {
  if (sel.decided !== 'not-decided') return sel;
  const algorithm = proto === 'udp' ? 'socket-cookie' : 'random';
  const how =
    proto === 'udp'
      ? "socket-LB picks a slot by the socket's cookie (one backend per UDP socket, not computable from the node state)"
      : 'socket-LB picks a slot at random for each connect()';
  const sticky = sel.affinity
    ? '; with session affinity a client seen within the timeout keeps its earlier backend (the affinity state is not read)'
    : '';
  return { ...sel, algorithm, because: `${how}; the Maglev table is not used at the socket${sticky}` };
}

/** Node-wide LB settings from the status, for the flags a Service entry does not carry. */
function nodeLbFacts(ctx: TraceContext): NodeLbFacts {
  const st = ctx.state.cilium.status;
  const out: NodeLbFacts = {};
  if (st?.version !== undefined) out.version = st.version;
  if (st?.backendSelection) out.backendSelection = st.backendSelection;
  if (st?.kprMode) out.kprMode = st.kprMode;
  return out;
}

/**
 * How the translating layer picks a backend for a new connection, and whether this path's backend is decided.
 * Maglev's pick is the table entry for the flow's hash (jhash of the tuple with the agent's seed): netpath does
 * not compute it, so with Maglev, as with random, a new connection's backend is one of the candidates.
 */
function selectionOf(
  entry: ServiceEntry | undefined,
  node: NodeLbFacts,
  candidates: Backend[],
  pinnedBy: 'asked' | 'conntrack' | undefined,
): BackendSelection {
  const oneOf = candidates.map((b) => joinHostPort(b.address, b.port));
  const flags = entry ? flagReport(entry, node) : undefined;
  const alg = flags?.algorithm;
  const algorithm = flagKnown(alg) ? alg.value : 'unknown';
  const aff = flags?.sessionAffinity;
  const affinity = flagKnown(aff) ? aff.value : undefined;
  const how =
    algorithm === 'maglev'
      ? "Maglev: the backend is the Service's Maglev table entry for the flow's hash, which netpath does not compute"
      : algorithm === 'random'
        ? entry?.source.startsWith('kube-proxy')
          ? "kube-proxy's rules pick one at random (with the probabilities shown) for each new connection"
          : 'a new connection gets one at random'
        : algorithm.startsWith('ipvs:')
          ? `the IPVS scheduler ${algorithm.slice(5)} picks one for each new connection`
          : `random or Maglev: the algorithm is unknown (${alg && !flagKnown(alg) ? alg.unknown : 'no Service entry'})`;
  const sticky =
    affinity === true
      ? '; with session affinity a client seen within the timeout keeps its earlier backend (the affinity state is not read)'
      : '';
  const base = { algorithm, oneOf, ...(affinity !== undefined ? { affinity } : {}) };
  if (pinnedBy === 'asked')
    return { ...base, decided: 'asked', because: `chosen with --backend; otherwise ${how}${sticky}` };
  if (pinnedBy === 'conntrack')
    return { ...base, decided: 'conntrack', because: "an existing connection's conntrack entry holds this backend" };
  if (candidates.length === 1) return { ...base, decided: 'only-candidate', because: 'the only candidate backend' };
  return { ...base, decided: 'not-decided', because: `${how}${sticky}` };
}
