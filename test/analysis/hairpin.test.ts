import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { loadServices } from '../../src/collect/load-services.js';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import { planFlows } from '../../src/analysis/check/flows.js';
import type { NodeState } from '../../src/model/types.js';
import type { Flow } from '../../src/model/trace.js';

// kind-v4-svc/k1: ClusterIP 10.96.0.10:53 → 10.244.1.57:53 (a pod of k1) and 10.244.2.7:53 (k2); socket-LB on.
const dir = fileURLToPath(new URL('../../fixtures/snapshots/kind-v4-svc/k1', import.meta.url));
async function k1(edit?: (s: NodeState) => void) {
  const source = dirSource(dir);
  const state = await loadNodeState(source);
  edit?.(state);
  const svc = await loadServices(source, state.addrs, kubeProxyReader);
  return createTraceContext(state, svc.entries);
}
const HAIRPIN: Flow = { src: '10.244.1.57', dst: '10.96.0.10', proto: 'udp', dport: 53, backend: '10.244.1.57' };
const rules = (h: { ciliumRules?: readonly string[] }) => h.ciliumRules ?? [];

describe('hairpin: a pod reaching itself through its own Service', () => {
  it('socket-LB: connect() goes to the pod’s own address, delivered inside its namespace (was unknown)', async () => {
    const t = traceFlow(await k1(), HAIRPIN);
    expect(t.disposition).toBe('delivered');
    expect(t.hops.map((h) => h.kind)).toEqual(['socket-lb', 'route', 'deliver']);
    expect(rules(t.hops[0]!)).toContain('socket-lb-hairpin-own-address');
    expect(t.hops[2]).toMatchObject({ target: 'pod-netns', netns: 'cni-7a9b3c4d-k1b', address: '10.244.1.57' });
    // another backend of the same Service is no hairpin
    const other = traceFlow(await k1(), { ...HAIRPIN, backend: '10.244.2.7' });
    expect(rules(other.hops[0]!)).not.toContain('socket-lb-hairpin-own-address');
  });

  it('per packet (no socket-LB hook attached): out of the pod to the frontend, loopback SNAT in cil_from_container, back into the pod', async () => {
    // the same node with its cgroup hooks gone: cil_from_container translates the packet (bpftool-cgroup read, empty)
    const t = traceFlow(await k1((s) => (s.cgroup = [])), HAIRPIN);
    expect(t.disposition).toBe('delivered');
    expect(t.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'tc-lb', 'redirect_peer', 'deliver']);
    expect(t.hops[0]).toMatchObject({ lookup: 'pod-netns', dst: '10.96.0.10', dev: 'eth0' });
    const lb = t.hops[2]!;
    expect(rules(lb)).toEqual(['lb-loopback-snat']);
    expect(lb).toMatchObject({ at: 'cil_from_container', backend: '10.244.1.57:53', inferred: true });
    expect(lb.detail).toContain('service loopback address 169.254.42.1');
    expect(t.hops[4]).toMatchObject({ kind: 'deliver', target: 'pod', address: '10.244.1.57' });
  });

  it('per packet: the loopback address the agent was configured with, not inferred', async () => {
    const t = traceFlow(
      await k1((s) => {
        s.cgroup = [];
        // as `cilium-dbg config -a` prints the key (daemon option ipv4-service-loopback-address)
        s.cilium.config['ipv4-service-loopback-address'] = {
          value: '169.254.99.1',
          source: { probe: 'cilium-config', text: 'ipv4-service-loopback-address: 169.254.99.1' },
        };
      }),
      HAIRPIN,
    );
    const lb = t.hops.find((h) => h.kind === 'tc-lb')!;
    expect(lb.detail).toContain('service loopback address 169.254.99.1');
    expect(lb.inferred).toBeUndefined();
    expect(lb.evidence).toContainEqual({ probe: 'cilium-config', text: 'ipv4-service-loopback-address: 169.254.99.1' });
  });

  it('check plans one hairpin flow per local pod that backs a Service, its own backend pinned', async () => {
    const ctx = await k1();
    const hp = planFlows(ctx, ctx.services).flows.filter((p) => p.label.endsWith('(hairpin)'));
    expect(hp.map((p) => p.flow)).toEqual([
      { src: '10.244.1.57', dst: '10.96.0.10', proto: 'tcp', dport: 53, backend: '10.244.1.57:53' },
    ]);
    expect(hp[0]!.category).toBe('pod-to-service');
  });
});
