import type { Family } from '../model/types.js';
import type { Flow } from '../model/trace.js';
import { canonIp } from '../model/addr.js';
import { matchesView, viewOf, type ConntrackQuery, type ScanResult } from '../tools/conntrack/index.js';
import { flowQuery, MAX_FLOW_ENTRIES } from './conntrack.js';

// A trace's conntrack question names the flow's Service backends (flowQuery's alsoDst), which are known only once
// the Services are loaded. The question below needs only the flow, so its scan starts with the trace; the
// backends' answer is then filtered out of it (narrowSourceScan).

/**
 * Entries a source-side scan may keep before it is no longer worth narrowing: past this the exact scan runs
 * instead. A pod with more open tuples than this from one address is rare; the cap keeps what crosses threads small.
 */
export const SOURCE_SCAN_MAX = 16 * MAX_FLOW_ENTRIES;

/**
 * flowQuery without its destination test: the same address, protocol and family, and a direction whose source (and
 * source port) is the flow's. Whatever flowQuery(flow, family, alsoDst) accepts, for any alsoDst, this accepts.
 */
export function flowSourceQuery(flow: Flow, family: Family): ConntrackQuery {
  const exact = flowQuery(flow, family);
  const side = (t: { src: string; sport?: number }) =>
    t.src === flow.src && (flow.sport === undefined || t.sport === flow.sport);
  return { ...exact, where: (v) => side(v.orig) || side(v.reply) };
}

/**
 * The scan of flowQuery(flow, family, alsoDst) with `maxEntries`, from a finished scan of flowSourceQuery(flow,
 * family); undefined when it cannot be told from it (the caller then runs the exact scan).
 *
 * Why the answer is the same: both scans search the same bytes for the same address and count every line (`lines`,
 * `bytes`); each parses fully a line whose cheap view the query accepts, and the exact query accepts a subset of
 * what the source query accepts, so the exact scan's entries are the source scan's entries it accepts, in file
 * order, and the lines it parses are among those the source scan parsed. That holds while neither scan stopped
 * early, hence the refusals: the source scan was cut (it may lack entries), the exact answer would be cut (the exact
 * scan would have stopped there, with fewer lines counted), or the source scan warned (a skipped line the exact scan
 * may not have reached, or rejected on its cheap view).
 */
export function narrowSourceScan(
  r: ScanResult,
  flow: Flow,
  family: Family,
  alsoDst: { address: string; port: number }[],
  maxEntries = MAX_FLOW_ENTRIES,
): ScanResult | undefined {
  if (r.cut || r.warnings.length > 0) return undefined;
  const q = flowQuery(flow, family, alsoDst);
  const addr = q.address === undefined ? undefined : (canonIp(q.address) ?? undefined);
  const entries = r.entries.filter((e) => matchesView(viewOf(e), q, addr));
  if (entries.length > maxEntries) return undefined;
  return { ...r, entries, matched: entries.length };
}
