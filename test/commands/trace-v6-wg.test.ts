import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readFileSync, readdirSync } from 'node:fs';
import { dirSource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';

const dir = (node: string) => fileURLToPath(new URL(`../../fixtures/snapshots/v6-wg/${node}`, import.meta.url));
const trace = (node: string, src: string, dst: string) =>
  runTrace(dirSource(dir(node)), { src, dst, proto: 'tcp', port: 443 });
const kinds = (t: { hops: { kind: string }[] }) => t.hops.map((h) => h.kind);

describe('v6-wg snapshot (Cilium 1.19, tcx, IPv6 native routing, WireGuard via a gateway)', () => {
  it('same node: redirect_peer, with the tcx program marked inferred and explained', async () => {
    const { trace: t } = await trace('node-a', '2001:db8:42::a:5', '2001:db8:42::a:6');
    expect(kinds(t)).toEqual(['route', 'bpf', 'redirect_peer', 'deliver']);
    expect(t.hops[1]).toMatchObject({
      dev: 'lxc3f6a0b1c2d3e',
      hook: 'tcx-ingress',
      program: 'cil_from_container',
      inferred: true,
    });
    expect(t.hops[1]!.because).toMatch(/cannot name its device/);
    expect(t.hops[1]!.evidence.map((e) => e.probe)).toEqual(
      expect.arrayContaining(['cilium-status', 'bpftool-link', 'bpftool-prog']),
    );
  });

  it('node-a → node-b pod on the same L2: redirect_neigh to the peer node, no IPv6 masquerade', async () => {
    const { trace: t, exitCode } = await trace('node-a', '2001:db8:42::a:5', '2001:db8:42::b:7');
    expect(exitCode).toBe(0);
    expect(t.dst).toMatchObject({ kind: 'remote-pod', node: '2001:db8:1::20' });
    expect(kinds(t)).toEqual(['route', 'bpf', 'route', 'redirect_neigh', 'bpf', 'masquerade']);
    // the neighbour entry as captured (MACs and NUD states differ on every lab run)
    const neigh = (
      JSON.parse(readFileSync(`${dir('node-a')}/ip-neigh.json`, 'utf8')) as {
        dst: string;
        lladdr: string;
        state: string[];
      }[]
    ).find((n) => n.dst === '2001:db8:1::20')!;
    expect(t.hops[3]).toMatchObject({
      dev: 'eth0',
      nexthop: '2001:db8:1::20',
      neighbor: { lladdr: neigh.lladdr, state: neigh.state },
    });
    expect(t.hops[5]).toMatchObject({ applied: false });
  });

  it('node-a → node-c pod: through wg-gw, the peer chosen by allowed-ips, then out to the gateway', async () => {
    const { trace: t } = await trace('node-a', '2001:db8:42::a:5', '2001:db8:42::c:9');
    expect(kinds(t)).toEqual([
      'route',
      'bpf',
      'route',
      'redirect_neigh',
      'masquerade',
      'wireguard',
      'route',
      'netfilter',
      'bpf',
      'gateway',
    ]);
    expect(t.hops[2]).toMatchObject({ dev: 'wg-gw', route: '2001:db8:42::c:0/112 dev wg-gw metric 1024' });
    expect(t.hops[3]).toMatchObject({ dev: 'wg-gw', inferred: true });
    const wg = t.hops[5]!;
    const gw = readFileSync(`${dir('gateway')}/wg.txt`, 'utf8')
      .split('\n')[0]!
      .split('\t')[2];
    expect(wg).toMatchObject({
      dev: 'wg-gw',
      peer: gw,
      allowedIps: '2001:db8:42::c:0/112',
      endpoint: '[2001:db8:1::1]:51820',
    });
    expect(t.hops[6]).toMatchObject({ dev: 'eth0', route: '2001:db8:1::/64 dev eth0 proto kernel metric 256' });
    expect(t.hops[8]).toMatchObject({ dev: 'eth0', program: 'cil_to_netdev' });
    expect(t.hops[9]).toMatchObject({ gateway: '2001:db8:1::1', dev: 'eth0' });
    expect(t.disposition).toBe('forwarded');
  });

  it('the gateway forwards it towards node-c, and node-c delivers it with redirect_peer', async () => {
    const g = (await trace('gateway', '2001:db8:42::a:5', '2001:db8:42::c:9')).trace;
    expect(g.hops[0]).toMatchObject({ kind: 'route', dev: 'wg-a', inferred: true });
    expect(g.hops.find((h) => h.kind === 'route' && h.dev === 'eth1')).toMatchObject({ gateway: '2001:db8:2::30' });
    expect(g.disposition).toBe('forwarded');
    const c = (await trace('node-c', '2001:db8:42::a:5', '2001:db8:42::c:9')).trace;
    expect(kinds(c)).toEqual(['route', 'bpf', 'redirect_peer', 'deliver']);
    expect(c.hops[1]).toMatchObject({ dev: 'eth0', program: 'cil_from_netdev' });
    expect(c.disposition).toBe('delivered');
  });

  it('no snapshot holds a WireGuard private or preshared key', () => {
    for (const node of readdirSync(fileURLToPath(new URL('../../fixtures/snapshots/v6-wg', import.meta.url)))) {
      let text: string;
      try {
        text = readFileSync(`${dir(node)}/wg.txt`, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.trim().split('\n')) {
        const f = line.split('\t');
        if (f.length === 5) expect(f[1]).toBe('(redacted)');
        if (f.length === 9) expect(['(redacted)', '(none)']).toContain(f[2]);
      }
    }
  });
});
