import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';
import { traceJsonSchema } from '../../src/render/json.js';

const snap = (node: string) =>
  dirSource(fileURLToPath(new URL(`../../fixtures/snapshots/kind-v4/${node}`, import.meta.url)));
const trace = (src: string, dst: string, node = 'k1') => runTrace(snap(node), { src, dst, proto: 'tcp', port: 8080 });
const kinds = (t: { hops: { kind: string }[] }) => t.hops.map((h) => h.kind);

describe('kind-v4 snapshot (Cilium 1.13, BPF host routing, legacy tc)', () => {
  it('same-node pod → pod: redirect_peer straight into the destination pod', async () => {
    const { trace: t, exitCode } = await trace('10.244.1.12', '10.244.1.57');
    expect(exitCode).toBe(0);
    expect(t.src).toMatchObject({ kind: 'local-pod', dev: 'lxc6d1e0f2a3b4c', netns: 'cni-5f0c1d2e-k1a' });
    expect(t.dst).toMatchObject({ kind: 'local-pod', dev: 'lxc0a1b2c3d4e5f', netns: 'cni-7a9b3c4d-k1b' });
    expect(kinds(t)).toEqual(['route', 'bpf', 'redirect_peer', 'deliver']);
    expect(t.hops[1]).toMatchObject({ dev: 'lxc6d1e0f2a3b4c', hook: 'tc-ingress', program: 'cil_from_container' });
    expect(t.hops[1]!.evidence.map((e) => e.probe)).toContain('tc-filter/lxc6d1e0f2a3b4c.ingress');
    expect(t.hops[2]!.evidence).toContainEqual({ probe: 'cilium-status', text: 'Host Routing:            BPF' });
    expect(t.disposition).toBe('delivered');
  });

  it('cross-node pod → pod: FIB lookup and redirect_neigh to the peer node, no masquerade', async () => {
    const { trace: t } = await trace('10.244.1.12', '10.244.2.7');
    expect(t.dst).toMatchObject({ kind: 'remote-pod', node: '172.18.0.3' });
    expect(kinds(t)).toEqual(['route', 'bpf', 'route', 'redirect_neigh', 'bpf', 'masquerade']);
    expect(t.hops[2]).toMatchObject({
      table: 254,
      gateway: '172.18.0.3',
      dev: 'eth0',
      route: '10.244.2.0/24 via 172.18.0.3 dev eth0',
    });
    expect(t.hops[3]).toMatchObject({ dev: 'eth0', nexthop: '172.18.0.3', neighbor: { state: ['REACHABLE'] } });
    expect(t.hops[4]).toMatchObject({ dev: 'eth0', hook: 'tc-egress', program: 'cil_to_netdev' });
    expect(t.hops[5]).toMatchObject({ applied: false, by: 'bpf' });
    expect(t.disposition).toBe('forwarded');
  });

  it('the same flow traced from the other end: arrives on eth0, cil_from_netdev, redirect_peer', async () => {
    const { trace: t } = await trace('10.244.1.12', '10.244.2.7', 'k2');
    expect(t.src.kind).toBe('remote-pod');
    expect(kinds(t)).toEqual(['route', 'bpf', 'redirect_peer', 'deliver']);
    expect(t.hops[1]).toMatchObject({ dev: 'eth0', program: 'cil_from_netdev' });
    expect(t.hops[2]).toMatchObject({ dev: 'lxc9f8e7d6c5b4a' });
  });

  it('host → local pod: route via cilium_host, cil_from_host, plain bpf_redirect', async () => {
    const { trace: t } = await trace('172.18.0.2', '10.244.1.57');
    expect(t.src.kind).toBe('host');
    expect(kinds(t)).toEqual(['route', 'netfilter', 'bpf', 'redirect', 'deliver']);
    expect(t.hops[0]).toMatchObject({ dev: 'cilium_host', gateway: '10.244.1.1' });
    expect(t.hops[2]).toMatchObject({ dev: 'cilium_host', hook: 'tc-egress', program: 'cil_from_host' });
    expect(t.hops[1]).toMatchObject({ hooks: ['OUTPUT', 'POSTROUTING'], inferred: true });
  });

  it('pod → outside: BPF masquerade undecided without the ipcache (a node address is not SNATed), then the gateway', async () => {
    const { trace: t } = await trace('10.244.1.12', '203.0.113.9');
    expect(t.dst.kind).toBe('external');
    expect(kinds(t)).toEqual(['route', 'bpf', 'route', 'redirect_neigh', 'bpf', 'masquerade', 'gateway']);
    expect(t.hops[5]).toMatchObject({ applied: 'unknown', by: 'bpf', why: 'ipcache-unknown' });
    expect(t.hops[6]).toMatchObject({ gateway: '172.18.0.1', dev: 'eth0' });
  });

  it('pod → its own node: handed to the stack, local table, delivered', async () => {
    const { trace: t } = await trace('10.244.1.12', '172.18.0.2');
    expect(kinds(t)).toEqual(['route', 'bpf', 'stack', 'route', 'netfilter', 'deliver']);
    expect(t.hops[3]).toMatchObject({ table: 255 });
  });

  it('produces the JSON contract', async () => {
    const { trace: t } = await trace('10.244.1.12', '10.244.2.7');
    expect(() => traceJsonSchema.parse(JSON.parse(JSON.stringify(t)))).not.toThrow();
    expect(t.node).toBe('k1');
  });
});
