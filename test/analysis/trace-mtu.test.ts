import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import { parseCiliumStatus } from '../../src/tools/cilium/index.js';
import { parseIpLink, parseIpRoute } from '../../src/tools/ip/index.js';
import type { NodeState } from '../../src/model/types.js';
import type { Flow, Trace } from '../../src/model/trace.js';

// Packet size along the path, on bundled real captures (kind-v4 k1, v6-wg node-a) changed in memory where said.
const snap = (p: string) =>
  loadNodeState(dirSource(fileURLToPath(new URL(`../../fixtures/snapshots/${p}`, import.meta.url))));
const flow = (src: string, dst: string): Flow => ({ src, dst, proto: 'tcp', dport: 443 });
const trace = (s: NodeState, f: Flow): Trace => traceFlow(createTraceContext(s), f);
const codes = (t: Trace) => t.warnings.map((w) => w.code);

describe('path MTU', () => {
  it('v6-wg: the pod route says 1500, the WireGuard device it leaves by carries 1420 (captured as is)', async () => {
    const t = trace(await snap('v6-wg/node-a'), flow('2001:db8:42::a:5', '2001:db8:42::c:9'));
    const w = t.warnings.find((x) => x.code === 'path-mtu-shrinks')!;
    expect(w.message).toMatch(/may send 1500-byte packets \(route mtu 1500\) but wg-gw carries at most 1420/);
  });

  it('k1 as captured (1500 everywhere) has no finding; with eth0 at 1400 the pod-to-remote path shrinks', async () => {
    const s = await snap('kind-v4/k1');
    expect(codes(trace(s, flow('10.244.1.12', '10.244.2.7')))).not.toContain('path-mtu-shrinks');
    s.links.find((l) => l.name === 'eth0')!.mtu = 1400;
    const w = trace(s, flow('10.244.1.12', '10.244.2.7')).warnings.find((x) => x.code === 'path-mtu-shrinks')!;
    expect(w.message).toMatch(/eth0 carries at most 1400 \(mtu 1400\)/);
    // a pod on the same node never leaves by eth0
    expect(codes(trace(s, flow('10.244.1.12', '10.244.1.57')))).not.toContain('path-mtu-shrinks');
  });

  it('a VXLAN device of the same MTU as the native device it rides on loses 50 bytes to the encapsulation', async () => {
    const s = await snap('kind-v4/k1');
    s.links.push(
      ...parseIpLink(
        '9: vx0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UNKNOWN\n    link/ether 02:00:00:00:00:09 brd ff:ff:ff:ff:ff:ff\n    vxlan id 2 dstport 8472\n',
        'ip-link',
      ).value,
    );
    s.routes.push(...parseIpRoute('10.244.9.0/24 dev vx0 scope link\n', 'ip-route4', 4).value);
    const w = trace(s, flow('10.244.1.12', '10.244.9.4')).warnings.find((x) => x.code === 'path-mtu-shrinks')!;
    expect(w.message).toMatch(/vx0 over eth0 carries at most 1450 \(eth0 mtu 1500 less 50 bytes of vxlan over IPv4\)/);
  });
});

describe('BIG TCP', () => {
  it('reads the status lines: Disabled, Enabled [max], Enabled [gro, gso]', () => {
    const st = parseCiliumStatus(
      'IPv4 BIG TCP:            Enabled   [131072, 196608]\nIPv6 BIG TCP:            Enabled   [196608]\n',
      'cilium-status',
    ).value;
    expect(st.bigTcpV4).toMatchObject({ enabled: true, maxGro: 131072, maxGso: 196608 });
    expect(st.bigTcpV6).toMatchObject({ enabled: true, maxGro: 196608, maxGso: 196608 });
    const off = parseCiliumStatus('IPv6 BIG TCP:            Disabled\n', 'cilium-status').value;
    expect(off.bigTcpV6).toMatchObject({ enabled: false });
  });

  it('reads gso/gro limits from ip -d link, JSON and text', async () => {
    const s = await snap('v6-wg/node-a');
    expect(s.netns.find((n) => n.name === 'cni-a1b2c3d4-va1')!.links.find((l) => l.name === 'eth0')!.offload).toEqual({
      gsoMaxSize: 65536,
      groMaxSize: 65536,
    });
    const txt = parseIpLink(
      '5: eth0@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    link/ether 02:00:00:00:00:05 brd ff:ff:ff:ff:ff:ff link-netnsid 0 promiscuity 0\n    veth addrgenmode eui64 numtxqueues 1 gso_max_size 196608 gso_max_segs 65535 tso_max_size 524280 gro_max_size 196608 gso_ipv4_max_size 65536 gro_ipv4_max_size 65536\n',
      'ip-link',
    ).value[0]!;
    expect(txt.offload).toEqual({
      gsoMaxSize: 196608,
      groMaxSize: 196608,
      gsoIpv4MaxSize: 65536,
      groIpv4MaxSize: 65536,
    });
  });

  it('BIG TCP on, but the pod device kept 64 KiB: the pod does not use it, and the trace says so', async () => {
    const s = await snap('v6-wg/node-a');
    s.cilium.status = {
      ...s.cilium.status,
      ...parseCiliumStatus('IPv6 BIG TCP:            Enabled   [196608]\n', 'cilium-status').value,
    };
    const w = trace(s, flow('2001:db8:42::a:5', '2001:db8:42::c:9')).warnings.find((x) => x.code === 'big-tcp')!;
    expect(w.message).toMatch(/eth0 has gso max 65536: this pod does not use BIG TCP/);
  });

  it('BIG TCP off and 64 KiB devices: nothing to say', async () => {
    const t = trace(await snap('v6-wg/node-a'), flow('2001:db8:42::a:5', '2001:db8:42::c:9'));
    expect(codes(t)).not.toContain('big-tcp');
  });
});
