import { canonIp, familyOf } from '../model/addr.js';
import { kubeProxyReader } from '../analysis/kube-proxy/index.js';
import type { Flow, Trace } from '../model/trace.js';
import type { NodeState } from '../model/types.js';
import { SourceError, UsageError, EXIT } from '../errors.js';
import { createTraceContext, traceFlow } from '../analysis/trace.js';
import { loadNodeState, REQUIRED_PROBES } from '../collect/load-state.js';
import { loadServices, type LoadedServices } from '../collect/load-services.js';
import { readProbeBytes, streamProbe, type ProbeSource } from '../collect/source.js';
import type { KubeTarget } from '../collect/kube.js';
import { parseNameRef, pickEnds, resolveName, type ResolveContext, type ResolvedEnds } from './resolve.js';
import { lookupConntrack, MAX_FLOW_ENTRIES } from '../collect/conntrack.js';
import { createOffload, type OffloadOptions } from '../collect/offload.js';
import { endScansEarly } from '../collect/scan-early.js';
import { conntrackBackends, loadForFlow } from '../collect/flow-plan.js';
import type { ScanResult } from '../tools/conntrack/index.js';
import type { Family, Rule } from '../model/types.js';
import type { Runner } from '../exec/runner.js';
import {
  askKernel,
  dumpingMid,
  dumpTables,
  earlyAnswers,
  planKernelRoutes,
  type KernelRoutePlan,
} from '../collect/kernel-routes.js';
import { KernelFib } from '../analysis/route-lookup/kernel-fib.js';
import { knownFamilies, routingOn, tableName } from '../analysis/routing.js';
import { parseIpRule } from '../tools/ip/index.js';
import type { RouteGetAnswer } from '../tools/ip/route-get.js';

export interface TraceRequest {
  src: string;
  dst: string;
  proto?: string;
  /** the protocol was given by the user, not defaulted: a Service's port does not override it */
  protoExplicit?: boolean;
  port?: string | number;
  sport?: string | number;
  backend?: string;
  /** where `namespace/pod` and `svc/…` names are looked up when the node state does not know them */
  kube?: KubeTarget;
}

/**
 * Turns pod and Service names into addresses (node state first, then kubectl) and returns the request
 * in addresses, with a warning per name saying what it became and where that came from.
 */
export async function resolveRequest(
  req: TraceRequest,
  ctx: Omit<ResolveContext, 'kube'>,
): Promise<{ req: TraceRequest; ends?: ResolvedEnds }> {
  const srcRef = parseNameRef(req.src);
  const dstRef = parseNameRef(req.dst);
  if (!srcRef && !dstRef) return { req };
  const kube = req.kube ?? {};
  const full = { ...ctx, kube };
  const srcName = srcRef ? await resolveName(srcRef, full) : undefined;
  const dstName = dstRef ? await resolveName(dstRef, full) : undefined;
  const ends = pickEnds(req, srcName, dstName);
  return {
    req: {
      ...req,
      src: ends.src,
      dst: ends.dst,
      ...(ends.port !== undefined ? { port: ends.port } : {}),
      ...(ends.proto !== undefined ? { proto: ends.proto } : {}),
    },
    ends,
  };
}

/** Names the resolved ends in the trace, and says when a source pod lives on another node than the one traced. */
export function annotateTrace(trace: Trace, ends: ResolvedEnds | undefined): void {
  if (!ends) return;
  trace.warnings.unshift(...ends.warnings);
  if (ends.srcName?.ref.kind === 'pod') trace.src.pod ??= ends.srcName.display;
  if (ends.dstName?.ref.kind === 'pod') trace.dst.pod ??= ends.dstName.display;
  if (ends.dstName?.ref.kind === 'service') trace.dst.service ??= ends.dstName.display;
  const n = ends.srcName?.nodeName;
  if (n && trace.node && n !== trace.node && trace.src.kind !== 'local-pod') {
    trace.warnings.push({
      code: 'pod-on-other-node',
      message: `pod ${ends.srcName!.display} runs on node ${n}, not on ${trace.node}: trace it on ${n} (or with --cluster)`,
      source: ends.srcName!.evidence.probe,
    });
  }
}

export function parseFlow(req: TraceRequest): Flow {
  const src = canonIp(req.src);
  if (src === null) throw new UsageError(`source ${JSON.stringify(req.src)} is not an IPv4 or IPv6 address`);
  const dst = canonIp(req.dst);
  if (dst === null) throw new UsageError(`destination ${JSON.stringify(req.dst)} is not an IPv4 or IPv6 address`);
  const proto = (req.proto ?? 'tcp').toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp' && proto !== 'sctp')
    throw new UsageError(`--proto must be tcp, udp, icmp or sctp, not ${JSON.stringify(req.proto)}`);
  const flow: Flow = { src, dst, proto };
  if (req.port !== undefined) flow.dport = port(req.port, '--port');
  if (req.sport !== undefined) flow.sport = port(req.sport, '--sport');
  if (req.backend !== undefined) flow.backend = req.backend;
  if (proto === 'icmp' && (flow.dport !== undefined || flow.sport !== undefined))
    throw new UsageError('ICMP has no ports: drop --port/--sport');
  if (familyOf(src) !== familyOf(dst))
    throw new UsageError(`source ${src} and destination ${dst} are of different address families`);
  return flow;
}

function port(v: string | number, flag: string): number {
  const s = String(v);
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535)
    throw new UsageError(`${flag} must be a port number 0-65535, not ${JSON.stringify(s)}`);
  return Number(s);
}

/** Required probes for this family that are missing or unreadable. */
export function missingRequired(state: NodeState, family: 4 | 6): string[] {
  const need = REQUIRED_PROBES.filter((p) => p !== (family === 4 ? 'ip-route6' : 'ip-route4'));
  return need.filter((id) => {
    const s = state.sources.find((x) => x.probe === id);
    return !s || s.status === 'missing' || s.status === 'failed';
  });
}

export interface TraceOutcome {
  trace: Trace;
  exitCode: number;
  /** sources that could not be read, parsed or understood (`path: why`), for the one-line stderr notice */
  unreadable: string[];
}

type SourceLike = { probe: string; status: string; origin?: string; message?: string };

/**
 * `<file or probe>: <why>` of every source that failed, node state and Service sources alike, and of every source
 * printed by a tool version netpath does not know.
 */
export function unreadableSources(
  lists: SourceLike[][],
  warnings: { code: string; message: string; source?: string }[] = [],
): string[] {
  const all = lists.flat();
  const failed = all
    .filter((s) => s.status === 'failed')
    .map((s) => `${s.origin ?? s.probe}: ${s.message ?? 'unreadable'}`);
  const versions = warnings
    .filter((w) => w.code === 'version-unknown')
    .map((w) => `${all.find((s) => s.probe === w.source)?.origin ?? w.source ?? '?'}: ${w.message}`);
  return [...new Set([...failed, ...versions])].sort();
}

export interface RunTraceOptions {
  nodeName?: (n: string) => string;
  offload?: OffloadOptions | false;
  /** false: a live trace dumps every table even when they are large (`--no-kernel-routes`) */
  kernelRoutes?: boolean;
  /** tests: the table size above which a table is asked once the kernel answers (collect/kernel-routes.ts DUMP_MAX) */
  dumpMax?: number;
}

export async function runTrace(
  source: ProbeSource,
  request: TraceRequest,
  opts: RunTraceOptions = {},
): Promise<TraceOutcome> {
  // names are checked for shape before anything is read; addresses are parsed right away
  const named = parseNameRef(request.src) !== null || parseNameRef(request.dst) !== null;
  try {
    return await traceRequest(source, request, named, opts);
  } finally {
    // scans started from the arguments (commands/trace-early.ts) that this trace did not adopt: not wanted
    endScansEarly();
  }
}

async function traceRequest(
  source: ProbeSource,
  request: TraceRequest,
  named: boolean,
  opts: RunTraceOptions,
): Promise<TraceOutcome> {
  if (named) {
    // a name needs every Service and pod to be resolved: the whole node is read
    const state = await loadNodeState(source, { routes: 'columns' });
    const services = await loadServices(source, state.addrs, kubeProxyReader);
    const { req, ends } = await resolveRequest(request, { state, services: services.entries });
    return finish(source, state, services, parseFlow(req), ends, opts);
  }
  const flow = parseFlow(request);
  let fallback: string | undefined;
  if (source.kernel && opts.kernelRoutes !== false) {
    const out = await traceWithKernelRoutes(source, source.kernel, flow, opts);
    if (typeof out === 'object') return out;
    fallback = out;
  }
  const offload = opts.offload === false ? undefined : createOffload(source, opts.offload);
  try {
    const { state, services, conntrack } = await loadForFlow(source, flow, kubeProxyReader, offload);
    const out = await finish(source, state, services, flow, undefined, opts, conntrack);
    // the tables are large, yet the kernel's answers could not stand in for them: say why this trace read them
    if (fallback)
      out.trace.warnings.push({
        code: 'kernel-routes-fallback',
        message: `every route table was read: ${fallback}`,
        source: 'ip-route-get',
      });
    return out;
  } finally {
    await offload?.close();
  }
}

async function finish(
  source: ProbeSource,
  state: NodeState,
  services: LoadedServices,
  flow: Flow,
  ends: ResolvedEnds | undefined,
  opts: { nodeName?: (n: string) => string } = {},
  conntrack?: Promise<{ result: ScanResult; origin: string } | undefined>,
): Promise<TraceOutcome> {
  if (opts.nodeName && state.node.name) state.node.name = opts.nodeName(state.node.name);
  const family = familyOf(flow.dst) as 4 | 6;
  const missing = missingRequired(state, family);
  if (missing.length === REQUIRED_PROBES.length - 1) {
    throw new SourceError(source.description, `no node state to trace on (${reasons(state, missing)})`);
  }
  state.warnings.push(...services.warnings);
  const ctx = createTraceContext(state, services.entries);
  // only this flow's tuples are read from the conntrack table (to the frontend, or to its backends)
  ctx.conntrack = await lookupConntrack(
    source,
    flow,
    family,
    conntrackBackends(services, flow),
    MAX_FLOW_ENTRIES,
    conntrack,
  );
  const trace = traceFlow(ctx, flow);
  annotateTrace(trace, ends);
  return {
    trace,
    exitCode: exitFor(trace),
    unreadable: unreadableSources([state.sources, services.sources], state.warnings),
  };
}

/** Rounds of questions to the kernel a trace may take: each round asks what the previous one's trace looked up. */
export const KERNEL_ROUNDS = 6;

/**
 * A live trace whose large route tables the kernel answers (collect/kernel-routes.ts): the trace runs on
 * the small tables and the rules, the lookups it makes are asked of the kernel in one `ip -batch`, and it
 * runs again until every lookup has its answer. Undefined when the tables are not large (or the counters
 * cannot be read); a reason when an answer cannot be explained by the rules and small tables, or a
 * question needs a large table as a list: then the caller reads every table, as without the kernel.
 */
async function traceWithKernelRoutes(
  source: ProbeSource,
  run: Runner,
  flow: Flow,
  opts: RunTraceOptions,
): Promise<TraceOutcome | string | undefined> {
  const rules = await readRules(source);
  const plan = await planKernelRoutes(run, rules, opts.dumpMax);
  if (!plan || plan.asked.size === 0) return undefined;
  // the first round's questions, asked while the node probes ran (collect/kernel-routes.ts startKernelRoutes)
  const answers: Map<string, RouteGetAnswer> = await earlyAnswers(run);
  const out = await traceOnPlan(source, run, flow, opts, plan, answers);
  if (typeof out !== 'string' || plan.mid.length === 0) return out;
  // an answer the dumped tables cannot explain (fibmatch prints no route for a blackhole) may come from a table
  // asked only for its size: dumped, it costs less than reading every table
  return traceOnPlan(source, run, flow, opts, dumpingMid(plan), answers);
}

/** One plan's trace: see traceWithKernelRoutes. `answers` holds the kernel's answers so far, and gets the new ones. */
async function traceOnPlan(
  source: ProbeSource,
  run: Runner,
  flow: Flow,
  opts: RunTraceOptions,
  plan: KernelRoutePlan,
  answers: Map<string, RouteGetAnswer>,
): Promise<TraceOutcome | string> {
  // a family's small tables are dumped when the path first reads its routes: an IPv4 trace whose path reads no
  // IPv6 route never dumps them (on a node with 200k IPv6 routes, ~1.4 s of `ip` in a 9 MiB dump)
  const dumps = new Map<Family, Promise<string | Error>>();
  const dump = (f: Family): Promise<string | Error> => {
    let d = dumps.get(f);
    if (!d) dumps.set(f, (d = dumpTables(run, f, plan.dumped[f])));
    return d;
  };
  const narrowed = narrowSource(source, dump, plan);
  const { state, services, conntrack } = await loadForFlow(narrowed, flow, kubeProxyReader);
  for (const d of dumps.values()) {
    const got = await d;
    if (got instanceof Error) return got.message;
  }
  if (opts.nodeName && state.node.name) state.node.name = opts.nodeName(state.node.name);
  const family = familyOf(flow.dst) as 4 | 6;
  const missing = missingRequired(state, family);
  if (missing.length === REQUIRED_PROBES.length - 1) return 'no node state besides the route tables';
  state.warnings.push(...services.warnings);
  // columns are indexed as they are (one Route object per route only where a lookup lands)
  const tables = state.routeColumns ? { routes: [], columns: state.routeColumns } : { routes: state.routes };
  const ct = await lookupConntrack(
    narrowed,
    flow,
    family,
    conntrackBackends(services, flow),
    MAX_FLOW_ENTRIES,
    conntrack,
  );
  for (let round = 1; ; round++) {
    const fib = new KernelFib({
      ...tables,
      rules: state.rules,
      links: state.links,
      addrs: state.addrs,
      sysctl: state.sysctl,
      asked: plan.asked,
      askedTables: plan.askedTables,
      answers,
    });
    const ctx = createTraceContext(state, services.entries, routingOn(fib, knownFamilies(state)));
    ctx.routeGaps = { narrowed: plan.asked, needed: new Set() };
    ctx.conntrack = ct;
    const trace = traceFlow(ctx, flow);
    if (fib.unexplained.size > 0) return [...fib.unexplained.values()].join('; ');
    if (ctx.routeGaps.needed.size > 0)
      return `the trace needs IPv${[...ctx.routeGaps.needed].join('/IPv')} table main as a list (default gateways or pod-CIDR routes), which the kernel's answers are not`;
    if (fib.missing.size > 0 && round < KERNEL_ROUNDS) {
      const got = await askKernel(run, [...fib.missing]);
      if (got instanceof Error) return got.message;
      for (const [k, v] of got) answers.set(k, v);
      continue;
    }
    if (fib.missing.size > 0)
      trace.warnings.push({
        code: 'kernel-rounds',
        message: `${fib.missing.size} route lookups were not asked of the kernel: the trace took ${KERNEL_ROUNDS} rounds of questions, the most it may`,
        source: 'ip-route-get',
      });
    return {
      trace,
      exitCode: exitFor(trace),
      unreadable: unreadableSources([state.sources, services.sources], state.warnings),
    };
  }
}

async function readRules(source: ProbeSource): Promise<Rule[]> {
  const out: Rule[] = [];
  for (const f of [4, 6] as const) {
    const got = await source.read(`ip-rule${f}`).catch(() => undefined);
    if (!got) continue;
    try {
      out.push(...parseIpRule(got.text, `ip-rule${f}`, f).value);
    } catch {
      // the trace reads and reports the rules itself; here they only name the IPv6 tables to dump
    }
  }
  return out;
}

/** The source with the asked families' route probes replaced by their small tables' dumps. */
function narrowSource(
  source: ProbeSource,
  dump: (f: Family) => Promise<string | Error>,
  plan: KernelRoutePlan,
): ProbeSource {
  const mine = async (id: string): Promise<{ text: string; origin: string } | undefined> => {
    const m = /^ip-route([46])$/.exec(id);
    const f = m ? (Number(m[1]) as Family) : undefined;
    if (f === undefined || !plan.asked.has(f)) return undefined;
    const text = await dump(f);
    // the caller sees the failed dump after the load and reads every table instead (never this family's full dump)
    if (text instanceof Error) throw text;
    const tables = plan.dumped[f].map((t) => tableName(t)).join(', ');
    const asked = [...plan.askedTables[f]].map((t) => tableName(t)).join(', ');
    return {
      text,
      origin: `ip -${f} -j -d route show table ${tables} (tables ${asked}: the kernel's answers, ${plan.why})`,
    };
  };
  const { file: _file, ...rest } = source;
  return {
    ...rest,
    read: async (id) => {
      const m = await mine(id);
      return m ? { text: m.text, ext: 'json', origin: m.origin } : source.read(id);
    },
    readBytes: async (id) => {
      const m = await mine(id);
      if (m) return { bytes: Buffer.from(m.text), ext: 'json', origin: m.origin };
      return readProbeBytes(source, id);
    },
    stream: async (id) => {
      const m = await mine(id);
      if (m) return { chunks: [m.text], ext: 'json', origin: m.origin };
      return streamProbe(source, id);
    },
  };
}

/** `ip-link, ip-addr: ip: not installed; ip-route4: not in the snapshot`: each reason once, with its probes. */
export function reasons(state: NodeState, ids: string[]): string {
  const by = new Map<string, string[]>();
  for (const id of ids) {
    const s = state.sources.find((x) => x.probe === id);
    const why = s?.message ?? (s?.status === 'failed' ? 'unreadable' : 'missing');
    by.set(why, [...(by.get(why) ?? []), id]);
  }
  return [...by].map(([why, list]) => `${list.join(', ')}: ${why}`).join('; ');
}

export function exitFor(t: Trace): number {
  if (t.disposition === 'delivered' || t.disposition === 'forwarded') return EXIT.ok;
  if (t.disposition === 'unknown') return EXIT.source;
  return EXIT.bad;
}
