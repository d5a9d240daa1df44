// The route file's byte scan alone, in this thread (what the trace's route worker runs), four ways:
// `node bench/route-scan.mjs FILE 4|6 [runs]` prints CPU time per run for the general reader only,
// lean, lean + repeated tails, and those + runs of bulk elements (runOf, the default), with how many
// elements each shortcut read. Those repeats run warm code; `node bench/route-scan.mjs FILE 4|6 once [DIST]`
// is the worker's own case: one streamed scan of the file in a fresh process (V8 compiling as it goes), with
// DIST another build's dist/ (main's, to compare). Needs `npm run build`.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { scanIpRouteData } from '../dist/tools/ip/route-scan.js';

const [file, fam, runsArg, dist] = process.argv.slice(2);
if (!file || (fam !== '4' && fam !== '6')) {
  console.error('usage: node bench/route-scan.mjs FILE 4|6 [runs | once [DIST]]');
  process.exit(2);
}
if (runsArg === 'once') {
  const lib = dist ? pathToFileURL(resolve(dist, 'tools/ip/route-scan.js')).href : '../dist/tools/ip/route-scan.js';
  const { scanIpRouteStream } = await import(lib);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const fd = openSync(file, 'r');
  let pos = 0;
  const read = (buf, at, n) => {
    const k = readSync(fd, buf, at, n, pos);
    pos += k;
    return k;
  };
  const d = scanIpRouteStream(read, 'p', Number(fam), { size: fstatSync(fd).size });
  closeSync(fd);
  const c = process.cpuUsage(c0);
  const ms = (c.user + c.system) / 1000;
  console.log(
    `once ${ms.toFixed(0)} ms CPU ${(performance.now() - t0).toFixed(0)} ms wall ${process.memoryUsage().rss >> 20} MiB RSS  ${d ? `${d.starts.length} elements` : 'declined'}`,
  );
  process.exit(0);
}
const runs = Number(runsArg ?? 3);
const bytes = readFileSync(file);
const modes = [
  ['general', { lean: false }],
  ['lean', { tails: false }],
  ['lean+tails', { runs: false }],
  ['+runs', {}],
];
for (let i = 0; i < runs; i++)
  for (const [name, opts] of modes) {
    const stats = { lean: 0, tails: 0, runs: 0 };
    const c0 = process.cpuUsage();
    const d = scanIpRouteData(bytes, 'p', Number(fam), { ...opts, stats });
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1000;
    console.log(
      `${name.padEnd(11)} ${ms.toFixed(0).padStart(5)} ms CPU  ${((ms * 1e6) / bytes.length).toFixed(2)} ns/byte  ` +
        `${d ? `${d.starts.length} elements, ${d.slow} parsed, lean ${stats.lean}, tails ${stats.tails}, runs ${stats.runs}` : 'declined'}`,
    );
  }
