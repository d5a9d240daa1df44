import type { CtTupleView, FlowConntrack } from '../model/conntrack.js';
import type { Family } from '../model/types.js';
import type { Flow } from '../model/trace.js';
import { errorLine } from '../errors.js';
import { scanConntrack, type ConntrackQuery, type ScanResult } from '../tools/conntrack/index.js';
import { streamProbe, type ProbeSource } from './source.js';

/** Entries kept per lookup: a client with thousands of connections to one Service needs no more to be judged. */
export const MAX_FLOW_ENTRIES = 1000;

const PROTO: Record<Flow['proto'], (f: Family) => string> = {
  tcp: () => 'tcp',
  udp: () => 'udp',
  sctp: () => 'sctp',
  icmp: (f) => (f === 4 ? 'icmp' : 'icmpv6'),
};

/**
 * The query for a trace's own tuples: packets from `flow.src` to `flow.dst` (or to one of `alsoDst`,
 * the backends, address and port, a Service frontend at `flow.dst` translates to), in the original direction of an entry
 * or in its reply direction. Ports narrow it when the flow has them.
 */
export function flowQuery(
  flow: Flow,
  family: Family,
  alsoDst: { address: string; port: number }[] = [],
): ConntrackQuery {
  const backends = new Set(alsoDst.map((b) => `${b.address}|${b.port}`));
  const toDst = (t: CtTupleView['orig']) => t.dst === flow.dst && (flow.dport === undefined || t.dport === flow.dport);
  // a backend port only counts for port protocols; ICMP to a backend address is that address
  const toBackend = (t: CtTupleView['orig']) =>
    backends.has(`${t.dst}|${t.dport ?? flow.dport}`) ||
    (t.dport === undefined && alsoDst.some((b) => b.address === t.dst));
  const side = (t: CtTupleView['orig']) =>
    t.src === flow.src && (flow.sport === undefined || t.sport === flow.sport) && (toDst(t) || toBackend(t));
  return { address: flow.src, proto: PROTO[flow.proto](family), family, where: (v) => side(v.orig) || side(v.reply) };
}

/**
 * Stream-filters the conntrack probe of the flow's family; never loads the whole table. `started`:
 * the same scan (flowQuery of the same flow, backends and limit) already running in a worker
 * (offload.ts); when it yields nothing the table is read here.
 */
export async function lookupConntrack(
  source: ProbeSource,
  flow: Flow,
  family: Family,
  alsoDst: { address: string; port: number }[] = [],
  maxEntries = MAX_FLOW_ENTRIES,
  started?: Promise<{ result: ScanResult; origin: string } | undefined>,
): Promise<FlowConntrack> {
  const probe = `conntrack${family}`;
  const base: FlowConntrack = {
    probe,
    status: 'missing',
    entries: [],
    cut: false,
    captureTruncated: false,
    lines: 0,
    warnings: [],
  };
  const pre = started && (await started);
  if (pre) {
    base.origin = pre.origin;
    base.captureTruncated = await truncatedInManifest(source, probe);
    return scanned(base, pre.result, maxEntries);
  }
  let st: Awaited<ReturnType<typeof streamProbe>>;
  try {
    st = await streamProbe(source, probe);
  } catch (e) {
    return failed(base, e);
  }
  if (!st) return base;
  base.origin = st.origin;
  base.captureTruncated = await truncatedInManifest(source, probe);
  try {
    return scanned(
      base,
      await scanConntrack(st.chunks, flowQuery(flow, family, alsoDst), { probe, maxEntries }),
      maxEntries,
    );
  } catch (e) {
    return failed(base, e);
  }
}

function scanned(base: FlowConntrack, r: ScanResult, maxEntries: number): FlowConntrack {
  const probe = base.probe;
  const out: FlowConntrack = {
    ...base,
    status: 'ok',
    entries: r.entries,
    cut: r.cut,
    lines: r.lines,
    warnings: r.warnings,
  };
  if (r.cut)
    out.warnings.push({
      code: 'conntrack-cut',
      message: `more than ${maxEntries} conntrack entries match this flow; only the first ${maxEntries} were read`,
      source: probe,
    });
  if (out.captureTruncated)
    out.warnings.push({
      code: 'conntrack-capture-truncated',
      message: `${probe}: the output was cut at its size limit; entries past it were not read, so a missing entry proves nothing`,
      source: probe,
    });
  return out;
}

function failed(base: FlowConntrack, e: unknown): FlowConntrack {
  const message = errorLine(e);
  return {
    ...base,
    status: 'failed',
    message,
    warnings: [{ code: 'probe-unreadable', message: `${base.probe}: ${message}`, source: base.probe }],
  };
}

async function truncatedInManifest(source: ProbeSource, probe: string): Promise<boolean> {
  try {
    const text = await source.manifest();
    if (text === undefined) return false;
    const m = JSON.parse(text) as { probes?: { id?: unknown; truncated?: unknown }[] };
    return Array.isArray(m.probes) && m.probes.some((p) => p?.id === probe && p.truncated === true);
  } catch {
    return false;
  }
}
