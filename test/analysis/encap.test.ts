import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext, traceFlow, classify } from '../../src/analysis/trace.js';
import { parseCiliumIpcache, parseCiliumStatus, parseCiliumEgressList } from '../../src/tools/cilium/index.js';
import { parseWgDump } from '../../src/tools/wg/parse-dump.js';
import { parseIpRoute, parseIpRule } from '../../src/tools/ip/index.js';
import type { NodeState } from '../../src/model/types.js';
import { readFileSync } from 'node:fs';
import { decodeIpMasqMap } from '../../src/tools/cilium/ipmasq.js';
import type { Flow, MasqueradeHop } from '../../src/model/trace.js';

// Issue 15 on the bundled kind-v4 node k1 (Cilium 1.13.9, native routing, BPF masquerade, node 172.18.0.2, gateway
// 172.18.0.1, nodes k2 172.18.0.3 and k3 172.18.0.4), given in memory the probes its capture predates. The ipcache
// lines are in the format of fixtures/tools/cilium/ipcache/v1.17-kind-cilium-dbg-hastunnel.txt.
const k1 = () =>
  loadNodeState(dirSource(fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url))));
const flow = (src: string, dst: string): Flow => ({ src, dst, proto: 'tcp', dport: 443 });
const trace = (s: NodeState, f: Flow) => traceFlow(createTraceContext(s), f);
const masq = (s: NodeState, f: Flow) => trace(s, f).hops.find((h): h is MasqueradeHop => h.kind === 'masquerade');

const IPCACHE = [
  'IP PREFIX/ADDRESS   IDENTITY',
  '0.0.0.0/0           identity=2 encryptkey=0 tunnelendpoint=0.0.0.0 flags=<none>',
  '172.18.0.1/32       identity=2 encryptkey=0 tunnelendpoint=0.0.0.0 flags=<none>',
  '172.18.0.2/32       identity=1 encryptkey=0 tunnelendpoint=0.0.0.0 flags=<none>',
  '172.18.0.3/32       identity=6 encryptkey=0 tunnelendpoint=0.0.0.0 flags=<none>',
  '172.18.0.4/32       identity=7 encryptkey=0 tunnelendpoint=0.0.0.0 flags=<none>',
  '10.244.2.7/32       identity=3388 encryptkey=0 tunnelendpoint=172.18.0.3 flags=hastunnel',
  '10.244.3.21/32      identity=48339 encryptkey=0 tunnelendpoint=172.18.0.4 flags=hastunnel',
  '',
].join('\n');

function withIpcache(s: NodeState, text = IPCACHE): NodeState {
  s.cilium.ipcache = parseCiliumIpcache(text, 'cilium-ipcache').value;
  s.sources.push({ probe: 'cilium-ipcache', status: 'ok' });
  return s;
}
function editStatus(s: NodeState, from: RegExp, to: string): NodeState {
  const text = s.cilium.status!;
  const lines = [
    text.versionSource,
    text.masquerading?.source,
    text.hostRouting?.source,
    text.kubeProxyReplacement?.source,
  ]
    .filter((x) => x !== undefined)
    .map((e) => e.text);
  const edited = lines.map((l) => l.replace(from, to)).join('\n');
  s.cilium.status = parseCiliumStatus(`${edited}\n`, 'cilium-status').value;
  return s;
}
function addStatus(s: NodeState, line: string): NodeState {
  const t = s.cilium.status!;
  const lines = [t.versionSource, t.masquerading?.source, t.hostRouting?.source, t.kubeProxyReplacement?.source]
    .filter((x) => x !== undefined)
    .map((e) => e.text);
  s.cilium.status = parseCiliumStatus(`${[...lines, line].join('\n')}\n`, 'cilium-status').value;
  return s;
}

describe('classification from the ipcache (issue 15)', () => {
  it('nodes are remote-node identities, a world next hop is a router, pods carry their tunnel endpoint as node', async () => {
    const ctx = createTraceContext(withIpcache(await k1()));
    expect(classify(ctx, '172.18.0.3')).toMatchObject({ kind: 'remote-node', node: '172.18.0.3' });
    // kube-apiserver identity: a node that runs the API server (identity_is_remote_node)
    expect(classify(ctx, '172.18.0.4')).toMatchObject({ kind: 'remote-node' });
    expect(classify(ctx, '172.18.0.1')).toMatchObject({ kind: 'external', role: 'router' });
    expect(classify(ctx, '10.244.2.7')).toMatchObject({ kind: 'remote-pod', node: '172.18.0.3' });
    expect(classify(ctx, '203.0.113.9')).toMatchObject({ kind: 'external' });
    expect(classify(ctx, '203.0.113.9').role).toBeUndefined();
  });

  it('without the ipcache, a native-routing CIDR that holds the node network does not make its addresses pods', async () => {
    const s = await k1();
    s.cilium.config['ipv4-native-routing-cidr'] = {
      value: '172.16.0.0/12',
      source: { probe: 'cilium-config', text: 'ipv4-native-routing-cidr: 172.16.0.0/12' },
    };
    const ctx = createTraceContext(s);
    const e = classify(ctx, '172.18.0.9');
    expect(e.kind).toBe('unknown');
    expect(e.because).toMatch(/also holds this node's own address 172\.18\.0\.2 on eth0.*ipcache.*not read/);
    // the same address with the CIDR kept to the pods is simply outside
    const k = createTraceContext(await k1());
    expect(classify(k, '172.18.0.9').kind).toBe('external');
  });
});

describe('BPF masquerade decided by the ipcache (nat.h snat_v4_needs_masquerade)', () => {
  it('a remote-node identity is not masqueraded in native routing; the hop names the rule', async () => {
    const m = masq(withIpcache(await k1()), flow('10.244.1.12', '172.18.0.3'))!;
    expect(m).toMatchObject({ applied: false, why: 'remote-node', ciliumRules: ['masq-bpf-skip-remote-node'] });
    expect(m.evidence.map((e) => e.text)).toContain(
      '172.18.0.3/32       identity=6 encryptkey=0 tunnelendpoint=0.0.0.0 flags=<none>',
    );
  });

  it('a world destination is masqueraded to the device address', async () => {
    const m = masq(withIpcache(await k1()), flow('10.244.1.12', '203.0.113.9'))!;
    expect(m).toMatchObject({ applied: true, why: 'snat', snatTo: '172.18.0.2' });
  });

  it('no ipcache entry covers the destination: not masqueraded', async () => {
    const s = withIpcache(await k1(), IPCACHE.replace(/^0\.0\.0\.0\/0 .*\n/m, ''));
    const m = masq(s, flow('10.244.1.12', '203.0.113.9'))!;
    expect(m).toMatchObject({ applied: false, why: 'no-ipcache-entry', ciliumRules: ['masq-bpf-ipcache-entry'] });
  });

  it('without the ipcache a destination outside the exclusion CIDR is unknown, with the reason', async () => {
    const m = masq(await k1(), flow('10.244.1.12', '172.18.0.9'))!;
    expect(m).toMatchObject({ applied: 'unknown', why: 'ipcache-unknown', inferred: true });
    expect(m.because).toMatch(/ipcache was not read/);
  });

  it('in tunnel mode a remote node is masqueraded (no remote-node exemption under TUNNEL_MODE)', async () => {
    const s = addStatus(withIpcache(await k1()), 'Routing:                 Network: Tunnel [vxlan]   Host: BPF');
    const m = masq(s, flow('10.244.1.12', '172.18.0.3'))!;
    expect(m).toMatchObject({ applied: true, why: 'snat', ciliumRules: ['masq-bpf-tunnel-remote-node'] });
  });

  it('ip-masq-agent on: its CIDRs are not read, so the decision is unknown', async () => {
    const s = editStatus(withIpcache(await k1()), /BPF {3}\[eth0\]/, 'BPF (ip-masq-agent)   [eth0]');
    expect(s.cilium.status!.masquerading!.ipMasqAgent).toBe(true);
    const m = masq(s, flow('10.244.1.12', '203.0.113.9'))!;
    expect(m).toMatchObject({ applied: 'unknown', why: 'ip-masq-agent-unknown' });
    // inside the exclusion CIDR the map is never asked
    expect(masq(s, flow('10.244.1.12', '10.244.2.7'))).toMatchObject({ applied: false, why: 'excluded' });
  });

  it('ip-masq-agent with its pinned map read: a non-masquerade CIDR is left alone, anything else SNATed', async () => {
    // real bpftool output of scripts/lab/ipmasq-map.sh (10/8, 100.64/10, 172.16/12, 192.168/16)
    const text = readFileSync(
      fileURLToPath(new URL('../../fixtures/tools/bpf-map/ipmasq/cilium_ipmasq_v4.json', import.meta.url)),
      'utf8',
    );
    const cidrs = decodeIpMasqMap(text, 'bpf-map/cilium_ipmasq_v4', 4).value;
    expect(cidrs.map((c) => c.prefix)).toEqual(['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16']);
    const s = editStatus(withIpcache(await k1()), /BPF {3}\[eth0\]/, 'BPF (ip-masq-agent)   [eth0]');
    s.cilium.ipMasqMap = { v4: cidrs };
    expect(masq(s, flow('10.244.1.12', '100.64.7.1'))).toMatchObject({
      applied: false,
      why: 'ip-masq-agent',
      ciliumRules: ['masq-bpf-ip-masq-agent'],
    });
    expect(masq(s, flow('10.244.1.12', '203.0.113.9'))).toMatchObject({ applied: true, why: 'snat' });
  });

  it('egress gateway on: unknown without the policy map; a matching policy SNATs to its egress IP', async () => {
    const s = withIpcache(await k1());
    s.cilium.config['enable-ipv4-egress-gateway'] = {
      value: 'true',
      source: { probe: 'cilium-config', text: 'enable-ipv4-egress-gateway: true' },
    };
    expect(masq(s, flow('10.244.1.12', '203.0.113.9'))).toMatchObject({
      applied: 'unknown',
      why: 'egress-gateway-unknown',
    });
    s.cilium.egressGateway = parseCiliumEgressList(
      'Source IP       Destination CIDR   Egress IP         Gateway IP\n10.244.1.12     203.0.113.0/24     198.51.100.50     172.18.0.2\n',
      'cilium-egress-list',
    ).value;
    expect(masq(s, flow('10.244.1.12', '203.0.113.9'))).toMatchObject({
      applied: true,
      why: 'egress-gateway',
      snatTo: '198.51.100.50',
      ciliumRules: ['masq-egress-gateway'],
    });
    // a node is a cluster identity: the policy is never asked
    expect(masq(s, flow('10.244.1.12', '172.18.0.3'))).toMatchObject({ why: 'remote-node' });
  });
});

describe("Cilium's WireGuard and IPsec (issue 15)", () => {
  const WG = [
    'cilium_wg0\t(redacted)\tGsIGt1Juo6p8gR93driyMD5FwFu2uOBBYGVsZtfQxho=\t51871\toff',
    'cilium_wg0\tmM3cJOIWenG/eYnAuYRpMBlthK4XV9eGAKk/JYWAHHI=\t(none)\t172.18.0.3:51871\t10.244.2.0/24,172.18.0.3/32\t0\t0\t0\toff',
    '',
  ].join('\n');
  const wgState = async (version: string) => {
    const s = editStatus(
      withIpcache(await k1(), IPCACHE.replace('identity=3388 encryptkey=0', 'identity=3388 encryptkey=1')),
      /1\.13\.9 \(v1\.13\.9-cde7f964\)/,
      version,
    );
    addStatus(
      s,
      'Encryption:              Wireguard   [NodeEncryption: Disabled, cilium_wg0 (Pubkey: GsIGt1Juo6p8gR93driyMD5FwFu2uOBBYGVsZtfQxho=, Port: 51871, Peers: 1)]',
    );
    s.wg = parseWgDump(WG, 'wg').value;
    return s;
  };

  it('1.14+: pod → remote pod with a keyed ipcache entry goes to cilium_wg0 from cil_to_netdev, never eth0 in plain text', async () => {
    const t = trace(await wgState('1.16.5 (v1.16.5-abc)'), flow('10.244.1.12', '10.244.2.7'));
    const kinds = t.hops.map((h) => h.kind);
    const w = t.hops.find((h) => h.kind === 'wireguard')!;
    expect(w).toMatchObject({
      dev: 'cilium_wg0',
      redirectedBy: 'cil_to_netdev',
      endpoint: '172.18.0.3:51871',
      ciliumRules: ['wireguard-redirect-to-encrypt'],
    });
    expect(kinds.indexOf('wireguard')).toBeGreaterThan(kinds.indexOf('bpf'));
    expect(kinds).not.toContain('masquerade');
    const gw = t.hops.filter((h) => h.kind === 'gateway');
    expect(gw).toHaveLength(1);
    expect(gw[0]).toMatchObject({ encrypted: true, dev: 'eth0' });
    expect(t.hops.find((h) => h.kind === 'route' && h.lookup === 'wireguard-outer')).toMatchObject({
      dst: '172.18.0.3',
    });
  });

  it('1.13: the same packet reaches cilium_wg0 by the fwmark rule', async () => {
    const t = trace(await wgState('1.13.9 (v1.13.9-cde7f964)'), flow('10.244.1.12', '10.244.2.7'));
    expect(t.hops.find((h) => h.kind === 'wireguard')).toMatchObject({
      redirectedBy: 'ip-rule',
      ciliumRules: ['wireguard-ip-rule'],
    });
    // k1 has no rule for the encrypt mark: said, not assumed
    expect(t.hops.find((h) => h.kind === 'wireguard')).toMatchObject({ inferred: true });
    const s = await wgState('1.13.9 (v1.13.9-cde7f964)');
    s.rules.push(...parseIpRule('1:\tfrom all fwmark 0xe00/0xf00 lookup 201\n', 'ip-rule4', 4).value);
    s.routes.push(...parseIpRoute('default dev cilium_wg0 table 201 scope link\n', 'ip-route4', 4).value);
    s.links.push({ ...s.links.find((l) => l.name === 'eth0')!, name: 'cilium_wg0', ifindex: 99, kind: 'wireguard' });
    const ruled = trace(s, flow('10.244.1.12', '10.244.2.7')).hops.find((h) => h.kind === 'wireguard')!;
    expect(ruled.inferred).toBeUndefined();
    expect(ruled.evidence.map((e) => e.text).join('\n')).toMatch(/fwmark 0xe00\/0xf00 lookup 201/);
  });

  it('an entry without a key leaves in plain text; no ipcache → unknown, never plain', async () => {
    const s = await wgState('1.16.5 (v1.16.5-abc)');
    // a pod of k3 has no key in the ipcache above
    const plain = trace(s, flow('10.244.1.12', '10.244.3.21'));
    expect(plain.hops.map((h) => h.kind)).not.toContain('wireguard');
    s.cilium.ipcache = undefined;
    const u = trace(s, flow('10.244.1.12', '10.244.2.7'));
    expect(u.disposition).toBe('unknown');
    expect(u.warnings.map((w) => w.code)).toContain('wireguard-unknown');
    expect(u.hops.map((h) => h.kind)).not.toContain('gateway');
  });

  it("the node's own packets: plain unless encrypt-node, with a warning when it was not read", async () => {
    const s = await wgState('1.16.5 (v1.16.5-abc)');
    const plain = trace(s, flow('172.18.0.2', '10.244.2.7'));
    expect(plain.hops.map((h) => h.kind)).not.toContain('wireguard');
    expect(plain.warnings.map((w) => w.code)).toContain('node-encryption-unknown');
    s.cilium.config['encrypt-node'] = { value: 'true', source: { probe: 'cilium-config', text: 'encrypt-node: true' } };
    expect(trace(s, flow('172.18.0.2', '10.244.2.7')).hops.find((h) => h.kind === 'wireguard')).toMatchObject({
      dev: 'cilium_wg0',
      redirectedBy: 'cil_to_netdev',
    });
  });

  it('IPsec: a cluster destination is unknown, never plain traffic', async () => {
    const s = addStatus(withIpcache(await k1()), 'Encryption:              IPsec');
    const t = trace(s, flow('10.244.1.12', '10.244.2.7'));
    expect(t.disposition).toBe('unknown');
    expect(t.warnings.map((w) => w.code)).toContain('ipsec-not-followed');
  });
});

describe('tunnel mode (issue 15)', () => {
  const tunnel = async () =>
    addStatus(withIpcache(await k1()), 'Routing:                 Network: Tunnel [vxlan]   Host: BPF');

  it('pod → remote pod is encapsulated for the tunnel endpoint, and the outer UDP packet is routed', async () => {
    const t = trace(await tunnel(), flow('10.244.1.12', '10.244.2.7'));
    expect(t.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'encap', 'route', 'netfilter', 'bpf', 'gateway']);
    expect(t.hops[2]).toMatchObject({
      dev: 'cilium_vxlan',
      protocol: 'vxlan',
      tunnelEndpoint: '172.18.0.3',
      port: 8472,
      ciliumRules: ['tunnel-encap-from-pod'],
      // the lab node has no cilium_vxlan device: said, not hidden
      inferred: true,
    });
    expect(t.hops[3]).toMatchObject({ lookup: 'tunnel-outer', dst: '172.18.0.3', dev: 'eth0' });
    expect(t.hops[6]).toMatchObject({ gateway: '172.18.0.3', encrypted: false });
    expect(t.disposition).toBe('forwarded');
  });

  it('no redirect_neigh (native routing) is shown in tunnel mode; without the ipcache the path is unknown', async () => {
    const s = await tunnel();
    expect(trace(s, flow('10.244.1.12', '10.244.2.7')).hops.map((h) => h.kind)).not.toContain('redirect_neigh');
    s.cilium.ipcache = undefined;
    const u = trace(s, flow('10.244.1.12', '10.244.2.7'));
    expect(u.disposition).toBe('unknown');
    expect(u.warnings.map((w) => w.code)).toContain('tunnel-endpoint-unknown');
  });

  it('geneve with tunnel-port from the config', async () => {
    const s = editStatus(await tunnel(), /x/, 'x');
    s.cilium.status = parseCiliumStatus(
      `${s.cilium.status!.versionSource!.text}\nRouting:                 Network: Tunnel [geneve]   Host: BPF\n`,
      'cilium-status',
    ).value;
    s.cilium.config['tunnel-port'] = { value: '7000', source: { probe: 'cilium-config', text: 'tunnel-port: 7000' } };
    const t = trace(s, flow('10.244.1.12', '10.244.2.7'));
    expect(t.hops.find((h) => h.kind === 'encap')).toMatchObject({
      dev: 'cilium_geneve',
      protocol: 'geneve',
      port: 7000,
    });
  });
});
