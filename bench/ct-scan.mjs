#!/usr/bin/env node
// The conntrack filtered scan on its own: node bench/ct-scan.mjs FILE [ADDRESS | --nat dnat] [--max N] [--count]
// Streams FILE through netpath's scanner (dist/) and prints the number of matching entries: each
// entry is parsed in full and handed to a counter (onEntry), not kept, so the run measures the scan
// and not the holding of every entry (800,000 of the 1M lines at scale 1 are DNAT).
// --max N: stop after N matching entries, as diff does (50,000 per side). --count: the entries are only
// counted, as diff's before side and its worker do (ScanOptions.count), none is built.
import { fileChunks, SCAN_PIECE } from '../dist/collect/file-chunks.js';
import { scanConntrack } from '../dist/tools/conntrack/index.js';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const count = args.includes('--count');
if (count) args.splice(args.indexOf('--count'), 1);
const max = flag('--max');
const [file, a, b] = args;
const q = a === '--nat' ? { nat: b } : { address: a };
let n = 0;
// as the trace's worker reads it: one reused buffer of SCAN_PIECE bytes
const r = await scanConntrack(fileChunks(file, SCAN_PIECE), q, {
  probe: 'conntrack4',
  ...(max !== undefined ? { maxEntries: Number(max) } : {}),
  // count: also an onEntry that drops the entry, as the worker counted before ScanOptions.count (an older build reads that)
  ...(count ? { count: true, onEntry: () => {} } : { onEntry: () => n++ }),
});
if (count) n = r.matched;
console.log(`${n} entries${r.cut ? ' (cut)' : ''} (${r.lines} lines read, ${r.parsed} parsed fully)`);
