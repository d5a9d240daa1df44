import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addNetns, canUseNetns, delNetns, largeMainNode4, uniqueName } from '../helpers/netns.js';
import { LARGE_TABLE } from '../../src/collect/kernel-routes.js';
import { createLiveRunner } from '../../src/exec/live.js';
import { runCli } from '../helpers/cli.js';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

// netpath run inside a namespace probes it as its node, and answers some probes without a process (uname, the
// /proc/net counters, Cilium maps that are not pinned: exec/live.ts); through `--exec 'ip netns exec NS'` every
// probe is a process. Both must print the same trace. The node has a large main table (the kernel answers it) and
// a small table 100 of a few thousand routes (dumped, its table keys spliced in: collect/kernel-routes.ts).

const NS = uniqueName('npE-lp');
const BIN = new URL('../../bin/netpath.js', import.meta.url).pathname;

describe.skipIf(!canUseNetns())('a live trace answered partly in-process equals the one that runs every probe', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'npE-lp-'));
    delNetns(NS);
    addNetns(NS);
    const table100: string[] = [];
    for (let i = 0; i < 3_000; i++)
      table100.push(
        `route add table 100 172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 via 198.51.100.3 metric ${i}`,
      );
    largeMainNode4(NS, LARGE_TABLE + 5_000, table100);
  }, 300_000);

  afterAll(() => {
    delNetns(NS);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a snapshot taken inside writes the same uname, counters and sysctl files as one through --exec', async () => {
    const a = join(dir, 'inside');
    const b = join(dir, 'through');
    const inside = spawnSync('ip', ['netns', 'exec', NS, process.execPath, BIN, 'snapshot', '-o', a], {
      encoding: 'utf8',
    });
    expect(inside.status, inside.stderr).toBe(0);
    const through = await runCli(['snapshot', '--exec', `ip netns exec ${NS}`, '-o', b], {
      liveRunner: (prefix) => createLiveRunner({ prefix }),
    });
    expect(through.code, through.err).toBe(0);
    // a namespace has no net.core.bpf_jit_enable: sysctl -e leaves it out, and so must netpath
    expect(readFileSync(join(a, 'sysctl.txt'), 'utf8')).not.toContain('bpf_jit_enable');
    expect(readFileSync(join(a, 'sysctl.txt'), 'utf8')).toContain('net.ipv4.ip_local_port_range = ');
    for (const f of ['uname.txt', 'sysctl.txt', 'sysctl-conf4.txt'])
      expect(readFileSync(join(a, f), 'utf8'), f).toBe(readFileSync(join(b, f), 'utf8'));
  });

  for (const [src, dst, extra] of [
    ['198.51.100.1', '10.0.1.7', []],
    ['10.1.2.3', '172.16.1.7', ['--port', '443']],
    ['10.1.2.3', '10.0.2.9', []],
  ] as [string, string, string[]][]) {
    it(`${src} → ${dst}`, async () => {
      const audit = join(dir, `audit-${dst}.jsonl`);
      const inside = spawnSync(
        'ip',
        ['netns', 'exec', NS, process.execPath, BIN, 'trace', src, dst, '--json', ...extra],
        { encoding: 'utf8', env: { ...process.env, NETPATH_AUDIT_LOG: audit }, maxBuffer: 64 * 1024 * 1024 },
      );
      const through = await runCli(['trace', src, dst, '--exec', `ip netns exec ${NS}`, '--json', ...extra], {
        liveRunner: (prefix) => createLiveRunner({ prefix }),
      });
      expect(inside.status, inside.stderr).toBe(through.code);
      expect(inside.stdout).toContain('ip route get fibmatch');
      expect(JSON.parse(inside.stdout)).toEqual(JSON.parse(through.out));
      const ran = readFileSync(audit, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { argv: string[] }).argv.join(' '));
      expect(
        ran.filter(
          (c) =>
            /^(uname|cat) /.test(c) ||
            c.includes(' map dump pinned ') ||
            c.startsWith('sysctl -e net.ipv4.ip_forward '),
        ),
      ).toEqual([]);
      expect(ran.some((c) => c.startsWith('ip -4 -j -d route show table 100'))).toBe(true);
    });
  }
});
