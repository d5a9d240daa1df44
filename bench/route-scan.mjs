// The route file's byte scan alone, in this thread (what the trace's route worker runs), three ways:
// `node bench/route-scan.mjs FILE 4|6 [runs]` prints CPU time per run for the general reader only,
// lean, and lean + repeated tails (the default), with how many elements each shortcut read.
// Needs `npm run build`.
import { readFileSync } from 'node:fs';
import { scanIpRouteData } from '../dist/tools/ip/route-scan.js';

const [file, fam, runsArg] = process.argv.slice(2);
if (!file || (fam !== '4' && fam !== '6')) {
  console.error('usage: node bench/route-scan.mjs FILE 4|6 [runs]');
  process.exit(2);
}
const runs = Number(runsArg ?? 3);
const bytes = readFileSync(file);
const modes = [
  ['general', { lean: false }],
  ['lean', { tails: false }],
  ['lean+tails', {}],
];
for (let i = 0; i < runs; i++)
  for (const [name, opts] of modes) {
    const stats = { lean: 0, tails: 0 };
    const c0 = process.cpuUsage();
    const d = scanIpRouteData(bytes, 'p', Number(fam), { ...opts, stats });
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1000;
    console.log(
      `${name.padEnd(11)} ${ms.toFixed(0).padStart(5)} ms CPU  ${((ms * 1e6) / bytes.length).toFixed(2)} ns/byte  ` +
        `${d ? `${d.starts.length} elements, ${d.slow} parsed, lean ${stats.lean}, tails ${stats.tails}` : 'declined'}`,
    );
  }
