#!/usr/bin/env node
// The conntrack filtered scan on its own: node bench/ct-scan.mjs FILE [ADDRESS | --nat dnat]
// Streams FILE through netpath's scanner (dist/) and prints the number of matching entries: each
// entry is parsed in full and handed to a counter (onEntry), not kept, so the run measures the scan
// and not the holding of every entry (800,000 of the 1M lines at scale 1 are DNAT).
import { fileChunks, SCAN_PIECE } from '../dist/collect/file-chunks.js';
import { scanConntrack } from '../dist/tools/conntrack/index.js';

const [file, a, b] = process.argv.slice(2);
const q = a === '--nat' ? { nat: b } : { address: a };
let n = 0;
// as the trace's worker reads it: one reused buffer of SCAN_PIECE bytes
const r = await scanConntrack(fileChunks(file, SCAN_PIECE), q, {
  probe: 'conntrack4',
  onEntry: () => n++,
});
console.log(`${n} entries (${r.lines} lines read, ${r.parsed} parsed fully)`);
