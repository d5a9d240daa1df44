import { canonIp, familyOf } from '../model/addr.js';
import type { Flow, Trace } from '../model/trace.js';
import type { Address, NodeState } from '../model/types.js';
import type { ServiceQuery } from '../model/service.js';
import { SourceError, UsageError, EXIT } from '../errors.js';
import { createTraceContext, endpointHost, traceFlow } from '../analysis/trace.js';
import {
  loadNetnsDetails,
  loadNodeState,
  loadRouteFamilies,
  netnsHolding,
  REQUIRED_PROBES,
  type RouteScanStart,
} from '../collect/load-state.js';
import { loadServices, type LoadedServices } from '../collect/load-services.js';
import { parseIpAddr } from '../tools/ip/index.js';
import type { ProbeSource } from '../collect/source.js';
import type { KubeTarget } from '../collect/kube.js';
import { parseNameRef, pickEnds, resolveName, type ResolveContext, type ResolvedEnds } from './resolve.js';
import { lookupConntrack, MAX_FLOW_ENTRIES } from '../collect/conntrack.js';
import { createOffload, type Offload, type OffloadOptions } from '../collect/offload.js';
import type { ScanResult } from '../tools/conntrack/index.js';

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

export async function runTrace(
  source: ProbeSource,
  request: TraceRequest,
  opts: { nodeName?: (n: string) => string; offload?: OffloadOptions | false } = {},
): Promise<TraceOutcome> {
  // names are checked for shape before anything is read; addresses are parsed right away
  const named = parseNameRef(request.src) !== null || parseNameRef(request.dst) !== null;
  if (named) {
    // a name needs every Service and pod to be resolved: the whole node is read
    const state = await loadNodeState(source, { routes: 'columns' });
    const services = await loadServices(source, state.addrs);
    const { req, ends } = await resolveRequest(request, { state, services: services.entries });
    return finish(source, state, services, parseFlow(req), ends, opts);
  }
  const flow = parseFlow(request);
  const offload = opts.offload === false ? undefined : createOffload(source, opts.offload);
  try {
    const { state, services, conntrack } = await loadForFlow(source, flow, offload);
    return await finish(source, state, services, flow, undefined, opts, conntrack);
  } finally {
    await offload?.close();
  }
}

/**
 * What a trace of one flow reads, and why that is all it can use:
 * - Service sources are asked about the destination (and port) only: traceService looks up that
 *   frontend, or for a node address kube-proxy's NodePort on every address, and nothing else;
 * - route tables of the families the path can consult: the destination's, its Service backends'
 *   (a Service may translate to the other family), and the WireGuard peer endpoints' (the outer
 *   packet); no lookup is made in another family;
 * - every pod namespace's addresses (which namespace holds an address), and links and routes of the
 *   namespaces holding the source, the destination or a backend: the only ones classify() and the
 *   pod's own routing read.
 */
export async function loadForFlow(
  source: ProbeSource,
  flow: Flow,
  offload?: Offload,
): Promise<{
  state: NodeState;
  services: LoadedServices;
  conntrack?: Promise<{ result: ScanResult; origin: string } | undefined>;
}> {
  // the destination's route table and, once the backends are known, the flow's conntrack entries are
  // scanned in worker threads while this one reads the rest (offload.ts)
  const family = familyOf(flow.dst) as 4 | 6;
  const routeScans = new Map<string, NonNullable<ReturnType<Offload['routes']>>>();
  const first = offload?.routes(`ip-route${family}`, family);
  if (first) routeScans.set(`ip-route${family}`, first);
  const routeScan: RouteScanStart = (id) => routeScans.get(id);
  const addrText = await source.read('ip-addr').catch(() => undefined);
  let addrs: Address[] = [];
  if (addrText) {
    try {
      addrs = parseIpAddr(addrText.text, 'ip-addr').value;
    } catch {
      addrs = [];
    }
  }
  const only: ServiceQuery[] = [
    { kind: 'address', address: flow.dst, ...(flow.dport !== undefined ? { port: flow.dport } : {}) },
  ];
  // traceService falls back to kube-proxy's NodePort (0.0.0.0:PORT) for a packet to a node address
  if (flow.dport !== undefined && addrs.some((a) => a.local === flow.dst))
    only.push({ kind: 'address', address: familyOf(flow.dst) === 6 ? '::' : '0.0.0.0', port: flow.dport });
  const services = await loadServices(source, addrs, { only });
  const conntrack = offload?.conntrack(
    `conntrack${family}`,
    { kind: 'flow', flow, family, alsoDst: conntrackBackends(services, flow) },
    MAX_FLOW_ENTRIES,
  );
  const backends = services.entries.flatMap((e) => e.backends.map((b) => b.address));
  const fams = new Set<4 | 6>([family]);
  for (const a of backends) fams.add(familyOf(a) === 6 ? 6 : 4);
  const state = await loadNodeState(source, { routes: 'columns', families: [...fams], netns: 'addrs', routeScan });
  for (const w of state.wg)
    for (const p of w.peers)
      if (p.endpoint) {
        const f = familyOf(endpointHost(p.endpoint));
        if (f !== null) fams.add(f);
      }
  await loadRouteFamilies(source, state, [...fams], undefined, routeScan);
  await loadNetnsDetails(source, state, netnsHolding(state, [flow.src, flow.dst, ...backends]));
  return conntrack ? { state, services, conntrack } : { state, services };
}

/** Backends of the Services at the flow's destination: the conntrack lookup also matches tuples to them. */
function conntrackBackends(services: LoadedServices, flow: Flow): { address: string; port: number }[] {
  return services.entries
    .filter((e) => e.frontend.address === flow.dst)
    .flatMap((e) => e.backends.map((b) => ({ address: b.address, port: b.port })));
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
