import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';
import { loadServices } from '../../src/collect/load-services.js';
import { dirSource, type ProbeSource } from '../../src/collect/source.js';
import { iptablesOffload, SVC_OFFLOAD_MIN_BYTES } from '../../src/commands/svc-offload.js';
import { earlyWorkers, snapshotArg, startEarly } from '../../src/commands/svc-early.js';
import type { ServiceEntry, ServiceQuery } from '../../src/model/service.js';
import { inputs, RUNS, SEED, seeds } from '../fuzz/harness.js';

// svc lookup reads iptables-save in a worker thread (svc-offload.ts) on a snapshot directory. Its
// answer must be the one-thread answer: same entries, warnings, source reports, in the same order.
// The worker is the compiled one (`npm run build`): the main thread here runs the TypeScript sources.

const SCRIPT = fileURLToPath(new URL('../../dist/commands/svc-worker.js', import.meta.url));
const SNAPS = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const snapshots: string[] = [];
for (const c of readdirSync(SNAPS, { withFileTypes: true }))
  if (c.isDirectory())
    for (const n of readdirSync(`${SNAPS}${c.name}`, { withFileTypes: true }))
      if (n.isDirectory() && existsSync(`${SNAPS}${c.name}/${n.name}/iptables-save.txt`))
        snapshots.push(`${c.name}/${n.name}`);

const tmp = mkdtempSync(join(tmpdir(), 'np-svc-offload-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** a few questions: the first Services' addresses and names, and ones nothing answers */
const queriesFor = (entries: ServiceEntry[]): ServiceQuery[] => {
  const qs: ServiceQuery[] = [];
  for (const e of entries.slice(0, 2)) {
    qs.push({ kind: 'address', address: e.frontend.address, port: e.frontend.port, proto: e.frontend.proto });
    if (e.name) {
      const [ns, rest] = e.name.split('/');
      qs.push({ kind: 'name', namespace: ns!, name: rest!.split(':')[0]! });
    }
  }
  qs.push({ kind: 'address', address: '192.0.2.254' }, { kind: 'name', namespace: 'nope', name: 'nothing' });
  return qs;
};

/** the load with the worker (every file offloaded) and without; and which probes the worker answered */
async function both(src: ProbeSource, q: ServiceQuery) {
  const answered: string[] = [];
  const offload = iptablesOffload(src, { script: SCRIPT, minBytes: 0, onReply: (p, ok) => ok && answered.push(p) });
  expect(offload).toBeDefined();
  const viaWorker = await loadServices(src, [], kubeProxyReader, { only: q, iptablesOffload: offload! });
  const here = await loadServices(src, [], kubeProxyReader, { only: q });
  return { viaWorker, here, answered };
}

describe('svc lookup: iptables-save read in a worker = read in this thread', () => {
  it('the worker is built', () => {
    expect(existsSync(SCRIPT), `${SCRIPT}: run npm run build`).toBe(true);
  });
  it('workers started but never asked do not keep the process alive (a usage error after the start)', () => {
    // the CLI starts the worker before it parses the question, for dumps of SVC_OFFLOAD_MIN_BYTES and more
    const dir = join(tmp, 'big');
    mkdirSync(dir);
    const one = readFileSync(`${SNAPS}${snapshots[0]}/iptables-save.txt`);
    const n = Math.ceil(SVC_OFFLOAD_MIN_BYTES / one.length) + 1;
    writeFileSync(join(dir, 'iptables-save.txt'), Buffer.concat(Array.from({ length: n }, () => one)));
    const cli = fileURLToPath(new URL('../../bin/netpath.js', import.meta.url));
    const r = spawnSync(process.execPath, [cli, 'svc', 'lookup', 'not a query!', '-s', dir], { timeout: 60_000 });
    expect(r.error, 'timed out: a waiting worker held the process').toBeUndefined();
    expect(r.status).toBe(2);
  }, 90_000);
  it('svc lookup -s DIR on a large dump: the worker bin/netpath.js starts early answers as one started later', () => {
    // the dump of the test above (SVC_OFFLOAD_MIN_BYTES and more), asked for a Service it holds
    const dir = join(tmp, 'big');
    const cli = fileURLToPath(new URL('../../bin/netpath.js', import.meta.url));
    const loader = fileURLToPath(new URL('../../dist/cli-loader.js', import.meta.url));
    const m = /-A KUBE-SERVICES -d (\d+\.\d+\.\d+\.\d+)\/32 /.exec(
      readFileSync(join(dir, 'iptables-save.txt'), 'latin1'),
    );
    expect(m).not.toBeNull();
    const args = ['svc', 'lookup', m![1]!, '-s', dir, '-o', 'json'];
    // the test runner's environment is not a user's (the CLI reads some variables)
    const opts = { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH } } as const;
    const early = spawnSync(process.execPath, [cli, ...args], opts);
    // the same CLI without the early start (bin/netpath.js less its startEarly line)
    const bin = join(tmp, 'no-early.mjs');
    writeFileSync(bin, `import { loadCli } from ${JSON.stringify(loader)};\nloadCli().cli.run();\n`);
    const later = spawnSync(process.execPath, [bin, ...args], opts);
    expect(early.status).toBe(0);
    expect(JSON.parse(early.stdout).frontends.length).toBeGreaterThan(0);
    expect({ code: early.status, out: early.stdout, err: early.stderr }).toEqual({
      code: later.status,
      out: later.stdout,
      err: later.stderr,
    });
  }, 180_000);
  it("svc lookup's -s as bin/netpath.js reads it before the CLI does", () => {
    expect(snapshotArg(['svc', 'lookup', '10.96.0.1', '-s', '/d'])).toBe('/d');
    expect(snapshotArg(['svc', 'lookup', '-o', 'json', '--snapshot', '/d', 'x'])).toBe('/d');
    expect(snapshotArg(['svc', 'lookup', 'x', '--snapshot=/d'])).toBe('/d');
    expect(snapshotArg(['trace', '1.2.3.4', '-s', '/d'])).toBeUndefined();
    expect(snapshotArg(['svc', 'lookup', 'x', '--', '-s', '/d'])).toBeUndefined();
    expect(snapshotArg(['svc', 'lookup', 'x', '-s'])).toBeUndefined();
  });
  it('a worker started early is adopted by the source that takes its file, and ended by one that does not', async () => {
    const bundle = fileURLToPath(new URL('../../dist/bundle', import.meta.url));
    // snapshots with an IPv4 dump only: one early worker each
    const [a, b] = snapshots.map((x) => `${SNAPS}${x}`).filter((d) => !existsSync(join(d, 'ip6tables-save.txt')));
    if (a === undefined || b === undefined) throw new Error('two snapshots with iptables-save only');
    startEarly(['svc', 'lookup', 'x', '-s', a], bundle, 0);
    const started = earlyWorkers();
    expect([...started.keys()]).toEqual([join(a, 'iptables-save.txt')]);
    // another snapshot's source: the early worker is ended, a new one started
    const starts: [string, boolean][] = [];
    iptablesOffload(dirSource(b), { script: SCRIPT, minBytes: 0, onStart: (p, e) => starts.push([p, e]) });
    expect(starts).toEqual([['iptables-save', false]]);
    expect(earlyWorkers().size).toBe(0);
    await started.get(join(a, 'iptables-save.txt'))!.gone;
    // its own source adopts it; the answer is this thread's
    startEarly(['svc', 'lookup', 'x', '-s', a], bundle, 0);
    const src = dirSource(a);
    const full = await loadServices(src, [], kubeProxyReader);
    const q = queriesFor(full.entries)[0]!;
    const answered: string[] = [];
    starts.length = 0;
    const offload = iptablesOffload(src, {
      script: SCRIPT,
      minBytes: 0,
      onStart: (p, e) => starts.push([p, e]),
      onReply: (p, ok) => ok && answered.push(p),
    });
    expect(starts).toEqual([['iptables-save', true]]);
    const viaEarly = await loadServices(src, [], kubeProxyReader, { only: q, iptablesOffload: offload! });
    expect(answered).toEqual(['iptables-save']);
    expect(viaEarly).toStrictEqual(await loadServices(src, [], kubeProxyReader, { only: q }));
  });
  it('there are snapshots with iptables-save', () => {
    expect(snapshots.length).toBeGreaterThan(3);
  });
  for (const snap of snapshots) {
    it(snap, async () => {
      const src = dirSource(`${SNAPS}${snap}`);
      const full = await loadServices(src, [], kubeProxyReader);
      for (const q of queriesFor(full.entries)) {
        const { viaWorker, here, answered } = await both(src, q);
        expect(viaWorker, JSON.stringify(q)).toStrictEqual(here);
        // the worker gave the answer, not the fallback
        expect(answered).toContain('iptables-save');
      }
    });
  }

  it('on fuzzed iptables-save dumps (a worker that cannot answer leaves it to this thread)', async () => {
    const iptSeeds = [...seeds('kube-proxy/iptables-save'), ...seeds('kube-proxy/upstream', /iptables-restore\.txt$/)];
    expect(iptSeeds.length).toBeGreaterThan(0);
    let n = 0;
    let byWorker = 0;
    await fc.assert(
      fc.asyncProperty(inputs(iptSeeds), async (text) => {
        const dir = join(tmp, `f${n++}`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        writeFileSync(join(dir, 'iptables-save.txt'), text);
        const src = dirSource(dir);
        const full = await loadServices(src, [], kubeProxyReader);
        for (const q of queriesFor(full.entries).slice(0, 3)) {
          const { viaWorker, here, answered } = await both(src, q);
          expect(viaWorker, JSON.stringify(q)).toStrictEqual(here);
          if (answered.length) byWorker++;
        }
      }),
      { numRuns: Math.ceil(RUNS / 3), seed: SEED },
    );
    // most mutated dumps are still text the worker answers for itself
    expect(byWorker).toBeGreaterThan(0);
  }, 120_000);
});
