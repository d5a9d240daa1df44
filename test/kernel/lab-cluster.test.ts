import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';
import { createLiveRunner } from '../../src/exec/live.js';
import { runClusterTrace } from '../../src/commands/trace-cluster.js';
import { acquireBpfLock, canUseNetns, releaseBpfLock } from '../helpers/netns.js';
import { assertNoLeak } from '../helpers/redact.js';
import { runLab } from '../helpers/lab.js';
import { Redactor } from '../../src/redact/redactor.js';

// a loaded machine (npm run test:stress, a busy CI runner) runs these far slower than an idle one
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// The multi-host lab (scripts/lab/v6-wg.sh: nodes A and B on one L2, node C behind a gateway, a wireguard-go
// tunnel, pods as namespaces, tcx programs) built for real, every node captured live with
// `netpath snapshot --cluster --node-exec name=prefix`, then traced across nodes: the journey must be the one
// the bundled snapshots give, and no captured file may hold a WireGuard key.
const root = fileURLToPath(new URL('../..', import.meta.url));
const lab = join(root, 'scripts/lab/v6-wg.sh');
const out = mkdtempSync(join(tmpdir(), 'np-lab-cluster-'));

const canRun = (() => {
  if (!canUseNetns() || process.env.NETPATH_SKIP_LAB === '1') return false;
  return (
    ['clang', 'gcc', 'wireguard-go', 'wg', 'bpftool', 'nsenter', 'unshare'].every(
      (t) => spawnSync('which', [t]).status === 0,
    ) && existsSync('/usr/include/bpf/libbpf.h')
  );
})();

async function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    isTTY: false,
    env: {},
    liveRunner: (p) => createLiveRunner({ prefix: p }),
  });
  return { code, stdout, stderr };
}

// the lab's own directory: its private mount namespace's holder, the tunnel ends' pids and keys (v6-wg.sh)
const labDir = mkdtempSync(join(tmpdir(), 'np-lab-v6wg-'));
const holder = () => readFileSync(join(labDir, 'holder.pid'), 'utf8').trim();
const wgPid = (ns: string) => readFileSync(join(labDir, 'wg', `${ns}.pid`), 'utf8').trim();
const wgFile = (f: string) => readFileSync(join(labDir, 'wg', f), 'utf8').trim();
/** The four nodes as `--node-exec` prefixes: B and C through the lab's mount namespace, A and G through their tunnel's. */
const nodeExec = () => [
  `node-a=nsenter -t ${wgPid('np-lab-va')} -m -n`,
  `node-b=nsenter -t ${holder()} -m ip netns exec np-lab-vb`,
  `node-c=nsenter -t ${holder()} -m ip netns exec np-lab-vc`,
  `gateway=nsenter -t ${wgPid('np-lab-vgw')} -m -n`,
];
const labCmd = (cmd: 'up' | 'down') =>
  runLab(['bash', lab, cmd, labDir], {
    timeoutMs: 240_000,
    // the lab takes itself down if this worker dies before afterAll
    env: { ...process.env, NP_LAB_OWNER: String(process.pid) },
  });

describe.skipIf(!canRun)('multi-host lab captured live and traced across nodes', () => {
  beforeAll(async () => {
    // bpftool prog/link list every program of the machine: no other lab's may appear in these captures
    await acquireBpfLock();
    const r = await labCmd('up');
    if (r.status !== 0) throw new Error(`${lab} up failed (${r.status ?? r.signal}):\n${r.tail}`);
  }, 270_000);
  afterAll(async () => {
    await labCmd('down');
    releaseBpfLock();
    rmSync(out, { recursive: true, force: true });
    rmSync(labDir, { recursive: true, force: true });
  });

  it('captures every node through its prefix and follows the packet node-a → gateway → node-c', async () => {
    const cap = await cli(['snapshot', '--cluster', '-o', out, ...nodeExec().flatMap((n) => ['--node-exec', n])]);
    expect(cap.stderr).toBe('');
    expect(cap.stdout).toMatch(/4 of 4 nodes captured/);
    // the lab has no Cilium agent: its status/config are the documented-format files the bundle carries
    for (const n of ['node-a', 'node-b', 'node-c']) {
      for (const f of ['cilium-status.txt', 'cilium-config.txt'])
        execFileSync('cp', [join(root, 'fixtures/snapshots/v6-wg', n, f), join(out, n, f)]);
    }
    const live = await runClusterTrace(out, {
      src: '2001:db8:42::a:5',
      dst: '2001:db8:42::c:9',
      proto: 'tcp',
      port: 443,
    });
    const bundled = await runClusterTrace(join(root, 'fixtures/snapshots/v6-wg'), {
      src: '2001:db8:42::a:5',
      dst: '2001:db8:42::c:9',
      proto: 'tcp',
      port: 443,
    });
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
    const key = wgFile('a.key');
    expect(spawnSync('grep', ['-rF', key, out]).status).toBe(1);
  }, 120_000);

  it('captured with --redact: no address, MAC, WireGuard key or node name of the lab is left, and the journey is the same', async () => {
    const nodes = nodeExec();
    const plain = join(out, 'plain');
    const red = join(out, 'redacted');
    const keyFile = join(out, 'redact.key');
    writeFileSync(keyFile, randomBytes(32));
    const args = nodes.flatMap((n) => ['--node-exec', n]);
    expect((await cli(['snapshot', '--cluster', '-o', plain, ...args])).code).toBe(0);
    const cap = await cli(['snapshot', '--cluster', '--redact', '--redact-key-file', keyFile, '-o', red, ...args]);
    expect(cap.stderr).toBe('');
    expect(cap.code).toBe(0);
    const r = Redactor.fromKeyFile(keyFile);
    // as the capture does: a node named like a keyword (`gateway`) is replaced only where it is a name
    r.addNames(['node-a', 'node-b', 'node-c', 'gateway']);
    const text = (dir: string) => {
      const m = new Map<string, string>();
      const walk = (rel: string): void => {
        for (const n of readdirSync(join(dir, rel))) {
          const p = join(dir, rel, n);
          if (statSync(p).isDirectory()) walk(join(rel, n));
          else m.set(join(rel, n), readFileSync(p, 'utf8'));
        }
      };
      walk('');
      return m;
    };
    let searched = 0;
    for (const n of ['node-a', 'node-b', 'node-c', 'gateway']) {
      expect(existsSync(join(red, n))).toBe(false);
      // the two captures are a moment apart: counters and timings differ, addresses do not
      searched += assertNoLeak(r, text(join(plain, n)), text(join(red, r.nodeName(n))), [n]);
    }
    expect(searched).toBeGreaterThan(50);
    for (const f of ['a.key', 'g.key', 'psk', 'a.pub', 'g.pub']) {
      const k = wgFile(f);
      expect(spawnSync('grep', ['-rF', k, red]).status, f).toBe(1);
    }
    const [src, dst] = ['2001:db8:42::a:5', '2001:db8:42::c:9'];
    const a = await cli(['trace', '--cluster', red, r.ip(src)!, r.ip(dst)!, '--port', '443', '--json']);
    const b = await cli([
      'trace',
      '--cluster',
      plain,
      src,
      dst,
      '--port',
      '443',
      '--json',
      '--redact',
      '--redact-key-file',
      keyFile,
    ]);
    expect(JSON.parse(a.stdout).legs.map((l: { node: string }) => l.node)).toEqual(
      ['node-a', 'gateway', 'node-c'].map((n) => r.nodeName(n)),
    );
    // the two captures are moments apart (a neighbour may go REACHABLE → STALE): the path and its addresses, not its prose
    type H = {
      kind: string;
      dev?: string;
      nexthop?: string;
      gateway?: string;
      peer?: string;
      endpoint?: string;
      backend?: string;
    };
    const path = (x: string) =>
      (JSON.parse(x) as { legs: { trace: { hops: H[] } }[] }).legs.map((l) =>
        l.trace.hops.map((h) => [h.kind, h.dev, h.nexthop, h.gateway, h.peer, h.endpoint, h.backend]),
      );
    expect(path(a.stdout)).toEqual(path(b.stdout));
  }, 180_000);

  it('goes down completely: no holder, tunnel process, cgroup or run directory is left', async () => {
    const pids = [holder(), wgPid('np-lab-va'), wgPid('np-lab-vgw')].map(Number);
    const down = await labCmd('down');
    expect(down.status, down.tail).toBe(0);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`), `process ${pid}`).toBe(false);
    expect(existsSync(labDir)).toBe(false);
    // the run's cgroup, named as v6-wg.sh names it after its directory
    const cg2 = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[2] === 'cgroup2')?.[1];
    const cg = `${cg2}/np-lab-${createHash('md5').update(labDir).digest('hex').slice(0, 10)}`;
    expect(existsSync(cg), cg).toBe(false);
  });
});
