#!/usr/bin/env node
// The conntrack filtered scan on its own: node bench/ct-scan.mjs FILE [ADDRESS | --nat dnat]
// Streams FILE through netpath's scanner (dist/) and prints the number of matching entries.
import { createReadStream } from 'node:fs';
import { scanConntrack } from '../dist/tools/conntrack/index.js';

const [file, a, b] = process.argv.slice(2);
const q = a === '--nat' ? { nat: b } : { address: a };
const r = await scanConntrack(createReadStream(file, { highWaterMark: 1 << 20 }), q, { probe: 'conntrack4' });
console.log(`${r.entries.length} entries (${r.lines} lines read, ${r.parsed} parsed fully)`);
