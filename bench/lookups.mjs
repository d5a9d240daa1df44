#!/usr/bin/env node
// In-process route lookups/s after load: parse the snapshot's routes and rules, build the FIB the
// trace uses, then time lookups of destinations that hit the large tables.
//   node bench/lookups.mjs <snapshotDir> <meta.json> [lookups]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIpRoute, parseIpRule } from '../dist/tools/ip/index.js';
import { buildFib } from '../dist/analysis/route-lookup.js';
import { parseIpLink, parseIpAddr } from '../dist/tools/ip/index.js';

const [dir, metaPath, countArg] = process.argv.slice(2);
const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
const N = Number(countArg ?? 1_000_000);
const read = (f) => readFileSync(join(dir, f), 'utf8');

const t0 = performance.now();
const routes = [...parseIpRoute(read('ip-route4.json'), 'ip-route4', 4).value, ...parseIpRoute(read('ip-route6.json'), 'ip-route6', 6).value];
const rules = [...parseIpRule(read('ip-rule4.json'), 'ip-rule4', 4).value, ...parseIpRule(read('ip-rule6.json'), 'ip-rule6', 6).value];
const links = parseIpLink(read('ip-link.json'), 'ip-link').value;
const addrs = parseIpAddr(read('ip-addr.json'), 'ip-addr').value;
const t1 = performance.now();
const fib = buildFib({ routes, rules, links, addrs });
const t2 = performance.now();

const qs = [...meta.v4Probes.map((dst) => ({ family: 4, dst })), ...meta.v6Probes.map((dst) => ({ family: 6, dst }))];
let sink = 0;
for (let i = 0; i < Math.min(N, 10_000); i++) sink += fib.lookup(qs[i % qs.length]).table ?? 0; // warm-up
const t3 = performance.now();
for (let i = 0; i < N; i++) sink += fib.lookup(qs[i % qs.length]).table ?? 0;
const t4 = performance.now();
const sample = fib.lookup(qs[0]);
process.stdout.write(
  JSON.stringify({
    routes: fib.routeCount,
    parseMs: t1 - t0,
    buildMs: t2 - t1,
    lookups: N,
    lookupMs: t4 - t3,
    perSecond: N / ((t4 - t3) / 1000),
    distinctDsts: qs.length,
    sample: { dst: qs[0].dst, result: sample.result, table: sample.table },
    sink,
  }) + '\n',
);
