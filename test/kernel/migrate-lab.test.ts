import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { canUseNetns } from '../helpers/netns.js';
import { runLab } from '../helpers/lab.js';
import { randomBytes } from 'node:crypto';
import { expected, lookupAll, migrateTable } from '../helpers/migrate.js';

// a loaded machine (npm run test:stress, a busy CI runner) runs these far slower than an idle one
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// The migration lab (scripts/lab/migrate.sh, kube-proxy iptables mode) built and captured once for real: what
// `svc lookup` finds in the fresh capture is what the bundled migrate-iptables TOPOLOGY.md says, and the
// flows NATed by kube-proxy's rules are in conntrack before and still there after the botched cleanup. The lab
// lives in a private mount namespace with its own names (np-mig-*), so it cannot collide with other labs.
const root = fileURLToPath(new URL('../..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'np-mig-lab-'));
// the run's own build directory and cgroup (np-mig-bpf-ID, np-mig-ID); the CLI tests run dist/ as built
const ID = randomBytes(3).toString('hex');
const env = { ...process.env, NP_LAB_ID: ID, NP_LAB_SKIP_BUILD: '1' };

const canRun = (() => {
  if (!canUseNetns() || process.env.NETPATH_SKIP_LAB === '1') return false;
  const tools = ['clang', 'gcc', 'bpftool', 'nsenter', 'unshare', 'iptables-restore', 'conntrack', 'tc'];
  return tools.every((t) => spawnSync('which', [t]).status === 0) && existsSync('/usr/include/bpf/libbpf.h');
})();

describe.skipIf(!canRun)('migration lab (iptables mode) built and captured live', () => {
  beforeAll(async () => {
    const r = await runLab(['bash', join(root, 'scripts/lab/migrate.sh'), 'iptables', out], {
      timeoutMs: 240_000,
      env,
    });
    if (r.status !== 0) throw new Error(`migrate.sh failed (${r.status ?? r.signal}):\n${r.tail}`);
  }, 300_000);
  afterAll(async () => {
    await runLab(['bash', join(root, 'scripts/lab/migrate.sh'), 'down'], { timeoutMs: 60_000, env });
    rmSync(out, { recursive: true, force: true });
  });

  const { snaps, rows } = migrateTable('migrate-iptables');

  it('each stage answers svc lookup as the bundled TOPOLOGY.md table says', async () => {
    for (const snap of snaps)
      expect(await lookupAll(() => dirSource(join(out, snap)), rows), snap).toEqual(expected(rows, snap));
  });

  it('kube-proxy NATed real flows before, and they are still in conntrack after the botched cleanup', () => {
    const natted = (snap: string) =>
      readFileSync(join(out, snap, 'conntrack4.txt'), 'utf8')
        .split('\n')
        .filter((l) => {
          const src = [...l.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]);
          const dst = [...l.matchAll(/\bdst=(\S+)/g)].map((m) => m[1]);
          return src.length === 2 && src[1] !== dst[0];
        })
        .map((l) => /src=\S+ dst=\S+ sport=\d+ dport=\d+/.exec(l)![0]);
    expect(natted('before')).toHaveLength(6);
    expect(natted('after-broken')).toEqual(expect.arrayContaining(natted('before')));
  });

  it('leaves nothing behind: no np-mig namespace, cgroup or build directory', () => {
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain('np-mig');
    expect(existsSync(`/tmp/np-mig-bpf-${ID}`)).toBe(false);
    const cg2 = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[2] === 'cgroup2')
      ?.split(' ')[1];
    if (cg2) expect(existsSync(join(cg2, `np-mig-${ID}`))).toBe(false);
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toMatch(/np-mig/);
  });
});
