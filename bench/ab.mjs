#!/usr/bin/env node
// A/B of one netpath command between two builds, interleaved with a same-run anchor, on a loaded machine:
// each round runs base, new and the anchor once (in that order, rotated), under /usr/bin/time; prints the
// medians of wall, CPU (user+sys) and peak RSS.
//   node bench/ab.mjs --base /work/main/bin/netpath.js --new bin/netpath.js [--runs 5] [--anchor 'jq empty F'] -- ARGS…
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const cut = argv.indexOf('--');
const opts = argv.slice(0, cut < 0 ? argv.length : cut);
const args = cut < 0 ? [] : argv.slice(cut + 1);
const opt = (n, d) => {
  const i = opts.indexOf(n);
  return i >= 0 ? opts[i + 1] : d;
};
const runs = Number(opt('--runs', '5'));
const anchor = opt('--anchor');
// each node run also reports its main thread's CPU (bench/main-thread-cpu.mjs)
const hook = new URL('./main-thread-cpu.mjs', import.meta.url).pathname;
const mtFile = join(tmpdir(), `np-ab-mt-${process.pid}`);
const subjects = [
  ['base', [process.execPath, '--import', hook, opt('--base', '/work/main/bin/netpath.js'), ...args]],
  ['new', [process.execPath, '--import', hook, opt('--new', 'bin/netpath.js'), ...args]],
];
if (anchor) subjects.push(['anchor', ['sh', '-c', anchor]]);

const res = Object.fromEntries(subjects.map(([n]) => [n, []]));
for (let r = 0; r < runs; r++)
  for (let k = 0; k < subjects.length; k++) {
    const [name, cmd] = subjects[(k + r) % subjects.length];
    rmSync(mtFile, { force: true });
    const t = spawnSync('/usr/bin/time', ['-f', '@@ %e %U %S %M', ...cmd], {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
      env: { ...process.env, NP_BENCH_MT_FILE: mtFile },
    });
    const m = /@@ (\S+) (\S+) (\S+) (\S+)/.exec(t.stderr);
    if (!m) throw new Error(`${name}: no timing (${t.stderr.slice(0, 200)})`);
    let mt = Number.NaN;
    try {
      mt = Number(readFileSync(mtFile, 'utf8').trim());
    } catch {}
    res[name].push({ wall: +m[1], cpu: +m[2] + +m[3], rss: +m[4] / 1024, mt });
  }
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
rmSync(mtFile, { force: true });
console.log(`netpath ${args.join(' ')}  (medians of ${runs})`);
for (const [name] of subjects) {
  const x = res[name];
  console.log(
    `  ${name.padEnd(6)} wall ${med(x.map((v) => v.wall)).toFixed(2)} s  cpu ${med(x.map((v) => v.cpu)).toFixed(2)} s  main thread ${med(x.map((v) => v.mt)).toFixed(2)} s  rss ${med(x.map((v) => v.rss)).toFixed(0)} MiB`,
  );
}
