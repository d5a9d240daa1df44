import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import type { ServiceEntry } from '../../src/model/service.js';
import type { Flow } from '../../src/model/trace.js';

// The bundled kind-v4 node k1 (socket-LB hooks attached, Socket LB Enabled, Full) with Services given in memory.
const k1 = () =>
  loadNodeState(dirSource(fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url))));
const svc = (
  address: string,
  port: number,
  type: ServiceEntry['type'],
  proto: 'TCP' | 'UDP' = 'TCP',
): ServiceEntry => ({
  source: 'cilium-bpf',
  frontend: { address, port, proto },
  type,
  flags: { routable: true },
  backends: [
    {
      address: '10.244.2.7',
      port: 8080,
      state: 'active',
      source: { probe: 'bpf-map/cilium_lb4_backends_v3', text: '10.244.2.7:8080' },
    },
  ],
  evidence: [{ probe: 'bpf-map/cilium_lb4_services_v2', text: `${address}:${port} slot 0 count 1` }],
});
const flow = (src: string, dst: string, dport: number, proto: Flow['proto'] = 'tcp'): Flow => ({
  src,
  dst,
  dport,
  proto,
});

describe('socket-LB cases Cilium decides in bpf_sock.c', () => {
  it("an ExternalIP on one of this node's addresses is translated at connect(); elsewhere it is not", async () => {
    const ctx = createTraceContext(await k1(), [
      svc('172.18.0.2', 80, 'ExternalIP'),
      svc('198.51.100.7', 80, 'ExternalIP'),
    ]);
    const own = traceFlow(ctx, flow('10.244.1.12', '172.18.0.2', 80));
    expect(own.hops[0]).toMatchObject({ kind: 'socket-lb', ciliumRules: ['socket-lb-externalip-own-address'] });
    const away = traceFlow(ctx, flow('10.244.1.12', '198.51.100.7', 80));
    expect(away.hops.map((h) => h.kind)).not.toContain('socket-lb');
    expect(away.hops.find((h) => h.kind === 'tc-lb')).toMatchObject({
      at: 'cil_from_container',
      noSocketLb: expect.stringMatching(/ExternalIP.*not one/),
    });
  });

  it('the wildcard NodePort entry: loopback from the host namespace, not from a pod (its loopback is its own)', async () => {
    const ctx = createTraceContext(await k1(), [svc('0.0.0.0', 31940, 'NodePort')]);
    const host = traceFlow(ctx, flow('172.18.0.2', '127.0.0.1', 31940));
    expect(host.hops[0]).toMatchObject({ kind: 'socket-lb', wildcard: { connectedTo: '127.0.0.1:31940' } });
    const pod = traceFlow(ctx, flow('10.244.1.12', '127.0.0.1', 31940));
    expect(pod.hops.map((h) => h.kind)).not.toContain('socket-lb');
    // a port outside the NodePort range never matches the wildcard entry
    const ctx2 = createTraceContext(await k1(), [svc('0.0.0.0', 8080, 'NodePort')]);
    expect(traceFlow(ctx2, flow('172.18.0.2', '127.0.0.1', 8080)).hops.map((h) => h.kind)).not.toContain('socket-lb');
  });

  it('a UDP flow names the recvmsg hook that rewrites the reply, and says when it is not attached', async () => {
    const state = await k1();
    const dns = svc('10.96.0.10', 53, 'ClusterIP', 'UDP');
    const on = traceFlow(createTraceContext(state, [dns]), flow('10.244.1.12', '10.96.0.10', 53, 'udp'));
    expect(on.hops[0]).toMatchObject({
      kind: 'socket-lb',
      replyXlate: { hook: 'recvmsg', attached: true, program: 'cil_sock4_recvmsg' },
    });
    state.cgroup = state.cgroup.filter((c) => !c.attachType.includes('recvmsg'));
    const off = traceFlow(createTraceContext(state, [dns]), flow('10.244.1.12', '10.96.0.10', 53, 'udp'));
    expect(off.hops[0]).toMatchObject({ kind: 'socket-lb', replyXlate: { attached: false } });
    // TCP has no reply rewrite to speak of: the socket is connected to the backend
    const tcp = traceFlow(
      createTraceContext(state, [svc('10.96.0.10', 53, 'ClusterIP')]),
      flow('10.244.1.12', '10.96.0.10', 53),
    );
    expect(tcp.hops[0]).not.toHaveProperty('replyXlate');
  });

  it('a frontend without backends fails the call only where socket-LB takes the flow', async () => {
    const empty = { ...svc('10.96.0.20', 80, 'ClusterIP'), backends: [] };
    const ctx = createTraceContext(await k1(), [empty]);
    const fromPod = traceFlow(ctx, flow('10.244.1.12', '10.96.0.20', 80));
    expect(fromPod.hops).toEqual([
      expect.objectContaining({ kind: 'drop', syscall: expect.objectContaining({ call: 'connect' }) }),
    ]);
    // from outside there is no socket: a packet arrives and the per-packet LB drops it
    const outside = traceFlow(ctx, flow('203.0.113.50', '10.96.0.20', 80));
    expect(outside.hops[0]).toMatchObject({ kind: 'drop', code: 'DROP_NO_SERVICE' });
    expect(outside.hops[0]).not.toHaveProperty('syscall');
  });
});
