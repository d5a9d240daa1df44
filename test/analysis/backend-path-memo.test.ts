import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import type { Backend, ServiceEntry } from '../../src/model/service.js';
import type { Flow, Trace } from '../../src/model/trace.js';

// The bundled kind-v4 node k1 (pods 10.244.1.12 and 10.244.1.57; 10.244.2.0/24 and 10.244.3.0/24 on other nodes)
// with Services given in memory: the same backend addresses behind different ports, so `check`'s memo of
// where each backend's path ends is shared between Services and must still give every trace its own answer.
const k1 = () =>
  loadNodeState(dirSource(fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url))));
const be = (address: string, port: number): Backend => ({
  address,
  port,
  state: 'active',
  source: { probe: 'bpf-map/cilium_lb4_backends_v3', text: `${address}:${port}` },
});
const svc = (address: string, port: number, backends: Backend[]): ServiceEntry => ({
  source: 'cilium-bpf',
  frontend: { address, port, proto: 'TCP' },
  type: 'ClusterIP',
  flags: { routable: false },
  backends,
  evidence: [{ probe: 'bpf-map/cilium_lb4_services_v2', text: `${address}:${port}/TCP` }],
});
// a local pod, a remote node's pod, and an address no route of k1 covers but the default (outside the cluster)
const backends = ['10.244.1.57', '10.244.2.7', '10.244.3.21', '203.0.113.9'];
const services = [
  svc(
    '10.96.0.20',
    80,
    backends.map((a) => be(a, 8080)),
  ),
  svc(
    '10.96.0.21',
    443,
    backends.map((a) => be(a, 8443)),
  ),
  svc(
    '10.96.0.22',
    80,
    [...backends].reverse().map((a) => be(a, 9090)),
  ),
];
const flows: Flow[] = ['10.244.1.12', '10.244.1.57', '172.18.0.2', '172.18.0.9'].flatMap((src) =>
  services.map((s) => ({ src, dst: s.frontend.address, proto: 'tcp' as const, dport: s.frontend.port })),
);
const paths = (t: Trace) => t.hops.flatMap((h) => ('paths' in h && Array.isArray(h.paths) ? h.paths : []));

describe('per-backend path memo (check)', () => {
  it('gives every Service flow the traces it gets without the memo, from pods, the host and outside', async () => {
    const state = await k1();
    const plain = flows.map((f) => traceFlow(createTraceContext(state, services), f));
    const ctx = createTraceContext(state, services);
    ctx.backendPaths = new Map();
    const memo = flows.map((f) => traceFlow(ctx, f));
    expect(memo).toEqual(plain);
    // the flows do reach the candidate paths, and they differ by source and backend (else the memo is untested)
    const ends = new Set(plain.flatMap((t) => paths(t).map((p) => `${p.disposition}|${p.summary}`)));
    expect(plain.every((t) => paths(t).length === backends.length)).toBe(true);
    expect(ends.size).toBeGreaterThan(3);
    // one entry per (source, backend address): the ports of the three Services share it
    expect(ctx.backendPaths.size).toBeLessThanOrEqual(4 * backends.length);
  });
});
