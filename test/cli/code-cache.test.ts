import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { filesUnder } from '../helpers/files.js';
import { bundleWorkerSource } from '../../src/exec/bundle-worker.js';

// bin/netpath.js runs dist/bundle/main.cjs through dist/cli-loader.js with the V8 code cache the build wrote
// (scripts/build-bundle.mjs). The cache must be one V8 takes (else it only costs a read), and a cache V8
// rejects, or none, must give the same CLI. Each run is a child process: V8 checks the cache against the
// flags of the process, and the test runner's are not the CLI's.

const root = fileURLToPath(new URL('../..', import.meta.url));
const BUNDLE = join(root, 'dist/bundle');
const LOADER = join(root, 'dist/cli-loader.js');
const SVC = join(root, 'fixtures/snapshots/kind-v4-svc/k1');
const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
const LB = join(root, 'fixtures/snapshots/socket-lb/k1');
const tmp = mkdtempSync(join(tmpdir(), 'np-code-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** the CLI from the bundle in `dir`, as bin/netpath.js runs it, and what V8 did with the cache */
function runFrom(dir: string, args: string[]) {
  const said = join(tmp, 'cache-said');
  rmSync(said, { force: true });
  const script = [
    "import { writeFileSync } from 'node:fs';",
    `import { loadCli } from ${JSON.stringify(LOADER)};`,
    `const r = loadCli(${JSON.stringify(dir)});`,
    `writeFileSync(${JSON.stringify(said)}, r.cache);`,
    'r.cli.run();',
  ].join('\n');
  const p = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
    timeout: 120_000,
  });
  return { code: p.status, out: p.stdout, err: p.stderr, cache: existsSync(said) ? readFileSync(said, 'utf8') : '' };
}

/**
 * A copy of the bundle directory whose `cacheFile` (under bundle/) V8 will accept, reject (same length, garbage),
 * or not find; with the loader and the eval start's module beside it.
 */
function bundleCopy(name: string, cacheFile: string, cache: 'accepted' | 'rejected' | 'absent') {
  const d = join(tmp, name);
  cpSync(BUNDLE, join(d, 'bundle'), { recursive: true });
  cpSync(LOADER, join(d, 'cli-loader.js'));
  cpSync(join(root, 'dist/exec/bundle-worker.js'), join(d, 'exec/bundle-worker.js'));
  const c = join(d, 'bundle', cacheFile);
  if (cache === 'rejected') writeFileSync(c, Buffer.alloc(readFileSync(c).length, 0x5a));
  if (cache === 'absent') rmSync(c);
  return d;
}

/**
 * A worker bundle's answer on `job` (to `question`, when the worker waits for one): through runBundle in a harness
 * (and the cache's fate, which the harness posts after the bundle ran, so after its answer), or the eval start.
 */
function workerAnswer(dir: string, bundle: string, job: object, how: 'harness' | 'eval', question?: object) {
  const file = join(dir, 'bundle', bundle);
  let w: Worker;
  if (how === 'eval') w = new Worker(bundleWorkerSource(file), { eval: true, workerData: job });
  else {
    const harness = join(dir, `${bundle}-harness.mjs`);
    writeFileSync(
      harness,
      [
        "import { parentPort } from 'node:worker_threads';",
        "import { runBundle } from './cli-loader.js';",
        `parentPort.postMessage({ cache: runBundle(${JSON.stringify(file)}).cache });`,
      ].join('\n'),
    );
    w = new Worker(harness, { workerData: job });
  }
  if (question) w.postMessage(question);
  return new Promise<{ cache?: string; reply: unknown }>((resolve, reject) => {
    const got: { cache?: string; reply?: unknown } = {};
    w.on('message', (m: { cache?: string }) => {
      if (m.cache !== undefined) got.cache = m.cache;
      else got.reply = m;
      if ((how === 'eval' || got.cache !== undefined) && got.reply !== undefined) {
        resolve(got as { cache?: string; reply: unknown });
        void w.terminate();
      }
    });
    w.once('error', reject);
  });
}

const COMMANDS = [
  ['svc', 'lookup', '10.96.0.10:53/udp', '-s', SVC, '--no-color'],
  ['svc', 'lookup', '10.96.0.20:80/tcp', '-s', LB, '-o', 'json'],
  ['trace', '10.244.1.235', '10.244.2.99', '-s', K1, '-o', 'yaml'],
  ['node', '-s', join(root, 'fixtures/snapshots/migrate-ipvs/before'), '--no-color'],
  ['trace', '10.244.1.235', '-s', K1],
  // the build's warm-up runs these two (scripts/build-bundle.mjs): a pod-to-outside trace on a snapshot, and live
  // through a prefix that answers every probe with nothing (the live path: runner, execa, probe collection)
  ['trace', '10.244.1.235', '8.8.8.8', '-s', LB, '--no-color'],
  ['trace', '10.244.1.235', '8.8.8.8', '--exec', 'true', '--no-color'],
];

describe.skipIf(!existsSync(join(BUNDLE, 'main.cjs')))('the main thread bundle and its V8 code cache', () => {
  it('is built with a cache that V8 accepts', () => {
    expect(existsSync(join(BUNDLE, 'main.cjs.cache')), 'dist/bundle/main.cjs.cache: run npm run build').toBe(true);
    const r = runFrom(BUNDLE, ['--version']);
    expect(r.code).toBe(0);
    expect(r.cache).toBe('accepted');
  });

  it('answers the same with the cache, with a cache V8 rejects, and with none', () => {
    const bad = join(tmp, 'rejected');
    const none = join(tmp, 'absent');
    for (const d of [bad, none]) cpSync(BUNDLE, d, { recursive: true });
    // the right size, wrong bytes: V8's header check fails and it compiles from source
    const cache = readFileSync(join(BUNDLE, 'main.cjs.cache'));
    writeFileSync(join(bad, 'main.cjs.cache'), Buffer.alloc(cache.length, 0x5a));
    rmSync(join(none, 'main.cjs.cache'));
    for (const args of COMMANDS) {
      const a = runFrom(BUNDLE, args);
      const b = runFrom(bad, args);
      const c = runFrom(none, args);
      expect([a.cache, b.cache, c.cache], args.join(' ')).toEqual(['accepted', 'rejected', 'absent']);
      // paths in the output are the snapshot's, not the bundle's: the three runs print the same
      expect({ code: b.code, out: b.out, err: b.err }, args.join(' ')).toEqual({
        code: a.code,
        out: a.out,
        err: a.err,
      });
      expect({ code: c.code, out: c.out, err: c.err }, args.join(' ')).toEqual({
        code: a.code,
        out: a.out,
        err: a.err,
      });
    }
  }, 180_000);
});

// The route and conntrack scans run in worker threads started on dist/bundle/scan-worker.js, a stub the build
// writes: it runs scan-worker.cjs (one CommonJS script) through runBundle with the code cache the build's
// warm-up wrote for it. A worker must take that cache, and its answers must be the same with it, with a cache V8
// rejects and with none, on every bundled route and conntrack file.
describe.skipIf(!existsSync(join(BUNDLE, 'scan-worker.cjs')))('the scan worker bundle and its V8 code cache', () => {
  /** dist/bundle and dist/cli-loader.js copied under tmp, as the stub finds them (../cli-loader.js) */
  const copy = (name: string, cache: 'accepted' | 'rejected' | 'absent') =>
    bundleCopy(name, 'scan-worker.cjs.cache', cache);
  /** a worker thread that runs the bundle under `dir` as the stub does, on `job`: its answer and the cache's fate */
  const probe = (dir: string, job: object) => workerAnswer(dir, 'scan-worker.cjs', job, 'harness');
  // each distinct file once (many snapshots share their route files): every route capture of fixtures/tools/ip/route,
  // the first ten snapshot route tables and five conntrack tables (a worker each, three times: ~0.3 s apiece)
  const seen = new Set<string>();
  const distinct = (files: string[], n: number) =>
    files
      .filter((f) => {
        const k = readFileSync(f, 'latin1');
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      })
      .slice(0, n);
  const snaps = join(root, 'fixtures/snapshots');
  const jobs: object[] = [];
  for (const f of [
    ...distinct(filesUnder(join(root, 'fixtures/tools/ip/route'), /\.json$/), 100),
    ...distinct(filesUnder(snaps, /^ip-route[46]\.json$/), 10),
  ])
    jobs.push({ kind: 'routes', path: f, probe: 'ip-route', family: /(6\.json|\.6-)/.test(f) ? 6 : 4 });
  for (const f of distinct(filesUnder(snaps, /^conntrack[46]\.txt$/), 5))
    jobs.push({ kind: 'conntrack', path: f, probe: 'conntrack', query: { kind: 'plain', q: { proto: 'tcp' } } });

  it('is built with a cache that a worker thread accepts, and answers the same with a rejected cache or none', async () => {
    expect(existsSync(join(BUNDLE, 'scan-worker.cjs.cache')), 'run npm run build').toBe(true);
    const dirs = {
      accepted: copy('w-ok', 'accepted'),
      rejected: copy('w-bad', 'rejected'),
      absent: copy('w-none', 'absent'),
    };
    expect(jobs.length).toBeGreaterThan(20);
    let ok = 0;
    for (const job of jobs) {
      const a = await probe(dirs.accepted, job);
      const b = await probe(dirs.rejected, job);
      const c = await probe(dirs.absent, job);
      expect([a.cache, b.cache, c.cache], JSON.stringify(job)).toEqual(['accepted', 'rejected', 'absent']);
      expect(b.reply, JSON.stringify(job)).toEqual(a.reply);
      expect(c.reply, JSON.stringify(job)).toEqual(a.reply);
      if ((a.reply as { ok: boolean }).ok) ok++;
    }
    // most bundled files are scanned (a reply { ok: false } is a file the main thread reads itself)
    expect(ok).toBeGreaterThan(jobs.length / 2);
  }, 180_000);
});

// svc lookup's iptables worker (svc-offload.ts) runs svc-worker.cjs with its code cache too, started from source
// code (bundleWorkerSource: an eval worker, no ES module loader) that wraps the bundle as runBundle does. A
// worker must take the cache, and the answer to each question must be the same with it, with a cache V8
// rejects, with none, and through the eval start, on every bundled iptables-save dump.
describe.skipIf(!existsSync(join(BUNDLE, 'svc-worker.cjs')))('the svc worker bundle and its V8 code cache', () => {
  const copy = (name: string, cache: 'accepted' | 'rejected' | 'absent') =>
    bundleCopy(name, 'svc-worker.cjs.cache', cache);
  /** the worker's answer to `ask` on `job`; through runBundle in a harness (and the cache's fate), or the eval start */
  const ask = (dir: string, job: object, question: object, how: 'harness' | 'eval') =>
    workerAnswer(dir, 'svc-worker.cjs', job, how, question);
  const dumps = filesUnder(join(root, 'fixtures/snapshots'), /^ip6?tables-save\.txt$/);

  it('is built with a cache that a worker thread accepts, and answers the same with a rejected cache, none, or eval', async () => {
    expect(existsSync(join(BUNDLE, 'svc-worker.cjs.cache')), 'run npm run build').toBe(true);
    const dirs = {
      accepted: copy('s-ok', 'accepted'),
      rejected: copy('s-bad', 'rejected'),
      absent: copy('s-none', 'absent'),
    };
    expect(dumps.length).toBeGreaterThan(5);
    let ok = 0;
    for (const path of dumps) {
      const family = /ip6tables/.test(path) ? 6 : 4;
      const job = { path, probe: family === 6 ? 'ip6tables-save' : 'iptables-save', family };
      // the first ClusterIP the dump holds, by address and by its Service's name; and one nothing answers
      const text = readFileSync(path, 'utf8');
      const m = /-A KUBE-SERVICES -d (\S+?)(?:\/\d+)? .*?--comment "?([\w.-]+)\/([\w.-]+)/.exec(text);
      const questions: object[] = [
        { only: [{ kind: 'address', address: '192.0.2.254' }], narrow: { address: '192.0.2.254' } },
      ];
      if (m)
        questions.push(
          { only: [{ kind: 'address', address: m[1] }], narrow: { address: m[1] } },
          { only: [{ kind: 'name', namespace: m[2], name: m[3] }], narrow: { name: `${m[2]}/${m[3]}` } },
        );
      for (const q of questions) {
        const what = `${path} ${JSON.stringify(q)}`;
        const a = await ask(dirs.accepted, job, q, 'harness');
        const b = await ask(dirs.rejected, job, q, 'harness');
        const c = await ask(dirs.absent, job, q, 'harness');
        const e = await ask(dirs.accepted, job, q, 'eval');
        expect([a.cache, b.cache, c.cache], what).toEqual(['accepted', 'rejected', 'absent']);
        expect(b.reply, what).toEqual(a.reply);
        expect(c.reply, what).toEqual(a.reply);
        expect(e.reply, what).toEqual(a.reply);
        if ((a.reply as { ok: boolean }).ok) ok++;
      }
    }
    expect(ok).toBeGreaterThan(dumps.length);
  }, 180_000);
});

// diff's iptables worker (diff-iptables-offload.ts) runs diff-iptables-worker.cjs with its code cache, started as an
// eval worker like the svc worker. It reads its whole dump (lean or not) and posts its one answer: the same with the
// cache, with a cache V8 rejects, with none, and through the eval start, on every bundled iptables-save dump.
describe.skipIf(!existsSync(join(BUNDLE, 'diff-iptables-worker.cjs')))(
  "the diff's iptables worker bundle and its V8 code cache",
  () => {
    const copy = (name: string, cache: 'accepted' | 'rejected' | 'absent') =>
      bundleCopy(name, 'diff-iptables-worker.cjs.cache', cache);
    /** the worker's answer on `job`; through runBundle in a harness (and the cache's fate), or the eval start */
    const run = (dir: string, job: object, how: 'harness' | 'eval') =>
      workerAnswer(dir, 'diff-iptables-worker.cjs', job, how);
    const dumps = filesUnder(join(root, 'fixtures/snapshots'), /^ip6?tables-save\.txt$/);

    it('is built with a cache that a worker thread accepts, and answers the same with a rejected cache, none, or eval', async () => {
      expect(existsSync(join(BUNDLE, 'diff-iptables-worker.cjs.cache')), 'run npm run build').toBe(true);
      const dirs = {
        accepted: copy('d-ok', 'accepted'),
        rejected: copy('d-bad', 'rejected'),
        absent: copy('d-none', 'absent'),
      };
      expect(dumps.length).toBeGreaterThan(5);
      let ok = 0;
      for (const path of dumps)
        for (const lean of [true, false]) {
          const family = /ip6tables/.test(path) ? 6 : 4;
          const job = { path, probe: family === 6 ? 'ip6tables-save' : 'iptables-save', family, lean };
          const what = `${path} lean ${lean}`;
          const a = await run(dirs.accepted, job, 'harness');
          const b = await run(dirs.rejected, job, 'harness');
          const c = await run(dirs.absent, job, 'harness');
          const e = await run(dirs.accepted, job, 'eval');
          expect([a.cache, b.cache, c.cache], what).toEqual(['accepted', 'rejected', 'absent']);
          expect(b.reply, what).toEqual(a.reply);
          expect(c.reply, what).toEqual(a.reply);
          expect(e.reply, what).toEqual(a.reply);
          if ((a.reply as { ok: boolean }).ok) ok++;
        }
      expect(ok).toBe(dumps.length * 2);
    }, 180_000);
  },
);
