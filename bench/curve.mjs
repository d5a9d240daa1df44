#!/usr/bin/env node
// Growth of each command with the input: reads bench/out/results-<name>.json written by run.js at
// several --scale values and prints one markdown table (median wall, median CPU, peak RSS per
// scale, and RSS per MiB of route + Service input).
//   node bench/run.js --scale 0.1 --no-kernel && node bench/run.js --scale 0.3 --no-kernel && node bench/run.js
//   node bench/curve.mjs
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = join(dirname(fileURLToPath(import.meta.url)), 'out');
const runs = readdirSync(out)
  .filter((f) => /^results-.*\.json$/.test(f))
  .map((f) => JSON.parse(readFileSync(join(out, f), 'utf8')))
  .sort((a, b) => Number(a.scale) - Number(b.scale));
if (runs.length === 0) {
  console.error('no bench/out/results-*.json: run bench/run.js first');
  process.exit(1);
}
const snapName = (scale) => (String(scale) === '1' ? 'large' : `large-x${scale}`);
// input a trace or svc lookup can read: the route tables and the Service sources
const inputMiB = (scale) => {
  const dir = join(out, snapName(scale));
  let bytes = 0;
  for (const f of ['ip-route4.json', 'ip-route6.json', 'iptables-save.txt', 'conntrack4.txt']
    .map((x) => join(dir, x))
    .concat(
      existsSync(join(dir, 'bpf-map')) ? readdirSync(join(dir, 'bpf-map')).map((x) => join(dir, 'bpf-map', x)) : [],
    ))
    if (existsSync(f)) bytes += statSync(f).size;
  return bytes / 2 ** 20;
};
const labels = [...new Set(runs.flatMap((r) => r.rows.map((x) => x.label)))].filter((l) => !/^(jq|grep)/.test(l));
const s = (ms) => (ms === undefined ? '–' : (ms / 1000).toFixed(2));
const m = (kb) => (kb === undefined ? '–' : (kb / 1024).toFixed(0));
console.log(
  `| command | ${runs.map((r) => `scale ${r.scale} (${r.meta.counts.v4Routes + r.meta.counts.v6Routes} routes, ${inputMiB(r.scale).toFixed(0)} MiB): wall s / CPU s / RSS MiB`).join(' | ')} |`,
);
console.log(`|---|${runs.map(() => '---').join('|')}|`);
for (const l of labels) {
  const cells = runs.map((r) => {
    const row = r.rows.find((x) => x.label === l);
    return row ? `${s(row.medianMs)} / ${s(row.medianCpuMs)} / ${m(row.peakRssKb)}` : '–';
  });
  console.log(`| \`${l}\` | ${cells.join(' | ')} |`);
}
