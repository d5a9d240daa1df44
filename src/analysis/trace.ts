import type { Family, Link, NodeState, Rule, Warning } from '../model/types.js';
import type { Disposition, Flow, Trace } from '../model/trace.js';
import { familyOf } from '../model/addr.js';
import { deriveDatapath, type Fact } from './datapath.js';
import { buildRouting, knownFamilies, type Routing } from './routing.js';
import type { ServiceEntry } from '../model/service.js';
import { traceService } from './trace-service.js';
import { insertConntrackHop, judgeConntrack } from './conntrack.js';
import type { FlowConntrack } from '../model/conntrack.js';

import { mtuWarnings } from './trace/mtu.js';
import type { TraceContext, Builder } from './trace/context.js';
import { classify } from './trace/classify.js';
import { fromLocalPod } from './trace/from-pod.js';
import { fromHost, fromOutside } from './trace/from-host.js';
import { drop } from './trace/hops.js';

export function createTraceContext(state: NodeState, services: ServiceEntry[] = [], routing?: Routing): TraceContext {
  const routes = state.routeColumns ?? state.routes;
  return {
    state,
    services,
    dp: deriveDatapath(state),
    // a live trace on large tables brings the kernel-backed one (commands/trace.ts)
    routing: routing ?? buildRouting(routes, state.rules, state, knownFamilies(state)),
    nsRouting: new Map(),
  };
}

/** Reconstructs the path of `flow` through the node. Pure: the same state gives the same trace. */
export function traceFlow(ctx: TraceContext, flow: Flow): Trace {
  const t = withMtu(ctx, traceService(ctx, flow) ?? traceAddress(ctx, flow));
  return ctx.conntrack ? withConntrack(ctx.conntrack, t, flow) : t;
}

/** Adds the packet-size findings of the path (trace/mtu.ts). */
function withMtu(ctx: TraceContext, t: Trace): Trace {
  const w = mtuWarnings(ctx, t);
  return w.length ? { ...t, warnings: dedupe([...t.warnings, ...w]) } : t;
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

function warnMissing(ctx: TraceContext, b: Builder, flow: Flow): void {
  const fam = familyOf(flow.dst) as Family;
  const other = fam === 4 ? 6 : 4;
  const held = nsAddresses(ctx);
  const holds = (name: string) => {
    const a = held.get(name);
    return a !== undefined && (a.has(flow.src) || a.has(flow.dst));
  };
  for (const w of ctx.state.warnings) {
    // the other family's routes and rules do not decide this flow (a paste often has IPv4 only)
    if (w.source === `ip-route${other}` || w.source === `ip-rule${other}`) continue;
    // devices read from ip-addr matter in the namespaces of this flow's ends only
    const ns = w.code === 'links-from-ip-addr' ? /^netns\/([^/]+)\//.exec(w.source ?? '')?.[1] : undefined;
    if (ns !== undefined && !holds(ns)) continue;
    b.warnings.push(w);
  }
  for (const s of failedSources(ctx))
    b.warnings.push({ code: 'probe-unreadable', message: `${s.probe}: ${s.message}`, source: s.probe });
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

/**
 * The probes that failed: every trace names them. With the context's memo (check) the list of a node with
 * hundreds of pod namespaces' sources is sought once, not once per flow and backend.
 */
function failedSources(ctx: TraceContext): NodeState['sources'] {
  const m = ctx.memo;
  if (m?.failed) return m.failed;
  const out = ctx.state.sources.filter((s) => s.status === 'failed');
  if (m) m.failed = out;
  return out;
}

const nsAddressIndex = new WeakMap<TraceContext, Map<string, Set<string>>>();

/** The addresses of each pod namespace by its name, built once per context (every trace asks). */
function nsAddresses(ctx: TraceContext): Map<string, Set<string>> {
  let out = nsAddressIndex.get(ctx);
  if (out) return out;
  out = new Map();
  for (const ns of ctx.state.netns) {
    let set = out.get(ns.name);
    if (!set) out.set(ns.name, (set = new Set()));
    for (const a of ns.addrs) set.add(a.local);
  }
  nsAddressIndex.set(ctx, out);
  return out;
}

function _short(key: string): string {
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
export { classify } from './trace/classify.js';
export { attachMode, programsUnknown, sourceProblem } from './trace/hops.js';
export type { TraceContext } from './trace/context.js';
