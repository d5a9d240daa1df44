import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLiveRunner } from '../../src/exec/live.js';
import type { Runner } from '../../src/exec/runner.js';
import { captureSnapshot } from '../../src/collect/capture.js';
import { collectProbes } from '../../src/collect/live-source.js';
import { dirSource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';
import { parseConntrack } from '../../src/tools/conntrack/index.js';
import { canUseNetns } from '../helpers/netns.js';
import { runLab } from '../helpers/lab.js';

// a loaded machine (npm run test:stress, a busy CI runner) runs these far slower than an idle one
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// The conntrack lab (scripts/lab/conntrack.sh) on every run: real kube-proxy-style DNAT, real connections.
// What the client was answered by is the ground truth the parsed entries and the traces must agree with.
const LAB = fileURLToPath(new URL('../../scripts/lab/conntrack.sh', import.meta.url));
// names of this run's own (np-ct-*-ID, /tmp/np-ct-ID): another run of the lab cannot collide with it
const ID = randomBytes(3).toString('hex');
const NODE = `np-ct-node-${ID}`;
const lab = async (cmd: string) => {
  const r = await runLab(['bash', LAB, cmd], { timeoutMs: 120_000, env: { ...process.env, NP_LAB_ID: ID } });
  if (r.status !== 0) throw new Error(`conntrack.sh ${cmd} failed (${r.status ?? r.signal}):\n${r.tail}`);
};
const out = mkdtempSync(join(tmpdir(), 'np-ct-test-'));
const hasConntrack = (() => {
  try {
    execFileSync('conntrack', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** `tcp 192.0.2.2:40001 -> 192.0.2.100:80 answered by 198.51.100.3 8080` → sport → backend */
function answers(): Map<number, string> {
  const m = new Map<number, string>();
  for (const l of readFileSync(`/tmp/np-ct-${ID}/client.log`, 'utf8').split('\n')) {
    const x = /^tcp 192\.0\.2\.2:(\d+) -> 192\.0\.2\.100:80 answered by (\S+) (\d+)$/.exec(l);
    if (x) m.set(Number(x[1]), `${x[2]}:${x[3]}`);
  }
  return m;
}

describe.skipIf(!canUseNetns() || !hasConntrack)(
  'conntrack lab: entries and traces agree with what the connections saw',
  () => {
    beforeAll(async () => {
      await lab('up');
      await lab('traffic');
    }, 240_000);
    afterAll(async () => {
      await lab('down');
      rmSync(out, { recursive: true, force: true });
    });

    it('every parsed DNAT entry names the backend that answered that connection', async () => {
      const live = createLiveRunner({ prefix: ['ip', 'netns', 'exec', NODE] });
      const r = await live(['conntrack', '-L', '-f', 'ipv4', '-o', 'extended']);
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toMatch(/^conntrack v\S+ \(conntrack-tools\): \d+ flow entries have been shown\.\n$/);
      const es = parseConntrack(r.stdout, 'conntrack4');
      expect(es.warnings).toEqual([]);
      const seen = answers();
      expect(seen.size).toBe(8);
      for (const [sport, backend] of seen) {
        const e = es.value.find((x) => x.proto === 'tcp' && x.orig.sport === sport && x.orig.dst === '192.0.2.100');
        expect(e, `entry for sport ${sport}`).toBeDefined();
        expect(`${e!.reply.src}:${e!.reply.sport}`).toBe(backend);
        expect(e!.dnat).toBe(true);
        expect(e!.snat).toBe(false);
      }
      // zones and the masqueraded ping
      expect(es.value.find((x) => x.orig.dport === 9090)?.zone).toBe(7);
      expect(es.value.find((x) => x.orig.dport === 9091)?.orig.zone).toBe(8);
      expect(es.value.find((x) => x.proto === 'icmp')).toMatchObject({
        dnat: false,
        snat: true,
        reply: { dst: '198.51.100.1' },
      });
    });

    it('a snapshot of the node traces each connection to the backend its entry holds, not the first candidate', async () => {
      const snap = join(out, 'snap');
      const m = await captureSnapshot(createLiveRunner({ prefix: ['ip', 'netns', 'exec', NODE] }), {
        outDir: snap,
        node: 'np-ct-node',
        concurrency: 2,
      });
      expect(m.probes.find((p) => p.id === 'conntrack4')).toMatchObject({ file: 'conntrack4.txt', exitCode: 0 });
      expect(m.probes.find((p) => p.id === 'conntrack6')).toMatchObject({ file: 'conntrack6.txt', exitCode: 0 });
      const src = dirSource(snap);
      for (const [sport, backend] of answers()) {
        const { trace } = await runTrace(src, { src: '192.0.2.2', dst: '192.0.2.100', proto: 'tcp', port: 80, sport });
        const ct = trace.hops.find((h) => h.kind === 'conntrack')!;
        expect(ct.backend).toBe(backend);
        expect(trace.hops.find((h) => h.kind === 'kube-proxy')!.backend).toBe(backend);
        expect(ct.evidence[0]!.text).toMatch(new RegExp(`sport=${sport} dport=80 `));
      }
    });

    it('conntrack output over the probe limit is kept up to its last whole line and marked truncated', async () => {
      const live = createLiveRunner({ prefix: ['ip', 'netns', 'exec', NODE] });
      // the real runner, with the conntrack probes' limit lowered to a few lines
      const small: Runner = (argv, opts) => live(argv, argv[0] === 'conntrack' ? { ...opts, maxBytes: 700 } : opts);
      const { files, runs } = await collectProbes(small, { concurrency: 2 });
      const run = runs.find((r) => r.id === 'conntrack4')!;
      expect(run.truncated).toBe(true);
      expect(run.failed).toBeUndefined();
      expect(run.message).toMatch(/cut at its last whole line/);
      const text = files.get('conntrack4.txt')!;
      expect(text.length).toBeLessThanOrEqual(700);
      expect(text.endsWith('\n')).toBe(true);
      const r = parseConntrack(text, 'conntrack4');
      expect(r.warnings).toEqual([]);
      expect(r.value.length).toBeGreaterThan(0);
    });
  },
);
