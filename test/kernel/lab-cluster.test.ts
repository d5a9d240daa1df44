import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';
import { createLiveRunner } from '../../src/exec/live.js';
import { runClusterTrace } from '../../src/commands/trace-cluster.js';
import { acquireBpfLock, canUseNetns, releaseBpfLock } from '../helpers/netns.js';

// The multi-host lab (scripts/lab/v6-wg.sh: nodes A and B on one L2, node C behind a gateway, a wireguard-go
// tunnel, pods as namespaces, tcx programs) built for real, every node captured live with
// `netpath snapshot --cluster --node-exec name=prefix`, then traced across nodes: the journey must be the one
// the bundled snapshots give, and no captured file may hold a WireGuard key.
const root = fileURLToPath(new URL('../..', import.meta.url));
const lab = join(root, 'scripts/lab/v6-wg.sh');
const out = mkdtempSync(join(tmpdir(), 'np-lab-cluster-'));

const canRun = (() => {
  if (!canUseNetns() || process.env.NETPATH_SKIP_LAB === '1') return false;
  return ['clang', 'gcc', 'wireguard-go', 'wg', 'bpftool', 'nsenter', 'unshare'].every((t) => spawnSync('which', [t]).status === 0) && existsSync('/usr/include/bpf/libbpf.h');
})();

async function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), isTTY: false, env: {}, liveRunner: (p) => createLiveRunner({ prefix: p }) });
  return { code, stdout, stderr };
}

describe.skipIf(!canRun)('multi-host lab captured live and traced across nodes', () => {
  beforeAll(async () => {
    await acquireBpfLock();
    execFileSync('bash', [lab, 'up'], { stdio: 'ignore', timeout: 120_000 });
  }, 150_000);
  afterAll(() => {
    spawnSync('bash', [lab, 'down'], { stdio: 'ignore' });
    releaseBpfLock();
    rmSync(out, { recursive: true, force: true });
  });

  it('captures every node through its prefix and follows the packet node-a → gateway → node-c', async () => {
    const wgPid = (ns: string) => readFileSync(`/tmp/np-lab-wg/${ns}.pid`, 'utf8').trim();
    const cap = await cli([
      'snapshot', '--cluster', '-o', out,
      '--node-exec', `node-a=nsenter -t ${wgPid('np-lab-va')} -m -n`,
      '--node-exec', 'node-b=ip netns exec np-lab-vb',
      '--node-exec', 'node-c=ip netns exec np-lab-vc',
      '--node-exec', `gateway=nsenter -t ${wgPid('np-lab-vgw')} -m -n`,
    ]);
    expect(cap.stderr).toBe('');
    expect(cap.stdout).toMatch(/4 of 4 nodes captured/);
    // the lab has no Cilium agent: its status/config are the documented-format files the bundle carries
    for (const n of ['node-a', 'node-b', 'node-c']) {
      for (const f of ['cilium-status.txt', 'cilium-config.txt']) execFileSync('cp', [join(root, 'fixtures/snapshots/v6-wg', n, f), join(out, n, f)]);
    }
    const live = await runClusterTrace(out, { src: '2001:db8:42::a:5', dst: '2001:db8:42::c:9', proto: 'tcp', port: 443 });
    const bundled = await runClusterTrace(join(root, 'fixtures/snapshots/v6-wg'), { src: '2001:db8:42::a:5', dst: '2001:db8:42::c:9', proto: 'tcp', port: 443 });
    expect(live.journey.legs.map((l) => l.node)).toEqual(['node-a', 'gateway', 'node-c']);
    expect(live.journey.disposition).toBe('delivered');
    const shape = (j: typeof live.journey) => j.legs.map((l) => l.trace.hops.map((h) => `${h.kind}:${h.dev ?? ''}`));
    expect(shape(live.journey)).toEqual(shape(bundled.journey));
    const wg = readFileSync(join(out, 'node-a', 'wg.txt'), 'utf8');
    for (const line of wg.trim().split('\n')) {
      const f = line.split('\t');
      if (f.length === 5) expect(f[1]).toBe('(redacted)');
      if (f.length === 9) expect(f[2]).toBe('(redacted)');
    }
    const key = readFileSync('/tmp/np-lab-wg/a.key', 'utf8').trim();
    expect(spawnSync('grep', ['-rF', key, out]).status).toBe(1);
  }, 120_000);
});
