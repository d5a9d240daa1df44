import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { loadServices } from '../../src/collect/load-services.js';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import type { Backend, ServiceEntry } from '../../src/model/service.js';
import type { NodeState } from '../../src/model/types.js';
import type { Flow, Hop } from '../../src/model/trace.js';

// NodePort from outside (issue 14): one bundled snapshot per Cilium version line where the rule differs —
// kind-v4-svc (1.13.9), migrate-iptables/after (1.19.0); 1.14–1.16 is the 1.19 capture with its version line
// changed in memory (the rule for this path is the same from 1.14 on) — and the kube-proxy-replacement-off
// snapshot migrate-iptables/before.
const snap = (p: string) => fileURLToPath(new URL(`../../fixtures/snapshots/${p}`, import.meta.url));
const load = async (p: string) => {
  const source = dirSource(snap(p));
  const state = await loadNodeState(source);
  return { state, services: (await loadServices(source, state.addrs, kubeProxyReader)).entries };
};
const kinds = (hops: Hop[]) => hops.map((h) => h.kind);
const out = (dst: string, dport: number, extra: Partial<Flow> = {}): Flow => ({
  src: '172.18.0.1',
  dst,
  proto: 'tcp',
  dport,
  ...extra,
});
const withVersion = (s: NodeState, v: string): NodeState => {
  s.cilium.status = { ...s.cilium.status!, version: v };
  return s;
};

describe('NodePort from outside to a backend on another node', () => {
  it('1.13 (kind-v4-svc): SNAT, bpf_fib_lookup and a plain bpf_redirect inside cil_from_netdev — no stack, no netfilter', async () => {
    const { state, services } = await load('kind-v4-svc/k1');
    const t = traceFlow(createTraceContext(state, services), out('172.18.0.2', 31940));
    expect(kinds(t.hops)).toEqual(['route', 'bpf', 'tc-lb', 'masquerade', 'route', 'redirect', 'bpf']);
    expect(kinds(t.hops)).not.toContain('netfilter');
    expect(kinds(t.hops)).not.toContain('stack');
    expect(t.hops[4]).toMatchObject({ lookup: 'bpf_fib_lookup', iif: 'eth0', dev: 'eth0', gateway: '172.18.0.3' });
    expect(t.hops[3]).toMatchObject({ applied: true, snatTo: '172.18.0.2', why: 'nodeport-snat' });
    expect(t.hops[5]).toMatchObject({ helper: 'bpf_redirect', why: 'nodeport-fib', dev: 'eth0' });
    expect(t.hops[5]!.ciliumRules).toContain('nodeport-remote-fib-redirect-1.13');
    expect(t.hops[6]).toMatchObject({ program: 'cil_to_netdev', direction: 'egress' });
    expect(t.disposition).toBe('forwarded');
  });

  it('1.13 without a valid neighbour entry for the next hop: dropped with DROP_NO_FIB', async () => {
    const { state, services } = await load('kind-v4-svc/k1');
    state.neigh = state.neigh.filter((n) => n.dst !== '172.18.0.3');
    const t = traceFlow(createTraceContext(state, services), out('172.18.0.2', 31940));
    expect(t.disposition).toBe('dropped');
    expect(t.hops.at(-1)).toMatchObject({ kind: 'drop', code: 'DROP_NO_FIB' });
    expect(t.hops.at(-1)!.ciliumRules).toContain('nodeport-remote-fib-redirect-1.13');
  });

  it('1.19 (migrate-iptables/after): SNAT then bpf_redirect_neigh out of eth0, in cil_from_netdev', async () => {
    const { state, services } = await load('migrate-iptables/after');
    const t = traceFlow(createTraceContext(state, services), out('172.18.0.2', 31940, { backend: '10.244.2.7' }));
    expect(kinds(t.hops)).toEqual(['route', 'bpf', 'tc-lb', 'masquerade', 'route', 'redirect_neigh', 'bpf']);
    expect(t.hops[5]).toMatchObject({ dev: 'eth0', nexthop: '172.18.0.3' });
    expect(t.hops[5]!.ciliumRules).toContain('nodeport-remote-fib-redirect');
    expect(t.hops[5]!.inferred).toBeUndefined();
    // the missing neighbour does not matter from 1.14 on: bpf_redirect_neigh resolves it
    state.neigh = [];
    const t2 = traceFlow(createTraceContext(state, services), out('172.18.0.2', 31940, { backend: '10.244.2.7' }));
    expect(t2.disposition).toBe('forwarded');
  });

  it('forwarding off on the node: bpf_fib_lookup answers FWD_DISABLED and the packet is dropped (DROP_NO_FIB)', async () => {
    const { state, services } = await load('migrate-iptables/after');
    state.sysctl['net.ipv4.ip_forward'] = { value: '0', source: { probe: 'sysctl', text: 'net.ipv4.ip_forward = 0' } };
    const t = traceFlow(createTraceContext(state, services), out('172.18.0.2', 31940, { backend: '10.244.2.7' }));
    expect(t.hops.at(-1)).toMatchObject({ kind: 'drop', code: 'DROP_NO_FIB' });
    expect(t.hops.at(-1)!.detail).toMatch(/FWD_DISABLED/);
  });

  it('1.16 (the 1.19 capture, version line changed in memory): the same redirect_neigh rule', async () => {
    const { state, services } = await load('migrate-iptables/after');
    const t = traceFlow(
      createTraceContext(withVersion(state, '1.16.5'), services),
      out('172.18.0.2', 31940, { backend: '10.244.2.7' }),
    );
    expect(t.hops.find((h) => h.kind === 'redirect_neigh')!.ciliumRules).toContain('nodeport-remote-fib-redirect');
  });

  it('an unknown version: the 1.14+ hop, inferred, saying what 1.13 would do', async () => {
    const { state, services } = await load('migrate-iptables/after');
    delete state.cilium.status!.version;
    const t = traceFlow(createTraceContext(state, services), out('172.18.0.2', 31940, { backend: '10.244.2.7' }));
    const h = t.hops.find((x) => x.kind === 'redirect_neigh')!;
    expect(h.inferred).toBe(true);
    expect(h.because).toMatch(/1\.13/);
  });

  it('DSR mode with the IP-option dispatch: the client source is kept, and the MTU cost is named', async () => {
    const { state, services } = await load('migrate-iptables/after');
    const ev = { probe: 'cilium-status', text: 'Mode: DSR' };
    state.cilium.status = {
      ...state.cilium.status!,
      kprMode: { mode: 'DSR', source: ev },
      dsrDispatch: { value: 'IP Option/Extension', source: { probe: 'cilium-status', text: 'DSR Dispatch Mode: …' } },
    };
    const t = traceFlow(createTraceContext(state, services), out('172.18.0.2', 31940, { backend: '10.244.2.7' }));
    const m = t.hops.find((h) => h.kind === 'masquerade')!;
    expect(m).toMatchObject({ applied: false, why: 'nodeport-dsr', nodePortMode: 'DSR' });
    expect(m.detail).toMatch(/8-byte IPv4 option/);
    expect(m.ciliumRules).toContain('nodeport-dsr-mode');
    // Hybrid: DSR for TCP only, UDP is source-NATed
    state.cilium.status.kprMode = { mode: 'Hybrid', source: ev };
    const udp = traceFlow(
      createTraceContext(state, [
        ...services,
        {
          ...services.find((s) => s.frontend.address === '172.18.0.2' && s.frontend.port === 31940)!,
          frontend: { address: '172.18.0.2', port: 31941, proto: 'UDP' },
        },
      ]),
      out('172.18.0.2', 31941, { proto: 'udp', backend: '10.244.2.7' }),
    );
    expect(udp.hops.find((h) => h.kind === 'masquerade')).toMatchObject({ applied: true, nodePortMode: 'Hybrid' });
  });

  it('with XDP acceleration the load balancing and the redirect happen in cil_xdp_entry, and no tc egress program runs', async () => {
    const { state, services } = await load('migrate-iptables/after');
    const ctx = createTraceContext(state, services);
    ctx.dp.programs.push({
      dev: 'eth0',
      hook: 'xdp',
      program: 'cil_xdp_entry',
      evidence: [{ probe: 'bpftool-net', text: 'eth0(2) driver id 99' }],
    });
    const t = traceFlow(ctx, out('172.18.0.2', 31940, { backend: '10.244.2.7' }));
    expect(kinds(t.hops)).toEqual(['route', 'bpf', 'bpf', 'tc-lb', 'masquerade', 'route', 'redirect']);
    expect(t.hops[3]).toMatchObject({ layer: 'xdp', at: 'xdp' });
    expect(t.hops[6]!.ciliumRules).toContain('nodeport-xdp');
  });
});

describe('NodePort to a backend on this node', () => {
  it('DNAT in cil_from_netdev, then redirect_peer into the pod: no SNAT', async () => {
    const { state, services } = await load('migrate-iptables/after');
    const t = traceFlow(createTraceContext(state, services), out('172.18.0.2', 31940, { backend: '10.244.1.12' }));
    expect(kinds(t.hops)).toEqual(['route', 'bpf', 'tc-lb', 'redirect_peer', 'deliver']);
    expect(t.hops[2]!.ciliumRules).toContain('nodeport-local-backend');
  });
});

describe('kube-proxy replacement off (migrate-iptables/before: `- NodePort: Disabled`)', () => {
  it('outside → ClusterIP: kube-proxy DNATs in PREROUTING; Cilium neither drops (no DROP_IS_CLUSTER_IP) nor balances', async () => {
    const { state, services } = await load('migrate-iptables/before');
    const t = traceFlow(createTraceContext(state, services), out('10.96.45.10', 80));
    expect(kinds(t.hops)).not.toContain('tc-lb');
    expect(t.hops.some((h) => h.kind === 'drop')).toBe(false);
    const kp = t.hops.find((h) => h.kind === 'kube-proxy')!;
    expect(kp).toMatchObject({ natHook: 'PREROUTING', mode: 'iptables' });
    expect(kp.ciliumRules).toContain('nodeport-needs-enable-nodeport');
    expect(t.warnings.find((w) => w.code === 'cilium-not-translating')?.message).toMatch(/NodePort:\s+Disabled/);
  });

  it('host → ClusterIP without socket-LB: kube-proxy DNATs in OUTPUT, not Cilium per packet', async () => {
    const { state, services } = await load('migrate-iptables/before');
    const t = traceFlow(createTraceContext(state, services), { ...out('10.96.45.10', 80), src: '172.18.0.2' });
    expect(t.hops[0]).toMatchObject({ kind: 'kube-proxy', natHook: 'OUTPUT' });
    expect(t.hops[0]!.ciliumRules).toContain('nodeport-not-from-host');
    expect(kinds(t.hops)).not.toContain('tc-lb');
  });

  it('with kube-proxy replacement on, outside → ClusterIP is DROP_IS_CLUSTER_IP in cil_from_netdev', async () => {
    const { state, services } = await load('migrate-iptables/after');
    const t = traceFlow(createTraceContext(state, services), out('10.96.45.10', 80));
    expect(kinds(t.hops)).toEqual(['route', 'bpf', 'drop']);
    expect(t.hops[2]).toMatchObject({ code: 'DROP_IS_CLUSTER_IP' });
    expect(t.hops[2]!.ciliumRules).toContain('nodeport-drop-is-cluster-ip');
    expect(t.hops[2]!.inferred).toBeUndefined();
  });

  it('NodePort state unknown (no status, no config): the DROP_IS_CLUSTER_IP hop is inferred and says why', async () => {
    const { state, services } = await load('migrate-iptables/after');
    delete state.cilium.status;
    state.cilium.config = {};
    const t = traceFlow(createTraceContext(state, services), out('10.96.45.10', 80));
    const d = t.hops.find((h) => h.kind === 'drop')!;
    expect(d).toMatchObject({ code: 'DROP_IS_CLUSTER_IP', inferred: true });
    expect(d.because).toMatch(/NodePort compiled in is unknown/);
  });
});

describe('DROP_IS_CLUSTER_IP from a Service source without the routable flag', () => {
  const be = (address: string, port: number): Backend => ({
    address,
    port,
    state: 'active',
    source: { probe: 'cilium-service-list', text: `${address}:${port}` },
  });
  const svc = (): ServiceEntry => ({
    source: 'cilium-dbg',
    frontend: { address: '10.96.45.10', port: 80, proto: 'TCP' },
    type: 'ClusterIP',
    flags: {},
    backends: [be('10.244.1.12', 8080)],
    evidence: [{ probe: 'cilium-service-list', text: '10.96.45.10:80/TCP ClusterIP' }],
  });
  it('follows bpf-lb-external-clusterip from the config, and is inferred when nothing shows it', async () => {
    const { state } = await load('migrate-iptables/after');
    const t = traceFlow(createTraceContext(state, [svc()]), out('10.96.45.10', 80));
    expect(t.hops.at(-1)).toMatchObject({ code: 'DROP_IS_CLUSTER_IP', inferred: true });
    state.cilium.config['bpf-lb-external-clusterip'] = {
      value: 'true',
      source: { probe: 'cilium-config', text: 'bpf-lb-external-clusterip: true' },
    };
    const t2 = traceFlow(createTraceContext(state, [svc()]), out('10.96.45.10', 80));
    expect(t2.hops.some((h) => h.kind === 'drop')).toBe(false);
    expect(t2.hops.find((h) => h.kind === 'tc-lb')).toMatchObject({ at: 'cil_from_netdev' });
  });
});
