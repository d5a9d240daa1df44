import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';
import { canUseNetns } from '../helpers/netns.js';
import { runLab } from '../helpers/lab.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 240_000 });

// The socket-LB lab (scripts/lab/socket-lb.sh) built for real: a cgroup connect4 program named cil_sock4_connect
// with Cilium's LB maps pinned beside it, and real connect() calls from a process in the lab's own child cgroup.
// The kernel's answers (which address the connection reached, the errno, nftables counters) must be what
// netpath's trace of the captured node says. Names are npsl-*; the bpffs, netns files and the cgroup bind mount
// live in the lab's private mount namespace, and the cgroup (npsl-ID) is removed on exit.
const root = fileURLToPath(new URL('../..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'npsl-lab-'));
const ID = randomBytes(3).toString('hex');
const env = { ...process.env, NP_LAB_ID: ID, NP_LAB_SKIP_BUILD: '1' };
const cg2 = readFileSync('/proc/mounts', 'utf8')
  .split('\n')
  .find((l) => l.split(' ')[2] === 'cgroup2')
  ?.split(' ')[1];

const canRun = (() => {
  if (!canUseNetns() || process.env.NETPATH_SKIP_LAB === '1' || !cg2) return false;
  const tools = ['clang', 'gcc', 'bpftool', 'nsenter', 'unshare', 'nft', 'python3'];
  return tools.every((t) => spawnSync('which', [t]).status === 0) && existsSync('/usr/include/bpf/bpf_helpers.h');
})();

type Results = {
  connects: Record<string, { ok: boolean; peer?: string; reply?: string; errno?: string }>;
  packets: Record<string, number>;
};

describe.skipIf(!canRun)('socket-LB lab: connect() judged by the kernel, traced by netpath', () => {
  let judged: Results;
  const trace = (address: string, port: number) =>
    runTrace(dirSource(join(out, 'k1')), { src: '172.18.0.2', dst: address, proto: 'tcp', port }).then((r) => r.trace);

  beforeAll(async () => {
    const r = await runLab(['bash', join(root, 'scripts/lab/socket-lb.sh'), out], { timeoutMs: 180_000, env });
    if (r.status !== 0) throw new Error(`socket-lb.sh failed (${r.status ?? r.signal}):\n${r.tail}`);
    judged = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
  }, 240_000);
  afterAll(async () => {
    await runLab(['bash', join(root, 'scripts/lab/socket-lb.sh'), 'down'], { timeoutMs: 60_000, env });
    rmSync(out, { recursive: true, force: true });
  });

  it('loopback, a remote node and this node at the NodePort reach the backend; netpath says socket-lb to it', async () => {
    for (const [address, wildcard] of [
      ['127.0.0.1', true],
      ['172.18.0.3', true],
      ['172.18.0.2', false],
    ] as const) {
      // the backend saw the connection from the node: it was translated at connect(), nothing else did it
      expect(judged.connects[`${address}:31940`], address).toEqual({
        ok: true,
        peer: '10.244.2.7:8080',
        reply: 'seen 172.18.0.2',
      });
      const t = await trace(address, 31940);
      expect(t.hops[0], address).toMatchObject({ kind: 'socket-lb', backend: '10.244.2.7:8080' });
      expect(t.hops[0]!.kind === 'socket-lb' && t.hops[0]!.wildcard !== undefined, address).toBe(wildcard);
    }
  });

  it('no packet ever carried a frontend address', () => {
    for (const k of ['frontend-loopback', 'frontend-node', 'frontend-remote-node', 'frontend-no-backend'])
      expect(judged.packets[k], k).toBe(0);
    expect(judged.packets.backend).toBeGreaterThan(0);
  });

  it('a frontend without backends: connect() fails with the errno netpath names, and no packet left', async () => {
    const t = await trace('10.96.0.20', 80);
    expect(t.hops).toHaveLength(1);
    const hop = t.hops[0]!;
    expect(hop.kind).toBe('drop');
    expect(judged.connects['10.96.0.20:80']).toEqual({
      ok: false,
      errno: hop.kind === 'drop' ? hop.syscall?.errno : undefined,
    });
  });

  it('an address that is no node’s is left alone: its packet leaves untranslated, as netpath traces it', async () => {
    expect(judged.connects['198.51.100.1:31940']).toEqual({ ok: false, errno: 'ECONNREFUSED' });
    expect(judged.packets['not-a-node']).toBeGreaterThan(0);
    const t = await trace('198.51.100.1', 31940);
    expect(t.hops.map((h) => h.kind)).not.toContain('socket-lb');
    expect(t.disposition).toBe('forwarded');
  });

  it('captured the hook and the maps the trace read', () => {
    const cg = JSON.parse(readFileSync(join(out, 'k1', 'bpftool-cgroup.json'), 'utf8')) as {
      programs: { name: string; attach_type: string }[];
    }[];
    expect(cg.flatMap((c) => c.programs.map((p) => `${p.attach_type} ${p.name}`))).toContain(
      'cgroup_inet4_connect cil_sock4_connect',
    );
    expect(existsSync(join(out, 'k1', 'bpf-map', 'cilium_lb4_services_v2.json'))).toBe(true);
  });

  it('leaves nothing behind once the lab exits: no npsl namespace, cgroup or build directory', () => {
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain('npsl');
    expect(existsSync(`/tmp/npsl-bpf-${ID}`)).toBe(false);
    expect(existsSync(join(cg2!, `npsl-${ID}`))).toBe(false);
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toMatch(/npsl/);
  });
});
