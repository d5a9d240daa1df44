#!/usr/bin/env node
// In-process route lookups/s after load, on the engine a trace uses: the route files scanned into
// columns (scanIpRouteJson), the FIB built over them with every table indexed (Fib.prepare), then
// timed lookups: the destinations the generator recorded (they hit the large tables; repeated, so
// the paths stay in cache) and 100,000 random addresses (a cold-cache figure).
//   node bench/lookups.mjs <snapshotDir> <meta.json> [lookups]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scanIpRouteJson } from '../dist/tools/ip/route-scan.js';
import { parseIpRule, parseIpLink, parseIpAddr } from '../dist/tools/ip/index.js';
import { buildFib } from '../dist/analysis/route-lookup/index.js';

const [dir, metaPath, countArg] = process.argv.slice(2);
const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
const N = Number(countArg ?? 1_000_000);
const read = (f) => readFileSync(join(dir, f), 'utf8');
const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

const t0 = cpu();
const columns = [];
for (const [f, fam] of [
  ['ip-route4.json', 4],
  ['ip-route6.json', 6],
]) {
  const s = scanIpRouteJson(readFileSync(join(dir, f)), f.replace('.json', ''), fam);
  if (!s) throw new Error(`${f}: not scanned`);
  columns.push(s.columns);
}
const rules = [
  ...parseIpRule(read('ip-rule4.json'), 'ip-rule4', 4).value,
  ...parseIpRule(read('ip-rule6.json'), 'ip-rule6', 6).value,
];
const links = parseIpLink(read('ip-link.json'), 'ip-link').value;
const addrs = parseIpAddr(read('ip-addr.json'), 'ip-addr').value;
const t1 = cpu();
const fib = buildFib({ columns, rules, links, addrs });
fib.prepare();
const t2 = cpu();

const time = (qs, n) => {
  let sink = 0;
  for (let i = 0; i < Math.min(n, 10_000); i++) sink += fib.lookup(qs[i % qs.length], { steps: false }).table ?? 0; // warm-up
  const a = performance.now();
  for (let i = 0; i < n; i++) sink += fib.lookup(qs[i % qs.length], { steps: false }).table ?? 0;
  return { ms: performance.now() - a, sink };
};
const probes = [
  ...meta.v4Probes.map((dst) => ({ family: 4, dst })),
  ...meta.v6Probes.map((dst) => ({ family: 6, dst })),
];
const hot = time(probes, N);
// random public-looking IPv4 and 2001:db8::/32 IPv6 destinations, seeded
let seed = 0x9e3779b9;
const rnd = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 0x100000000;
};
const random = [];
for (let i = 0; i < 100_000; i++) {
  if (i % 6 === 5)
    random.push({
      family: 6,
      dst: `2001:db8:${Math.floor(rnd() * 65536).toString(16)}:${Math.floor(rnd() * 65536).toString(16)}::1`,
    });
  else
    random.push({
      family: 4,
      dst: `${11 + Math.floor(rnd() * 200)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`,
    });
}
const cold = time(random, random.length);
const sample = fib.lookup(probes[0]);
process.stdout.write(
  JSON.stringify({
    routes: fib.routeCount,
    parseMs: t1 - t0,
    buildMs: t2 - t1,
    indexMB: fib.indexBytes / 2 ** 20,
    lookups: N,
    lookupMs: hot.ms,
    perSecond: N / (hot.ms / 1000),
    distinctDsts: probes.length,
    randomLookups: random.length,
    randomPerSecond: random.length / (cold.ms / 1000),
    sample: { dst: probes[0].dst, result: sample.result, table: sample.table },
    sink: hot.sink + cold.sink,
  }) + '\n',
);
