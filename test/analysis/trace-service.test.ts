import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import type { Backend, ServiceEntry } from '../../src/model/service.js';
import type { NodeState } from '../../src/model/types.js';
import type { Flow } from '../../src/model/trace.js';

// The bundled kind-v4 node k1 (socket-LB hooks attached, Socket LB Enabled) with Services given in memory.
const k1 = () =>
  loadNodeState(dirSource(fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url))));
const be = (address: string, port: number, state: Backend['state'] = 'active'): Backend => ({
  address,
  port,
  state,
  source: { probe: 'bpf-map/cilium_lb4_backends_v3', text: `${address}:${port}` },
});
const dns = (over: Partial<ServiceEntry> = {}): ServiceEntry => ({
  source: 'cilium-bpf',
  frontend: { address: '10.96.0.10', port: 53, proto: 'UDP' },
  type: 'ClusterIP',
  flags: { routable: false },
  backends: [be('10.244.1.57', 53), be('10.244.2.7', 53)],
  evidence: [
    { probe: 'bpf-map/cilium_lb4_services_v2', text: '10.96.0.10:53/UDP slot 0 count 2 [ClusterIP, non-routable]' },
  ],
  ...over,
});
const f = (src: string, proto: Flow['proto'] = 'udp', extra: Partial<Flow> = {}): Flow => ({
  src,
  dst: '10.96.0.10',
  proto,
  ...(proto === 'icmp' ? {} : { dport: 53 }),
  ...extra,
});
const kinds = (t: { hops: { kind: string }[] }) => t.hops.map((h) => h.kind);
const hostnsOnly = (s: NodeState) => {
  s.cilium.status = {
    ...s.cilium.status!,
    socketLBCoverage: {
      coverage: 'Hostns-only',
      source: { probe: 'cilium-status', text: 'Socket LB Coverage:     Hostns-only' },
    },
  };
  return s;
};

describe('trace to a Service', () => {
  it('pod → ClusterIP: socket-LB rewrites at connect time, then the path to the chosen backend', async () => {
    const t = traceFlow(createTraceContext(await k1(), [dns()]), f('10.244.1.12'));
    expect(t.dst).toMatchObject({ kind: 'service', ip: '10.96.0.10', port: 53 });
    expect(kinds(t)).toEqual(['socket-lb', 'route', 'bpf', 'redirect_peer', 'deliver']);
    expect(t.hops[0]).toMatchObject({
      frontend: '10.96.0.10:53/UDP',
      backend: '10.244.1.57:53',
      program: expect.stringMatching(/^cil_sock4_(sendmsg|connect)$/),
    });
    expect(t.hops[0]!.backends).toHaveLength(2);
    expect(t.hops[0]!.evidence.map((e) => e.probe)).toEqual(
      expect.arrayContaining(['bpftool-cgroup', 'cilium-status', 'bpf-map/cilium_lb4_services_v2']),
    );
    expect(t.warnings.map((w) => w.code)).toContain('backend-choice');
    expect(t.disposition).toBe('delivered');
  });

  it('--backend follows another candidate: the remote one leaves by redirect_neigh', async () => {
    const t = traceFlow(createTraceContext(await k1(), [dns()]), f('10.244.1.12', 'udp', { backend: '10.244.2.7:53' }));
    expect(kinds(t)).toEqual(['socket-lb', 'route', 'bpf', 'route', 'redirect_neigh', 'bpf', 'masquerade']);
    expect(t.disposition).toBe('forwarded');
  });

  it('socket-LB in the host namespace only: the pod flow is load-balanced per packet in cil_from_container', async () => {
    const t = traceFlow(createTraceContext(hostnsOnly(await k1()), [dns()]), f('10.244.1.12'));
    expect(kinds(t)).toEqual(['route', 'bpf', 'tc-lb', 'redirect_peer', 'deliver']);
    expect(t.hops[2]!.detail).toMatch(/Hostns-only/);
  });

  it('ICMP to a Service address is not load-balanced: routed like any packet to that address', async () => {
    const t = traceFlow(createTraceContext(await k1(), [dns()]), f('10.244.1.12', 'icmp'));
    expect(kinds(t)).not.toContain('socket-lb');
    expect(kinds(t)).not.toContain('drop');
    expect(t.warnings.map((w) => w.code)).toContain('icmp-not-load-balanced');
  });

  it('a Service without backends: with socket-LB the system call fails, no packet is dropped', async () => {
    const t = traceFlow(
      createTraceContext(await k1(), [dns({ backends: [be('10.244.1.57', 53, 'terminating')] })]),
      f('10.244.1.12'),
    );
    expect(t.disposition).toBe('dropped');
    expect(t.hops[0]).toMatchObject({ kind: 'drop', code: 'EHOSTUNREACH', syscall: { errno: 'EHOSTUNREACH' } });
  });

  it('from outside, a non-routable ClusterIP is dropped in cil_from_netdev', async () => {
    const t = traceFlow(createTraceContext(await k1(), [dns()]), f('203.0.113.50'));
    // the packet arrives and cil_from_netdev's nodeport_lb4 finds the entry without the routable flag
    expect(t.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'drop']);
    expect(t.hops[2]).toMatchObject({ kind: 'drop', reason: 'DROP_IS_CLUSTER_IP' });
  });

  it('a frontend only kube-proxy programs: DNAT in the nat table, and a warning that BPF host routing bypasses it', async () => {
    const kp = dns({
      source: 'kube-proxy-iptables',
      chain: 'KUBE-SVC-TCOU7JCQXEZGVUNU',
      name: 'kube-system/kube-dns:dns',
    });
    const t = traceFlow(createTraceContext(await k1(), [kp]), f('10.244.1.12'));
    expect(kinds(t)).toContain('kube-proxy');
    expect(t.hops.find((h) => h.kind === 'kube-proxy')).toMatchObject({ chain: 'KUBE-SVC-TCOU7JCQXEZGVUNU' });
    expect(t.warnings.map((w) => w.code)).toContain('kube-proxy-bypassed');
    expect(t.dst.service).toBe('kube-system/kube-dns:dns');
  });

  it("a NodePort kube-proxy programs for every local address (0.0.0.0:PORT) is hit by a packet to the node's address", async () => {
    const np = dns({
      source: 'kube-proxy-iptables',
      frontend: { address: '0.0.0.0', port: 31940, proto: 'TCP' },
      type: 'NodePort',
      chain: 'KUBE-EXT-WEB',
      backends: [be('10.244.2.7', 8080)],
    });
    const t = traceFlow(createTraceContext(await k1(), [np]), {
      src: '172.18.0.3',
      dst: '172.18.0.2',
      proto: 'tcp',
      dport: 31940,
    });
    expect(t.hops.find((h) => h.kind === 'kube-proxy')).toMatchObject({
      chain: 'KUBE-EXT-WEB',
      frontend: '0.0.0.0:31940/TCP',
      backend: '10.244.2.7:8080',
    });
    // not for another port, nor for an address that is not the node's
    expect(
      kinds(
        traceFlow(createTraceContext(await k1(), [np]), {
          src: '172.18.0.3',
          dst: '172.18.0.2',
          proto: 'tcp',
          dport: 31941,
        }),
      ),
    ).not.toContain('kube-proxy');
    expect(
      kinds(
        traceFlow(createTraceContext(await k1(), [np]), {
          src: '10.244.1.12',
          dst: '198.51.100.9',
          proto: 'tcp',
          dport: 31940,
        }),
      ),
    ).not.toContain('kube-proxy');
  });

  it('a destination that is no frontend is traced as a plain address', async () => {
    const t = traceFlow(createTraceContext(await k1(), [dns()]), {
      src: '10.244.1.12',
      dst: '10.244.2.7',
      proto: 'tcp',
      dport: 80,
    });
    expect(t.dst.kind).toBe('remote-pod');
  });
});

describe('trace to a NodePort from outside', () => {
  const np = (over: Partial<ServiceEntry> = {}): ServiceEntry =>
    dns({
      type: 'NodePort',
      frontend: { address: '172.18.0.2', port: 31940, proto: 'TCP' },
      flags: { routable: true },
      backends: [be('10.244.2.7', 8080)],
      ...over,
    });
  const out = (extra: Partial<Flow> = {}): Flow => ({
    src: '203.0.113.50',
    dst: '172.18.0.2',
    proto: 'tcp',
    dport: 31940,
    ...extra,
  });

  it('SNAT mode: load-balanced in cil_from_netdev, source-NATed to the node, reply comes back here', async () => {
    const t = traceFlow(createTraceContext(await k1(), [np()]), out());
    const kinds = t.hops.map((h) => h.kind);
    expect(kinds.slice(0, 4)).toEqual(['route', 'bpf', 'tc-lb', 'masquerade']);
    expect(t.hops[3]).toMatchObject({ applied: true, by: 'bpf-nodeport' });
    expect(t.hops[3]!.evidence[0]!.text).toMatch(/Mode:\s+SNAT/);
  });

  it('DSR (per-service flag): the client address is kept and the backend answers directly', async () => {
    const t = traceFlow(createTraceContext(await k1(), [np({ flags: { routable: true, dsr: true } })]), out());
    expect(t.hops.find((h) => h.kind === 'masquerade')).toMatchObject({ applied: false, by: 'bpf-nodeport' });
  });

  it('externalTrafficPolicy=Local with no backend on this node is dropped', async () => {
    const t = traceFlow(
      createTraceContext(await k1(), [np({ flags: { routable: true, externalTrafficPolicyLocal: true } })]),
      out(),
    );
    expect(t.disposition).toBe('dropped');
    expect(t.hops[0]).toMatchObject({ kind: 'drop', reason: 'externalTrafficPolicy=Local without a local backend' });
    const local = traceFlow(
      createTraceContext(await k1(), [
        np({
          flags: { routable: true, externalTrafficPolicyLocal: true },
          backends: [be('10.244.2.7', 8080), be('10.244.1.57', 8080)],
        }),
      ]),
      out(),
    );
    expect(local.hops.find((h) => h.kind === 'tc-lb')).toMatchObject({ backend: '10.244.1.57:8080' });
    expect(local.disposition).toBe('delivered');
  });
});

describe('every candidate backend', () => {
  it('the LB hop says where the path to each backend ends', async () => {
    const t = traceFlow(createTraceContext(await k1(), [dns()]), f('10.244.1.12'));
    expect(t.hops[0]!.paths).toEqual([
      {
        backend: '10.244.1.57:53',
        disposition: 'delivered',
        summary: expect.stringMatching(/delivered to .*10\.244\.1\.57/),
      },
      {
        backend: '10.244.2.7:53',
        disposition: 'forwarded',
        summary: expect.stringMatching(/redirect_neigh out of eth0 to next hop 172\.18\.0\.3/),
      },
    ]);
  });

  it('an L7 load-balancer frontend (no backend slot) is redirected to the proxy port, not dropped', async () => {
    const gw = dns({
      frontend: { address: '10.96.0.10', port: 53, proto: 'UDP' },
      flags: { routable: false, l7LoadBalancer: true, l7ProxyPort: 15735 },
      backends: [],
    });
    const t = traceFlow(createTraceContext(await k1(), [gw]), f('10.244.1.12'));
    expect(t.disposition).toBe('delivered');
    expect(kinds(t)).toEqual(['deliver']);
    expect(t.hops[0]).toMatchObject({ target: 'l7-proxy', proxyPort: 15735, address: '10.96.0.10' });
    expect(t.hops[0]!.detail).toMatch(/L7 proxy \(Envoy\) on port 15735/);
    // the same frontend without the flag and without backends is a drop: the flag decides
    const plain = traceFlow(createTraceContext(await k1(), [dns({ backends: [] })]), f('10.244.1.12'));
    expect(plain.disposition).toBe('dropped');
  });
});

describe('backend selection: which backend a new connection gets is not a fact unless something pins it', () => {
  const lbHop = (t: ReturnType<typeof traceFlow>) =>
    t.hops.find((h) => h.kind === 'socket-lb' || h.kind === 'tc-lb' || h.kind === 'kube-proxy') as
      | (ReturnType<typeof traceFlow>['hops'][number] & {
          selection: import('../../src/model/trace.js').BackendSelection;
        })
      | undefined;

  it("per packet, random (the node's Backend Selection: Random): one of 2, the path follows the first only to show one", async () => {
    const t = traceFlow(createTraceContext(hostnsOnly(await k1()), [dns()]), f('10.244.1.12'));
    const h = lbHop(t)!;
    expect(h.kind).toBe('tc-lb');
    expect(h.selection).toEqual({
      decided: 'not-decided',
      algorithm: 'random',
      oneOf: ['10.244.1.57:53', '10.244.2.7:53'],
      // this entry does not say whether affinity is on: left out, never false
      because: 'a new connection gets one at random',
    });
    expect(h.detail).toContain('→ one of 2 backends (random; this path follows 10.244.1.57:53)');
    expect(t.warnings.find((w) => w.code === 'backend-choice')?.message).toMatch(/at random/);
  });

  it("socket-LB picks its own slot (random for TCP, the socket's cookie for UDP) and never uses the Maglev table", async () => {
    const maglev = dns({ flags: { routable: false, algorithm: 'maglev' } });
    const udp = lbHop(traceFlow(createTraceContext(await k1(), [maglev]), f('10.244.1.12')))!;
    expect(udp.kind).toBe('socket-lb');
    expect(udp.selection).toMatchObject({ decided: 'not-decided', algorithm: 'socket-cookie' });
    expect(udp.selection.because).toMatch(/socket's cookie.*Maglev table is not used/);
    expect(udp.detail).toContain('to one of 2 backends (socket-cookie; this path follows 10.244.1.57:53)');
    const tcp = lbHop(
      traceFlow(
        createTraceContext(await k1(), [
          dns({ frontend: { address: '10.96.0.10', port: 53, proto: 'TCP' }, flags: { algorithm: 'maglev' } }),
        ]),
        f('10.244.1.12', 'tcp'),
      ),
    )!;
    expect(tcp.selection).toMatchObject({
      algorithm: 'random',
      because: expect.stringMatching(/at random for each connect/),
    });
  });

  it('Maglev: the table entry for the flow hash decides, which netpath does not compute', async () => {
    const t = traceFlow(
      createTraceContext(hostnsOnly(await k1()), [dns({ flags: { routable: false, algorithm: 'maglev' } })]),
      f('10.244.1.12'),
    );
    const h = lbHop(t)!;
    expect(h.selection).toMatchObject({ decided: 'not-decided', algorithm: 'maglev' });
    expect(h.selection.because).toMatch(/Maglev table entry for the flow's hash, which netpath does not compute/);
    expect(h.detail).toContain('one of 2 backends (maglev;');
  });

  it('the algorithm unknown (no Backend Selection in the status): random or Maglev, not known which', async () => {
    const s = hostnsOnly(await k1());
    delete s.cilium.status!.backendSelection;
    const h = lbHop(traceFlow(createTraceContext(s, [dns()]), f('10.244.1.12')))!;
    expect(h.selection.algorithm).toBe('unknown');
    expect(h.detail).toContain('(random or Maglev, not known which;');
  });

  it('session affinity: the earlier backend of a returning client is not read, and the hop says so', async () => {
    const t = traceFlow(
      createTraceContext(await k1(), [
        dns({ flags: { routable: false, sessionAffinity: true, affinityTimeoutSeconds: 10800 } }),
      ]),
      f('10.244.1.12'),
    );
    expect(lbHop(t)!.selection).toMatchObject({
      affinity: true,
      because: expect.stringMatching(/affinity state is not read/),
    });
  });

  it('decided: by --backend, or by being the only candidate (no backend-choice warning)', async () => {
    const asked = traceFlow(
      createTraceContext(await k1(), [dns()]),
      f('10.244.1.12', 'udp', { backend: '10.244.2.7:53' }),
    );
    expect(lbHop(asked)!.selection.decided).toBe('asked');
    expect(lbHop(asked)!.detail).toContain('to 10.244.2.7:53 at connect');
    const one = traceFlow(
      createTraceContext(await k1(), [dns({ backends: [be('10.244.1.57', 53)] })]),
      f('10.244.1.12'),
    );
    expect(lbHop(one)!.selection).toMatchObject({ decided: 'only-candidate', oneOf: ['10.244.1.57:53'] });
    expect(one.warnings.map((w) => w.code)).not.toContain('backend-choice');
  });
});
