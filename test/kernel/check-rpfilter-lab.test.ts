import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckReport } from '../../src/model/check.js';
import { addNetns, canUseNetns, delNetns, ipBatch, sysctlIn, uniqueName } from '../helpers/netns.js';
import { labCiliumConfig, snapshotAndCheck } from '../helpers/check-live.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// rp_filter judged per device, against the kernel. A node namespace with two uplinks to one router namespace:
// eth0 (172.18.0.2/16, the default route) and eth1 (192.168.78.2/24). The router owns 192.0.2.1, the first
// "outside" address check picks, and pings the node's eth1 address from it: the request arrives on eth1 while
// the node's route back to 192.0.2.1 leaves by eth0. Each case sets `all` and eth1's own rp_filter, captures
// the node with netpath's live snapshot, checks the capture, and lets the kernel judge the same packet: the
// ping's answer and the node's IPReversePathFilter counter (/proc/net/netstat, TcpExt).
const NODE = uniqueName('np-cf-node');
const RTR = uniqueName('np-cf-rtr');
const out = mkdtempSync(join(tmpdir(), 'np-cf-'));

let n = 0;
async function captureAndCheck(): Promise<{ code: number; report: CheckReport; dir: string }> {
  const dir = join(out, `cap${++n}`);
  // the one file a lab has no agent for: Cilium's configuration, as the check lab writes it
  const config = labCiliumConfig({ kpr: true });
  return { ...(await snapshotAndCheck(NODE, 'np-cf-node', dir, config)), dir };
}

function ok(ns: string, lines: string[]): void {
  const r = ipBatch(ns, lines);
  if (r.failed.size) throw new Error(`ip batch in ${ns}: ${[...r.failed.values()].join('; ')}`);
}

/** The node's count of packets rp_filter dropped. */
function rpDrops(): number {
  const text = execFileSync('ip', ['netns', 'exec', NODE, 'cat', '/proc/net/netstat'], { encoding: 'utf8' });
  const lines = text.split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  const i = names.indexOf('IPReversePathFilter');
  if (i < 0) throw new Error('no IPReversePathFilter counter in /proc/net/netstat');
  return Number(values[i]);
}

/** The kernel's verdict on the request from 192.0.2.1 arriving on eth1: answered, and how many rp_filter drops. */
function kernelJudges(): { answered: boolean; dropped: number } {
  const before = rpDrops();
  const r = spawnSync('ip', [
    'netns',
    'exec',
    RTR,
    'ping',
    '-c',
    '2',
    '-i',
    '0.2',
    '-W',
    '1',
    '-I',
    '192.0.2.1',
    '192.168.78.2',
  ]);
  return { answered: r.status === 0, dropped: rpDrops() - before };
}

const rpKinds = (r: CheckReport) =>
  r.findings.filter((f) => f.kind.startsWith('rp-filter')).map((f) => `${f.severity}:${f.kind}`);

describe.skipIf(!canUseNetns())('check judges rp_filter per device, as the kernel does', () => {
  beforeAll(() => {
    addNetns(NODE, RTR);
    sysctlIn(RTR, ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    sysctlIn(NODE, ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    ok(NODE, [
      'link set lo up',
      `link add eth0 type veth peer name r0 netns ${RTR}`,
      `link add eth1 type veth peer name r1 netns ${RTR}`,
      'link set eth0 up',
      'link set eth1 up',
      'addr add 172.18.0.2/16 dev eth0',
      'addr add 192.168.78.2/24 dev eth1',
      'route add default via 172.18.0.1 dev eth0',
    ]);
    ok(RTR, [
      'link set lo up',
      'addr add 192.0.2.1/32 dev lo',
      'link set r0 up',
      'link set r1 up',
      'addr add 172.18.0.1/16 dev r0',
      'addr add 192.168.78.1/24 dev r1',
    ]);
    // the router's ARP for the node would otherwise carry 192.0.2.1 as its sender, and strict rp_filter on eth1
    // drops that ARP before any IP packet (no IPReversePathFilter count): ask with r1's own address
    sysctlIn(RTR, ['net.ipv4.conf.r1.arp_announce=2']);
    spawnSync('ip', ['netns', 'exec', NODE, 'ping', '-c', '1', '-W', '1', '172.18.0.1']);
  });
  afterAll(() => {
    delNetns(RTR, NODE);
    rmSync(out, { recursive: true, force: true });
  });

  const cases = [
    { all: 0, eth1: 1, drops: true, title: 'all=0, eth1=1 (set on the device only): strict, an error' },
    { all: 0, eth1: 0, drops: false, title: 'all=0, eth1=0: off, no finding' },
    { all: 0, eth1: 2, drops: false, title: 'all=0, eth1=2: loose, a route back exists, no finding' },
    { all: 1, eth1: 0, drops: true, title: 'all=1, eth1=0: the larger value (strict) applies, an error' },
    { all: 1, eth1: 2, drops: false, title: 'all=1, eth1=2: the larger value (loose) applies, no finding' },
  ];
  it.each(cases)('$title', async ({ all, eth1, drops }) => {
    sysctlIn(NODE, [`net.ipv4.conf.all.rp_filter=${all}`, `net.ipv4.conf.eth1.rp_filter=${eth1}`]);
    try {
      const k = kernelJudges();
      expect(k.answered).toBe(!drops);
      if (drops) expect(k.dropped).toBeGreaterThan(0);
      else expect(k.dropped).toBe(0);
      const { code, report } = await captureAndCheck();
      if (drops) {
        expect(rpKinds(report)).toEqual(['error:rp-filter-asymmetric']);
        const f = report.findings.find((x) => x.kind === 'rp-filter-asymmetric')!;
        expect(f.message).toContain('packets from 192.0.2.1 arriving on eth1 are answered through eth0');
        expect(f.evidence.slice(0, 2)).toEqual([
          { probe: 'sysctl', text: `net.ipv4.conf.all.rp_filter = ${all}` },
          { probe: 'sysctl-conf4', text: `net.ipv4.conf.eth1.rp_filter = ${eth1}` },
        ]);
        expect(f.flows.examples[0]!.flow).toMatchObject({ src: '192.0.2.1', dst: '192.168.78.2' });
        expect(code).toBe(1);
      } else expect(rpKinds(report)).toEqual([]);
    } finally {
      sysctlIn(NODE, ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.eth1.rp_filter=0']);
    }
  });
});
