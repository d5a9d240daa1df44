import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addNetns, canUseNetns, delNetns, uniqueName } from '../helpers/netns.js';
import { collectProbes } from '../../src/collect/live-source.js';
import { createLiveRunner } from '../../src/exec/live.js';
import type { Runner } from '../../src/exec/runner.js';
import { execFileSync } from 'node:child_process';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

// The per-device `tc filter show` probes run as one `tc -j -force -batch -` (collect/live-source.ts runTcBatch):
// every probe's file must be what the probe run alone writes. A namespace with 12 clsact devices (u32 keys on
// some: no BPF program is loaded, so no machine-wide state changes) and one device without clsact.

const NS = uniqueName('npE-tb');
const DEVS = Array.from({ length: 6 }, (_, i) => [`lxc${i}`, `lxc${i}p`]).flat();

describe.skipIf(!canUseNetns())('the tc filter probes in one batch', () => {
  beforeAll(() => {
    delNetns(NS);
    addNetns(NS);
    const ip = (...a: string[]) => execFileSync('ip', ['-n', NS, ...a]);
    const tc = (...a: string[]) => execFileSync('ip', ['netns', 'exec', NS, 'tc', ...a]);
    ip('link', 'set', 'lo', 'up');
    ip('link', 'add', 'plain0', 'type', 'veth', 'peer', 'name', 'plain0p');
    for (let i = 0; i < 6; i++) ip('link', 'add', `lxc${i}`, 'type', 'veth', 'peer', 'name', `lxc${i}p`);
    for (const d of DEVS) {
      ip('link', 'set', d, 'up');
      tc('qdisc', 'add', 'dev', d, 'clsact');
    }
    for (const [i, d] of DEVS.entries())
      if (i % 3 !== 2)
        tc(
          ...['filter', 'add', 'dev', d, i % 2 ? 'egress' : 'ingress', 'prio', String(1 + (i % 4))],
          ...['protocol', 'ip', 'u32', 'match', 'ip', 'dst', `192.0.2.${i + 1}/32`],
        );
  });

  afterAll(() => delNetns(NS));

  it('writes the same files and records as the probes run one by one, with one process', async () => {
    const calls: string[] = [];
    const live = createLiveRunner({ prefix: ['ip', 'netns', 'exec', NS] });
    const batched: Runner = (a, o) => {
      calls.push(a.join(' '));
      return live(a, o);
    };
    // the same runner, but a batch is refused (as the allow-list refuses stdin it cannot vouch for)
    const alone: Runner = (a, o) =>
      o?.input !== undefined && a[0] === 'tc'
        ? Promise.resolve({ argv: a, exitCode: -1, stdout: '', stderr: '', durationMs: 0, failed: 'not-allowed' })
        : live(a, o);
    const b = await collectProbes(batched);
    const a = await collectProbes(alone);
    const tcFiles = (m: Map<string, string>) => [...m].filter(([k]) => k.startsWith('tc-filter/')).sort();
    expect(tcFiles(b.files)).toEqual(tcFiles(a.files));
    expect(tcFiles(b.files).map(([k]) => k)).toEqual(
      DEVS.flatMap((d) => [`tc-filter/${d}.egress.json`, `tc-filter/${d}.ingress.json`]).sort(),
    );
    expect(tcFiles(b.files).filter(([, t]) => t.includes('"u32"'))).toHaveLength(8);
    const rec = (runs: typeof a.runs) =>
      runs
        .filter((r) => r.id.startsWith('tc-filter/'))
        .map(({ id, exitCode, stderr, file, failed }) => ({ id, exitCode, stderr, file, failed }));
    expect(rec(b.runs)).toEqual(rec(a.runs));
    // what ran is recorded: the batch, for each of its probes
    for (const r of b.runs.filter((x) => x.id.startsWith('tc-filter/')))
      expect(r.argv.join(' ')).toBe('tc -j -force -batch -');
    expect(calls.filter((c) => c.startsWith('tc ') && c.includes('filter'))).toEqual([]);
    expect(calls.filter((c) => c === 'tc -j -force -batch -')).toHaveLength(1);
  });
});
