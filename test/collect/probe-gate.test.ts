import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { collectProbes } from '../../src/collect/live-source.js';
import { failuresIn } from '../../src/collect/load-state.js';
import type { RawOutput } from '../../src/exec/runner.js';
import { replayRunner } from '../helpers/replay.js';

// ipvsadm runs `modprobe -- ip_vs` on a kernel without IPVS (fixtures/tools/errors/ipvsadm-Sn.no-ipvs.2to1.txt):
// netpath must not run it there, and must say why it did not.
const node = (n: string) => fileURLToPath(new URL(`../../fixtures/snapshots/${n}`, import.meta.url));
const ran = (calls: string[][], tool: string) => calls.some((c) => c[0] === tool);

describe('a probe whose tool would change the node', () => {
  it('runs ipvsadm only after /proc/net/ip_vs is seen', async () => {
    const r = replayRunner(node('migrate-ipvs/before'));
    const { files, runs } = await collectProbes(r, { concurrency: 4 });
    const at = (a: string) => r.calls.findIndex((c) => c.join(' ') === a);
    expect(at('cat /proc/net/ip_vs')).toBeGreaterThanOrEqual(0);
    expect(at('ipvsadm -Sn')).toBeGreaterThan(at('cat /proc/net/ip_vs'));
    expect(files.has('ipvsadm.txt')).toBe(true);
    expect(runs.find((x) => x.id === 'ipvsadm')?.failed).toBeUndefined();
  });

  it('does not run ipvsadm on a kernel without IPVS, and records the layer as absent', async () => {
    const r = replayRunner(node('kind-v4/k1'));
    const { files, runs } = await collectProbes(r, { concurrency: 4 });
    expect(ran(r.calls, 'ipvsadm')).toBe(false);
    expect(files.has('ipvsadm.txt')).toBe(false);
    const run = runs.find((x) => x.id === 'ipvsadm');
    expect(run).toMatchObject({
      failed: 'ENOENT',
      message:
        'ipvsadm: not run: /proc/net/ip_vs does not exist, so IPVS is not in this kernel (ipvsadm would load the ip_vs module to look)',
    });
    const manifest = JSON.stringify({ probes: runs });
    expect(failuresIn(manifest).get('ipvsadm')).toMatchObject({ absent: true });
  });

  it('does not run ipvsadm when it cannot tell, and says so without calling the layer absent', async () => {
    const replay = replayRunner(node('migrate-ipvs/before'));
    const calls: string[][] = [];
    const runner = async (argv: readonly string[]): Promise<RawOutput> => {
      calls.push([...argv]);
      if (argv[0] === 'cat' && argv[1] === '/proc/net/ip_vs')
        return {
          argv,
          exitCode: -1,
          stdout: '',
          stderr: '',
          durationMs: 1,
          failed: 'ENOENT',
          message: 'cat: not installed',
        };
      return replay(argv);
    };
    const { runs } = await collectProbes(runner, { concurrency: 4 });
    expect(ran(calls, 'ipvsadm')).toBe(false);
    const run = runs.find((x) => x.id === 'ipvsadm');
    expect(run).toMatchObject({
      failed: 'error',
      message:
        'ipvsadm: not run: could not tell whether /proc/net/ip_vs exists (cat: not installed), and ipvsadm would load the ip_vs module to look',
    });
    expect(failuresIn(JSON.stringify({ probes: runs })).get('ipvsadm')).toMatchObject({ absent: false });
  });
});
