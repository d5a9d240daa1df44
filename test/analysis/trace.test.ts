import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import { parseCiliumStatus } from '../../src/tools/cilium/index.js';
import { parseIpRoute, parseIpRule } from '../../src/tools/ip/index.js';
import type { NodeState } from '../../src/model/types.js';
import type { Flow } from '../../src/model/trace.js';

// Analysis on the bundled kind-v4 node k1, changed in memory to reach the cases the lab does not show.
const k1 = () =>
  loadNodeState(dirSource(fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url))));
const flow = (src: string, dst: string): Flow => ({ src, dst, proto: 'tcp', dport: 80 });
const kinds = (s: NodeState, f: Flow) => traceFlow(createTraceContext(s), f).hops.map((h) => h.kind);

function withStatus(s: NodeState, lines: string): NodeState {
  s.cilium.status = parseCiliumStatus(lines, 'cilium-status').value;
  return s;
}
const LEGACY =
  'KubeProxyReplacement:    Strict   [eth0 172.18.0.2 (Direct Routing)]\nHost Routing:            Legacy\nMasquerading:            IPTables [IPv4: Enabled, IPv6: Disabled]\n';

describe('trace on in-memory variants of a real node', () => {
  it('legacy host routing: pod → remote pod goes through the stack, FORWARD hooks, cil_to_netdev', async () => {
    const s = withStatus(await k1(), LEGACY);
    const t = traceFlow(createTraceContext(s), flow('10.244.1.12', '10.244.2.7'));
    expect(t.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'stack', 'route', 'netfilter', 'bpf', 'masquerade']);
    expect(t.hops[2]!.detail).toMatch(/legacy because: iptables masquerading/);
    expect(t.hops[4]).toMatchObject({ hooks: ['PREROUTING', 'FORWARD', 'POSTROUTING'] });
    expect(t.hops[6]).toMatchObject({ applied: false });
    expect(t.disposition).toBe('forwarded');
  });

  it('legacy host routing: pod → outside is masqueraded by iptables, marked inferred', async () => {
    const s = withStatus(await k1(), LEGACY.replace('IPTables [', 'IPTables   10.244.0.0/16 ['));
    const t = traceFlow(createTraceContext(s), flow('10.244.1.12', '203.0.113.9'));
    const m = t.hops.find((h) => h.kind === 'masquerade')!;
    expect(m).toMatchObject({ applied: true, by: 'iptables', inferred: true, snatTo: '172.18.0.2' });
  });

  it('legacy host routing: same-node delivery is a plain bpf_redirect, never redirect_peer', async () => {
    const s = withStatus(await k1(), LEGACY);
    expect(kinds(s, flow('10.244.1.12', '10.244.1.57'))).toEqual(['route', 'bpf', 'redirect', 'deliver']);
  });

  it('legacy host routing: a local route to an address that is not a pod delivers to a socket, typed as such', async () => {
    const s = withStatus(await k1(), LEGACY);
    s.routes.push(
      ...parseIpRoute('local 198.51.100.7 dev eth0 table local proto kernel scope host\n', 'ip-route4', 4).value,
    );
    const t = traceFlow(createTraceContext(s), flow('10.244.1.12', '198.51.100.7'));
    expect(t.hops.map((h) => [h.kind, 'lookup' in h ? h.lookup : 'why' in h ? h.why : undefined])).toEqual([
      ['route', 'pod-netns'],
      ['bpf', undefined],
      ['stack', 'legacy-host-routing'],
      ['route', 'input'],
      ['deliver', undefined],
    ]);
    expect(t.hops[3]).toMatchObject({ result: 'local', iif: 'lxc6d1e0f2a3b4c', table: 255 });
    expect(t.hops[4]).toMatchObject({
      target: 'local-socket',
      address: '198.51.100.7',
      detail: 'delivered to a local socket on 198.51.100.7',
    });
    expect(t.disposition).toBe('delivered');
  });

  it('a blackhole route drops in the FIB lookup (DROP_NO_FIB), an unreachable one is no-route', async () => {
    const s = await k1();
    s.routes.push(...parseIpRoute('blackhole 10.244.2.0/25\nunreachable 10.244.2.128/25\n', 'ip-route4', 4).value);
    const a = traceFlow(createTraceContext(s), flow('10.244.1.12', '10.244.2.7'));
    expect(a.disposition).toBe('dropped');
    expect(a.hops.at(-1)).toMatchObject({ kind: 'drop', reason: expect.stringMatching(/blackhole.*DROP_NO_FIB/) });
    expect(traceFlow(createTraceContext(s), flow('10.244.1.12', '10.244.2.200')).disposition).toBe('no-route');
  });

  it('multipath: every candidate next hop is listed, with a warning that the kernel picks by hash', async () => {
    const s = await k1();
    s.routes.push(
      ...parseIpRoute(
        '198.51.100.0/24 proto static\n\tnexthop via 172.18.0.3 dev eth0 weight 1\n\tnexthop via 172.18.0.4 dev eth0 weight 2\n',
        'ip-route4',
        4,
      ).value,
    );
    const t = traceFlow(createTraceContext(s), flow('10.244.1.12', '198.51.100.7'));
    const r = t.hops.find((h) => h.kind === 'redirect_neigh')!;
    expect(r.candidates).toEqual([
      { gateway: '172.18.0.3', dev: 'eth0', weight: 1 },
      { gateway: '172.18.0.4', dev: 'eth0', weight: 2 },
    ]);
    expect(t.warnings.map((w) => w.code)).toContain('multipath');
  });

  it('warns where a fwmark policy rule could make the kernel and bpf_fib_lookup disagree', async () => {
    const s = await k1();
    s.rules.push(...parseIpRule('100:\tfrom all fwmark 0x200/0xf00 lookup 2004\n', 'ip-rule4', 4).value);
    const t = traceFlow(createTraceContext(s), flow('10.244.1.12', '10.244.2.7'));
    expect(t.warnings.find((w) => w.code === 'fib-policy-divergence')?.message).toMatch(
      /fwmark 0x200\/0xf00.*BPF_FIB_LOOKUP_MARK/,
    );
  });

  it('without the rules probe, the default rules are assumed and the route hop says so', async () => {
    const s = await k1();
    s.rules = [];
    s.sources = s.sources.map((x) => (x.probe === 'ip-rule4' ? { probe: 'ip-rule4', status: 'missing' } : x));
    const t = traceFlow(createTraceContext(s), flow('10.244.1.12', '10.244.2.7'));
    expect(t.warnings.map((w) => w.code)).toContain('rules-missing');
    expect(t.hops[2]).toMatchObject({ kind: 'route', inferred: true, because: expect.stringMatching(/default rules/) });
    expect(t.disposition).toBe('forwarded');
  });

  it('with host routing unknown, no redirect_peer is claimed and the reason is given', async () => {
    const s = await k1();
    s.cilium.status = undefined;
    s.cilium.config = {};
    const t = traceFlow(createTraceContext(s), flow('10.244.1.12', '10.244.1.57'));
    expect(t.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'redirect', 'deliver']);
    expect(t.hops[2]).toMatchObject({
      inferred: true,
      because: expect.stringMatching(/neither cilium-status nor cilium-config was read/),
    });
    const remote = traceFlow(createTraceContext(s), flow('10.244.1.12', '10.244.2.7'));
    expect(remote.warnings.map((w) => w.code)).toContain('host-routing-unknown');
    expect(remote.dst.kind).toBe('external');
    expect(remote.dst.because).toMatch(/could also be a remote pod/);
  });

  it('a pod whose device has no Cilium program goes to the stack, and the trace says so', async () => {
    const s = await k1();
    s.tc = s.tc.filter((f) => f.dev !== 'lxc6d1e0f2a3b4c');
    s.bpfNet = s.bpfNet.filter((n) => n.dev !== 'lxc6d1e0f2a3b4c');
    const t = traceFlow(createTraceContext(s), flow('10.244.1.12', '10.244.2.7'));
    expect(t.hops[1]!.kind).toBe('stack');
    expect(t.warnings.map((w) => w.code)).toContain('no-cilium-program');
  });
});
