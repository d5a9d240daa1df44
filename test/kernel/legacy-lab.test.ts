import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';
import { createLiveRunner } from '../../src/exec/live.js';
import { acquireBpfLock, canUseNetns, releaseBpfLock, uniqueName } from '../helpers/netns.js';
import type { Trace } from '../../src/model/trace.js';

// a loaded machine runs these far slower than an idle one
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// scripts/lab/legacy.sh builds a node with legacy host routing and per-endpoint routes, two pods and an uplink of
// MTU 1400; the kernel judges (an nftables FORWARD counter, ping with DF) and netpath's trace of the node,
// captured with its own snapshot, must agree. The Cilium status and config are the lab's templates
// (scripts/lab/cilium/legacy.*): Cilium does not run here.
const P = uniqueName('nplr');
const NODE = `${P}-n`;
const TABLE = P.replace(/-/g, '_');
const LAB = fileURLToPath(new URL('../../scripts/lab/legacy.sh', import.meta.url));
const TMPL = fileURLToPath(new URL('../../scripts/lab/cilium/', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'np-legacy-lab-'));
const dir = join(out, 'node');
const POD_A = '10.244.1.12';
const POD_B = '10.244.1.57';

const lab = (verb: 'up' | 'down') => execFileSync('bash', [LAB, verb, P], { stdio: ['ignore', 'ignore', 'pipe'] });
const inNs = (ns: string, argv: string[]) => spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });

/** Packets the FORWARD counter has seen. */
function forwarded(): number {
  const r = inNs(NODE, ['nft', '-j', 'list', 'table', 'inet', TABLE]);
  const rules = (JSON.parse(r.stdout).nftables as Record<string, { expr?: { counter?: { packets: number } }[] }>[])
    .map((x) => x.rule)
    .filter((x) => x !== undefined);
  return rules.flatMap((x) => x.expr ?? []).find((e) => e.counter)!.counter!.packets;
}

async function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    isTTY: false,
    env: {},
    liveRunner: (prefix) => createLiveRunner({ prefix }),
  });
  return { code, stdout, stderr };
}
const trace = async (src: string, dst: string, from = dir): Promise<Trace> =>
  JSON.parse((await cli(['trace', src, dst, '-s', from, '--json'])).stdout);

describe.skipIf(!canUseNetns())('legacy-routing lab: endpoint routes and MTU, judged by the kernel', () => {
  beforeAll(async () => {
    await acquireBpfLock();
    try {
      lab('up');
      const s = await cli(['snapshot', '-o', dir, '--exec', `ip netns exec ${NODE}`, '--node', 'lab-legacy']);
      if (s.code !== 0) throw new Error(`snapshot failed: ${s.stderr}`);
      // the agent's own outputs, from the lab's templates (Cilium does not run in the lab)
      const status = readFileSync(join(TMPL, 'legacy.status.tmpl'), 'utf8')
        .replace(/@NODEIP@/g, '192.0.2.10')
        .replace('@PODCIDR@', '10.244.1.0/24')
        .replace('@IDX@', '1')
        .replace('@NPODS@', '3');
      writeFileSync(join(dir, 'cilium-status.txt'), status);
      writeFileSync(join(dir, 'cilium-config.txt'), readFileSync(join(TMPL, 'legacy.config.yaml'), 'utf8'));
    } finally {
      releaseBpfLock();
    }
  });
  afterAll(() => {
    spawnSync('bash', [LAB, 'down', P]);
    rmSync(out, { recursive: true, force: true });
  });

  it('pod → local pod: the kernel forwards it (FORWARD counts it), and the trace goes through the stack and FORWARD', async () => {
    const before = forwarded();
    const ping = inNs(`${P}-a`, ['ping', '-c', '2', '-W', '2', POD_B]);
    expect(ping.status).toBe(0);
    expect(forwarded() - before).toBeGreaterThanOrEqual(2);

    const t = await trace(POD_A, POD_B);
    expect(t.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'stack', 'route', 'netfilter', 'bpf', 'deliver']);
    expect(t.hops[2]).toMatchObject({ why: 'legacy-host-routing', ciliumRules: ['legacy-endpoint-routes-to-stack'] });
    expect(t.hops[3]).toMatchObject({ lookup: 'input', iif: 'lxc6d1e0f2a3b4c', dev: 'lxc0a1b2c3d4e5f' });
    expect(t.hops[4]).toMatchObject({ kind: 'netfilter', hooks: ['PREROUTING', 'FORWARD', 'POSTROUTING'] });
    expect(t.hops[5]).toMatchObject({ program: 'cil_to_container', dev: 'lxc0a1b2c3d4e5f' });
    expect(t.disposition).toBe('delivered');
  });

  it('pod → outside: a 1500-byte packet with DF does not pass the 1400 uplink, a 1400-byte one does; the trace warns', async () => {
    const big = inNs(`${P}-a`, ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1472', '192.0.2.1']);
    expect(big.status).not.toBe(0);
    // the node's stack refuses it at eth0 and says so: ICMP fragmentation needed, with the uplink's MTU
    expect(`${big.stdout}${big.stderr}`).toMatch(/mtu = 1400/);
    const fits = inNs(`${P}-a`, ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1372', '192.0.2.1']);
    expect(fits.status).toBe(0);

    const t = await trace(POD_A, '192.0.2.1');
    const w = t.warnings.find((x) => x.code === 'path-mtu-shrinks')!;
    expect(w.message).toMatch(/may send 1500-byte packets \(route mtu 1500\) but eth0 carries at most 1400/);
    // the pod-to-pod path never leaves by eth0: no finding there
    expect((await trace(POD_A, POD_B)).warnings.map((x) => x.code)).not.toContain('path-mtu-shrinks');
  });

  it('outside → a pod on a plain veth with no program: the kernel delivers it, and so does the trace', async () => {
    const ping = inNs(`${P}-x`, ['ping', '-c', '1', '-W', '2', '10.244.1.99']);
    expect(ping.status).toBe(0);
    const t = await trace('192.0.2.1', '10.244.1.99');
    expect(t.disposition).toBe('delivered');
    expect(t.hops.at(-1)).toMatchObject({ kind: 'deliver', target: 'pod', dev: 'vethc0ffee', netns: `${P}-c` });
    // the same node with pod C's namespace not captured: nothing names 10.244.1.99 a local pod, the route out of the
    // pod-side veth still delivers (inferred), where the trace used to say "forwarded"
    const partial = join(out, 'no-pod-c');
    cpSync(dir, partial, { recursive: true });
    rmSync(join(partial, 'netns', `${P}-c`), { recursive: true, force: true });
    const u = await trace('192.0.2.1', '10.244.1.99', partial);
    expect(u.dst.kind).not.toBe('local-pod');
    expect(u.disposition).toBe('delivered');
    expect(u.hops.at(-1)).toMatchObject({ kind: 'deliver', target: 'pod', dev: 'vethc0ffee', inferred: true });
  });
});
