// Path MTU and BIG TCP along a traced path: the size a pod may send, against what each device on the way carries.
import type { Family, Link, Warning } from '../../model/types.js';
import type { Trace } from '../../model/trace.js';
import { familyOf } from '../../model/addr.js';
import { routeQuery } from '../routing.js';

import type { TraceContext } from './context.js';
import { nsRouting } from './hops.js';

/**
 * Bytes an encapsulation adds in front of the inner IP packet, by the outer family: VXLAN and Geneve carry the
 * inner Ethernet header (14) + their own header (8) + UDP (8) + outer IP (20 or 40), Geneve options on top;
 * WireGuard carries no Ethernet header: its data message header and tag (32) + UDP (8) + outer IP.
 */
export const OVERHEAD: Record<'vxlan' | 'geneve' | 'wireguard', Record<Family, number>> = {
  vxlan: { 4: 50, 6: 70 },
  geneve: { 4: 50, 6: 70 },
  wireguard: { 4: 60, 6: 80 },
};

interface Limit {
  dev: string;
  /** the largest inner IP packet this step carries */
  bytes: number;
  /** how it was worked out, for the message */
  how: string;
  source: string;
}

/** Findings about packet size on the trace's path: added to its warnings. */
export function mtuWarnings(ctx: TraceContext, t: Trace): Warning[] {
  const out: Warning[] = [];
  if (t.src.kind !== 'local-pod' || t.src.netns === undefined) return out;
  const ns = ctx.state.netns.find((n) => n.name === t.src.netns);
  if (!ns || ns.routes.length === 0) return out;
  const fam = familyOf(t.flow.dst) as Family;
  const ans = routeQuery(nsRouting(ctx, ns.name), { family: fam, dst: t.flow.dst, src: t.flow.src, iif: 'lo' });
  if (ans.result !== 'unicast') return out;
  const podDev = ans.nexthops[0]?.dev;
  const podLink = ns.links.find((l) => l.name === podDev);
  // the route's mtu metric wins over the device's (Cilium sets `mtu` on the pod's routes)
  const podMtu = ans.route?.mtu ?? podLink?.mtu;
  if (podMtu === undefined) return out;
  const podHow = ans.route?.mtu !== undefined ? `route mtu ${ans.route.mtu}` : `${podDev} mtu ${podMtu}`;

  const limits = pathLimits(ctx, t, fam);
  const tight = limits.filter((l) => l.bytes < podMtu).sort((a, b) => a.bytes - b.bytes)[0];
  if (tight) {
    out.push({
      code: 'path-mtu-shrinks',
      message: `pod netns ${ns.name} may send ${podMtu}-byte packets (${podHow}) but ${tight.dev} carries at most ${tight.bytes} (${tight.how}): a larger packet is dropped — with DF the stack answers ICMP fragmentation-needed, after a BPF redirect the sender may hear nothing — or fragmented without DF; TCP relies on path MTU discovery or MSS clamping`,
      source: tight.source,
    });
  }
  out.push(...bigTcp(ctx, fam, ns.name, podLink, limits));
  return out;
}

/** What each device the packet leaves by (and any tunnel under it) carries. */
function pathLimits(ctx: TraceContext, t: Trace, fam: Family): Limit[] {
  const devs = new Set<string>();
  for (const h of t.hops) {
    if (h.netns !== undefined) continue;
    if ((h.kind === 'route' && h.lookup !== 'arrival' && h.lookup !== 'pod-netns') || h.kind === 'redirect_neigh')
      if (h.dev !== undefined) devs.add(h.dev);
    if (h.kind === 'wireguard') devs.add(h.dev);
  }
  const out: Limit[] = [];
  for (const d of devs) {
    const link = ctx.state.links.find((l) => l.name === d);
    if (link?.mtu === undefined) continue;
    out.push({ dev: d, bytes: link.mtu, how: `mtu ${link.mtu}`, source: 'ip-link' });
    const enc = link.kind === 'vxlan' || link.kind === 'geneve' || link.kind === 'wireguard' ? link.kind : undefined;
    if (enc) out.push(...underlay(ctx, t, link, enc, fam));
  }
  return out;
}

/** The encapsulated packet must fit the device below the tunnel: its MTU less the overhead. */
function underlay(
  ctx: TraceContext,
  t: Trace,
  tunnel: Link,
  enc: 'vxlan' | 'geneve' | 'wireguard',
  fam: Family,
): Limit[] {
  // WireGuard: the outer route is on the trace; a VXLAN/Geneve underlay is the node's one native device
  const outer = t.hops.find((h) => h.kind === 'route' && h.lookup === 'wireguard-outer');
  let dev: string | undefined;
  let outerFam: Family = fam;
  if (enc === 'wireguard' && outer?.kind === 'route') {
    dev = outer.dev;
    outerFam = familyOf(outer.dst) as Family;
  } else if (enc !== 'wireguard' && ctx.dp.nativeDevices.known && ctx.dp.nativeDevices.value.length === 1) {
    dev = ctx.dp.nativeDevices.value[0];
    // the underlay family follows the node's address on that device; without one, IPv4 (the smaller overhead)
    outerFam = ctx.state.addrs.some((a) => a.ifname === dev && a.family === 4 && a.scope === 'global') ? 4 : 6;
  }
  const link = dev === undefined ? undefined : ctx.state.links.find((l) => l.name === dev);
  if (link?.mtu === undefined) return [];
  const over = OVERHEAD[enc][outerFam];
  return [
    {
      dev: `${tunnel.name} over ${link.name}`,
      bytes: link.mtu - over,
      how: `${link.name} mtu ${link.mtu} less ${over} bytes of ${enc} over IPv${outerFam}`,
      source: 'ip-link',
    },
  ];
}

/**
 * BIG TCP: the agent raises gso/gro_max_size above 65536 on its devices and on pods created after it was enabled.
 * A pod whose device still has the 64 KiB limit does not get it; with it off, nothing above 64 KiB is expected.
 */
function bigTcp(ctx: TraceContext, fam: Family, ns: string, podLink: Link | undefined, limits: Limit[]): Warning[] {
  const st = ctx.state.cilium.status;
  const line = fam === 4 ? st?.bigTcpV4 : st?.bigTcpV6;
  if (!line || !podLink?.offload) return [];
  const podGso =
    fam === 4 ? (podLink.offload.gsoIpv4MaxSize ?? podLink.offload.gsoMaxSize) : podLink.offload.gsoMaxSize;
  if (podGso === undefined) return [];
  const big = podGso > 65536;
  if (line.enabled === big) {
    if (!big) return [];
    // on: every device the packet leaves by must take the same size, or the stack segments it there
    const small = limits
      .map((l) => ctx.state.links.find((x) => x.name === l.dev))
      .find((l) => {
        const g = fam === 4 ? (l?.offload?.gsoIpv4MaxSize ?? l?.offload?.gsoMaxSize) : l?.offload?.gsoMaxSize;
        return g !== undefined && g < podGso;
      });
    if (!small) return [];
    return [
      {
        code: 'big-tcp',
        message: `IPv${fam} BIG TCP is on and pod netns ${ns} builds ${podGso}-byte GSO packets, but ${small.name} takes at most ${fam === 4 ? (small.offload?.gsoIpv4MaxSize ?? small.offload?.gsoMaxSize) : small.offload?.gsoMaxSize}: the stack segments them there`,
        source: 'ip-link',
      },
    ];
  }
  return [
    {
      code: 'big-tcp',
      message: line.enabled
        ? `${line.source.text.trim()} but pod netns ${ns}'s ${podLink.name} has gso max ${podGso}: this pod does not use BIG TCP (pods created before it was enabled keep 64 KiB until they are recreated)`
        : `${line.source.text.trim()} but pod netns ${ns}'s ${podLink.name} has gso max ${podGso}: set by something other than Cilium`,
      source: 'cilium-status',
    },
  ];
}
