import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { loadServices } from '../../src/collect/load-services.js';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import { planFlows } from '../../src/analysis/check/flows.js';
import { checkNode } from '../../src/analysis/check/index.js';
import type { ServiceEntry } from '../../src/model/service.js';
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

// v6-wg/node-a (IPv6 only, its status Cilium 1.19.0, socket-LB on) with one IPv6 ClusterIP whose only backend is the
// pod 2001:db8:42::a:5: the snapshot has no IPv6 Service, so the entry is the loader's model of one, in memory.
const dir6 = fileURLToPath(new URL('../../fixtures/snapshots/v6-wg/node-a', import.meta.url));
const POD6 = '2001:db8:42::a:5';
const svc6: ServiceEntry = {
  source: 'cilium-bpf',
  frontend: { address: 'fd00:10:96::10', port: 80, proto: 'TCP' },
  type: 'ClusterIP',
  flags: {},
  backends: [
    {
      address: POD6,
      port: 8080,
      state: 'active',
      source: { probe: 'bpf-map/cilium_lb6_backends_v3', text: `[${POD6}]:8080` },
    },
    {
      address: '2001:db8:42::a:6',
      port: 8080,
      state: 'active',
      source: { probe: 'bpf-map/cilium_lb6_backends_v3', text: '[2001:db8:42::a:6]:8080' },
    },
  ],
  evidence: [{ probe: 'bpf-map/cilium_lb6_services_v2', text: '[fd00:10:96::10]:80 slot 0 count 2' }],
};
const HAIRPIN6: Flow = { src: POD6, dst: 'fd00:10:96::10', proto: 'tcp', dport: 80, backend: POD6 };
/** node-a as captured, or per packet (its cgroup hooks gone) at another Cilium version, `null`: no version line */
async function nodeA(perPacket: boolean, version?: string | null, edit?: (s: NodeState) => void) {
  const state = await loadNodeState(dirSource(dir6));
  if (perPacket) state.cgroup = [];
  if (version === null) delete state.cilium.status!.version;
  else if (version) state.cilium.status!.version = version;
  edit?.(state);
  return createTraceContext(state, [svc6]);
}

describe('IPv6 hairpin', () => {
  it('socket-LB: connect() goes to the pod’s own address, as for IPv4', async () => {
    const t = traceFlow(await nodeA(false), HAIRPIN6);
    expect(t.disposition).toBe('delivered');
    expect(t.hops.map((h) => h.kind)).toEqual(['socket-lb', 'route', 'deliver']);
    expect(rules(t.hops[0]!)).toContain('socket-lb-hairpin-own-address');
    expect(t.hops[2]).toMatchObject({ target: 'pod-netns', address: POD6 });
  });

  it('per packet, Cilium 1.19 (the snapshot’s): loopback SNAT to fe80::1, back into the pod (was: delivered over lo)', async () => {
    const t = traceFlow(await nodeA(true), HAIRPIN6);
    expect(t.disposition).toBe('delivered');
    expect(t.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'tc-lb', 'redirect_peer', 'deliver']);
    expect(t.hops[0]).toMatchObject({ lookup: 'pod-netns', dst: 'fd00:10:96::10' });
    const lb = t.hops[2]!;
    expect(rules(lb)).toEqual(['lb6-loopback-snat']);
    expect(lb).toMatchObject({ at: 'cil_from_container', backend: `[${POD6}]:8080`, inferred: true });
    expect(lb.because).toMatch(/ipv6-service-loopback-address is not in the captured agent configuration/);
    expect(lb.detail).toContain('service loopback address fe80::1');
    // the version line is what decided it
    expect(lb.evidence.some((e) => e.probe === 'cilium-status' && e.text.includes('1.19.0'))).toBe(true);
    expect(t.hops[4]).toMatchObject({ kind: 'deliver', target: 'pod', address: POD6 });
    expect(t.warnings.map((w) => w.code)).not.toContain('hairpin-no-reply');
  });

  it('per packet, 1.19 with the address configured: that address, not inferred', async () => {
    const t = traceFlow(
      await nodeA(true, undefined, (s) => {
        s.cilium.config['ipv6-service-loopback-address'] = {
          value: 'fd00::1',
          source: { probe: 'cilium-config', text: 'ipv6-service-loopback-address: fd00::1' },
        };
      }),
      HAIRPIN6,
    );
    const lb = t.hops.find((h) => h.kind === 'tc-lb')!;
    expect(lb.detail).toContain('service loopback address fd00::1');
    expect(lb.inferred).toBeUndefined();
  });

  it('per packet, before 1.19: no loopback SNAT, delivered from its own address, and the reply never returns', async () => {
    const t = traceFlow(await nodeA(true, '1.18.4'), HAIRPIN6);
    // the packet itself reaches the pod (IPv6 has no martian-source check for the pod's own address)
    expect(t.disposition).toBe('delivered');
    expect(t.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'tc-lb', 'redirect_peer', 'deliver']);
    const lb = t.hops[2]!;
    expect(rules(lb)).toEqual(['lb6-no-loopback-snat']);
    expect(lb.detail).toContain(`the source stays ${POD6}`);
    expect(lb.detail).not.toContain('loopback address fe80::1');
    expect(t.warnings).toContainEqual(
      expect.objectContaining({ code: 'hairpin-no-reply', message: expect.stringMatching(/does not complete/) }),
    );
  });

  it('per packet, no Cilium version: unknown, with why', async () => {
    const t = traceFlow(await nodeA(true, null), HAIRPIN6);
    expect(t.disposition).toBe('unknown');
    const lb = t.hops.find((h) => h.kind === 'tc-lb')!;
    expect(lb.ciliumRules).toBeUndefined();
    expect(lb).toMatchObject({ inferred: true, because: expect.stringMatching(/Cilium version is unknown.*1\.19\+/) });
    expect(t.warnings.map((w) => w.code)).toContain('hairpin-undecided');
  });

  it('another backend of the same Service is no hairpin', async () => {
    const t = traceFlow(await nodeA(true, '1.18.4'), { ...HAIRPIN6, backend: '2001:db8:42::a:6' });
    const lb = t.hops.find((h) => h.kind === 'tc-lb')!;
    expect(lb.ciliumRules).toBeUndefined();
    expect(t.warnings.map((w) => w.code)).not.toContain('hairpin-no-reply');
  });

  it('check plans the IPv6 hairpin and, before 1.19, reports that it cannot complete', async () => {
    const ctx = await nodeA(true, '1.18.4');
    const hp = planFlows(ctx, ctx.services).flows.filter((p) => p.label.endsWith('(hairpin)'));
    expect(hp.map((p) => p.flow)).toEqual([
      { src: POD6, dst: 'fd00:10:96::10', proto: 'tcp', dport: 80, backend: `[${POD6}]:8080` },
    ]);
    const report = checkNode({ ctx });
    const f = report.findings.filter((x) => x.kind === 'hairpin-no-reply');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ severity: 'error', flows: { count: 1 } });
    expect(f[0]!.confirm).toContain('cilium-dbg version');
    // at 1.19 the same plan has no such finding
    const ok = checkNode({ ctx: await nodeA(true) });
    expect(ok.findings.some((x) => x.kind === 'hairpin-no-reply')).toBe(false);
  });
});
