import type { Diff, DiffSideInfo } from '../model/diff.js';
import type { ServiceEntry, ServiceSource } from '../model/service.js';
import type { Family, NodeState, Warning } from '../model/types.js';
import type { IpSet } from '../tools/ipset/index.js';
import type { ConntrackEntry } from '../model/conntrack.js';
import type { IptablesRuleset } from '../model/iptables.js';
import type { NftRuleset } from '../model/nft.js';
import { createTraceContext, type TraceContext } from './trace.js';
import { deriveDatapath } from './datapath.js';
import { diffServices, isCilium } from './diff-services.js';
import { findLeftovers } from './diff-leftovers.js';
import { DEFAULT_MAX_FLOWS, diffPaths } from './diff-paths.js';
import { behaviourChanges } from './diff-behaviour.js';
import { createTraceMemo } from './trace/memo.js';

export { pruneIptables, readOfBeforeIptables } from './diff-before-chains.js';

/** One side of a diff: a node's state and everything that programs Services on it. */
export interface DiffSideInput {
  /** the snapshot path, `.tar.gz`, or `live node` */
  source: string;
  state: NodeState;
  /** every Service frontend from every layer (Cilium maps / cilium-dbg, kube-proxy iptables / nftables, IPVS) */
  services: ServiceEntry[];
  /** parsed iptables-save / ip6tables-save, for leftovers and hostPort */
  iptables: { probe: string; family: Family; rules: IptablesRuleset }[];
  nft?: { probe: string; rules: NftRuleset };
  ipsets?: IpSet[];
  /** conntrack entries with destination NAT (conntrack4 / conntrack6), for connections kube-proxy still NATs */
  conntrack?: { probe: string; entries: ConntrackEntry[]; cut: boolean }[];
  warnings: Warning[];
}

export interface DiffOptions {
  /** at most this many flows are traced on each side (default 40) */
  maxFlows?: number;
  /** reuse trace contexts built elsewhere (the routing index of a large node is the costly part) */
  contexts?: { before: TraceContext; after: TraceContext };
  /**
   * Each side's memo of addresses, Service look-ups and backend paths while its flows are traced (trace/memo.ts,
   * as check keeps them): the sampled flows ask the same pods, backends and frontends again and again. false:
   * every flow asks afresh (the reference the memoised diff is tested against); `keep`: applied to each kept value.
   */
  memo?: false | { keep: <T>(v: T) => T };
}

const ORDER: ServiceSource[] = ['cilium-bpf', 'cilium-dbg', 'kube-proxy-iptables', 'kube-proxy-nftables', 'ipvs'];

/** What the parts of a diff that trace nothing need of a side. */
export type SideView = Pick<TraceContext, 'state' | 'dp'>;

function info(side: DiffSideInput, ctx: SideView, frontends: number): DiffSideInfo {
  const layers = ORDER.filter((l) => side.services.some((e) => e.source === l));
  const out: DiffSideInfo = { source: side.source, node: side.state.node.name, layers, frontends, cilium: {} };
  if (ctx.dp.ciliumVersion.known) out.cilium.version = ctx.dp.ciliumVersion.value;
  if (ctx.dp.kubeProxyReplacement.known) out.cilium.kubeProxyReplacement = ctx.dp.kubeProxyReplacement.value;
  return out;
}

/**
 * Runs `f` with a memo on each context (none when `memo` is false), as check does: the node state, Service
 * lists and datapath facts stay unchanged while the flows are traced. A context's own memo is put back after.
 */
function withMemo<T>(
  ctxs: [TraceContext, TraceContext],
  memo: DiffOptions['memo'],
  f: (b: TraceContext, a: TraceContext) => T,
): T {
  const had = ctxs.map((c) => ({ memo: c.memo, backendPaths: c.backendPaths }));
  if (memo !== false)
    for (const c of ctxs) {
      c.memo ??= createTraceMemo(memo?.keep);
      c.backendPaths ??= new Map();
    }
  try {
    return f(ctxs[0], ctxs[1]);
  } finally {
    ctxs.forEach((c, i) => {
      const h = had[i]!;
      if (h.memo) c.memo = h.memo;
      else delete c.memo;
      if (h.backendPaths) c.backendPaths = h.backendPaths;
      else delete c.backendPaths;
    });
  }
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/**
 * What changes on a node when kube-proxy is removed: Service parity, kube-proxy leftovers on the
 * after side, representative flows traced on both sides, and the known behaviour changes the states
 * show apply. Pure: the same inputs give the same diff.
 */
export function diffNodes(before: DiffSideInput, after: DiffSideInput, opts: DiffOptions = {}): Diff {
  // the routing index is the costly part of a trace context on a large node: built only when flows are traced
  const maxFlows = opts.maxFlows ?? DEFAULT_MAX_FLOWS;
  const bview: SideView = opts.contexts?.before ?? { state: before.state, dp: deriveDatapath(before.state) };
  const aview: SideView = opts.contexts?.after ?? { state: after.state, dp: deriveDatapath(after.state) };
  const services = diffServices(before, after);
  const leftovers = findLeftovers(before, after);
  const paths =
    maxFlows > 0
      ? withMemo(
          [
            opts.contexts?.before ?? createTraceContext(before.state, before.services),
            opts.contexts?.after ?? createTraceContext(after.state, after.services),
          ],
          opts.memo,
          (bctx, actx) => diffPaths(before, after, bctx, actx, services, maxFlows),
        )
      : { flows: [], candidates: 0, sampled: false, note: 'paths not traced (--max-flows 0)' };
  const behaviour = behaviourChanges(before, after, bview, aview, services);
  const warnings: Warning[] = [];
  for (const [label, s] of [
    ['before', before],
    ['after', after],
  ] as const)
    for (const w of s.warnings) warnings.push({ ...w, message: `${label}: ${w.message}` });
  if (!after.services.some((e) => isCilium(e.source)))
    warnings.push({
      code: 'no-cilium-services',
      message:
        'after: no Cilium Service source (LB maps, cilium-dbg service list / bpf lb list): the after node shows no kube-proxy replacement',
    });

  const count = (st: string) => services.filter((s) => s.status === st).length;
  const svc = {
    before: services.filter((s) => s.before).length,
    after: services.filter((s) => s.after).length,
    unchanged: count('unchanged'),
    changed: count('changed'),
    added: count('added'),
    removed: count('removed'),
    regressions: services.filter((s) => s.regression).length,
  };
  const acting = leftovers.filter((l) => l.actsOnPackets);
  const pathRegs = paths.flows.filter((f) => f.regression).length;
  const behRegs = behaviour.filter((b) => b.regression).length;
  const regressions = svc.regressions + leftovers.filter((l) => l.regression).length + pathRegs + behRegs;
  const owners = (pick: 'before' | 'after') =>
    [...new Set(services.map((s) => s.owner[pick]).filter((o): o is ServiceSource => o !== null))].join(' + ') ||
    'nothing';
  const lines: string[] = [];
  lines.push(regressions === 0 ? 'clean migration: no regression' : `${plural(regressions, 'regression')}`);
  lines.push(
    `Services: ${svc.before} frontends before (${owners('before')}), ${svc.after} after (${owners('after')}): ${svc.unchanged} unchanged, ${svc.changed} changed, ${svc.removed} removed, ${svc.added} added${svc.regressions ? ` — ${plural(svc.regressions, 'regression')}` : ''}`,
  );
  lines.push(
    acting.length
      ? `Leftovers: ${acting.length} of kube-proxy's still act on packets (${acting.map((l) => l.name).join('; ')})`
      : leftovers.length
        ? `Leftovers: ${plural(leftovers.length, 'inert leftover')} of kube-proxy, none acts on packets`
        : "Leftovers: none of kube-proxy's",
  );
  lines.push(
    `Paths: ${plural(paths.flows.length, 'flow')} traced on both sides${paths.sampled ? ` (sampled from ${paths.candidates})` : ''}, ${paths.flows.filter((f) => f.changed).length} changed${pathRegs ? `, ${plural(pathRegs, 'regression')}` : ''}`,
  );
  if (behaviour.length) lines.push(`Behaviour: ${behaviour.map((b) => b.title).join('; ')}`);
  // what one side's input cannot show is listed, never counted as a change
  const skipped = new Map<string, { n: number; because: string }>();
  for (const s of services)
    for (const n of s.notCompared ?? []) {
      const k = `${n.field === 'traffic-policy' ? 'traffic policy' : n.field === 'affinity' ? 'session affinity' : n.field}`;
      const c = skipped.get(k);
      if (c) c.n++;
      else skipped.set(k, { n: 1, because: n.because });
    }
  if (skipped.size)
    lines.push(
      `Not compared: ${[...skipped].map(([k, c]) => `${k} of ${plural(c.n, 'frontend')} (${c.because})`).join('; ')}`,
    );

  const pathsOut: Diff['paths'] = { sampled: paths.sampled, candidates: paths.candidates, flows: paths.flows };
  if (paths.note) pathsOut.note = paths.note;
  return {
    schemaVersion: 1,
    before: info(before, bview, svc.before),
    after: info(after, aview, svc.after),
    summary: {
      verdict: regressions === 0 ? 'clean' : 'regressions',
      regressions,
      services: svc,
      leftovers: { total: leftovers.length, acting: acting.length },
      paths: {
        traced: paths.flows.length,
        candidates: paths.candidates,
        sampled: paths.sampled,
        changed: paths.flows.filter((f) => f.changed).length,
        regressions: pathRegs,
      },
      behaviour: behaviour.length,
      lines,
    },
    services,
    leftovers,
    paths: pathsOut,
    behaviour,
    warnings,
  };
}
