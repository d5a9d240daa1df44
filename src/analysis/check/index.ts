import type { CheckFlow, CheckReport, Finding } from '../../model/check.js';
import type { Leftover } from '../../model/diff.js';
import type { Evidence, Family, Warning } from '../../model/types.js';
import type { Flow, Trace } from '../../model/trace.js';
import type { ServiceEntry } from '../../model/service.js';
import { traceFlow, type TraceContext } from '../trace.js';
import { createTraceMemo } from '../trace/memo.js';
import type { DiffSideInput } from '../diff.js';
import { findLeftovers } from '../diff-leftovers.js';
import { FindingSet, judgeRpFilter, judgeTrace } from './findings.js';
import { defaultRoute, localPods, planFlows, type PlannedFlow } from './flows.js';

export { planFlows, type PlannedFlow } from './flows.js';
export { FindingSet } from './findings.js';

/** Flows traced when --max-flows is not given: enough for a node with 110 pods and 10,000 Services. */
export const DEFAULT_MAX_FLOWS = 50_000;

export interface CheckInput {
  ctx: TraceContext;
  /** the rulesets, ipsets and conntrack tables kube-proxy leftovers live in (what `diff` reads of a side) */
  side?: DiffSideInput;
  warnings?: Warning[];
  /**
   * Drop `side` from this input once what check needs of it is read (before any flow is traced): on a large node
   * its parsed rulesets and conntrack entries are most of the heap, and every garbage collection during the
   * 20,000 traces would walk them again. A caller that sets it holds no other reference to the side.
   */
  releaseSide?: boolean;
}

export interface CheckOptions {
  maxFlows?: number;
  /** called as flows are traced (the CLI draws a progress bar with it; analysis prints nothing) */
  progress?: (done: number, total: number) => void;
  /**
   * The run's memo of addresses, Service look-ups and backend paths (trace/memo.ts, backendPaths). false: every
   * flow asks afresh (the reference the memoised run is tested against); `keep`: applied to each kept value
   * (tests freeze them).
   */
  memo?: false | { keep: <T>(v: T) => T };
}

/**
 * Every path of a node at once: enumerates the flows that matter, traces each with the engine, and turns what
 * the traces and the node state show into findings ranked by how many flows they break. Pure but for progress.
 */
export function checkNode(input: CheckInput, opts: CheckOptions = {}): CheckReport {
  const { ctx } = input;
  const set = new FindingSet();
  const warnings: Warning[] = [...(input.warnings ?? [])];
  const { flows, notes } = planFlows(ctx, ctx.services);
  const max = opts.maxFlows ?? DEFAULT_MAX_FLOWS;
  const picked = flows.slice(0, max);
  if (flows.length > picked.length)
    warnings.push({
      code: 'flows-cut',
      message: `--max-flows ${max}: ${picked.length} of ${flows.length} flows checked; the rest (Service frontends last) were not`,
    });
  for (const n of notes) warnings.push({ code: 'flows-not-enumerated', message: n });
  const facts = readNode(input);
  if (input.releaseSide) delete input.side;
  const byFrontend = new Map<string, CheckFlow[]>();
  // every Service flow traces up to 32 candidate backends: a source meets the same backends in many Services
  const had = ctx.backendPaths;
  // the node state, Service lists and datapath facts do not change while the flows are traced (trace/memo.ts)
  const hadMemo = ctx.memo;
  if (opts.memo !== false) {
    ctx.backendPaths ??= new Map();
    ctx.memo ??= createTraceMemo(opts.memo?.keep);
  }
  let traced: number;
  try {
    traced = traceAll(input, picked, set, opts.progress, byFrontend);
  } finally {
    if (had) ctx.backendPaths = had;
    else delete ctx.backendPaths;
    if (hadMemo) ctx.memo = hadMemo;
    else delete ctx.memo;
  }
  judgeNode(ctx, facts, set, byFrontend);
  return {
    schemaVersion: 1,
    node: ctx.state.node.name,
    flowsChecked: traced,
    flowsEnumerated: flows.length,
    findings: set.list(),
    warnings,
  };
}

/** The Service entries by frontend address (and the NodePort surrogates 0.0.0.0 / :: by port). */
interface ServiceIndex {
  all: ServiceEntry[];
  byAddress: Map<string, ServiceEntry[]>;
  surrogates: Map<string, ServiceEntry[]>;
  /** a destination's own entries with its port's surrogates, one list per (address, port): the memo's key */
  joined: Map<string, ServiceEntry[]>;
}

function servicesByAddress(all: ServiceEntry[]): ServiceIndex {
  const byAddress = new Map<string, ServiceEntry[]>();
  const surrogates = new Map<string, ServiceEntry[]>();
  for (const e of all) {
    const a = e.frontend.address;
    const [m, k] = a === '0.0.0.0' || a === '::' ? [surrogates, `${a}|${e.frontend.port}`] : [byAddress, a];
    const l = m.get(k);
    if (l) l.push(e);
    else m.set(k, [e]);
  }
  return { all, byAddress, surrogates, joined: new Map() };
}

/**
 * The engine looks a flow's Service up among the entries of its destination address (and, for a node address,
 * the NodePort surrogates of its port): handing it only those gives the same trace as the whole list without a
 * scan of 10,000 Services per flow. The context is the same object (its lazily built indexes stay), its
 * Service list swapped for the flow and restored.
 */
function traceWith(ctx: TraceContext, flow: Flow, index: ServiceIndex): Trace {
  const fam = flow.dst.includes(':') ? '::' : '0.0.0.0';
  const own = index.byAddress.get(flow.dst) ?? [];
  const sur = flow.dport !== undefined ? (index.surrogates.get(`${fam}|${flow.dport}`) ?? []) : [];
  let list = own;
  if (sur.length) {
    const k = `${flow.dst}|${flow.dport}`;
    list = index.joined.get(k) ?? [...own, ...sur];
    index.joined.set(k, list);
  }
  ctx.services = list;
  try {
    return traceFlow(ctx, flow);
  } finally {
    ctx.services = index.all;
  }
}

function traceAll(
  input: CheckInput,
  flows: PlannedFlow[],
  set: FindingSet,
  progress: CheckOptions['progress'],
  byFrontend: Map<string, CheckFlow[]>,
): number {
  const { ctx } = input;
  // only the disposition of each flow is kept for its reply: 20,000 whole traces would crowd the heap
  const results: (Trace['disposition'] | undefined)[] = [];
  let traced = 0;
  const step = Math.max(1, Math.floor(flows.length / 100));
  const index = servicesByAddress(ctx.services);
  for (let i = 0; i < flows.length; i++) {
    const p = flows[i]!;
    // a reply is checked only when the request it answers got through (delivered here, or sent on to its node)
    const req = p.replyOf !== undefined ? results[p.replyOf] : undefined;
    if (p.replyOf !== undefined && req !== 'delivered' && req !== 'forwarded') {
      results.push(undefined);
      continue;
    }
    const t = traceWith(ctx, p.flow, index);
    results.push(t.disposition);
    traced++;
    const cf: CheckFlow = { category: p.category, label: p.label, flow: p.flow, disposition: t.disposition };
    judgeTrace(set, ctx.state, p, t, cf);
    judgeRpFilter(set, ctx.state, p, t, cf);
    if (p.frontend) byFrontend.set(p.frontend, [...(byFrontend.get(p.frontend) ?? []), cf]);
    if (progress && (i % step === 0 || i === flows.length - 1)) progress(i + 1, flows.length);
  }
  return traced;
}

/** What check reads of a side's rulesets, ipsets and conntrack tables, before tracing (see releaseSide). */
interface NodeFacts {
  /** kube-proxy leftovers (conntrack ones excluded: stale NAT is judged against every Service layer below) */
  left: Leftover[];
  /** stale NAT hits when Cilium replaces kube-proxy */
  stale: StaleHits | undefined;
  hasSide: boolean;
}

/** The stale NAT entries, summed up: the entries themselves are not kept past readNode. */
interface StaleHits {
  count: number;
  /** frontends in the order their first entry came */
  fronts: Set<string>;
  /** frontends no Cilium entry serves */
  gone: Set<string>;
  longest: number;
  /** the first entries' evidence (the finding shows 4) */
  evidence: Evidence[];
  /** `source|frontend` of every entry */
  from: Set<string>;
}

function readNode(input: CheckInput): NodeFacts {
  const { ctx, side } = input;
  if (!side) return { left: [], stale: undefined, hasSide: false };
  const kpr = ctx.dp.kubeProxyReplacement;
  // conntrack is judged below against every Service layer: findLeftovers knows kube-proxy's frontends only
  // from the rules, which a hand cleanup may have flushed while their connections live on. Its conntrack
  // leftovers are dropped here, so it is not handed the entries (its other kinds never read them).
  const { conntrack: _ct, ...rules } = side;
  const left = findLeftovers(rules, rules).filter((l) => l.kind !== 'conntrack');
  const stale = kpr.known && kpr.value ? staleNatHits(ctx, side) : undefined;
  return { left, stale, hasSide: true };
}

/** What the node state shows without a trace: no default route for pods, kube-proxy leftovers, stale NAT. */
function judgeNode(ctx: TraceContext, facts: NodeFacts, set: FindingSet, byFrontend: Map<string, CheckFlow[]>): void {
  // a leftover or a stale NAT entry affects the checked flows to the frontends it names
  const flowsTo = (fes: string[] = []) => fes.flatMap((fe) => byFrontend.get(fe) ?? []);
  for (const fam of [4, 6] as Family[]) {
    if (!ctx.state.sources.some((s) => s.probe === `ip-route${fam}` && s.status === 'ok')) continue;
    if (defaultRoute(ctx, fam) || localPods(ctx, fam).length === 0) continue;
    set.add(`nodefault|${fam}`, {
      severity: 'warning',
      kind: 'no-default-route',
      message: `IPv${fam}: the node has no default route, so its pods reach nothing outside the routes it has (a pod's packet to any other address is dropped: no route)`,
      evidence: [],
      confirm: [
        `ip -${fam} route show default`,
        `ip -${fam} route get ${fam === 4 ? '192.0.2.1' : '2001:db8:ffff::1'}`,
      ],
    });
  }
  if (!facts.hasSide) return;
  const kpr = ctx.dp.kubeProxyReplacement;
  const { left } = facts;
  if (facts.stale) staleNat(facts.stale, set, flowsTo);
  if (left.length === 0) return;
  if (!kpr.known) {
    const l = left[0]!;
    set.add('kp?', {
      severity: 'info',
      kind: 'kube-proxy-leftover',
      message: `kube-proxy state is present (${left.map((x) => x.name).join('; ')}); whether it is a leftover is unknown: Cilium's kube-proxy replacement is not known (${kpr.because}), so kube-proxy may still be meant to run`,
      evidence: l.evidence.slice(0, 4),
      confirm: [l.command, 'cilium-dbg status | grep KubeProxyReplacement'],
    });
    return;
  }
  if (!kpr.value) return;
  for (const l of left) {
    const key = `kp|${l.kind}|${l.name}`;
    set.add(key, leftoverFinding(l));
    for (const cf of flowsTo(l.frontends)) set.add(key, leftoverFinding(l), cf);
  }
}

/**
 * With kube-proxy replaced, Cilium translates Services in BPF (at the socket or per packet), never with a
 * netfilter NAT entry: a conntrack entry that DNATs a Service frontend was made by kube-proxy's rules and keeps
 * translating that connection outside Cilium's view until it closes or times out.
 */
function staleNatHits(ctx: TraceContext, side: DiffSideInput): StaleHits | undefined {
  if (!side.conntrack?.length) return undefined;
  const local = ctx.state.addrs.map((a) => a.local);
  const fes = new Map<string, boolean>();
  for (const e of ctx.services) {
    const f = e.frontend;
    const cilium = e.source === 'cilium-bpf' || e.source === 'cilium-dbg';
    const addrs = f.address === '0.0.0.0' || f.address === '::' ? local : [f.address];
    for (const a of addrs) {
      const k = `${a}|${f.port}|${f.proto.toLowerCase()}`;
      fes.set(k, (fes.get(k) ?? false) || cilium);
    }
  }
  const h: StaleHits = { count: 0, fronts: new Set(), gone: new Set(), longest: 0, evidence: [], from: new Set() };
  for (const ct of side.conntrack)
    for (const e of ct.entries) {
      if (!e.dnat || e.orig.dport === undefined) continue;
      const served = fes.get(`${e.orig.dst}|${e.orig.dport}|${e.proto}`);
      if (served === undefined) continue;
      const host = e.orig.dst.includes(':') ? `[${e.orig.dst}]` : e.orig.dst;
      const fe = `${host}:${e.orig.dport}/${e.proto.toUpperCase()}`;
      h.count++;
      h.fronts.add(fe);
      if (!served) h.gone.add(fe);
      h.longest = Math.max(h.longest, e.timeout ?? 0);
      if (h.evidence.length < 4) h.evidence.push(e.source);
      h.from.add(`${e.orig.src}|${fe}`);
    }
  return h.count > 0 ? h : undefined;
}

function staleNat(h: StaleHits, set: FindingSet, flowsTo: (fes: string[]) => CheckFlow[]): void {
  const fronts = [...h.fronts];
  const gone = [...h.gone];
  const finding: Omit<Finding, 'flows'> = {
    severity: 'warning',
    kind: 'stale-conntrack-nat',
    message: `${h.count} tracked connection${h.count === 1 ? '' : 's'} to ${fronts.length} Service frontend${fronts.length === 1 ? '' : 's'} (${fronts.slice(0, 5).join(', ')}${fronts.length > 5 ? ', …' : ''}) still carry a netfilter DNAT although Cilium replaces kube-proxy: conntrack keeps translating them outside Cilium until they close or time out (longest timeout left ${h.longest} s)${gone.length ? `; ${gone.join(', ')} ${gone.length === 1 ? 'is' : 'are'} served by no Cilium entry, so only these old connections still reach ${gone.length === 1 ? 'it' : 'them'}` : ''}`,
    evidence: h.evidence,
    confirm: ['conntrack -L -o extended --dst-nat'],
  };
  set.add('stale-nat', finding);
  // a checked flow is affected when an old connection from its own source to its frontend is still NATed
  for (const cf of flowsTo(fronts))
    if (h.from.has(`${cf.flow.src}|${frontendOfFlow(cf)}`)) set.add('stale-nat', finding, cf);
}

function frontendOfFlow(cf: CheckFlow): string {
  const h = cf.flow.dst.includes(':') ? `[${cf.flow.dst}]` : cf.flow.dst;
  return `${h}:${cf.flow.dport}/${cf.flow.proto.toUpperCase()}`;
}

function leftoverFinding(l: Leftover): Omit<Finding, 'flows'> {
  return {
    severity: l.actsOnPackets ? (l.regression ? 'error' : 'warning') : 'info',
    kind: 'kube-proxy-leftover',
    message: `${l.name} left by kube-proxy although Cilium replaces it: ${l.breaks}`,
    evidence: l.evidence.slice(0, 4),
    confirm: [l.command],
  };
}
