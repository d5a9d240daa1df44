// Hop builders and lookups of programs and devices the trace paths share.
import type { Address, Evidence, Family, Link, WgDevice, WgPeer } from '../../model/types.js';
import type {
  AttachMode,
  BpfHop,
  Disposition,
  DropHop,
  Flow,
  Hop,
  RouteHop,
  RouteLookup,
  StackHop,
  TraceEndpoint,
} from '../../model/trace.js';
import { familyOf, prefixContains, prefixLen } from '../../model/addr.js';
import type { CiliumRuleId } from '../../model/cilium-rules.js';
import type { CiliumProgramAttachment } from '../datapath.js';
import { buildRouting, routeQuery, type RouteAnswer, type Routing } from '../routing.js';

import { type TraceContext, type Builder, NF_LOCAL_IN } from './context.js';

export function deviceAddress(ctx: TraceContext, dev: string, fam: Family): Address | undefined {
  return ctx.state.addrs.find((a) => a.ifname === dev && a.family === fam && a.scope === 'global' && !a.secondary);
}

export function netfilterHop(ctx: TraceContext, hooks: string[]): Hop {
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

export function stackHop(
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

export function deliverHop(dst: TraceEndpoint): Hop {
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

export function drop(reason: string, evidence: Evidence[], code: string): DropHop {
  return { kind: 'drop', detail: reason, reason, code, evidence };
}

/** The neighbour entry as a hop carries it. */
export function neighbourOf(n: { lladdr?: string; state: string[] }): { lladdr?: string; state: string[] } {
  return n.lladdr === undefined ? { state: n.state } : { lladdr: n.lladdr, state: n.state };
}

export const REDIRECT_WHY: Record<'host-side' | 'netkit' | 'legacy-host-routing', string> = {
  'host-side': 'the packet comes from the host side, where Cilium never uses redirect_peer',
  netkit: 'netkit device: a plain redirect, netkit switches the namespace',
  'legacy-host-routing': 'legacy host routing',
};

export function routeHop(
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

export function nextHop(x: RouteAnswer['nexthops'][number]): { gateway?: string; dev?: string; weight?: number } {
  return {
    ...(x.gateway ? { gateway: x.gateway } : {}),
    ...(x.dev ? { dev: x.dev } : {}),
    ...(x.weight ? { weight: x.weight } : {}),
  };
}

export function routeFailure(b: Builder, ans: RouteAnswer, flow: Flow): Disposition {
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
export const usable = (ctx: TraceContext, probe: string) =>
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

export function findProgram(
  ctx: TraceContext,
  dev: string,
  dir: 'ingress' | 'egress',
  expected: string,
): BpfHop | undefined {
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
export function attachesTo(ctx: TraceContext, program: string, dev: string): boolean {
  if (/^cil_(from|to)_container$/.test(program))
    return (
      ctx.state.links.some((l) => l.name === dev && (l.kind === 'veth' || l.kind === 'netkit')) && !/^cilium_/.test(dev)
    );
  if (/^cil_(from|to)_netdev$/.test(program))
    return ctx.dp.nativeDevices.known && ctx.dp.nativeDevices.value.includes(dev);
  if (/^cil_(from|to)_host$/.test(program)) return dev === 'cilium_host' || dev === 'cilium_net';
  return false;
}

export function progHop(p: CiliumProgramAttachment, detail: string): BpfHop {
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

export function hookDir(p: CiliumProgramAttachment): 'ingress' | 'egress' | 'other' {
  if (p.hook.endsWith('ingress') || p.hook === 'xdp' || p.hook === 'netkit-peer') return 'ingress';
  if (p.hook.endsWith('egress') || p.hook === 'netkit-primary') return 'egress';
  return 'other';
}

export function isCiliumHost(ctx: TraceContext, dev: string): boolean {
  return dev === 'cilium_host' || ctx.state.links.some((l) => l.name === dev && l.name.startsWith('cilium_host'));
}

export function wgDevice(ctx: TraceContext, dev: string): WgDevice | undefined {
  return ctx.state.wg.find((w) => w.name === dev);
}

export function pickWgPeer(wg: WgDevice, dst: string): { peer: WgPeer; prefix: string } | undefined {
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

export function nsRouting(ctx: TraceContext, name: string): Routing {
  let r = ctx.nsRouting.get(name);
  if (!r) {
    const ns = ctx.state.netns.find((n) => n.name === name)!;
    r = buildRouting(ns.routes, [], { links: ns.links, addrs: ns.addrs });
    ctx.nsRouting.set(name, r);
  }
  return r;
}

export function short(key: string): string {
  return key.length > 12 ? `${key.slice(0, 8)}…` : key;
}

/** The hop, naming the Cilium rules that decided it (shown with --explain and in the JSON). */
export function ruled<H extends Hop>(h: H, ...ids: CiliumRuleId[]): H {
  return { ...h, ciliumRules: [...(h.ciliumRules ?? []), ...ids] };
}

/**
 * Whether `dev` is the host-side end of a pod's device: a veth or netkit whose peer lives in another namespace (or,
 * without `ip -d`, a Cilium `lxc…` name), that is not a native device and holds no global address. A packet the kernel sends out of it arrives in that pod. `netns` is the
 * captured namespace holding the peer, when one does.
 */
export function podSideDevice(ctx: TraceContext, dev: string): { link: Link; netns?: string } | undefined {
  const link = ctx.state.links.find((l) => l.name === dev);
  if (!link) return undefined;
  const pairKind = link.kind === 'veth' || link.kind === 'netkit';
  const otherNs = link.linkNetnsId !== undefined || link.linkNetns !== undefined;
  if (!(pairKind && otherNs) && !(link.kind === undefined && dev.startsWith('lxc'))) return undefined;
  // a node's uplink can be a veth too (containers, labs): a native device, or one holding a global address, is not a pod's
  const native = ctx.dp.nativeDevices;
  if (native.known && native.value.includes(dev)) return undefined;
  if (ctx.state.addrs.some((a) => a.ifname === dev && a.scope === 'global')) return undefined;
  const ns = ctx.state.netns.find((n) =>
    n.links.some((l) => l.ifindex === link.linkIndex && (l.linkIndex === undefined || l.linkIndex === link.ifindex)),
  );
  return ns ? { link, netns: ns.name } : { link };
}

/** A packet for this node's own address handed to the host stack: the input lookup, INPUT, a local socket. */
export function toHostStack(
  ctx: TraceContext,
  b: Builder,
  flow: Flow,
  dst: TraceEndpoint,
  iif: string | undefined,
  stackDetail: string,
  stackEvidence: Evidence[],
  nameDevice: boolean,
): Disposition {
  b.hops.push({ kind: 'stack', detail: stackDetail, evidence: stackEvidence, why: 'to-host', hooks: NF_LOCAL_IN });
  const fam = familyOf(flow.dst) as Family;
  const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, src: flow.src, iif });
  b.hops.push(routeHop(ans, 'kernel route lookup', { lookup: 'input', dst: flow.dst, iif }));
  if (ans.result !== 'local') return routeFailure(b, ans, flow);
  b.hops.push(netfilterHop(ctx, NF_LOCAL_IN));
  b.hops.push({
    kind: 'deliver',
    detail: `delivered to a local socket on ${dst.ip}${nameDevice ? ` (${dst.dev ?? 'this node'})` : ''}`,
    evidence: dst.evidence,
    target: 'local-socket',
    address: dst.ip,
    ...(nameDevice && dst.dev ? { addressDev: dst.dev } : {}),
  });
  return 'delivered';
}
