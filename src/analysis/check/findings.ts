import type { CheckFlow, Finding, FindingKind, Severity } from '../../model/check.js';
import { hopDev, isLbHop, type DropHop, type Hop, type LbHop, type RouteHop, type Trace } from '../../model/trace.js';
import type { Evidence, Family, NodeState } from '../../model/types.js';
import { familyOf } from '../../model/addr.js';
import type { PlannedFlow } from './flows.js';
import { confirmDrop, confirmNeighbor, confirmPmtu, confirmRoute, confirmTcpdump, safeDev } from './confirm.js';
import { byCodeUnit } from '../../model/order.js';

/** How many example flows and evidence lines a finding carries. */
const MAX_EXAMPLES = 3;
const MAX_EVIDENCE = 6;

interface Acc {
  severity: Severity;
  kind: FindingKind;
  message: string;
  flows: CheckFlow[];
  count: number;
  evidence: Evidence[];
  confirm: string[];
}

/** Findings keyed by what they are about; each traced flow adds itself to the ones it shows. */
export class FindingSet {
  private readonly byKey = new Map<string, Acc>();

  add(
    key: string,
    f: { severity: Severity; kind: FindingKind; message: string; evidence?: Evidence[]; confirm?: string[] },
    flow?: CheckFlow,
  ): void {
    let a = this.byKey.get(key);
    if (!a) {
      a = { ...f, flows: [], count: 0, evidence: [], confirm: f.confirm ?? [] };
      this.byKey.set(key, a);
    }
    for (const e of f.evidence ?? [])
      if (a.evidence.length < MAX_EVIDENCE && !a.evidence.some((x) => x.probe === e.probe && x.text === e.text))
        a.evidence.push(e);
    if (flow) {
      a.count++;
      if (a.flows.length < MAX_EXAMPLES) a.flows.push(flow);
    }
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Errors first, then warnings, then info; within a severity, the findings that affect the most flows first. */
  list(node?: string): Finding[] {
    const rank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
    return [...this.byKey.values()]
      .sort((a, b) => rank[a.severity] - rank[b.severity] || b.count - a.count || byCodeUnit(a.message, b.message))
      .map((a) => ({
        severity: a.severity,
        kind: a.kind,
        message: a.message,
        flows: { count: a.count, examples: a.flows },
        evidence: a.evidence,
        confirm: a.confirm,
        ...(node !== undefined ? { node } : {}),
      }));
  }
}

const bad = (d: string) => d === 'dropped' || d === 'no-route';

/** What one traced flow shows: its drop, the Service it met, its next hops' neighbours, the MTUs on its way. */
export function judgeTrace(set: FindingSet, state: NodeState, p: PlannedFlow, t: Trace, cf: CheckFlow): void {
  const lb = t.hops.find(isLbHop);
  const drop = t.hops.find((h): h is DropHop => h.kind === 'drop');
  if (bad(t.disposition)) judgeDrop(set, p, t, cf, lb, drop);
  else if (lb) judgeBackends(set, lb, cf);
  judgeNeighbors(set, state, t, cf);
  judgeMtu(set, state, t, cf);
  if (t.disposition === 'unknown') judgeUnknown(set, state, t, cf);
  judgeHairpin(set, t, cf, lb);
}

/** A hairpin whose packet is delivered but whose reply can never come back (trace/hairpin.ts, IPv6 before 1.19). */
function judgeHairpin(set: FindingSet, t: Trace, cf: CheckFlow, lb: LbHop | undefined): void {
  const w = t.warnings.find((x) => x.code === 'hairpin-no-reply');
  if (!w) return;
  const bpf = t.hops.find((h) => h.kind === 'bpf');
  set.add(
    `hairpin-no-reply|${lb?.frontend ?? cf.label}`,
    {
      severity: 'error',
      kind: 'hairpin-no-reply',
      message: w.message,
      evidence: lb?.evidence ?? [],
      // the version that lacks the IPv6 loopback, and the pod's own address coming back as the packet's source
      confirm: ['cilium-dbg version', ...(bpf ? [confirmTcpdump(bpf.dev, { ...cf.flow, dst: cf.flow.src })] : [])],
    },
    cf,
  );
}

function frontendOf(lb: LbHop | undefined, drop: DropHop | undefined, p: PlannedFlow): string | undefined {
  return lb?.frontend ?? drop?.frontend ?? (p.frontend && drop?.backends ? p.frontend : undefined);
}

function judgeDrop(
  set: FindingSet,
  p: PlannedFlow,
  t: Trace,
  cf: CheckFlow,
  lb: LbHop | undefined,
  drop: DropHop | undefined,
): void {
  const fe = frontendOf(lb, drop, p);
  const backends = lb?.backends ?? drop?.backends;
  if (fe && backends && !backends.some((b) => b.state === 'active')) {
    set.add(
      `svc-empty|${fe}`,
      {
        severity: 'warning',
        kind: 'service-no-backends',
        message: `Service ${fe} has no active backend: connections to it are ${drop?.code === 'kube-proxy-reject' ? 'rejected' : 'dropped'} (${drop?.code ?? t.disposition})`,
        evidence: [...(drop?.evidence ?? []), ...(lb?.evidence ?? [])],
        confirm: [`cilium-dbg service list | grep -F '${fe.replace(/\/[A-Z]+$/i, '')}'`, ...confirmDrop(t)],
      },
      cf,
    );
    return;
  }
  if (lb && fe) {
    set.add(
      `svc-drop|${fe}|${drop?.code ?? t.disposition}`,
      {
        severity: 'error',
        kind: 'service-backend-drop',
        message: `Service ${fe}: the path to backend ${lb.backend} ends ${drop ? `in a drop: ${drop.reason}` : t.disposition}`,
        evidence: [...(drop?.evidence ?? []), ...lb.evidence],
        confirm: [...confirmDrop(t), confirmRoute(t, lb.backend)],
      },
      cf,
    );
    return;
  }
  const code = drop?.code ?? t.disposition;
  const where = drop?.evidence[0]?.text ?? '';
  set.add(
    `drop|${code}|${where}`,
    {
      severity: 'error',
      kind: t.disposition === 'no-route' ? 'no-route' : 'drop',
      message: drop ? `${drop.reason} (${code})` : `flows end ${t.disposition}`,
      evidence: drop?.evidence ?? [],
      confirm: [confirmRoute(t), ...confirmDrop(t)],
    },
    cf,
  );
}

/** A flow that succeeded through one backend still shows, per candidate backend, where the others would end. */
function judgeBackends(set: FindingSet, lb: LbHop, cf: CheckFlow): void {
  for (const path of lb.paths) {
    if (!bad(path.disposition)) continue;
    set.add(
      `svc-drop|${lb.frontend}|${path.backend}`,
      {
        severity: 'error',
        kind: 'service-backend-drop',
        message: `Service ${lb.frontend}: the path to backend ${path.backend} ends ${path.disposition} (${path.summary})`,
        evidence: lb.evidence,
        confirm: [confirmRoute({ flow: cf.flow } as Trace, path.backend)],
      },
      cf,
    );
  }
}

/** The next hop each routing decision of the flow leaves by, with its device (host-side lookups only). */
function nextHops(t: Trace): { ip: string; dev: string; hop: Hop }[] {
  const out: { ip: string; dev: string; hop: Hop }[] = [];
  for (const h of t.hops) {
    if (h.netns) continue;
    if (h.kind === 'route') {
      const r = h as RouteHop;
      if (r.lookup === 'arrival' || r.lookup === 'pod-netns' || r.result !== 'unicast' || !r.dev) continue;
      out.push({ ip: r.gateway ?? r.dst, dev: r.dev, hop: h });
    } else if (h.kind === 'redirect_neigh') out.push({ ip: h.nexthop, dev: h.dev, hop: h });
    else if (h.kind === 'gateway' && h.dev) out.push({ ip: h.gateway, dev: h.dev, hop: h });
  }
  return out;
}

function judgeNeighbors(set: FindingSet, state: NodeState, t: Trace, cf: CheckFlow): void {
  if (!state.sources.some((s) => s.probe === 'ip-neigh' && (s.status === 'ok' || s.status === 'partial'))) return;
  const seen = new Set<string>();
  for (const nh of nextHops(t)) {
    const key = `${nh.ip}|${nh.dev}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const n = state.neigh.find((x) => x.dst === nh.ip && x.dev === nh.dev && !x.proxy);
    if (!n) continue;
    const failed = n.state.includes('FAILED');
    const incomplete = n.state.includes('INCOMPLETE');
    if (!failed && !incomplete) continue;
    set.add(
      `neigh|${key}`,
      {
        severity: failed ? 'error' : 'warning',
        kind: failed ? 'neighbor-failed' : 'neighbor-incomplete',
        message: failed
          ? `next hop ${nh.ip} on ${nh.dev} does not answer ARP/NDP (neighbour FAILED): packets sent to it are lost`
          : `next hop ${nh.ip} on ${nh.dev} is not resolved (neighbour INCOMPLETE): packets wait for ARP/NDP and are lost if it never answers`,
        evidence: [n.source, ...nh.hop.evidence.slice(0, 2)],
        confirm: confirmNeighbor(nh.ip, nh.dev),
      },
      cf,
    );
  }
}

/** The MTU of a device of the node, or of a pod's device in its namespace. */
function mtuOf(state: NodeState, dev: string, netns?: string): { mtu: number; ev: Evidence } | undefined {
  const links = netns ? state.netns.find((n) => n.name === netns)?.links : state.links;
  const l = links?.find((x) => x.name === dev);
  return l?.mtu !== undefined ? { mtu: l.mtu, ev: l.source } : undefined;
}

/** Where the packet starts: a pod's own device (in its namespace), else the first device on the path. */
function firstMtu(state: NodeState, t: Trace): { dev: string; mtu: number; ev: Evidence } | undefined {
  if (t.src.kind === 'local-pod' && t.src.netns) {
    const ns = state.netns.find((n) => n.name === t.src.netns);
    const a = ns?.addrs.find((x) => x.local === t.src.ip);
    if (a) {
      const m = mtuOf(state, a.ifname, t.src.netns);
      if (m) return { dev: `${a.ifname} (pod ${t.src.netns})`, ...m };
    }
  }
  return undefined;
}

function judgeMtu(set: FindingSet, state: NodeState, t: Trace, cf: CheckFlow): void {
  let from = firstMtu(state, t);
  for (const h of t.hops) {
    if (h.netns) continue;
    // the arrival hop is where an outside packet enters: the MTU it was sent with is the one this device takes
    const dev = hopDev(h);
    if (!dev || dev === 'lo') continue;
    const m = mtuOf(state, dev);
    if (!m) continue;
    if (!from) {
      from = { dev, ...m };
      continue;
    }
    if (m.mtu < from.mtu) {
      set.add(
        `mtu|${from.mtu}|${dev}|${m.mtu}`,
        {
          severity: 'warning',
          kind: 'mtu-shrink',
          message: `MTU shrinks on the path from ${from.dev} (${from.mtu}) to ${dev} (${m.mtu}): packets larger than ${m.mtu} bytes need fragmentation or path-MTU discovery (ICMP must get through), else they are dropped`,
          evidence: [from.ev, m.ev],
          confirm: [`ip link show ${safeDev(dev)}`, confirmPmtu(t.flow.dst, m.mtu)],
        },
        cf,
      );
      return;
    }
  }
}

/** Warnings about a flow that are not the node's own (those are said once, in the report's warnings) nor a note of choice. */
function flowWarnings(state: NodeState, t: Trace) {
  const node = new Set(state.warnings.map((w) => `${w.code}|${w.message}`));
  return t.warnings.filter((w) => !node.has(`${w.code}|${w.message}`) && w.code !== 'backend-choice');
}

function judgeUnknown(set: FindingSet, state: NodeState, t: Trace, cf: CheckFlow): void {
  const w = flowWarnings(state, t)[0];
  const probe = w?.source;
  const last = t.hops[t.hops.length - 1];
  const why = w
    ? `${w.message}${probe ? ` (the ${probe} probe would decide it)` : ''}`
    : `the trace stops after a ${last?.kind ?? 'first'} hop without a reason it can name (a path the engine does not follow yet)`;
  set.add(
    `unknown|${w?.code ?? `stop-${last?.kind}`}|${probe ?? ''}`,
    {
      severity: 'info',
      kind: 'unknown',
      message: `these flows cannot be decided: ${why}`,
      confirm: [confirmRoute(t), ...confirmDrop(t)],
    },
    cf,
  );
}

/**
 * rp_filter of a device as the kernel applies it: the larger of `all` and the device's own value
 * (include/linux/inetdevice.h IN_DEV_RPFILTER = IN_DEV_MAXCONF). __fib_validate_source drops an asymmetric
 * packet only when that value is exactly 1; any other non-zero value is loose, so values above 2 count as 2.
 * The device's own value comes from the sysctl-conf4 probe (`sysctl -e net.ipv4.conf`); a snapshot without it
 * leaves strict mode undecided unless `all` alone settles it.
 */
export function rpFilter(
  state: NodeState,
  dev: string,
): { mode: 0 | 1 | 2; ev: Evidence[] } | { mode: 'unknown'; because: string; ev: Evidence[] } {
  const all = state.sysctl['net.ipv4.conf.all.rp_filter'];
  const own = state.sysctl[`net.ipv4.conf.${dev.replace(/\./g, '/')}.rp_filter`];
  const mode = (v: number) => (v <= 0 ? 0 : v === 1 ? 1 : 2) as 0 | 1 | 2;
  if (all && own) return { mode: mode(Math.max(Number(all.value), Number(own.value))), ev: [all.source, own.source] };
  const a = all ? Number(all.value) : undefined;
  // either value above 1 makes the maximum loose whatever the other says
  if (a !== undefined && a >= 2) return { mode: 2, ev: [all!.source] };
  if (own && Number(own.value) >= 2) return { mode: 2, ev: [own.source] };
  if (!all)
    return {
      mode: 'unknown',
      because: 'net.ipv4.conf.all.rp_filter was not captured (sysctl probe)',
      ev: own ? [own.source] : [],
    };
  const conf = state.sources.find((x) => x.probe === 'sysctl-conf4');
  const read = conf !== undefined && (conf.status === 'ok' || conf.status === 'partial');
  const dflt = state.sysctl['net.ipv4.conf.default.rp_filter'];
  return {
    mode: 'unknown',
    because: `net.ipv4.conf.${dev}.rp_filter was not captured (all=${a}${dflt ? `, default=${dflt.value}, which devices take when created` : ''}; ${read ? `the sysctl-conf4 capture has no ${dev}` : 'no sysctl-conf4 probe (`sysctl -e net.ipv4.conf`) in this snapshot'}): strict mode cannot be ruled out`,
    ev: [all.source, ...(dflt ? [dflt.source] : [])],
  };
}

/**
 * A packet taken to arrive on `p.arrivesOn` whose route back leaves by another device fails strict reverse-path
 * filtering (IPv4: net.ipv4.conf.*.rp_filter=1). It does not apply when a Cilium program takes the packet at
 * tc ingress before the kernel routes it (NodePort in cil_from_netdev). Loose mode (2) drops only a packet whose
 * source has no route back at all (__fib_validate_source's `last_resort`); the flows check plans from outside
 * come from an address the default route carries, so loose mode never drops them and gives no finding.
 */
export function judgeRpFilter(set: FindingSet, state: NodeState, p: PlannedFlow, t: Trace, cf: CheckFlow): void {
  if (!p.arrivesOn || familyOf(t.flow.src) !== (4 as Family)) return;
  const back = t.hops.find((h): h is RouteHop => h.kind === 'route' && h.lookup === 'arrival');
  if (!back?.dev || back.dev === p.arrivesOn) return;
  if (t.hops.some((h) => h.kind === 'tc-lb' && (h.at === 'cil_from_netdev' || h.at === 'xdp'))) return;
  const rp = rpFilter(state, p.arrivesOn);
  if (rp.mode === 0 || rp.mode === 2) return;
  const asym = `packets from ${t.flow.src} arriving on ${p.arrivesOn} are answered through ${back.dev} (route "${back.route ?? back.answer}")`;
  const confirm = [
    `ip route get ${t.flow.dst} from ${t.flow.src} iif ${safeDev(p.arrivesOn)}`,
    `sysctl net.ipv4.conf.all.rp_filter net.ipv4.conf.${safeDev(p.arrivesOn)}.rp_filter`,
    confirmTcpdump(p.arrivesOn, t.flow),
  ];
  if (rp.mode === 1)
    set.add(
      `rp|${p.arrivesOn}|${back.dev}`,
      {
        severity: 'error',
        kind: 'rp-filter-asymmetric',
        message: `${asym}; rp_filter is strict on ${p.arrivesOn}, so the kernel drops them`,
        evidence: [...rp.ev, ...back.evidence],
        confirm,
      },
      cf,
    );
  else if (rp.mode === 'unknown')
    set.add(
      `rp?|${p.arrivesOn}|${back.dev}`,
      {
        severity: 'warning',
        kind: 'rp-filter-unknown',
        message: `${asym}; whether rp_filter drops them is unknown: ${rp.because}`,
        evidence: [...rp.ev, ...back.evidence],
        confirm,
      },
      cf,
    );
}
