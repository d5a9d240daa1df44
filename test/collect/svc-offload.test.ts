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
