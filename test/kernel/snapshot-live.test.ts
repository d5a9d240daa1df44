import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli.js';
import { createLiveRunner } from '../../src/exec/live.js';
import {
  acquireBpfLock,
  addNetns,
  canUseNetns,
  delNetns,
  ipBatch,
  releaseBpfLock,
  sysctlIn,
  uniqueName,
} from '../helpers/netns.js';

// a loaded machine (npm run test:stress, a busy CI runner) runs these far slower than an idle one
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// A node in a namespace, captured with `netpath snapshot --exec "ip netns exec NODE"` into a directory and a
// .tar.gz, then traced offline from both and live through the same prefix: all three answers must be equal.
const NODE = uniqueName('np-snap');
const POD = uniqueName('np-snpod');
const out = mkdtempSync(join(tmpdir(), 'np-snapshot-test-'));

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

describe.skipIf(!canUseNetns())('snapshot of a live node, traced offline and live', () => {
  beforeAll(async () => {
    await acquireBpfLock();
    addNetns(NODE, POD);
    ipBatch(NODE, [
      'link set lo up',
      `link add lxc0aa11bb22cc type veth peer name eth0 netns ${POD}`,
      'link set lxc0aa11bb22cc up',
      'link add eth1 type veth peer name peer1',
      'link set eth1 up',
      'link set peer1 up',
      'addr add 198.51.100.10/24 dev eth1',
      'route add default via 198.51.100.1 dev eth1',
      'route add 203.0.113.5/32 dev lxc0aa11bb22cc',
      'route add blackhole 192.0.2.128/25',
    ]);
    ipBatch(POD, [
      'link set lo up',
      'addr add 203.0.113.5/32 dev eth0',
      'link set eth0 up',
      'route add 169.254.1.1 dev eth0 scope link',
      'route add default via 169.254.1.1 dev eth0',
    ]);
    sysctlIn(NODE, ['net.ipv4.ip_forward=1']);
  });
  afterAll(() => {
    releaseBpfLock();
    delNetns(POD, NODE);
    rmSync(out, { recursive: true, force: true });
  });

  it('captures, and the offline and live traces agree', async () => {
    const dir = join(out, 'node');
    const s1 = await cli(['snapshot', '-o', dir, '--exec', `ip netns exec ${NODE}`, '--node', 'lab-node']);
    expect(s1.code).toBe(0);
    expect(s1.stdout).toMatch(/probes captured from node lab-node/);
    expect(existsSync(join(dir, 'ip-route4.json'))).toBe(true);
    expect(existsSync(join(dir, `netns/${POD}/ip-addr.json`))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).node).toBe('lab-node');
    const tgz = join(out, 'node.tar.gz');
    expect((await cli(['snapshot', '-o', tgz, '--exec', `ip netns exec ${NODE}`, '--node', 'lab-node'])).code).toBe(0);

    for (const [src, dst, disposition] of [
      ['203.0.113.5', '198.51.100.77', 'forwarded'],
      ['198.51.100.10', '203.0.113.5', 'delivered'],
      ['203.0.113.5', '192.0.2.200', 'dropped'],
    ] as const) {
      const offline = await cli(['trace', src, dst, '-s', dir, '--json']);
      const archived = await cli(['trace', src, dst, '-s', tgz, '--json']);
      const live = await cli(['trace', src, dst, '--exec', `ip netns exec ${NODE}`, '--json']);
      const o = JSON.parse(offline.stdout);
      expect(o.disposition).toBe(disposition);
      expect(JSON.parse(archived.stdout)).toEqual(o);
      // the live trace names no node (no manifest); everything else is the same answer
      expect({ ...JSON.parse(live.stdout), node: 'lab-node' }).toEqual(o);
    }
  });

  it('refuses an empty --exec and names a prefix that does not work', async () => {
    expect((await cli(['snapshot', '-o', join(out, 'x'), '--exec', '  '])).code).toBe(2);
    const r = await cli(['snapshot', '-o', join(out, 'y'), '--exec', 'ip netns exec np-does-not-exist']);
    expect(r.code).toBe(3);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('snapshot --cluster --kubectl without a cluster', () => {
  it('names kubectl and exits 3 when it is missing or cannot reach a cluster', async () => {
    const r = await cli(['snapshot', '--cluster', '--kubectl', '-o', join(out, 'k')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^netpath: kubectl: /);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });
});
