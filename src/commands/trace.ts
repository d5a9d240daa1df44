import { canonIp, familyOf } from '../model/addr.js';
import type { Flow, Trace } from '../model/trace.js';
import type { NodeState } from '../model/types.js';
import { SourceError, UsageError, EXIT } from '../errors.js';
import { createTraceContext, traceFlow } from '../analysis/trace.js';
import { loadNodeState, REQUIRED_PROBES } from '../collect/load-state.js';
import { loadServices } from '../collect/load-services.js';
import type { ProbeSource } from '../collect/source.js';

export interface TraceRequest {
  src: string;
  dst: string;
  proto?: string;
  port?: string | number;
  sport?: string | number;
  backend?: string;
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
  if (proto === 'icmp' && (flow.dport !== undefined || flow.sport !== undefined)) throw new UsageError('ICMP has no ports: drop --port/--sport');
  if (familyOf(src) !== familyOf(dst)) throw new UsageError(`source ${src} and destination ${dst} are of different address families`);
  return flow;
}

function port(v: string | number, flag: string): number {
  const s = String(v);
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw new UsageError(`${flag} must be a port number 0-65535, not ${JSON.stringify(s)}`);
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
}

export async function runTrace(source: ProbeSource, req: TraceRequest): Promise<TraceOutcome> {
  const flow = parseFlow(req);
  const state = await loadNodeState(source);
  const family = familyOf(flow.dst) as 4 | 6;
  const missing = missingRequired(state, family);
  if (missing.length === REQUIRED_PROBES.length - 1) {
    throw new SourceError(source.description, `no node state to trace on (missing or unreadable: ${missing.join(', ')})`);
  }
  const services = await loadServices(source, state.addrs);
  state.warnings.push(...services.warnings);
  const trace = traceFlow(createTraceContext(state, services.entries), flow);
  return { trace, exitCode: exitFor(trace) };
}

export function exitFor(t: Trace): number {
  if (t.disposition === 'delivered' || t.disposition === 'forwarded') return EXIT.ok;
  if (t.disposition === 'unknown') return EXIT.source;
  return EXIT.bad;
}
