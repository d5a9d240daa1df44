import type {
  Address,
  Evidence,
  Family,
  Link,
  NodeState,
  Route,
  Rule,
  Warning,
  WgDevice,
  WgPeer,
} from '../model/types.js';
import { ROUTE_TYPE_CODE, parsePrefixInto } from '../model/route-columns.js';
import type {
  AttachMode,
  BpfHop,
  Disposition,
  DropHop,
  Flow,
  Hop,
  MasqueradeHop,
  RedirectNeighHop,
  RouteHop,
  RouteLookup,
  StackHop,
  Trace,
  TraceEndpoint,
  WireguardHop,
} from '../model/trace.js';
import { endpointHost, familyOf, prefixContains, prefixLen } from '../model/addr.js';
import { deriveDatapath, type CiliumProgramAttachment, type Datapath, type Fact } from './datapath.js';
import { routeQuery, buildRouting, knownFamilies, type RouteAnswer, type Routing } from './routing.js';
import type { ServiceEntry } from '../model/service.js';
import { traceService } from './trace-service.js';
import { insertConntrackHop, judgeConntrack } from './conntrack.js';
import type { FlowConntrack } from '../model/conntrack.js';

/** What the trace engine works on: the node, what Cilium does there, and the routing tables. */
export interface TraceContext {
  state: NodeState;
  /** Service frontends from every layer, when the node state has any Service source */
  services: ServiceEntry[];
  dp: Datapath;
  routing: Routing;
  /** routing per pod namespace, built lazily */
  nsRouting: Map<string, Routing>;
  /** the node's conntrack entries for this flow's tuples (stream-filtered from the table), when looked up */
  conntrack?: FlowConntrack;
}

export function createTraceContext(state: NodeState, services: ServiceEntry[] = []): TraceContext {
  const routes = state.routeColumns ?? state.routes;
  return {
    state,
    services,
    dp: deriveDatapath(state),
    routing: buildRouting(routes, state.rules, state, knownFamilies(state)),
    nsRouting: new Map(),
  };
}

interface Builder {
  hops: Hop[];
  warnings: Warning[];
}

const NF_LOCAL_IN = ['PREROUTING', 'INPUT'];
const NF_FORWARD = ['PREROUTING', 'FORWARD', 'POSTROUTING'];
const NF_LOCAL_OUT = ['OUTPUT', 'POSTROUTING'];

/** Reconstructs the path of `flow` through the node. Pure: the same state gives the same trace. */
export function traceFlow(ctx: TraceContext, flow: Flow): Trace {
  const t = traceService(ctx, flow) ?? traceAddress(ctx, flow);
  return ctx.conntrack ? withConntrack(ctx.conntrack, t, flow) : t;
}

/** Adds what the conntrack table says about the flow: a `conntrack` hop when an entry decides or confirms it. */
function withConntrack(ct: FlowConntrack, t: Trace, flow: Flow): Trace {
  const lb = t.hops.find((h) => h.kind === 'kube-proxy' || h.kind === 'socket-lb' || h.kind === 'tc-lb');
  const j = judgeConntrack(ct, flow, {
    ...(lb?.backends ? { backends: lb.backends.map((b) => ({ address: b.address, port: b.port })) } : {}),
    natByRules: lb === undefined || lb.kind === 'kube-proxy',
  });
  const warnings = dedupe([...t.warnings, ...ct.warnings, ...(j?.warnings ?? [])]);
  return j ? { ...t, hops: insertConntrackHop(t.hops, j.hop), warnings } : { ...t, warnings };
}

/** The path to a plain address (no Service translation). */
export function traceAddress(ctx: TraceContext, flow: Flow): Trace {
  const b: Builder = { hops: [], warnings: [] };
  const src = classify(ctx, flow.src);
  const dst = classify(ctx, flow.dst);
  warnMissing(ctx, b, flow);
  let disposition: Disposition;
  if (familyOf(flow.src) !== familyOf(flow.dst)) {
    b.hops.push(drop('source and destination are of different address families', [], 'family-mismatch'));
    disposition = 'dropped';
  } else if (src.kind === 'local-pod') disposition = fromLocalPod(ctx, b, flow, src, dst);
  else if (src.kind === 'host') disposition = fromHost(ctx, b, flow, src, dst);
  else disposition = fromOutside(ctx, b, flow, src, dst);
  return {
    schemaVersion: 1,
    node: ctx.state.node.name,
    flow,
    src,
    dst,
    hops: b.hops,
    disposition,
    warnings: dedupe([...b.warnings]),
  };
}

// ---------------------------------------------------------------------------------------------
// classification

export function classify(ctx: TraceContext, ip: string): TraceEndpoint {
  const { state, dp } = ctx;
  const pod = findLocalPod(ctx, ip);
  if (pod) return pod;
  const hostAddr = state.addrs.find((a) => a.local === ip);
  if (hostAddr) {
    return { kind: 'host', ip, dev: hostAddr.ifname, evidence: [hostAddr.source] };
  }
  const own = ownPodRoute(ctx, ip);
  if (own) return own;
  const fam = familyOf(ip) as Family;
  const cidr = fam === 4 ? dp.nativeRoutingCidr.v4 : dp.nativeRoutingCidr.v6;
  const nodeRoute = podCidrRouteFor(ctx, ip);
  if (cidr.known && prefixContains(cidr.value, ip)) {
    const ep: TraceEndpoint = {
      kind: 'remote-pod',
      ip,
      because: `inside the native-routing CIDR ${cidr.value} and not a pod of this node`,
      evidence: [...cidr.evidence],
    };
    if (nodeRoute?.gateway) {
      ep.node = nodeRoute.gateway;
      ep.evidence.push(nodeRoute.route.source);
    }
    return ep;
  }
  if (isNodeAddress(ctx, ip)) {
    const r = nodeRouteFor(ctx, ip)!;
    return {
      kind: 'remote-node',
      ip,
      because: 'the next hop of a route to a pod CIDR inside the native-routing CIDR (autoDirectNodeRoutes)',
      evidence: [r.source],
    };
  }
  if (!cidr.known) {
    return {
      kind: 'external',
      ip,
      because: `not an address of this node or its pods; native-routing CIDR unknown (${cidr.because}), so it could also be a remote pod`,
      evidence: [],
    };
  }
  return {
    kind: 'external',
    ip,
    because: 'not on this node, its pods, or inside the native-routing CIDR',
    evidence: [],
  };
}

function findLocalPod(ctx: TraceContext, ip: string): TraceEndpoint | undefined {
  const { state } = ctx;
  for (const ns of state.netns) {
    const a = ns.addrs.find((x) => x.local === ip && x.ifname !== 'lo');
    if (!a) continue;
    const podLink = ns.links.find((l) => l.ifindex === a.ifindex || l.name === a.ifname);
    const ev: Evidence[] = [a.source];
    let dev: string | undefined;
    if (podLink?.linkIndex !== undefined) {
      const host = state.links.find(
        (l) => l.ifindex === podLink.linkIndex && isPairEnd(l, podLink, ns.name, state.netns),
      );
      if (host) {
        dev = host.name;
        ev.push(podLink.source, host.source);
      }
    }
    const ep = state.cilium.endpoints?.find((e) => e.ipv4 === ip || e.ipv6 === ip);
    if (ep) {
      ev.push(ep.source);
      if (dev === undefined && ep.ifname) dev = ep.ifname;
    }
    // a namespace that holds the address but is not a pod of this node (a bridge, a router, another node's
    // namespace that happens to be connected): not a local pod
    if (dev === undefined && !ep) continue;
    const out: TraceEndpoint = { kind: 'local-pod', ip, netns: ns.name, evidence: ev };
    if (dev !== undefined) out.dev = dev;
    else out.because = `no host-side device found for ${a.ifname} in netns ${ns.name}`;
    if (ep) {
      out.endpointId = ep.id;
      if (ep.name) out.pod = ep.name;
    }
    return out;
  }
  const ep = state.cilium.endpoints?.find((e) => !e.isHost && (e.ipv4 === ip || e.ipv6 === ip));
  if (ep) {
    const out: TraceEndpoint = {
      kind: 'local-pod',
      ip,
      endpointId: ep.id,
      evidence: [ep.source],
      because: 'listed by the Cilium endpoint list; its network namespace was not read',
    };
    if (ep.ifname) out.dev = ep.ifname;
    if (ep.name) out.pod = ep.name;
    return out;
  }
  return undefined;
}

/**
 * Cilium's own routes name this node's pods even when no pod namespace or endpoint list was captured: a
 * per-endpoint route `<podIP> dev lxc…` (endpoint routes) puts the pod behind that device, and the local
 * PodCIDR route `<podCIDR> via <cilium_host address> dev cilium_host` covers this node's pod addresses.
 * Such an address is a pod of this node, never a remote pod "via" the node's own router address.
 */
function ownPodRoute(ctx: TraceContext, ip: string): TraceEndpoint | undefined {
  const fam = familyOf(ip) as Family;
  const ans = routeQuery(ctx.routing, { family: fam, dst: ip });
  const r = ans.route;
  if (!r || ans.result !== 'unicast' || r.table !== 254 || r.nexthops.length !== 1) return undefined;
  const nh = r.nexthops[0]!;
  if (prefixLen(r.dst) === (fam === 4 ? 32 : 128) && nh.gateway === undefined && nh.dev?.startsWith('lxc')) {
    return {
      kind: 'local-pod',
      ip,
      dev: nh.dev,
      because: `per-endpoint route "${r.source.text}"; the pod's network namespace was not read`,
      evidence: [r.source],
    };
  }
  if (nh.dev !== 'cilium_host' || prefixLen(r.dst) === 0) return undefined;
  // IPv4: `via` the router address on cilium_host; IPv6: no `via`, the route is on cilium_host itself
  const router = nh.gateway === undefined ? undefined : ctx.state.addrs.find((a) => a.local === nh.gateway);
  if (nh.gateway !== undefined && router?.ifname !== 'cilium_host') return undefined;
  return {
    kind: 'local-pod',
    ip,
    because: `inside this node's pod CIDR ${r.dst} (route "${r.source.text}"); no captured pod namespace or endpoint holds it, so the device it is behind is unknown`,
    evidence: router ? [r.source, router.source] : [r.source],
  };
}

/**
 * Whether the node's device `host` is the other end of the pod's device `pod` (in namespace `ns`). Ifindexes
 * are per namespace, so one direction can match by chance: the pair must point at each other. With `ip -d`
 * the kind says veth or netkit; without it (a plain `ip a` paste) the two ends must each name the other's
 * ifindex and the host end must lead to another namespace (`link-netnsid N`, or `link-netns NAME` naming this
 * one; a name that is no captured namespace is taken as this one under the name its directory was given).
 */
function isPairEnd(host: Link, pod: Link, ns: string, all: { name: string }[]): boolean {
  if (host.kind !== undefined)
    return ['veth', 'netkit'].includes(host.kind) && (host.linkIndex === undefined || host.linkIndex === pod.ifindex);
  if (host.linkIndex !== pod.ifindex) return false;
  if (host.linkNetns !== undefined) return host.linkNetns === ns || !all.some((n) => n.name === host.linkNetns);
  return host.linkNetnsId !== undefined;
}

/** The autoDirectNodeRoutes-style route (`podCIDR via nodeIP`) that covers ip, if any. */
function podCidrRouteFor(
  ctx: TraceContext,
  ip: string,
): { route: import('../model/types.js').Route; gateway?: string } | undefined {
  const ans = routeQuery(ctx.routing, { family: familyOf(ip) as Family, dst: ip });
  if (!ans.route || ans.result !== 'unicast' || prefixLen(ans.route.dst) === 0) return undefined;
  const gw = ans.nexthops[0]?.gateway;
  return gw === undefined ? { route: ans.route } : { route: ans.route, gateway: gw };
}

// Per context: each node address (the gateway of a `podCIDR via node` route inside the native-routing
// CIDR) and the first such route, in route order. Built once: with a million routes a linear search per
// question made a trace with many candidate backends take minutes.
const nodeRouteIndex = new WeakMap<TraceContext, Map<string, Route>>();

function nodeRouteFor(ctx: TraceContext, ip: string): Route | undefined {
  const fam = familyOf(ip) as Family;
  const cidr = fam === 4 ? ctx.dp.nativeRoutingCidr.v4 : ctx.dp.nativeRoutingCidr.v6;
  if (!cidr.known) return undefined;
  let index = nodeRouteIndex.get(ctx);
  if (!index) {
    index = new Map();
    for (const f of [4, 6] as const) {
      const c = f === 4 ? ctx.dp.nativeRoutingCidr.v4 : ctx.dp.nativeRoutingCidr.v6;
      if (!c.known) continue;
      for (const r of mainUnicastWithin(ctx.state, f, c.value))
        for (const n of r.nexthops)
          if (n.gateway !== undefined && !index.has(`${r.family}|${n.gateway}`))
            index.set(`${r.family}|${n.gateway}`, r);
    }
    nodeRouteIndex.set(ctx, index);
  }
  return index.get(`${fam}|${ip}`);
}

/** Main-table unicast routes (not default) whose destination lies in cidr, in dump order. */
function mainUnicastWithin(state: NodeState, fam: Family, cidr: string): Route[] {
  const want = (r: Route) =>
    r.family === fam &&
    r.table === 254 &&
    r.type === 'unicast' &&
    prefixLen(r.dst) > 0 &&
    prefixContains(cidr, r.dst.split('/')[0]!);
  if (!state.routeColumns) return state.routes.filter(want);
  // columns: test the prefix on the words, build only the routes inside the CIDR
  const words = fam === 4 ? 1 : 4;
  const ck = new Uint32Array(words);
  const clen = parsePrefixInto(fam, cidr, ck, 0);
  const out: Route[] = [];
  if (clen < 0) return out;
  for (const c of state.routeColumns) {
    if (c.family !== fam) continue;
    for (let i = 0; i < c.count; i++) {
      if (
        c.type[i] !== ROUTE_TYPE_CODE.unicast ||
        c.table[i] !== 254 ||
        c.len[i] === 0 ||
        !keyWithin(c.key, i * words, ck, clen)
      )
        continue;
      const r = c.route(i);
      if (want(r)) out.push(r);
    }
  }
  return out;
}

/** the address at key[at..] lies in the prefix ck/clen */
function keyWithin(key: Uint32Array, at: number, ck: Uint32Array, clen: number): boolean {
  for (let w = 0; clen > 0; w++, clen -= 32) {
    const x = (key[at + w]! ^ ck[w]!) >>> 0;
    if (clen >= 32 ? x !== 0 : x >>> (32 - clen) !== 0) return false;
  }
  return true;
}

function isNodeAddress(ctx: TraceContext, ip: string): boolean {
  return nodeRouteFor(ctx, ip) !== undefined;
}

// ---------------------------------------------------------------------------------------------
// paths

function fromLocalPod(ctx: TraceContext, b: Builder, flow: Flow, src: TraceEndpoint, dst: TraceEndpoint): Disposition {
  const fam = familyOf(flow.dst) as Family;
  // 1. the pod's own routing table decides whether the packet leaves through eth0 at all
  if (src.netns !== undefined) {
    const ns = ctx.state.netns.find((n) => n.name === src.netns)!;
    if (ns.routes.length === 0) {
      b.warnings.push({
        code: 'pod-routes-missing',
        message: `no routes were read for netns ${ns.name}: the pod's own routing is not checked`,
        source: `netns/${ns.name}/ip-route${fam}`,
      });
    } else {
      const r = nsRouting(ctx, ns.name);
      const ans = routeQuery(r, { family: fam, dst: flow.dst, src: flow.src, iif: 'lo' });
      const hop = routeHop(ans, `route in pod netns ${ns.name}`, { lookup: 'pod-netns', dst: flow.dst, iif: 'lo' });
      hop.netns = ns.name;
      b.hops.push(hop);
      if (ans.result !== 'unicast') return routeFailure(b, ans, flow);
      if (ans.result === 'unicast' && ans.nexthops[0]?.dev === 'lo') {
        b.hops.push({
          kind: 'deliver',
          detail: `delivered inside the pod's own namespace ${ns.name}`,
          evidence: ans.evidence,
          netns: ns.name,
          target: 'pod-netns',
          address: flow.dst,
        });
        return 'delivered';
      }
    }
  } else {
    b.warnings.push({
      code: 'pod-routes-missing',
      message: `the network namespace of ${src.ip} was not read: the pod's own routing is not checked`,
    });
  }
  const lxc = src.dev;
  if (lxc === undefined) {
    b.warnings.push({
      code: 'pod-device-unknown',
      message: `the host-side device of ${src.ip} is unknown: ${src.because ?? ''}`,
    });
    return 'unknown';
  }
  // 2. the program Cilium attaches to the lxc device (its ingress = what the pod sends)
  const prog = findProgram(ctx, lxc, 'ingress', 'cil_from_container');
  const unknownProgs = prog ? undefined : programsUnknown(ctx, lxc, 'ingress');
  if (unknownProgs) {
    b.warnings.push({
      code: 'programs-unknown',
      message: `the programs on ${lxc} ingress are unknown (${unknownProgs}): whether cil_from_container takes the packet cannot be decided`,
    });
    return 'unknown';
  }
  if (!prog) {
    b.warnings.push({
      code: 'no-cilium-program',
      message: `no Cilium program seen on ${lxc} ingress: the packet enters the host stack unprocessed by Cilium`,
    });
    b.hops.push(
      stackHop(`${lxc} has no cil_from_container: the packet enters the host stack`, [], NF_FORWARD, 'no-program'),
    );
    return stackForward(ctx, b, flow, dst, lxc, src);
  }
  b.hops.push(prog);
  const hr = ctx.dp.hostRouting;

  if (dst.kind === 'local-pod') return localDelivery(ctx, b, dst, false);

  if (dst.kind === 'host') {
    b.hops.push({
      kind: 'stack',
      detail: `${dst.ip} is this node: cil_from_container passes the packet to the host stack (CTX_ACT_OK)`,
      evidence: [...dst.evidence],
      why: 'to-host',
      hooks: NF_LOCAL_IN,
    });
    const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, src: flow.src, iif: lxc });
    b.hops.push(routeHop(ans, 'kernel route lookup', { lookup: 'input', dst: flow.dst, iif: lxc }));
    if (ans.result !== 'local') return routeFailure(b, ans, flow);
    b.hops.push(netfilterHop(ctx, NF_LOCAL_IN));
    b.hops.push({
      kind: 'deliver',
      detail: `delivered to a local socket on ${dst.ip} (${dst.dev ?? 'this node'})`,
      evidence: dst.evidence,
      target: 'local-socket',
      address: dst.ip,
      ...(dst.dev ? { addressDev: dst.dev } : {}),
    });
    return 'delivered';
  }

  if (!hr.known) {
    b.warnings.push({
      code: 'host-routing-unknown',
      message: `host routing mode unknown (${hr.because}): the path below assumes neither; it shows the kernel route`,
    });
    return stackForward(ctx, b, flow, dst, lxc, src, true);
  }
  if (hr.value === 'legacy') {
    b.hops.push(
      stackHop(
        `legacy host routing: cil_from_container returns the packet to the stack (CTX_ACT_OK)`,
        hr.evidence,
        NF_FORWARD,
        'legacy-host-routing',
        ctx.dp.legacyReasons,
      ),
    );
    return stackForward(ctx, b, flow, dst, lxc, src);
  }
  // BPF host routing: fib_redirect() → bpf_fib_lookup(ifindex = lxc) → bpf_redirect_neigh
  const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, src: flow.src, iif: lxc, bpfFib: true });
  const fibHop = routeHop(ans, `FIB lookup in cil_from_container (bpf_fib_lookup, ifindex ${lxc})`, {
    lookup: 'bpf_fib_lookup',
    dst: flow.dst,
    iif: lxc,
  });
  fibHop.evidence.unshift(...hr.evidence);
  b.hops.push(fibHop);
  for (const d of ans.divergence) b.warnings.push({ code: 'fib-policy-divergence', message: d });
  if (ans.result === 'local') {
    b.hops.push({
      kind: 'stack',
      detail: 'the FIB says the destination is local (BPF_FIB_LKUP_RET_NOT_FWDED): passed to the stack',
      evidence: ans.evidence,
      why: 'fib-local',
      hooks: NF_LOCAL_IN,
    });
    b.hops.push({
      kind: 'deliver',
      detail: `delivered to a local socket on ${flow.dst}`,
      evidence: [],
      target: 'local-socket',
      address: flow.dst,
    });
    return 'delivered';
  }
  if (ans.result === 'unknown') return routeFailure(b, ans, flow);
  if (ans.result !== 'unicast') {
    b.hops.push(
      drop(`bpf_fib_lookup returns ${ans.result}: Cilium drops with DROP_NO_FIB`, ans.evidence, 'DROP_NO_FIB'),
    );
    return ans.result === 'no-route' || ans.result === 'unreachable' ? 'no-route' : 'dropped';
  }
  return egressFromNode(ctx, b, flow, src, dst, ans, 'redirect_neigh');
}

function fromHost(ctx: TraceContext, b: Builder, flow: Flow, src: TraceEndpoint, dst: TraceEndpoint): Disposition {
  const fam = familyOf(flow.dst) as Family;
  const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, src: flow.src, iif: 'lo' });
  b.hops.push(routeHop(ans, 'output route lookup for a locally generated packet', { lookup: 'output', dst: flow.dst }));
  if (ans.result === 'local') {
    b.hops.push({
      kind: 'deliver',
      detail: `delivered locally on ${flow.dst} (loopback)`,
      evidence: dst.evidence,
      target: 'loopback',
      address: flow.dst,
    });
    return 'delivered';
  }
  if (ans.result !== 'unicast') return routeFailure(b, ans, flow);
  b.hops.push(netfilterHop(ctx, NF_LOCAL_OUT));
  const dev = ans.nexthops[0]?.dev;
  if (dst.kind === 'local-pod' && dev !== undefined && isCiliumHost(ctx, dev)) {
    const p = findProgram(ctx, dev, 'egress', 'cil_from_host');
    if (p) b.hops.push(p);
    else b.warnings.push({ code: 'no-cilium-program', message: `no cil_from_host seen on ${dev} egress` });
    return localDelivery(ctx, b, dst, true);
  }
  if (dst.kind === 'local-pod' && dev === dst.dev) {
    // endpoint routes: the kernel routes straight to lxcX; cil_to_container (if any) runs on its egress
    const p = findProgram(ctx, dev!, 'egress', 'cil_to_container');
    if (p) b.hops.push(p);
    b.hops.push(deliverHop(dst));
    return 'delivered';
  }
  return egressFromNode(ctx, b, flow, src, dst, ans, 'stack');
}

function fromOutside(ctx: TraceContext, b: Builder, flow: Flow, src: TraceEndpoint, dst: TraceEndpoint): Disposition {
  const fam = familyOf(flow.dst) as Family;
  // Which device does the packet arrive on? The one this node would use to reach the source.
  const back = routeQuery(ctx.routing, { family: fam, dst: flow.src, iif: 'lo' });
  const inDev = back.result === 'unicast' ? back.nexthops[0]?.dev : undefined;
  if (inDev === undefined) {
    b.warnings.push({
      code: 'ingress-device-unknown',
      message: `no route back to ${flow.src}: the device the packet arrives on is unknown`,
    });
    return 'unknown';
  }
  const arrive: RouteHop = {
    kind: 'route',
    detail: `arrives on ${inDev} (the device this node routes ${flow.src} through; a packet from elsewhere would be asymmetric and may meet rp_filter)`,
    evidence: back.evidence,
    lookup: 'arrival',
    result: back.result,
    dst: flow.src,
    answer: back.summary,
    dev: inDev,
    inferred: true,
    because: 'the ingress device is taken from the reverse route',
  };
  b.hops.push(arrive);
  const wgDev = wgDevice(ctx, inDev);
  const prog = findProgram(ctx, inDev, 'ingress', 'cil_from_netdev');
  const unknownProgs = prog || wgDev ? undefined : programsUnknown(ctx, inDev, 'ingress');
  if (unknownProgs) {
    b.warnings.push({
      code: 'programs-unknown',
      message: `the programs on ${inDev} ingress are unknown (${unknownProgs}): whether cil_from_netdev takes the packet cannot be decided`,
    });
    return 'unknown';
  }
  if (prog) b.hops.push(prog);
  else if (!wgDev)
    b.warnings.push({
      code: 'no-cilium-program',
      message: `no cil_from_netdev seen on ${inDev} ingress: Cilium does not see this packet before the stack`,
    });

  if (dst.kind === 'local-pod') {
    const hr = ctx.dp.hostRouting;
    if (prog && hr.known && hr.value === 'bpf') return localDelivery(ctx, b, dst, false);
    b.hops.push(
      stackHop(
        prog ? 'legacy host routing: cil_from_netdev passes the packet to the stack' : 'into the host stack',
        hr.known ? hr.evidence : [],
        NF_FORWARD,
        prog ? 'legacy-host-routing' : 'no-program',
      ),
    );
    const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, src: flow.src, iif: inDev });
    b.hops.push(routeHop(ans, 'kernel route lookup', { lookup: 'input', dst: flow.dst, iif: inDev }));
    if (ans.result !== 'unicast') return routeFailure(b, ans, flow);
    b.hops.push(netfilterHop(ctx, NF_FORWARD));
    const dev = ans.nexthops[0]?.dev;
    if (dev !== undefined && isCiliumHost(ctx, dev)) {
      const p = findProgram(ctx, dev, 'egress', 'cil_from_host');
      if (p) b.hops.push(p);
      return localDelivery(ctx, b, dst, true);
    }
    if (dev === dst.dev) {
      b.hops.push(deliverHop(dst));
      return 'delivered';
    }
    b.warnings.push({
      code: 'unexpected-route',
      message: `the route to local pod ${dst.ip} leaves through ${dev}, not cilium_host or ${dst.dev}`,
    });
    return egressFromNode(ctx, b, flow, src, dst, ans, 'stack');
  }
  if (dst.kind === 'host') {
    b.hops.push({
      kind: 'stack',
      detail: 'to this node: passed to the host stack',
      evidence: [],
      why: 'to-host',
      hooks: NF_LOCAL_IN,
    });
    const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, src: flow.src, iif: inDev });
    b.hops.push(routeHop(ans, 'kernel route lookup', { lookup: 'input', dst: flow.dst, iif: inDev }));
    if (ans.result !== 'local') return routeFailure(b, ans, flow);
    b.hops.push(netfilterHop(ctx, NF_LOCAL_IN));
    b.hops.push({
      kind: 'deliver',
      detail: `delivered to a local socket on ${dst.ip}`,
      evidence: dst.evidence,
      target: 'local-socket',
      address: dst.ip,
    });
    return 'delivered';
  }
  // transit
  b.hops.push(stackHop('not for this node: forwarded by the kernel stack', [], NF_FORWARD, 'transit'));
  const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, src: flow.src, iif: inDev });
  b.hops.push(routeHop(ans, 'kernel route lookup (forwarding)', { lookup: 'input', dst: flow.dst, iif: inDev }));
  if (ans.result !== 'unicast') return routeFailure(b, ans, flow);
  const fwd = ctx.state.sysctl[fam === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'];
  if (fwd && fwd.value.trim() === '0') {
    b.hops.push(drop(`forwarding is disabled on this node`, [fwd.source], 'forwarding-disabled'));
    return 'dropped';
  }
  b.hops.push(netfilterHop(ctx, NF_FORWARD));
  return egressFromNode(ctx, b, flow, src, dst, ans, 'stack');
}

/** The packet leaves the node by `ans`: redirect_neigh (BPF host routing) or the stack. */
function egressFromNode(
  ctx: TraceContext,
  b: Builder,
  flow: Flow,
  src: TraceEndpoint,
  dst: TraceEndpoint,
  ans: RouteAnswer,
  via: 'redirect_neigh' | 'stack',
): Disposition {
  const nh = ans.nexthops;
  if (nh.length > 1) {
    b.warnings.push({
      code: 'multipath',
      message: `${nh.length} next hops (multipath): the kernel picks one per flow by hash; the path below follows the first and the others are listed`,
    });
  }
  const first = nh[0]!;
  const dev = first.dev ?? '?';
  const next = first.gateway ?? flow.dst;
  const neigh = ctx.state.neigh.find((n) => n.dst === next && n.dev === dev);
  const wg = wgDevice(ctx, dev);
  if (via === 'redirect_neigh') {
    const text = `bpf_redirect_neigh out of ${dev} ${first.gateway ? `to next hop ${next}` : `directly to ${next} (on-link)`}: bypasses the host stack and netfilter`;
    const hop: RedirectNeighHop = {
      kind: 'redirect_neigh',
      detail:
        neigh || wg
          ? text
          : `${text}; no neighbour entry for ${next} on ${dev}: the kernel resolves it when the packet is sent`,
      evidence: neigh ? [neigh.source] : [],
      helper: 'bpf_redirect_neigh',
      dev,
      nexthop: next,
      onLink: !first.gateway,
    };
    if (neigh)
      hop.neighbor = neigh.lladdr === undefined ? { state: neigh.state } : { lladdr: neigh.lladdr, state: neigh.state };
    if (nh.length > 1)
      hop.candidates = nh.map((n) => ({
        ...(n.gateway ? { gateway: n.gateway } : {}),
        ...(n.dev ? { dev: n.dev } : {}),
        ...(n.weight ? { weight: n.weight } : {}),
      }));
    const native = ctx.dp.nativeDevices;
    if (native.known && !native.value.includes(dev)) {
      hop.inferred = true;
      hop.because = `the FIB result ${dev} is not one of Cilium's native devices (${native.value.join(', ')}): Cilium still redirects to the FIB's device, but no Cilium program runs on ${dev}'s egress`;
    }
    b.hops.push(hop);
  } else if (neigh?.state.includes('FAILED')) {
    b.warnings.push({
      code: 'neighbour-failed',
      message: `the neighbour ${next} on ${dev} is FAILED: the packet will not leave`,
    });
  }
  const egressProg = findProgram(ctx, dev, 'egress', 'cil_to_netdev');
  if (egressProg) b.hops.push(egressProg);
  const egressUnknown = egressProg ? undefined : programsUnknown(ctx, dev, 'egress');
  if (egressUnknown)
    b.warnings.push({
      code: 'programs-unknown',
      message: `the programs on ${dev} egress are unknown (${egressUnknown})`,
    });
  if (src.kind === 'local-pod') {
    const m = masquerade(ctx, flow, dst, dev, egressProg !== undefined);
    if (egressUnknown && !m.inferred) {
      m.inferred = true;
      m.because = `whether cil_to_netdev runs on ${dev} is unknown (${egressUnknown})`;
    }
    b.hops.push(m);
  }
  if (wg) return wireguardHops(ctx, b, flow, dev, wg);
  if (first.gateway && !isNodeAddress(ctx, first.gateway) && dst.kind !== 'remote-node') {
    b.hops.push({
      kind: 'gateway',
      detail: `leaves the node towards gateway ${first.gateway} on ${dev}, which is not a node that owns a pod CIDR here`,
      evidence: [...ans.evidence, ...(neigh ? [neigh.source] : [])],
      gateway: first.gateway,
      dev,
      encrypted: false,
      ...(neigh ? { neighbor: neighbourOf(neigh) } : {}),
    });
  }
  return 'forwarded';
}

function wireguardHops(ctx: TraceContext, b: Builder, flow: Flow, dev: string, wg: WgDevice): Disposition {
  const peer = pickWgPeer(wg, flow.dst);
  if (!peer) {
    b.hops.push(
      drop(
        `no WireGuard peer of ${dev} allows ${flow.dst} (allowed-ips): wireguard drops it`,
        [wg.source],
        'wireguard-no-peer',
      ),
    );
    return 'dropped';
  }
  const hop: WireguardHop = {
    kind: 'wireguard',
    detail: `encrypted by ${dev} for peer ${short(peer.peer.publicKey)} (allowed-ips ${peer.prefix})${peer.peer.endpoint ? `, sent as UDP to ${peer.peer.endpoint}` : ', which has no endpoint: the packet cannot be sent'}`,
    evidence: [peer.peer.source],
    dev,
    peer: peer.peer.publicKey,
    allowedIps: peer.prefix,
  };
  if (peer.peer.endpoint) hop.endpoint = peer.peer.endpoint;
  b.hops.push(hop);
  if (!peer.peer.endpoint) return 'dropped';
  const epAddr = endpointHost(peer.peer.endpoint);
  const fam = familyOf(epAddr);
  if (fam === null) return 'forwarded';
  const q: Parameters<typeof routeQuery>[1] = { family: fam, dst: epAddr, iif: 'lo' };
  if (wg.fwmark !== undefined) q.mark = wg.fwmark;
  const ans = routeQuery(ctx.routing, q);
  b.hops.push(
    routeHop(
      ans,
      `route for the encrypted packet to ${epAddr}${wg.fwmark ? ` (fwmark 0x${wg.fwmark.toString(16)})` : ''}`,
      { lookup: 'wireguard-outer', dst: epAddr, ...(wg.fwmark !== undefined ? { fwmark: wg.fwmark } : {}) },
    ),
  );
  if (ans.result !== 'unicast') return routeFailure(b, ans, { ...flow, dst: epAddr });
  b.hops.push(netfilterHop(ctx, NF_LOCAL_OUT));
  const out = ans.nexthops[0]!;
  const p = out.dev ? findProgram(ctx, out.dev, 'egress', 'cil_to_netdev') : undefined;
  if (p) b.hops.push(p);
  const next = out.gateway ?? epAddr;
  const neigh = ctx.state.neigh.find((n) => n.dst === next && n.dev === out.dev);
  b.hops.push({
    kind: 'gateway',
    detail: `the encrypted packet leaves ${out.dev ?? '?'} towards ${out.gateway ? `gateway ${out.gateway}` : `the WireGuard endpoint ${epAddr} (on-link)`}${neigh ? ` (neighbour ${neigh.state.join(',')})` : ''}`,
    evidence: [...ans.evidence, ...(neigh ? [neigh.source] : [])],
    gateway: next,
    ...(out.dev ? { dev: out.dev } : {}),
    encrypted: true,
    ...(neigh ? { neighbor: neighbourOf(neigh) } : {}),
  });
  return 'forwarded';
}

function localDelivery(ctx: TraceContext, b: Builder, dst: TraceEndpoint, fromHostSide: boolean): Disposition {
  if (dst.dev === undefined) {
    b.warnings.push({
      code: 'pod-device-unknown',
      message: `the host-side device of ${dst.ip} is unknown: ${dst.because ?? ''}`,
    });
    return 'unknown';
  }
  const hr = ctx.dp.hostRouting;
  const dev = dst.dev ?? '?';
  const mode = ctx.dp.deviceMode;
  const netkit = mode.known && mode.value !== 'veth';
  if (!hr.known) {
    b.hops.push({
      kind: 'redirect',
      detail: `local delivery to ${dst.ip} on ${dev}: bpf_redirect_peer with BPF host routing, bpf_redirect otherwise — host routing unknown`,
      evidence: dst.evidence,
      helper: 'bpf_redirect',
      why: 'host-routing-unknown',
      dev,
      ...(dst.netns ? { targetNetns: dst.netns } : {}),
      inferred: true,
      because: hr.because,
    });
  } else if (hr.value === 'bpf' && !fromHostSide && !netkit) {
    b.hops.push({
      kind: 'redirect_peer',
      detail: `bpf_redirect_peer into ${dst.netns ?? 'the pod'} through ${dev}: skips the host stack, netfilter and ${dev}'s own tc hooks`,
      evidence: [...hr.evidence, ...dst.evidence],
      helper: 'bpf_redirect_peer',
      dev,
      ...(dst.netns ? { netns: dst.netns, targetNetns: dst.netns } : {}),
    });
  } else {
    const why = fromHostSide ? 'host-side' : netkit ? 'netkit' : 'legacy-host-routing';
    b.hops.push({
      kind: 'redirect',
      detail: `bpf_redirect to ${dev} (${REDIRECT_WHY[why]}), then across the veth into ${dst.netns ?? 'the pod'}`,
      evidence: [...(hr.evidence ?? []), ...dst.evidence],
      helper: 'bpf_redirect',
      why,
      reason: REDIRECT_WHY[why],
      dev,
      ...(dst.netns ? { targetNetns: dst.netns } : {}),
    });
    const p = findProgram(ctx, dev, 'egress', 'cil_to_container');
    if (p) b.hops.push(p);
  }
  b.hops.push(deliverHop(dst));
  return 'delivered';
}

/** Legacy path: the kernel routes the packet that arrived on `inDev`. */
function stackForward(
  ctx: TraceContext,
  b: Builder,
  flow: Flow,
  dst: TraceEndpoint,
  inDev: string,
  src: TraceEndpoint,
  hostRoutingUnknown = false,
): Disposition {
  const fam = familyOf(flow.dst) as Family;
  const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, src: flow.src, iif: inDev });
  const hop = routeHop(ans, 'kernel route lookup', { lookup: 'input', dst: flow.dst, iif: inDev });
  if (hostRoutingUnknown) {
    hop.inferred = true;
    hop.because =
      'host routing mode unknown: with BPF host routing bpf_fib_lookup makes the same decision without netfilter';
  }
  b.hops.push(hop);
  if (ans.result === 'local') {
    // a local route to an address that is not a pod of this node (a VIP left on kube-ipvs0, say): a socket
    b.hops.push(
      dst.kind === 'local-pod'
        ? deliverHop(dst)
        : {
            kind: 'deliver',
            detail: `delivered to a local socket on ${dst.ip}`,
            evidence: ans.evidence,
            target: 'local-socket',
            address: dst.ip,
          },
    );
    return 'delivered';
  }
  if (ans.result !== 'unicast') return routeFailure(b, ans, flow);
  b.hops.push(netfilterHop(ctx, NF_FORWARD));
  const dev = ans.nexthops[0]?.dev;
  if (dst.kind === 'local-pod' && dev !== undefined && isCiliumHost(ctx, dev)) return localDelivery(ctx, b, dst, true);
  return egressFromNode(ctx, b, flow, src, dst, ans, 'stack');
}

// ---------------------------------------------------------------------------------------------
// pieces

function masquerade(
  ctx: TraceContext,
  flow: Flow,
  dst: TraceEndpoint,
  dev: string,
  hasToNetdev: boolean,
): MasqueradeHop {
  const m = ctx.dp.masquerade;
  const fam = familyOf(flow.dst) as Family;
  if (!m.known) {
    return {
      kind: 'masquerade',
      detail: `masquerade unknown: ${m.because}`,
      evidence: [],
      applied: 'unknown',
      where: 'unknown',
      why: 'mode-unknown',
      dev,
      inferred: true,
      because: m.because,
    };
  }
  const ev = m.evidence;
  const v = m.value;
  const not = (why: MasqueradeHop['why'], text: string, extra: Partial<MasqueradeHop> = {}): MasqueradeHop => ({
    kind: 'masquerade',
    detail: `not masqueraded: ${text}`,
    reason: text,
    evidence: ev,
    applied: false,
    by: v.mode,
    where: v.mode,
    why,
    dev,
    ...extra,
  });
  if (v.mode === 'disabled') return not('disabled', 'masquerading is disabled');
  if ((fam === 4 && !v.ipv4) || (fam === 6 && !v.ipv6))
    return not('family-disabled', `IPv${fam} masquerading is disabled`);
  const famCidrs = v.exclusionCidrs.filter((c) => familyOf(c.split('/')[0]!) === fam);
  const excl = famCidrs.find((c) => prefixContains(c, flow.dst));
  if (excl) return not('excluded', `${flow.dst} is inside the SNAT exclusion CIDR ${excl}`, { exclusionCidr: excl });
  if (famCidrs.length === 0 && dst.kind !== 'remote-node') {
    return {
      kind: 'masquerade',
      detail: `masquerade unknown: the IPv${fam} SNAT exclusion CIDR is in neither the status nor the config`,
      evidence: ev,
      applied: 'unknown',
      by: v.mode,
      where: v.mode,
      why: 'no-exclusion-cidr',
      dev,
      inferred: true,
      because: 'no exclusion CIDR to compare the destination with',
    };
  }
  if (dst.kind === 'remote-node') return not('remote-node', `${flow.dst} is a remote node and this is native routing`);
  if (v.mode === 'bpf') {
    if (v.devices.length > 0 && !v.devices.includes(dev))
      return not(
        'other-device',
        `BPF masquerade runs on ${v.devices.join(', ')}, and the packet leaves through ${dev}`,
        {
          devices: [...v.devices],
        },
      );
    if (!hasToNetdev) {
      return {
        kind: 'masquerade',
        detail: `BPF masquerade expected on ${dev}, but no cil_to_netdev is attached there`,
        evidence: ev,
        applied: 'unknown',
        by: 'bpf',
        where: 'bpf',
        why: 'no-to-netdev',
        dev,
        inferred: true,
        because: 'cil_to_netdev missing on the egress device',
      };
    }
    const snat = deviceAddress(ctx, dev, fam);
    const hop: MasqueradeHop = {
      kind: 'masquerade',
      detail: `source NAT in cil_to_netdev on ${dev}${snat ? ` to ${snat.local}` : ''} (BPF masquerade)`,
      evidence: [...ev, ...(snat ? [snat.source] : [])],
      applied: true,
      by: 'bpf',
      where: 'bpf',
      why: 'snat',
      dev,
    };
    if (snat) hop.snatTo = snat.local;
    return hop;
  }
  const snat = deviceAddress(ctx, dev, fam);
  const hop: MasqueradeHop = {
    kind: 'masquerade',
    detail: `MASQUERADE in iptables nat/POSTROUTING (CILIUM_POST_nat) out of ${dev}${snat ? ` to ${snat.local}` : ''}`,
    evidence: ev,
    applied: true,
    by: 'iptables',
    where: 'iptables',
    why: 'snat',
    dev,
    inferred: true,
    because: 'from the masquerade mode and exclusion CIDR; the CILIUM_POST_nat rules themselves were not evaluated',
  };
  if (snat) hop.snatTo = snat.local;
  return hop;
}

function deviceAddress(ctx: TraceContext, dev: string, fam: Family): Address | undefined {
  return ctx.state.addrs.find((a) => a.ifname === dev && a.family === fam && a.scope === 'global' && !a.secondary);
}

function netfilterHop(ctx: TraceContext, hooks: string[]): Hop {
  const have = ctx.state.sources.filter(
    (s) => (s.probe === 'nft-ruleset' || s.probe === 'iptables-save') && s.status !== 'missing',
  );
  return {
    kind: 'netfilter',
    detail: `netfilter hooks ${hooks.join(' → ')}${have.length ? ' (iptables/nftables rules are present in the node state)' : ''}`,
    evidence: [],
    hooks,
    rulesPresent: have.length > 0,
    inferred: true,
    because: 'the hooks follow from the kernel path; netpath does not evaluate the rules in them for a trace yet',
  };
}

function stackHop(
  detail: string,
  evidence: Evidence[],
  hooks: string[],
  why: StackHop['why'],
  reasons: string[] = [],
): StackHop {
  return {
    kind: 'stack',
    detail: reasons.length ? `${detail} (legacy because: ${reasons.join('; ')})` : detail,
    evidence,
    why,
    hooks,
    ...(reasons.length ? { legacyReasons: reasons } : {}),
  };
}

function deliverHop(dst: TraceEndpoint): Hop {
  const hop: Hop = {
    kind: 'deliver',
    detail: `delivered to ${dst.pod ? `pod ${dst.pod}` : 'the pod'} ${dst.ip}${dst.netns ? ` in netns ${dst.netns}` : ''}`,
    evidence: dst.evidence,
    target: 'pod',
    address: dst.ip,
  };
  if (dst.pod) hop.pod = dst.pod;
  if (dst.netns) hop.netns = dst.netns;
  if (dst.dev) hop.dev = dst.dev;
  return hop;
}

function drop(reason: string, evidence: Evidence[], code: string): DropHop {
  return { kind: 'drop', detail: reason, reason, code, evidence };
}

/** The neighbour entry as a hop carries it. */
function neighbourOf(n: { lladdr?: string; state: string[] }): { lladdr?: string; state: string[] } {
  return n.lladdr === undefined ? { state: n.state } : { lladdr: n.lladdr, state: n.state };
}

const REDIRECT_WHY: Record<'host-side' | 'netkit' | 'legacy-host-routing', string> = {
  'host-side': 'the packet comes from the host side, where Cilium never uses redirect_peer',
  netkit: 'netkit device: a plain redirect, netkit switches the namespace',
  'legacy-host-routing': 'legacy host routing',
};

function routeHop(
  ans: RouteAnswer,
  what: string,
  q: { lookup: RouteLookup; dst: string; iif?: string; fwmark?: number },
): RouteHop {
  const hop: RouteHop = {
    kind: 'route',
    detail: `${what}: ${ans.summary}`,
    evidence: ans.evidence,
    lookup: q.lookup,
    result: ans.result,
    dst: q.dst,
    answer: ans.summary,
  };
  // 'lo' is how an output lookup is asked, not a device the packet arrived on
  if (q.iif !== undefined && q.iif !== 'lo') hop.iif = q.iif;
  if (q.fwmark !== undefined) hop.fwmark = q.fwmark;
  if (ans.rule) hop.rule = ans.rule;
  if (ans.rulePriority !== undefined) hop.rulePriority = ans.rulePriority;
  if (ans.table !== undefined) hop.table = ans.table;
  if (ans.route) hop.route = ans.routeText!;
  const n = ans.nexthops[0];
  if (n?.dev) hop.dev = n.dev;
  if (n?.gateway) hop.gateway = n.gateway;
  if (ans.nexthops.length > 0) hop.nexthops = ans.nexthops.map(nextHop);
  if (ans.nexthops.length > 1) hop.candidates = ans.nexthops.map(nextHop);
  if (ans.inferred) {
    hop.inferred = true;
    hop.because = ans.inferred;
  }
  return hop;
}

function nextHop(x: RouteAnswer['nexthops'][number]): { gateway?: string; dev?: string; weight?: number } {
  return {
    ...(x.gateway ? { gateway: x.gateway } : {}),
    ...(x.dev ? { dev: x.dev } : {}),
    ...(x.weight ? { weight: x.weight } : {}),
  };
}

function routeFailure(b: Builder, ans: RouteAnswer, flow: Flow): Disposition {
  if (ans.result === 'local' || ans.result === 'unicast') return 'unknown';
  if (ans.result === 'unknown') {
    b.warnings.push({ code: 'route-unknown', message: `the route to ${flow.dst} cannot be decided: ${ans.summary}` });
    return 'unknown';
  }
  const what: Record<string, string> = {
    blackhole: 'a blackhole route drops it silently',
    unreachable: 'an unreachable route: the sender gets ICMP host unreachable',
    prohibit: 'a prohibit route: the sender gets ICMP administratively prohibited',
    'no-route': `no route to ${flow.dst}: the sender gets "Network is unreachable"`,
    broadcast: 'a broadcast or multicast address: not followed as a unicast path',
    invalid: `the kernel refuses this flow: ${ans.summary}`,
  };
  b.hops.push(drop(what[ans.result] ?? `route result ${ans.result}`, ans.evidence, ans.result));
  return ans.result === 'no-route' || ans.result === 'unreachable' ? 'no-route' : 'dropped';
}

/** A Cilium program on dev at the given direction, as a `bpf` hop (or undefined). */
const usable = (ctx: TraceContext, probe: string) =>
  ctx.state.sources.some((s) => s.probe === probe && (s.status === 'ok' || s.status === 'partial'));

/** Why a probe gave nothing: its recorded failure (`permission denied: needs CAP_…`) or its absence. */
export function sourceProblem(ctx: Pick<TraceContext, 'state'>, probe: string): string | undefined {
  const s = ctx.state.sources.find((x) => x.probe === probe);
  if (s && (s.status === 'ok' || s.status === 'partial')) return undefined;
  return s?.status === 'failed' ? `${probe}: ${s.message ?? 'failed'}` : `${probe}: not captured`;
}

/**
 * When neither `tc filter` for this device nor `bpftool net` was read, "no program on it" is not known: the
 * reason, naming what failed (a missing capability, a timeout), or undefined when the attachments are known.
 */
export function programsUnknown(ctx: TraceContext, dev: string, dir: 'ingress' | 'egress'): string | undefined {
  if (usable(ctx, `tc-filter/${dev}.${dir}`) || usable(ctx, 'bpftool-net')) return undefined;
  const tc = ctx.state.sources.find((x) => x.probe === `tc-filter/${dev}.${dir}`);
  return [sourceProblem(ctx, 'bpftool-net')!, ...(tc ? [sourceProblem(ctx, tc.probe)!] : [])].join('; ');
}

function findProgram(ctx: TraceContext, dev: string, dir: 'ingress' | 'egress', expected: string): BpfHop | undefined {
  const progs = ctx.dp.programs.filter((p) => p.dev === dev && hookDir(p) === dir);
  const p = progs.find((x) => x.program === expected) ?? progs[0];
  if (p) return progHop(p, `${p.program} on ${dev} ${p.hook}`);
  // bpftool too old to name the device of a tcx link: the program exists, its device is unproven
  const unnamed = ctx.dp.programs.find((x) => x.dev === '?' && x.program === expected && hookDir(x) === dir);
  if (unnamed && attachesTo(ctx, expected, dev)) {
    const hop = progHop(unnamed, `${expected} on ${dev} ${unnamed.hook}`);
    hop.dev = dev;
    hop.inferred = true;
    hop.because = `${unnamed.because ?? 'the tool could not name the device'}; Cilium attaches ${expected} to ${dev}'s ${dir}`;
    if (ctx.dp.attachMode.known) hop.evidence = [...ctx.dp.attachMode.evidence, ...hop.evidence];
    return hop;
  }
  return undefined;
}

/** Where Cilium puts each program: endpoint devices, its native devices, cilium_host/cilium_net. */
function attachesTo(ctx: TraceContext, program: string, dev: string): boolean {
  if (/^cil_(from|to)_container$/.test(program))
    return (
      ctx.state.links.some((l) => l.name === dev && (l.kind === 'veth' || l.kind === 'netkit')) && !/^cilium_/.test(dev)
    );
  if (/^cil_(from|to)_netdev$/.test(program))
    return ctx.dp.nativeDevices.known && ctx.dp.nativeDevices.value.includes(dev);
  if (/^cil_(from|to)_host$/.test(program)) return dev === 'cilium_host' || dev === 'cilium_net';
  return false;
}

function progHop(p: CiliumProgramAttachment, detail: string): BpfHop {
  const dir = hookDir(p);
  const hop: BpfHop = {
    kind: 'bpf',
    detail,
    evidence: p.evidence,
    dev: p.dev,
    hook: p.hook,
    program: p.program,
    attachMode: attachMode(p.hook),
    direction: dir === 'other' ? 'ingress' : dir,
  };
  if (p.progId !== undefined) hop.progId = p.progId;
  if (p.inferred) {
    hop.inferred = true;
    if (p.because) hop.because = p.because;
  }
  return hop;
}

/** How a program is attached, from its hook (`tc-ingress` → tc, `tcx-egress` → tcx, `netkit-peer` → netkit). */
export function attachMode(hook: string): AttachMode {
  if (hook === 'xdp') return 'xdp';
  if (hook.startsWith('tcx')) return 'tcx';
  if (hook.startsWith('netkit')) return 'netkit';
  return 'tc';
}

function hookDir(p: CiliumProgramAttachment): 'ingress' | 'egress' | 'other' {
  if (p.hook.endsWith('ingress') || p.hook === 'xdp' || p.hook === 'netkit-peer') return 'ingress';
  if (p.hook.endsWith('egress') || p.hook === 'netkit-primary') return 'egress';
  return 'other';
}

function isCiliumHost(ctx: TraceContext, dev: string): boolean {
  return dev === 'cilium_host' || ctx.state.links.some((l) => l.name === dev && l.name.startsWith('cilium_host'));
}

function wgDevice(ctx: TraceContext, dev: string): WgDevice | undefined {
  return ctx.state.wg.find((w) => w.name === dev);
}

function pickWgPeer(wg: WgDevice, dst: string): { peer: WgPeer; prefix: string } | undefined {
  let best: { peer: WgPeer; prefix: string; len: number } | undefined;
  for (const peer of wg.peers) {
    for (const p of peer.allowedIps) {
      if (!prefixContains(p, dst)) continue;
      const len = prefixLen(p.includes('/') ? p : `${p}/${familyOf(p) === 4 ? 32 : 128}`);
      if (!best || len > best.len) best = { peer, prefix: p, len };
    }
  }
  return best;
}

function nsRouting(ctx: TraceContext, name: string): Routing {
  let r = ctx.nsRouting.get(name);
  if (!r) {
    const ns = ctx.state.netns.find((n) => n.name === name)!;
    r = buildRouting(ns.routes, [], { links: ns.links, addrs: ns.addrs });
    ctx.nsRouting.set(name, r);
  }
  return r;
}

function warnMissing(ctx: TraceContext, b: Builder, flow: Flow): void {
  const fam = familyOf(flow.dst) as Family;
  const other = fam === 4 ? 6 : 4;
  const holds = (name: string) =>
    ctx.state.netns.some(
      (ns) => ns.name === name && ns.addrs.some((a) => a.local === flow.src || a.local === flow.dst),
    );
  for (const w of ctx.state.warnings) {
    // the other family's routes and rules do not decide this flow (a paste often has IPv4 only)
    if (w.source === `ip-route${other}` || w.source === `ip-rule${other}`) continue;
    // devices read from ip-addr matter in the namespaces of this flow's ends only
    const ns = w.code === 'links-from-ip-addr' ? /^netns\/([^/]+)\//.exec(w.source ?? '')?.[1] : undefined;
    if (ns !== undefined && !holds(ns)) continue;
    b.warnings.push(w);
  }
  for (const s of ctx.state.sources) {
    if (s.status === 'failed')
      b.warnings.push({ code: 'probe-unreadable', message: `${s.probe}: ${s.message}`, source: s.probe });
  }
  for (const w of ctx.dp.warnings) b.warnings.push(w);
  const missing = (id: string) => ctx.state.sources.find((s) => s.probe === id)?.status === 'missing';
  // only the flow's family: an IPv4 trace does not rest on IPv6 rules
  if (missing(`ip-rule${fam}`))
    b.warnings.push({
      code: 'rules-missing',
      message: `no IPv${fam} policy rules were read: the kernel default rules (local, main, default) are assumed`,
      source: `ip-rule${fam}`,
    });
}

function short(key: string): string {
  return key.length > 12 ? `${key.slice(0, 8)}…` : key;
}

function dedupe(ws: Warning[]): Warning[] {
  const seen = new Set<string>();
  return ws.filter((w) => {
    const k = `${w.code}|${w.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export type { Fact, Link, Rule };
