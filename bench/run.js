#!/usr/bin/env node
// `npm run bench`: median wall time and peak RSS of netpath's main commands on a large generated
// snapshot, next to jq, grep and the kernel's own `ip route get` on the same data.
//   node bench/run.js [--runs N] [--scale F] [--no-kernel] [--no-shapes]
// --no-shapes: the growth runs (bench/curve.mjs) skip the four generated table shapes, whose 1M-route files
// would be 3M each at scale 3 (generation alone is minutes); the shapes are measured at scale 1.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHAPES } from './gen-shapes.mjs';
import { routeArgs, ruleArgs } from './ns-routes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
// medians of 5 unless told (issue 17's targets are medians of 5)
const RUNS = Number(opt('--runs', '5'));
const SCALE = opt('--scale', '1');
const NAME = SCALE === '1' ? 'large' : `large-x${SCALE}`;
const SNAP = join(here, 'out', NAME);
const META = join(here, 'out', `${NAME}.meta.json`);
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const tmp = mkdtempSync(join(tmpdir(), 'np-bench-'));

if (!existsSync(join(SNAP, 'manifest.json')) || !existsSync(META)) {
  console.log(`generating ${SNAP} (scale ${SCALE}) ...`);
  const g = spawnSync(process.execPath, [join(here, 'gen.mjs'), SNAP, '--scale', SCALE], { stdio: 'inherit' });
  if (g.status !== 0) process.exit(g.status ?? 1);
}
if (!existsSync(join(SNAP, 'conntrack4.txt'))) {
  // generated before the conntrack table was part of the snapshot
  const g = spawnSync(process.execPath, [join(here, 'gen-conntrack.mjs'), SNAP, META], { stdio: 'inherit' });
  if (g.status !== 0) process.exit(g.status ?? 1);
}
const meta = JSON.parse(readFileSync(META, 'utf8'));

/** One run of a command: wall time from here, peak RSS from /usr/bin/time -v or the node hook. */
function once(cmd, argv, envOver) {
  const rssFile = join(tmp, 'rss');
  rmSync(rssFile, { force: true });
  let file = cmd;
  let a = argv;
  const env = { ...process.env, ...envOver };
  for (const [k, v] of Object.entries(envOver ?? {})) if (v === undefined) delete env[k];
  if (TIME) {
    file = TIME;
    a = ['-v', '-o', rssFile, cmd, ...argv];
  } else if (cmd === process.execPath) {
    // no /usr/bin/time: the child reports its own resourceUsage().maxRSS at exit
    a = ['--import', join(here, 'rss-hook.mjs'), ...argv];
    env.NP_BENCH_RSS_FILE = rssFile;
  }
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, a, { env, maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  let rssKb;
  let cpuMs;
  if (existsSync(rssFile)) {
    const t = readFileSync(rssFile, 'utf8');
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(t) ?? /^(\d+)$/m.exec(t);
    if (m) rssKb = Number(m[1]);
    // CPU time (user + system): on a shared machine it varies far less than wall time
    const u = /User time \(seconds\): ([\d.]+)/.exec(t);
    const sy = /System time \(seconds\): ([\d.]+)/.exec(t);
    if (u && sy) cpuMs = (Number(u[1]) + Number(sy[1])) * 1000;
  }
  return { ms, cpuMs, rssKb, status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const rows = [];
function bench(label, cmd, argv, runs = RUNS, envOver) {
  const rs = [];
  for (let i = 0; i < runs; i++) rs.push(once(cmd, argv, envOver));
  const row = {
    label,
    command: [cmd === process.execPath ? 'node' : cmd, ...argv].join(' ').replaceAll(root + '/', ''),
    runs,
    medianMs: median(rs.map((r) => r.ms)),
    medianCpuMs: rs.every((r) => r.cpuMs !== undefined) ? median(rs.map((r) => r.cpuMs)) : undefined,
    peakRssKb: rs.every((r) => r.rssKb !== undefined) ? Math.max(...rs.map((r) => r.rssKb)) : undefined,
    exit: [...new Set(rs.map((r) => r.status))].join(','),
    firstLine: rs[0].stdout.split('\n').find((l) => l.trim() !== '') ?? rs[0].stderr.split('\n')[0],
  };
  rows.push(row);
  console.log(
    `  ${label}: ${(row.medianMs / 1000).toFixed(2)} s${row.medianCpuMs !== undefined ? ` (CPU ${(row.medianCpuMs / 1000).toFixed(2)} s)` : ''}, ${row.peakRssKb ? (row.peakRssKb / 1024).toFixed(0) + ' MiB' : 'rss n/a'} (exit ${row.exit})`,
  );
  return row;
}

const cli = join(root, 'bin/netpath.js');
const q = meta.query;
console.log(
  `snapshot ${SNAP}: ${meta.v4Routes} IPv4 + ${meta.v6Routes} IPv6 routes, ${meta.counts.services} Services x ${meta.counts.backendsPerService}, ${meta.pods} pods; ${RUNS} runs each`,
);

const tracePod = bench(`trace pod→remote pod`, process.execPath, [
  cli,
  'trace',
  q.podSrc,
  q.remotePod,
  '--snapshot',
  SNAP,
  '--no-color',
]);
const traceOut = bench(`trace pod→outside`, process.execPath, [
  cli,
  'trace',
  q.podSrc,
  q.outside,
  '--snapshot',
  SNAP,
  '--no-color',
]);
const svc = bench(`svc lookup`, process.execPath, [cli, 'svc', 'lookup', q.svc, '-s', SNAP, '--no-color']);
const svcName = bench(`svc lookup by name`, process.execPath, [
  cli,
  'svc',
  'lookup',
  q.svcName ?? `ns${(4242 % meta.counts.services) % 50}/svc${4242 % meta.counts.services}`,
  '-s',
  SNAP,
  '--no-color',
]);
// both sides are the large snapshot: two full loads, 20,000 frontends compared, 40 flows traced on each side (sampled)
const diff = bench(`diff large large`, process.execPath, [cli, 'diff', SNAP, SNAP, '--no-color']);
// the realistic pair: the same node after kube-proxy's removal (gen.mjs --after, same seed): kube-proxy's rules
// gone but a few leftovers, socket-LB connections without DNAT, ~0.1 % of the routes changed
const AFTER_SNAP = `${SNAP}-after`;
if (!existsSync(join(AFTER_SNAP, 'manifest.json'))) {
  console.log(`generating ${AFTER_SNAP} ...`);
  const g = spawnSync(process.execPath, [join(here, 'gen.mjs'), AFTER_SNAP, '--scale', SCALE, '--after'], {
    stdio: 'inherit',
  });
  if (g.status !== 0) process.exit(g.status ?? 1);
}
const diffAfter = bench(`diff large large-after`, process.execPath, [cli, 'diff', SNAP, AFTER_SNAP, '--no-color']);
// `netpath check` on a node of ordinary size with the large snapshot's Services: 110 pods (the kubelet's default
// maximum), 10,000 Services x 10 backends, 1,000 routes; every pod, Service frontend and reply traced (target:
// <= 10 s and <= 1 GiB, issue 19)
const CHECK_SNAP = join(here, 'out', 'check-110');
if (!existsSync(join(CHECK_SNAP, 'manifest.json'))) {
  console.log(`generating ${CHECK_SNAP} ...`);
  const g = spawnSync(process.execPath, [join(here, 'gen.mjs'), CHECK_SNAP, '--pods', '110', '--routes', '1000'], {
    stdio: 'inherit',
  });
  if (g.status !== 0) process.exit(g.status ?? 1);
}
// `-o json`: what a script runs, and how the target is measured (bench/RESULTS.md); the text form adds only rendering
const check = bench(`check 110 pods, 10,000 Services`, process.execPath, [
  cli,
  'check',
  '-s',
  CHECK_SNAP,
  '-o',
  'json',
  '-q',
]);

const jqRows = {};
const hasJq = spawnSync('jq', ['--version']).status === 0;
if (hasJq) {
  for (const f of [
    'ip-route4.json',
    'ip-route6.json',
    'bpf-map/cilium_lb4_services_v2.json',
    'bpf-map/cilium_lb4_backends_v3.json',
  ]) {
    jqRows[f] = bench(`jq empty ${f}`, 'jq', ['empty', join(SNAP, f)]);
  }
} else console.log('  jq: not installed, skipped');
// Node's own start-up, the floor under every node row. NODE_EXTRA_CA_CERTS makes Node read and parse that
// certificate file at every start, before netpath's code runs (~70 ms of CPU on this VM); a node seldom sets it.
bench('node -e 0 (start-up, this environment)', process.execPath, ['-e', '0']);
if (process.env.NODE_EXTRA_CA_CERTS)
  bench('node -e 0 without NODE_EXTRA_CA_CERTS', process.execPath, ['-e', '0'], RUNS, {
    NODE_EXTRA_CA_CERTS: undefined,
  });
bench('grep -c KUBE-SEP iptables-save.txt', 'grep', ['-c', 'KUBE-SEP', join(SNAP, 'iptables-save.txt')]);
// conntrack (1,000,000 entries): the filtered scan netpath does per trace, next to grep on the same file
const ct = join(SNAP, 'conntrack4.txt');
bench(`conntrack scan for ${meta.conntrack.tracedPod}`, process.execPath, [
  join(here, 'ct-scan.mjs'),
  ct,
  meta.conntrack.tracedPod,
]);
bench(`grep -c -w -F ${meta.conntrack.tracedPod} conntrack4.txt`, 'grep', [
  '-c',
  '-w',
  '-F',
  meta.conntrack.tracedPod,
  ct,
]);
bench('conntrack scan --nat dnat (every line)', process.execPath, [join(here, 'ct-scan.mjs'), ct, '--nat', 'dnat']);
bench('trace pod→Service, conntrack pins the backend', process.execPath, [
  cli,
  'trace',
  meta.conntrack.tracedPod,
  meta.conntrack.tracedSvc,
  '--port',
  '80',
  '--sport',
  '50000',
  '--snapshot',
  SNAP,
  '--no-color',
]);

// every real table shape at the same scale: the trace to a destination in the bulk, next to jq on
// the same route file (bench/gen-shapes.mjs; the other probe files are the base snapshot's)
const shapeRows = [];
for (const shape of ['mix', ...(args.includes('--no-shapes') ? [] : SHAPES)]) {
  const dir = shape === 'mix' ? SNAP : `${SNAP}-${shape}`;
  if (shape !== 'mix' && !existsSync(`${dir}.meta.json`)) {
    const g = spawnSync(process.execPath, [join(here, 'gen-shapes.mjs'), SNAP, shape, '--scale', SCALE], {
      stdio: 'inherit',
    });
    if (g.status !== 0) process.exit(g.status ?? 1);
  }
  const sm = shape === 'mix' ? undefined : JSON.parse(readFileSync(`${dir}.meta.json`, 'utf8'));
  const file = sm?.file ?? 'ip-route4.json';
  // IPv6: from the node's own uplink address (the template pod has IPv4 only)
  const src = file === 'ip-route6.json' ? 'fe80::989e:bcff:fe40:cebf' : q.podSrc;
  const dst = sm?.probe ?? q.outside;
  const t =
    shape === 'mix'
      ? traceOut
      : bench(`trace on ${shape} (${file})`, process.execPath, [
          cli,
          'trace',
          src,
          dst,
          '--snapshot',
          dir,
          '--no-color',
        ]);
  const jq = hasJq
    ? shape === 'mix'
      ? jqRows['ip-route4.json']
      : bench(`jq empty ${shape} ${file}`, 'jq', ['empty', join(dir, file)])
    : undefined;
  shapeRows.push({ shape, file, trace: t, jq });
}

const lk = once(process.execPath, [join(here, 'lookups.mjs'), SNAP, META, '1000000']);
let lookups;
try {
  lookups = JSON.parse(lk.stdout.trim());
  console.log(
    `  netpath FIB: ${lookups.routes} routes scanned in ${(lookups.parseMs / 1000).toFixed(2)} s CPU, indexed in ${(lookups.buildMs / 1000).toFixed(2)} s, ${(lookups.perSecond / 1e6).toFixed(2)} M lookups/s (${lookups.distinctDsts} destinations), ${(lookups.randomPerSecond / 1e3).toFixed(0)} k/s on ${lookups.randomLookups} random ones (each first hit builds its Route)`,
  );
} catch {
  console.log(`  netpath FIB lookups failed: ${lk.stderr.split('\n')[0]}`);
}

const kernel = args.includes('--no-kernel') ? { skipped: '--no-kernel' } : kernelRouteGet();

// ---------- report ----------
const GiB = 1024 * 1024;
const fmtS = (ms) => (ms / 1000).toFixed(2) + ' s';
const fmtM = (kb) => (kb === undefined ? 'n/a' : (kb / 1024).toFixed(0) + ' MiB');
const fmtC = (r) => (r.medianCpuMs === undefined ? 'n/a' : fmtS(r.medianCpuMs));
console.log('\n| command | runs | median wall | median CPU | peak RSS | exit |');
console.log('|---|---|---|---|---|---|');
for (const r of rows)
  console.log(`| \`${r.label}\` | ${r.runs} | ${fmtS(r.medianMs)} | ${fmtC(r)} | ${fmtM(r.peakRssKb)} | ${r.exit} |`);
if (lookups) {
  console.log(
    `| netpath FIB lookups, ${lookups.distinctDsts} destinations (in-process, after load) | 1 | ${(lookups.perSecond / 1e6).toFixed(2)} M/s | | ${fmtM(lk.rssKb)} | ${lk.status} |`,
  );
  console.log(
    `| netpath FIB lookups, ${lookups.randomLookups} random destinations | 1 | ${(lookups.randomPerSecond / 1e3).toFixed(0)} k/s | | | |`,
  );
}
if (kernel.perSecond)
  console.log(
    `| kernel \`ip -batch\` route get (${kernel.gets} lookups) | 1 | ${(kernel.perSecond / 1e3).toFixed(1)} k/s (load ${fmtS(kernel.loadMs)}) | | ${fmtM(kernel.rssKb)} | 0 |`,
  );
else console.log(`| kernel \`ip route get\` | – | skipped: ${kernel.skipped} | | | |`);
if (kernel.live) {
  console.log(
    `| \`ip -n NS -4 -j -d route show table all\` (the slowest probe) | 3 | ${fmtS(kernel.live.probe4Ms)} | | | 0 |`,
  );
  console.log(
    `| live \`netpath trace\` inside NS (probes the namespace as its node; the kernel answers the route lookups) | 3 | ${fmtS(kernel.live.ms)} | | ${fmtM(kernel.live.rssKb)} | ${kernel.live.exit} |`,
  );
  console.log(
    `| the same with \`--no-kernel-routes\` (reads every table) | 3 | ${fmtS(kernel.live.dumpMs)} | | ${fmtM(kernel.live.dumpRssKb)} | |`,
  );
}

const jq4 = jqRows['ip-route4.json'];
const worst = Math.max(tracePod.medianMs, traceOut.medianMs);
const worstCpu = Math.max(tracePod.medianCpuMs ?? 0, traceOut.medianCpuMs ?? 0);
const worstRss = Math.max(tracePod.peakRssKb ?? 0, traceOut.peakRssKb ?? 0);
const targets = [
  [
    'check (110 pods, 10,000 Services) ≤ 10 s',
    check.medianMs <= 10_000,
    `${fmtS(check.medianMs)}${check.medianCpuMs !== undefined ? ` (CPU ${fmtS(check.medianCpuMs)})` : ''}`,
  ],
  ['check ≤ 1 GiB', check.peakRssKb !== undefined ? check.peakRssKb <= GiB : undefined, fmtM(check.peakRssKb)],
  ['trace ≤ 2 s', worst <= 2000, `${fmtS(worst)} (${(worst / 2000).toFixed(1)}×)`],
  ['trace ≤ 1 GiB', worstRss > 0 ? worstRss <= GiB : undefined, `${fmtM(worstRss)} (${(worstRss / GiB).toFixed(1)}×)`],
  [
    'svc lookup ≤ 1 s',
    svc.medianMs <= 1000,
    `${fmtS(svc.medianMs)} (${(svc.medianMs / 1000).toFixed(1)}×); by name ${fmtS(svcName.medianMs)}`,
  ],
  [
    'diff of two large snapshots ≤ 5 s',
    diff.medianMs <= 5000,
    `${fmtS(diff.medianMs)} (${(diff.medianMs / 5000).toFixed(1)}×)`,
  ],
  [
    'diff of a large node before/after kube-proxy removal ≤ 5 s',
    diffAfter.medianMs <= 5000,
    `${fmtS(diffAfter.medianMs)} (${(diffAfter.medianMs / 5000).toFixed(1)}×)`,
  ],
  [
    'diff of a large node before/after ≤ 1 GiB',
    diffAfter.peakRssKb !== undefined ? diffAfter.peakRssKb <= GiB : undefined,
    fmtM(diffAfter.peakRssKb),
  ],
  [
    'route lookups ≥ 1M/s after load',
    lookups ? lookups.perSecond >= 1e6 : undefined,
    lookups ? `${(lookups.perSecond / 1e6).toFixed(2)} M/s` : 'n/a',
  ],
  [
    'route lookup not slower than `ip route get`',
    lookups && kernel.perSecond ? lookups.randomPerSecond >= kernel.perSecond : undefined,
    lookups && kernel.perSecond
      ? `random destinations ${(lookups.randomPerSecond / 1e3).toFixed(0)} k/s vs kernel ${(kernel.perSecond / 1e3).toFixed(1)} k/s`
      : 'n/a',
  ],
  [
    'live trace ≤ 0.5 s on the kernel part tables (issue 17)',
    kernel.live ? kernel.live.ms <= 500 : undefined,
    kernel.live
      ? `${fmtS(kernel.live.ms)} (reading every table: ${fmtS(kernel.live.dumpMs)})`
      : 'n/a (needs the kernel part)',
  ],
  [
    'live trace ≤ 1.3 × its slowest probe',
    kernel.live ? kernel.live.ms <= 1.3 * Math.max(kernel.live.probe4Ms, kernel.live.probe6Ms) : undefined,
    kernel.live
      ? `${fmtS(kernel.live.ms)} vs ${fmtS(Math.max(kernel.live.probe4Ms, kernel.live.probe6Ms))} (${(kernel.live.ms / Math.max(kernel.live.probe4Ms, kernel.live.probe6Ms)).toFixed(2)} ×)`
      : 'n/a (needs the kernel part)',
  ],
  [
    'trace ≤ 0.3 × jq parse of ip-route4.json',
    jq4 ? worst <= 0.3 * jq4.medianMs : undefined,
    jq4
      ? `${fmtS(worst)} vs 0.3 × ${fmtS(jq4.medianMs)} = ${fmtS(0.3 * jq4.medianMs)} (${(worst / jq4.medianMs).toFixed(2)} × jq)`
      : 'jq missing',
  ],
  [
    'same, in CPU time',
    jq4?.medianCpuMs ? worstCpu <= 0.3 * jq4.medianCpuMs : undefined,
    jq4?.medianCpuMs
      ? `${fmtS(worstCpu)} vs 0.3 × ${fmtS(jq4.medianCpuMs)} = ${fmtS(0.3 * jq4.medianCpuMs)} (${(worstCpu / jq4.medianCpuMs).toFixed(2)} × jq)`
      : 'n/a',
  ],
];
for (const r of shapeRows) {
  const ms = r.trace.medianMs;
  const rss = r.trace.peakRssKb ?? 0;
  targets.push([
    `trace on ${r.shape} ≤ 1.0 s, ≤ 400 MiB, ≤ 0.15 × jq`,
    r.jq ? ms <= 1000 && rss > 0 && rss <= 400 * 1024 && ms <= 0.15 * r.jq.medianMs : undefined,
    `${fmtS(ms)}, ${fmtM(rss)}${r.jq ? ` (${(ms / r.jq.medianMs).toFixed(2)} × jq ${fmtS(r.jq.medianMs)}; CPU ${fmtC(r.trace)} vs ${fmtC(r.jq)})` : ''}`,
  ]);
}
console.log('\n| target | met | measured |');
console.log('|---|---|---|');
for (const [t, ok, m] of targets) console.log(`| ${t} | ${ok === undefined ? 'n/a' : ok ? 'yes' : '**no**'} | ${m} |`);
const machine = `${cpus()[0]?.model ?? 'cpu?'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}; load average at the end ${loadavg()
  .map((x) => x.toFixed(1))
  .join(' ')}`;
console.log(`\nmachine: ${machine}`);
writeFileSync(
  join(here, 'out', `results-${NAME}.json`),
  JSON.stringify(
    {
      machine,
      date: new Date().toISOString(),
      scale: SCALE,
      meta: { counts: meta.counts, query: q },
      rows,
      lookups,
      kernel,
      targets,
      shapes: shapeRows.map((r) => ({ shape: r.shape, file: r.file, trace: r.trace.label, jq: r.jq?.label })),
    },
    null,
    2,
  ) + '\n',
);
rmSync(tmp, { recursive: true, force: true });

// ---------- the kernel on the same routes ----------
function kernelRouteGet() {
  if (process.getuid?.() !== 0) return { skipped: 'needs root (network namespace)' };
  if (spawnSync('ip', ['-V']).status !== 0) return { skipped: 'ip not installed' };
  const ns = `np-bench-${process.pid}`;
  const ip = (...a) => spawnSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30 });
  const cleanup = () => ip('netns', 'del', ns);
  const onSig = () => {
    cleanup();
    process.exit(130);
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  try {
    if (ip('netns', 'add', ns).status !== 0) return { skipped: 'ip netns add failed' };
    const batch = join(tmp, 'load.batch');
    const out = createBatch(batch);
    const setup = [
      // veth, not dummy: the dummy module is often not loadable in containers
      'link add eth0 type veth peer name eth0-peer',
      'link set eth0-peer up',
      'link set eth0 up',
      'addr add 172.18.0.2/16 dev eth0',
      'link add cilium_host type veth peer name cilium_net',
      'link set cilium_net up',
      'link set cilium_host up',
      'addr add 10.244.1.1/32 dev cilium_host',
      'link set lo up',
    ];
    for (const l of setup) out.push(l);
    for (const r of JSON.parse(readFileSync(join(SNAP, 'ip-rule4.json'), 'utf8')))
      if (r.priority !== 0 && r.priority < 32766) out.push(`rule add ${ruleArgs(r)}`);
    out.close();
    // `ip -batch` takes no -6 per line: the IPv6 rules go in a batch of their own
    const batch6 = join(tmp, 'rules6.batch');
    const out6 = createBatch(batch6);
    for (const r of JSON.parse(readFileSync(join(SNAP, 'ip-rule6.json'), 'utf8')))
      if (r.priority !== 0 && r.priority < 32766) out6.push(`rule add ${ruleArgs(r)}`);
    out6.close();
    for (const [file, fam] of [
      [batch, []],
      [batch6, ['-6']],
    ]) {
      const ok = runBatch(ns, file, fam);
      if (!ok.ok) return { skipped: `setup failed: ${ok.err}` };
    }
    const routes = join(tmp, 'routes.batch');
    const rb = createBatch(routes);
    let n = 0;
    for (const f of ['ip-route4.json', 'ip-route6.json']) {
      for (const r of JSON.parse(readFileSync(join(SNAP, f), 'utf8'))) {
        const l = routeArgs(r);
        if (l) {
          rb.push(l);
          n++;
        }
      }
    }
    rb.close();
    const t0 = process.hrtime.bigint();
    const loaded = spawnSync('ip', ['-n', ns, '-force', '-batch', routes], {
      stdio: ['ignore', 'ignore', 'pipe'],
      maxBuffer: 1 << 28,
    });
    const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const loadErrors = loaded.stderr
      .toString()
      .split('\n')
      .filter((l) => l.startsWith('RTNETLINK') || l.startsWith('Error')).length;
    const count4 = ip('-n', ns, '-4', 'route', 'show', 'table', 'all')
      .stdout.toString()
      .split('\n')
      .filter(Boolean).length;
    const count6 = ip('-n', ns, '-6', 'route', 'show', 'table', 'all')
      .stdout.toString()
      .split('\n')
      .filter(Boolean).length;
    const gets = 100_000;
    const dsts = [...meta.v4Probes, ...meta.v6Probes];
    const gb = join(tmp, 'get.batch');
    const g = createBatch(gb);
    for (let i = 0; i < gets; i++) g.push(`route get ${dsts[i % dsts.length]}`);
    g.close();
    const r = once('ip', ['-n', ns, '-batch', gb]);
    const perSecond = gets / (r.ms / 1000);
    console.log(
      `  kernel: ${n} route adds in ${fmtSecs(loadMs)} (${loadErrors} refused; table now ${count4} v4 + ${count6} v6 entries), ${gets} route gets in ${fmtSecs(r.ms)} = ${(perSecond / 1e3).toFixed(1)} k/s`,
    );
    // live trace on a node holding these tables: netpath run inside the namespace probes it as its
    // node; compared with the slowest single probe (the IPv4 route dump)
    const probe4 = median(
      [0, 1, 2].map(() => once('ip', ['-n', ns, '-4', '-j', '-d', 'route', 'show', 'table', 'all']).ms),
    );
    const probe6 = median(
      [0, 1, 2].map(() => once('ip', ['-n', ns, '-6', '-j', '-d', 'route', 'show', 'table', 'all']).ms),
    );
    const liveRuns = [0, 1, 2].map(() =>
      once('ip', ['netns', 'exec', ns, process.execPath, cli, 'trace', '10.244.1.12', q.outside, '--no-color']),
    );
    const live = median(liveRuns.map((x) => x.ms));
    const liveRss = Math.max(...liveRuns.map((x) => x.rssKb ?? 0));
    // the same trace reading every table (what a live trace did before the kernel answered its lookups)
    const dumpRuns = [0, 1, 2].map(() =>
      once('ip', [
        'netns',
        'exec',
        ns,
        process.execPath,
        cli,
        'trace',
        '10.244.1.12',
        q.outside,
        '--no-color',
        '--no-kernel-routes',
      ]),
    );
    const liveDump = median(dumpRuns.map((x) => x.ms));
    console.log(
      `  live trace in ${ns}: ${fmtSecs(live)} (exit ${liveRuns[0].status}), slowest probe ip -4 -j -d route show table all ${fmtSecs(probe4)} (IPv6 ${fmtSecs(probe6)}): ${(live / Math.max(probe4, probe6)).toFixed(2)} ×`,
    );
    return {
      loadMs,
      routesAdded: n,
      loadErrors,
      count4,
      count6,
      gets,
      ms: r.ms,
      perSecond,
      rssKb: r.rssKb,
      live: {
        ms: live,
        dumpMs: liveDump,
        dumpRssKb: Math.max(...dumpRuns.map((x) => x.rssKb ?? 0)),
        rssKb: liveRss,
        exit: liveRuns[0].status,
        probe4Ms: probe4,
        probe6Ms: probe6,
        firstLine: liveRuns[0].stdout.split('\n')[0],
      },
    };
  } finally {
    cleanup();
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    if (ip('netns', 'list').stdout.toString().includes(ns)) console.log(`  warning: namespace ${ns} still present`);
  }
}
function fmtSecs(ms) {
  return (ms / 1000).toFixed(1) + ' s';
}
function createBatch(path) {
  const lines = [];
  return {
    push: (l) => lines.push(l),
    close: () => writeFileSync(path, lines.join('\n') + '\n'),
  };
}
function runBatch(ns, file, fam = []) {
  const r = spawnSync('ip', [...fam, '-n', ns, '-batch', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { ok: r.status === 0, err: r.stderr.toString().split('\n')[0] };
}
