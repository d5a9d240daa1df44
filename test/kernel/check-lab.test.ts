import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckReport } from '../../src/model/check.js';
import { addNetns, canUseNetns, delNetns, ipBatch, sysctlIn, uniqueName } from '../helpers/netns.js';
import { labCiliumConfig, snapshotAndCheck } from '../helpers/check-live.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// A node in a namespace laid out like kind-v4's k1 (eth0 172.18.0.2/16, pods 10.244.1.12 and 10.244.1.57 behind
// per-endpoint routes, other nodes' pod CIDRs via 172.18.0.3 / .4), with a router namespace that answers for the
// gateway and the other nodes. Captured with netpath's own live snapshot (`snapshot --exec "ip netns exec …"`),
// then checked offline. The clean capture gives no finding; each fault is injected alone, captured, checked and
// removed. Cilium's agent configuration is the one file not captured: the ConfigMap is written beside the capture
// (as the kind-v4 and migrate labs do), with kube-proxy replacement on or off as the case needs.
const NODE = uniqueName('npchk-node');
const RTR = uniqueName('npchk-rtr');
const PODA = uniqueName('npchk-pa');
const PODB = uniqueName('npchk-pb');
const LXCA = 'lxcc0ffee0a0001';
const LXCB = 'lxcc0ffee0b0002';
const out = mkdtempSync(join(tmpdir(), 'npchk-'));

function config(kpr: boolean): string {
  return labCiliumConfig({ kpr, nativeRoutingCidr: '10.244.0.0/16' });
}

let n = 0;
/** Captures the node as it is now, adds the ConfigMap, and checks the capture. */
async function captureAndCheck(kpr = true): Promise<{ code: number; report: CheckReport }> {
  return snapshotAndCheck(NODE, 'npchk-node', join(out, `cap${++n}`), config(kpr));
}

const kinds = (r: CheckReport) => r.findings.map((f) => `${f.severity}:${f.kind}`);

function ok(ns: string, lines: string[]): void {
  const r = ipBatch(ns, lines);
  if (r.failed.size) throw new Error(`ip batch in ${ns}: ${[...r.failed.values()].join('; ')}`);
}

/** Pings from the node so that its neighbour entries are what a node that talks to them has. */
function ping(addr: string): void {
  spawnSync('ip', ['netns', 'exec', NODE, 'ping', '-c', '1', '-W', '1', addr]);
}

describe.skipIf(!canUseNetns())('netpath check on a lab node, one injected fault at a time', () => {
  beforeAll(() => {
    addNetns(NODE, RTR, PODA, PODB);
    ok(NODE, [
      'link set lo up',
      `link add eth0 type veth peer name r0 netns ${RTR}`,
      'link set eth0 up',
      'addr add 172.18.0.2/16 dev eth0',
      `link add ${LXCA} type veth peer name eth0 netns ${PODA}`,
      `link add ${LXCB} type veth peer name eth0 netns ${PODB}`,
      `link set ${LXCA} up`,
      `link set ${LXCB} up`,
      'route add default via 172.18.0.1 dev eth0',
      'route add 10.244.2.0/24 via 172.18.0.3 dev eth0',
      'route add 10.244.3.0/24 via 172.18.0.4 dev eth0',
      `route add 10.244.1.12 dev ${LXCA}`,
      `route add 10.244.1.57 dev ${LXCB}`,
    ]);
    ok(RTR, [
      'link set lo up',
      'link set r0 up',
      'addr add 172.18.0.1/16 dev r0',
      'addr add 172.18.0.3/16 dev r0',
      'addr add 172.18.0.4/16 dev r0',
    ]);
    for (const [ns, ip] of [
      [PODA, '10.244.1.12'],
      [PODB, '10.244.1.57'],
    ] as const)
      ok(ns, [
        'link set lo up',
        `addr add ${ip}/32 dev eth0`,
        'link set eth0 up',
        'route add 169.254.1.1 dev eth0 scope link',
        'route add default via 169.254.1.1 dev eth0',
      ]);
    sysctlIn(NODE, ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    for (const a of ['172.18.0.1', '172.18.0.3', '172.18.0.4']) ping(a);
  });
  afterAll(() => {
    delNetns(PODA, PODB, RTR, NODE);
    rmSync(out, { recursive: true, force: true });
  });

  it('a clean node gives no finding (exit 0)', async () => {
    const { code, report } = await captureAndCheck();
    expect(report.flowsChecked).toBeGreaterThanOrEqual(10);
    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
  });

  it('a blackhole route to another node’s pod CIDR: an error on the flows to it', async () => {
    ok(NODE, ['route replace blackhole 10.244.2.0/24']);
    try {
      const { code, report } = await captureAndCheck();
      expect(kinds(report)).toEqual(['error:drop']);
      const f = report.findings[0]!;
      expect(f.message).toContain('blackhole');
      expect(f.flows.examples.every((x) => x.flow.dst.startsWith('10.244.2.'))).toBe(true);
      expect(f.evidence.some((e) => e.probe === 'ip-route4' && e.text.includes('blackhole 10.244.2.0/24'))).toBe(true);
      expect(f.confirm[0]).toMatch(/^ip route get 10\.244\.2\.\d+ from 10\.244\.1\.\d+/);
      expect(code).toBe(1);
    } finally {
      ok(NODE, ['route replace 10.244.2.0/24 via 172.18.0.3 dev eth0']);
    }
  });

  it('a next hop that does not answer (neighbour FAILED): an error naming it', async () => {
    ok(RTR, ['addr del 172.18.0.3/16 dev r0']);
    ok(NODE, ['neigh flush dev eth0']);
    try {
      ping('172.18.0.1');
      ping('172.18.0.4');
      ping('172.18.0.3');
      // the kernel gives up after its probes (mcast_solicit 3, retrans 1 s): INCOMPLETE becomes FAILED
      let state = '';
      for (let i = 0; i < 20 && !state.includes('FAILED'); i++) {
        execFileSync('sleep', ['0.5']);
        state = execFileSync('ip', ['-n', NODE, 'neigh', 'show', '172.18.0.3', 'dev', 'eth0'], { encoding: 'utf8' });
      }
      expect(state).toContain('FAILED');
      const { code, report } = await captureAndCheck();
      expect(kinds(report)).toEqual(['error:neighbor-failed']);
      const f = report.findings[0]!;
      expect(f.message).toContain('next hop 172.18.0.3 on eth0');
      expect(f.evidence[0]).toMatchObject({ probe: 'ip-neigh' });
      expect(f.confirm[0]).toBe('ip neigh show 172.18.0.3 dev eth0');
      expect(code).toBe(1);
    } finally {
      ok(RTR, ['addr add 172.18.0.3/16 dev r0']);
      ok(NODE, ['neigh flush dev eth0']);
      for (const a of ['172.18.0.1', '172.18.0.3', '172.18.0.4']) ping(a);
    }
  });

  it('rp_filter=1 with an asymmetric route: traffic arriving on eth1 is answered through eth0', async () => {
    ok(NODE, [
      `link add eth1 type veth peer name r1 netns ${RTR}`,
      'link set eth1 up',
      'addr add 192.168.78.2/24 dev eth1',
    ]);
    ok(RTR, ['link set r1 up', 'addr add 192.168.78.1/24 dev r1']);
    sysctlIn(NODE, ['net.ipv4.conf.all.rp_filter=1']);
    try {
      const { code, report } = await captureAndCheck();
      // all=1 makes every device strict unless its own value is 2 (loose); eth1 was created with default=0, and
      // the sysctl-conf4 probe reads its own key: max(1, 0) = 1, strict
      expect(kinds(report)).toEqual(['error:rp-filter-asymmetric']);
      const f = report.findings[0]!;
      expect(f.message).toContain('arriving on eth1 are answered through eth0');
      expect(f.message).toContain('rp_filter is strict on eth1');
      expect(f.evidence.slice(0, 2)).toEqual([
        { probe: 'sysctl', text: 'net.ipv4.conf.all.rp_filter = 1' },
        { probe: 'sysctl-conf4', text: 'net.ipv4.conf.eth1.rp_filter = 0' },
      ]);
      expect(f.confirm).toContain('sysctl net.ipv4.conf.all.rp_filter net.ipv4.conf.eth1.rp_filter');
      expect(code).toBe(1);
    } finally {
      sysctlIn(NODE, ['net.ipv4.conf.all.rp_filter=0']);
      ok(NODE, ['link del eth1']);
    }
  });

  it('an MTU mismatch: pods send 1500 bytes into a 1400-byte uplink', async () => {
    ok(NODE, ['link set eth0 mtu 1400']);
    ok(RTR, ['link set r0 mtu 1400']);
    try {
      const { code, report } = await captureAndCheck();
      expect(kinds(report)).toEqual(['warning:mtu-shrink']);
      const f = report.findings[0]!;
      expect(f.message).toMatch(/from eth0 \(pod npchk-p[ab]-[0-9a-f]+\) \(1500\) to eth0 \(1400\)/);
      expect(f.flows.examples.every((x) => x.flow.src.startsWith('10.244.1.'))).toBe(true);
      expect(f.confirm[1]).toMatch(/^ping -M do -c 1 -s 1373 /);
      expect(code).toBe(0);
    } finally {
      ok(NODE, ['link set eth0 mtu 1500']);
      ok(RTR, ['link set r0 mtu 1500']);
    }
  });

  describe('with kube-proxy rules loaded (scripts/lab/migrate/gen.mjs iptables, the migrate labs’ Services)', () => {
    beforeAll(() => {
      const rules = execFileSync('node', ['scripts/lab/migrate/gen.mjs', 'iptables'], { encoding: 'utf8' });
      execFileSync('ip', ['netns', 'exec', NODE, 'iptables-restore'], { input: rules });
    });

    it('kube-proxy running (no replacement): only the Service with no backends, a warning', async () => {
      const { code, report } = await captureAndCheck(false);
      expect(kinds(report)).toEqual(['warning:service-no-backends']);
      expect(report.findings[0]!.message).toMatch(
        /^Service 10\.96\.99\.40:80\/TCP has no active backend: connections to it are rejected/,
      );
      expect(report.findings[0]!.flows.count).toBeGreaterThan(0);
      expect(code).toBe(0);
    });

    it('the same KUBE-SERVICES rules on a node whose kube-proxy Cilium replaces: a leftover that acts, an error', async () => {
      const { code, report } = await captureAndCheck(true);
      const left = report.findings.filter((f) => f.kind === 'kube-proxy-leftover');
      expect(left[0]).toMatchObject({ severity: 'error' });
      expect(left.map((f) => f.message.split(' left')[0])).toContain('nat KUBE-* chains (IPv4)');
      expect(left.find((f) => f.message.startsWith('nat'))!.severity).toBe('error');
      expect(code).toBe(1);
    });
  });
});
