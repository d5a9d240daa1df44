// Paths that start on the host itself or arrive from outside, and plain kernel forwarding.
import type { Family } from '../../model/types.js';
import type { Disposition, Flow, Hop, RouteHop, TraceEndpoint } from '../../model/trace.js';
import { familyOf } from '../../model/addr.js';
import { routeQuery } from '../routing.js';

import { type TraceContext, type Builder, NF_FORWARD, NF_LOCAL_OUT } from './context.js';
import { localDelivery } from './from-pod.js';
import { egressFromNode } from './egress.js';
import {
  netfilterHop,
  stackHop,
  deliverHop,
  drop,
  routeHop,
  routeFailure,
  programsUnknown,
  findProgram,
  isCiliumHost,
  wgDevice,
  podSideDevice,
  toHostStack,
} from './hops.js';

export function fromHost(
  ctx: TraceContext,
  b: Builder,
  flow: Flow,
  src: TraceEndpoint,
  dst: TraceEndpoint,
): Disposition {
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
  const rm = ctx.dp.routingMode;
  if (rm.known && rm.value === 'tunnel' && dst.kind === 'remote-pod') {
    // in tunnel mode the agent routes remote pod CIDRs to cilium_host, where bpf_host tunnels the host's packets;
    // that host-side encapsulation is not traced, so only a route elsewhere (no Cilium on the path) is followed
    const viaHost = dev !== undefined && isCiliumHost(ctx, dev);
    b.warnings.push({
      code: 'tunnel-host-path-unknown',
      message: viaHost
        ? `tunnel mode: the kernel routes ${flow.dst} to ${dev}, where bpf_host encapsulates the host's packet to the remote node; netpath does not trace the host's tunnel path yet`
        : `tunnel mode: the kernel routes ${flow.dst} (a remote pod) out of ${dev ?? 'an unnamed device'}, not to cilium_host, so Cilium's tunnel is not on this path and the packet leaves unencapsulated`,
    });
    if (viaHost) return 'unknown';
  }
  return egressFromNode(ctx, b, flow, src, dst, ans, 'stack');
}

export function fromOutside(
  ctx: TraceContext,
  b: Builder,
  flow: Flow,
  src: TraceEndpoint,
  dst: TraceEndpoint,
): Disposition {
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
    if (prog && hr.known && hr.value === 'bpf') return localDelivery(ctx, b, dst, false, true);
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
    if (dev !== undefined && dev === dst.dev) return intoPod(ctx, b, flow, dst, dev);
    b.warnings.push({
      code: 'unexpected-route',
      message: `the route to local pod ${dst.ip} leaves through ${dev}, not cilium_host or ${dst.dev}`,
    });
    return egressFromNode(ctx, b, flow, src, dst, ans, 'stack');
  }
  if (dst.kind === 'host')
    return toHostStack(ctx, b, flow, dst, inDev, 'to this node: passed to the host stack', [], false);
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
  const out = ans.nexthops[0]?.dev;
  if (out !== undefined && podSideDevice(ctx, out)) return intoPod(ctx, b, flow, dst, out);
  return egressFromNode(ctx, b, flow, src, dst, ans, 'stack');
}

/**
 * The kernel sends the packet out of `dev`, a pod's host-side device: it arrives in that pod (the disposition follows
 * the last device). cil_to_container runs on the device's egress when it is attached.
 */
export function intoPod(ctx: TraceContext, b: Builder, flow: Flow, dst: TraceEndpoint, dev: string): Disposition {
  const side = podSideDevice(ctx, dev);
  const p = findProgram(ctx, dev, 'egress', 'cil_to_container');
  if (p) b.hops.push(p);
  const er = ctx.dp.endpointRoutes;
  if (!p && er.known && er.value && !programsUnknown(ctx, dev, 'egress'))
    b.warnings.push({
      code: 'no-cilium-program',
      message: `no cil_to_container on ${dev} egress, where Cilium attaches it with per-endpoint routes: the pod's ingress policy is not enforced on this path`,
    });
  if (dst.kind === 'local-pod' && dst.dev === dev) {
    b.hops.push(deliverHop(dst));
    return 'delivered';
  }
  const ns = side?.netns ? ctx.state.netns.find((n) => n.name === side.netns) : undefined;
  const owner = ns?.addrs.find((a) => a.local === flow.dst && a.ifname !== 'lo');
  if (ns && !owner) {
    b.warnings.push({
      code: 'pod-does-not-hold-address',
      message: `${dev} leads into netns ${ns.name}, which does not hold ${flow.dst}: what that namespace does with the packet is not traced`,
      source: `netns/${ns.name}/ip-addr`,
    });
    return 'unknown';
  }
  const hop: Hop = {
    kind: 'deliver',
    detail: `out of ${dev}, a pod's host-side device: delivered into ${ns ? `netns ${ns.name}` : 'the pod behind it'} (${flow.dst})`,
    evidence: [...(side ? [side.link.source] : []), ...(owner ? [owner.source] : [])],
    target: 'pod',
    address: flow.dst,
    dev,
    ...(ns ? { netns: ns.name } : {}),
  };
  if (!ns) {
    hop.inferred = true;
    hop.because = `the namespace behind ${dev} was not captured: that it holds ${flow.dst} follows from the route`;
  }
  b.hops.push(hop);
  return 'delivered';
}

/** The packet leaves the node by `ans`: redirect_neigh (BPF host routing) or the stack. */

export function stackForward(
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
  // per-endpoint route `podIP dev lxc…` (or a plain veth): the kernel hands it to the pod
  if (dev !== undefined && (dev === dst.dev || podSideDevice(ctx, dev))) return intoPod(ctx, b, flow, dst, dev);
  return egressFromNode(ctx, b, flow, src, dst, ans, 'stack');
}

// ---------------------------------------------------------------------------------------------
// pieces
