import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dirSource } from '../../src/collect/source.js';
import { loadServices } from '../../src/collect/load-services.js';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';
import { iptablesOffload } from '../../src/commands/svc-offload.js';

// bin/netpath.js runs the esbuild bundle in dist/bundle (scripts/build-bundle.mjs), not tsc's dist/main.js.
// The bundle must answer as the modules do, and must find its own worker scripts: the offload code looks for
// them next to the chunk it was bundled into and silently reads in its own thread when they are not there.

const root = fileURLToPath(new URL('../..', import.meta.url));
const BUNDLE = join(root, 'dist/bundle');
const BIN = join(root, 'bin/netpath.js');
const SPY = join(root, 'test/helpers/worker-spy.mjs');
const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
const SVC = join(root, 'fixtures/snapshots/kind-v4-svc/k1');
const tmp = mkdtempSync(join(tmpdir(), 'np-bundle-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const node = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, args, { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 120_000 });

describe('the bundled CLI', () => {
  it('is built, with a worker script beside every chunk that starts one', () => {
    expect(existsSync(join(BUNDLE, 'main.js')), 'dist/bundle/main.js: run npm run build').toBe(true);
    let starters = 0;
    for (const f of readdirSync(BUNDLE).filter((n) => n.endsWith('.js'))) {
      for (const m of readFileSync(join(BUNDLE, f), 'utf8').matchAll(
        /new URL\("\.\/([\w-]+\.js)", import\.meta\.url\)/g,
      )) {
        starters++;
        expect(existsSync(join(BUNDLE, m[1]!)), `${f} starts ${m[1]}, which is not in dist/bundle`).toBe(true);
      }
    }
    // offload.ts, svc-offload.ts and diff-iptables-offload.ts
    expect(starters).toBe(3);
  });

  it('answers as the unbundled modules do', () => {
    const unbundled = join(tmp, 'unbundled.mjs');
    spawnSync('sh', ['-c', `printf '%s' "import { run } from '${join(root, 'dist/main.js')}'; run();" > ${unbundled}`]);
    for (const args of [
      ['--version'],
      ['trace', '10.244.1.235', '10.244.2.99', '-s', K1, '-o', 'json'],
      ['trace', '10.244.1.235', '10.244.2.99', '-s', K1, '--no-color', '--explain'],
      ['svc', 'lookup', '10.96.0.10:53/udp', '-s', SVC, '--no-color'],
      ['svc', 'lookup', 'nope/nothing', '-s', SVC, '-o', 'json'],
      ['check', '-s', K1, '--no-color'],
      ['trace', '10.244.1.235', '-s', K1],
      // a ConfigMap read with the bundled yaml.cjs (yaml-lazy.js); -o yaml with the yaml package
      ['node', '-s', join(root, 'fixtures/snapshots/migrate-ipvs/before'), '--no-color'],
      ['trace', '10.244.1.235', '10.244.2.99', '-s', K1, '-o', 'yaml'],
    ]) {
      const a = node([BIN, ...args]);
      const b = node([unbundled, ...args]);
      expect({ code: a.status, out: a.stdout, err: a.stderr }, args.join(' ')).toEqual({
        code: b.status,
        out: b.stdout,
        err: b.stderr,
      });
    }
  }, 120_000);

  it('reads every bundled iptables-save through the bundled svc worker with the same answer', async () => {
    const script = join(BUNDLE, 'svc-worker.js');
    const snaps = join(root, 'fixtures/snapshots');
    let n = 0;
    for (const c of readdirSync(snaps, { withFileTypes: true }).filter((d) => d.isDirectory()))
      for (const d of readdirSync(join(snaps, c.name)).map((x) => join(snaps, c.name, x))) {
        if (!existsSync(join(d, 'iptables-save.txt'))) continue;
        const src = dirSource(d);
        const all = await loadServices(src, [], kubeProxyReader);
        const e = all.entries[0];
        if (!e) continue;
        const only = {
          kind: 'address',
          address: e.frontend.address,
          port: e.frontend.port,
          proto: e.frontend.proto,
        } as const;
        const answered: string[] = [];
        const offload = iptablesOffload(src, { script, minBytes: 0, onReply: (p, ok) => ok && answered.push(p) });
        const viaWorker = await loadServices(src, [], kubeProxyReader, { only, iptablesOffload: offload! });
        const here = await loadServices(src, [], kubeProxyReader, { only });
        expect(answered, d).toContain('iptables-save');
        expect(viaWorker, d).toEqual(here);
        n++;
      }
    expect(n).toBeGreaterThan(3);
  }, 60_000);

  describe('on a node whose conntrack table is large enough for a worker', () => {
    const dir = join(tmp, 'node');
    let query: { podSrc: string; svc: string };
    beforeAll(() => {
      // bench/gen.mjs at scale 0.16: ~35 MiB of conntrack lines, above OFFLOAD_MIN_BYTES; few routes and pods
      const g = node([join(root, 'bench/gen.mjs'), dir, '--scale', '0.16', '--routes', '2000', '--pods', '20']);
      if (g.status !== 0) throw new Error(`bench/gen.mjs failed: ${g.stderr}`);
      query = JSON.parse(readFileSync(`${dir}.meta.json`, 'utf8')).query;
    }, 120_000);

    it('trace scans it in the bundled worker, which answers', () => {
      const log = join(tmp, 'workers.log');
      const [addr, port] = query.svc.split(/[:/]/);
      const r = node(['--import', SPY, BIN, 'trace', query.podSrc, addr!, '--port', port!, '-s', dir, '-o', 'json'], {
        NETPATH_TEST_WORKER_LOG: log,
      });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout).flow.dst).toBe(addr);
      const lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
      // started by bin/netpath.js from the arguments (trace-early.ts), as an eval worker of the bundle, and adopted:
      // the trace starts no worker of its own
      const worker = `eval ${join(BUNDLE, 'scan-worker.cjs')}`;
      expect(lines).toEqual([`start ${worker}`, `reply ${worker} true`]);
    }, 120_000);
  });
});
