// Who an address is on this node: a local pod, the host, a remote pod or node, or outside. Cilium's own routes and
// the captured namespaces decide; the native-routing CIDR only where nothing better does.
import type { Evidence, Family, IpcacheEntry, Link, NodeState, Route } from '../../model/types.js';
import { ROUTE_TYPE_CODE, parsePrefixInto } from '../../model/route-columns.js';
import type { TraceEndpoint } from '../../model/trace.js';
import { familyOf, prefixContains, prefixLen } from '../../model/addr.js';
import { routeQuery } from '../routing.js';

import type { TraceContext } from './context.js';
import { memoEndpoint } from './memo.js';
import { ID_HOST, identityName, ipcacheOf, isClusterIdentity, isRemoteNodeIdentity } from './ipcache.js';

// ---------------------------------------------------------------------------------------------
// classification

export function classify(ctx: TraceContext, ip: string): TraceEndpoint {
  return memoEndpoint(ctx, ip, () => classifyAddress(ctx, ip));
}

function classifyAddress(ctx: TraceContext, ip: string): TraceEndpoint {
  const { state, dp } = ctx;
  const pod = findLocalPod(ctx, ip);
  if (pod) return pod;
  const hostAddr = state.addrs.find((a) => a.local === ip);
  if (hostAddr) {
    return { kind: 'host', ip, dev: hostAddr.ifname, evidence: [hostAddr.source] };
  }
  const own = ownPodRoute(ctx, ip);
  if (own) return own;
  // the ipcache is what Cilium's programs ask: when it was read it decides node, pod or world
  const ic = ipcacheOf(ctx);
  if (ic.known) return byIpcache(ctx, ip, ic.value.lookup(ip), ic.value.from);
  const fam = familyOf(ip) as Family;
  const cidr = fam === 4 ? dp.nativeRoutingCidr.v4 : dp.nativeRoutingCidr.v6;
  const nodeRoute = podCidrRouteFor(ctx, ip);
  // nodes from their pod-CIDR routes before the native-routing CIDR: a CIDR can be wider than the pod CIDRs
  if (isNodeAddress(ctx, ip)) {
    const r = nodeRouteFor(ctx, ip)!;
    return {
      kind: 'remote-node',
      ip,
      because: `the next hop of a route to a pod CIDR inside the native-routing CIDR (autoDirectNodeRoutes); the ipcache was not read (${ic.because})`,
      evidence: [r.source],
    };
  }
  if (cidr.known && prefixContains(cidr.value, ip)) {
    const viaNode = nodeRoute?.gateway !== undefined && isNodeAddress(ctx, nodeRoute.gateway);
    const wide = viaNode ? undefined : nonPodInside(ctx, fam, cidr.value);
    if (wide) {
      return {
        kind: 'unknown',
        ip,
        because: `inside the native-routing CIDR ${cidr.value}, but that CIDR also holds ${wide.what}, so it is wider than the pod CIDRs; no pod-CIDR route via a node covers ${ip}, and the ipcache, which tells pods, nodes and routers apart, was not read (${ic.because})`,
        evidence: [...cidr.evidence, wide.source],
      };
    }
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

/** Who an address is by its ipcache entry (bpf/lib/identity.h: identity_is_remote_node, identity_is_cluster). */
function byIpcache(ctx: TraceContext, ip: string, e: IpcacheEntry | undefined, from: string): TraceEndpoint {
  if (!e) {
    // lookup_ip4_remote_endpoint finds nothing: the datapath takes the world identity
    return {
      kind: 'external',
      ip,
      because: `no entry of the ${from} covers it: Cilium treats it as world`,
      evidence: [],
    };
  }
  const what = `${from}: ${e.prefix} ${identityName(e.identity)}`;
  if (isRemoteNodeIdentity(e.identity))
    return { kind: 'remote-node', ip, node: ip, because: `${what} (a remote node)`, evidence: [e.source] };
  if (e.identity === ID_HOST)
    return { kind: 'host', ip, because: `${what}, yet no device of this node holds it`, evidence: [e.source] };
  if (!isClusterIdentity(e.identity)) {
    const out: TraceEndpoint = {
      kind: 'external',
      ip,
      because: `${what}: outside the cluster`,
      evidence: [e.source],
    };
    if (isRouteGateway(ctx, ip)) {
      out.role = 'router';
      out.because += '; the next hop of a route of this node, so a router, not a node';
    }
    return out;
  }
  const ep: TraceEndpoint = {
    kind: 'remote-pod',
    ip,
    because: `${what}, not a pod of this node`,
    evidence: [e.source],
  };
  if (e.tunnelEndpoint) ep.node = e.tunnelEndpoint;
  else {
    const r = podCidrRouteFor(ctx, ip);
    if (r?.gateway) {
      ep.node = r.gateway;
      ep.evidence.push(r.route.source);
    }
  }
  return ep;
}

/**
 * Something inside the CIDR that is not a pod: an address of this node on a device that is not Cilium's or a
 * pod's. A native-routing CIDR that holds one (a /32 for a whole IPv6 cluster) cannot tell pods from nodes.
 */
function nonPodInside(ctx: TraceContext, fam: Family, cidr: string): { what: string; source: Evidence } | undefined {
  const a = ctx.state.addrs.find(
    (x) =>
      x.family === fam &&
      x.scope === 'global' &&
      !x.ifname.startsWith('cilium_') &&
      !x.ifname.startsWith('lxc') &&
      prefixContains(cidr, x.local),
  );
  return a ? { what: `this node's own address ${a.local} on ${a.ifname}`, source: a.source } : undefined;
}

/**
 * Whether ip is a next hop this node routes through: its default gateway, or the gateway of a route to a pod CIDR
 * (BGP with a top-of-rack router installs `podCIDR via <router>`).
 */
export function isRouteGateway(ctx: TraceContext, ip: string): boolean {
  return defaultGateways(ctx).has(ip) || nodeRouteFor(ctx, ip) !== undefined;
}

const defaultGatewayIndex = new WeakMap<TraceContext, Set<string>>();

/** The gateways of the main table's default routes (one pass over the routes, once per context). */
function defaultGateways(ctx: TraceContext): Set<string> {
  let out = defaultGatewayIndex.get(ctx);
  if (out) return out;
  // the main tables were not read (the kernel answered the lookups): this list needs them
  for (const f of ctx.routeGaps?.narrowed ?? []) ctx.routeGaps!.needed.add(f);
  out = new Set();
  const add = (r: Route) => {
    if (r.table === 254 && r.type === 'unicast' && prefixLen(r.dst) === 0)
      for (const n of r.nexthops) if (n.gateway !== undefined) out!.add(n.gateway);
  };
  for (const r of ctx.state.routes) add(r);
  for (const c of ctx.state.routeColumns ?? []) for (let i = 0; i < c.count; i++) if (c.len[i] === 0) add(c.route(i));
  defaultGatewayIndex.set(ctx, out);
  return out;
}

const localPodIndex = new WeakMap<TraceContext, Map<string, TraceEndpoint | undefined>>();

/**
 * The local pod that holds `ip`, found once per context and address: check classifies the same 110 pods in
 * 20,000 flows, and each look-up scans every namespace. A copy is handed out, so no caller edits the kept one.
 */
export function findLocalPod(ctx: TraceContext, ip: string): TraceEndpoint | undefined {
  let memo = localPodIndex.get(ctx);
  if (!memo) {
    memo = new Map();
    localPodIndex.set(ctx, memo);
  }
  let hit = memo.get(ip);
  if (hit === undefined && !memo.has(ip)) {
    hit = scanLocalPod(ctx, ip);
    memo.set(ip, hit);
  }
  return hit && { ...hit, evidence: [...hit.evidence] };
}

function scanLocalPod(ctx: TraceContext, ip: string): TraceEndpoint | undefined {
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
export function ownPodRoute(ctx: TraceContext, ip: string): TraceEndpoint | undefined {
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
export function isPairEnd(host: Link, pod: Link, ns: string, all: { name: string }[]): boolean {
  if (host.kind !== undefined)
    return ['veth', 'netkit'].includes(host.kind) && (host.linkIndex === undefined || host.linkIndex === pod.ifindex);
  if (host.linkIndex !== pod.ifindex) return false;
  if (host.linkNetns !== undefined) return host.linkNetns === ns || !all.some((n) => n.name === host.linkNetns);
  return host.linkNetnsId !== undefined;
}

/** The autoDirectNodeRoutes-style route (`podCIDR via nodeIP`) that covers ip, if any. */
export function podCidrRouteFor(
  ctx: TraceContext,
  ip: string,
): { route: import('../../model/types.js').Route; gateway?: string } | undefined {
  const ans = routeQuery(ctx.routing, { family: familyOf(ip) as Family, dst: ip });
  if (!ans.route || ans.result !== 'unicast' || prefixLen(ans.route.dst) === 0) return undefined;
  const gw = ans.nexthops[0]?.gateway;
  return gw === undefined ? { route: ans.route } : { route: ans.route, gateway: gw };
}

// Per context: each node address (the gateway of a `podCIDR via node` route inside the native-routing
// CIDR) and the first such route, in route order. Built once: with a million routes a linear search per
// question made a trace with many candidate backends take minutes.
export const nodeRouteIndex = new WeakMap<TraceContext, Map<string, Route>>();

export function nodeRouteFor(ctx: TraceContext, ip: string): Route | undefined {
  const fam = familyOf(ip) as Family;
  const cidr = fam === 4 ? ctx.dp.nativeRoutingCidr.v4 : ctx.dp.nativeRoutingCidr.v6;
  if (!cidr.known) return undefined;
  let index = nodeRouteIndex.get(ctx);
  if (!index) {
    index = new Map();
    for (const f of [4, 6] as const) {
      const c = f === 4 ? ctx.dp.nativeRoutingCidr.v4 : ctx.dp.nativeRoutingCidr.v6;
      if (!c.known) continue;
      // main was not read (the kernel answered the lookups): the list of its pod-CIDR routes needs it
      if (ctx.routeGaps?.narrowed.has(f)) ctx.routeGaps.needed.add(f);
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
export function mainUnicastWithin(state: NodeState, fam: Family, cidr: string): Route[] {
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
export function keyWithin(key: Uint32Array, at: number, ck: Uint32Array, clen: number): boolean {
  for (let w = 0; clen > 0; w++, clen -= 32) {
    const x = (key[at + w]! ^ ck[w]!) >>> 0;
    if (clen >= 32 ? x !== 0 : x >>> (32 - clen) !== 0) return false;
  }
  return true;
}

/** A node: by its ipcache identity when the ipcache was read, else as the next hop of a pod-CIDR route. */
export function isNodeAddress(ctx: TraceContext, ip: string): boolean {
  const ic = ipcacheOf(ctx);
  if (ic.known) {
    const e = ic.value.lookup(ip);
    return e !== undefined && isRemoteNodeIdentity(e.identity);
  }
  return nodeRouteFor(ctx, ip) !== undefined;
}

// ---------------------------------------------------------------------------------------------
// paths
