import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import { runTrace } from '../../src/commands/trace.js';
import { runDiff } from '../../src/commands/diff.js';
import type { ServiceEntry } from '../../src/model/service.js';

const snap = (p: string) => dirSource(fileURLToPath(new URL(`../../fixtures/snapshots/${p}`, import.meta.url)));
const dns: ServiceEntry = {
  source: 'cilium-bpf',
  frontend: { address: '10.96.0.10', port: 53, proto: 'UDP' },
  type: 'ClusterIP',
  flags: { routable: false },
  backends: [
    {
      address: '10.244.1.57',
      port: 53,
      state: 'active',
      source: { probe: 'bpf-map/cilium_lb4_backends_v3', text: '10.244.1.57:53' },
    },
  ],
  evidence: [{ probe: 'bpf-map/cilium_lb4_services_v2', text: '10.96.0.10:53/UDP slot 0 count 1' }],
};

describe('ICMP to a Service address (lb-icmp-skips-service-lookup)', () => {
  it('from a pod: the rule sits on cil_from_container, where the lookup is skipped, and the packet follows the route', async () => {
    const state = await loadNodeState(snap('kind-v4/k1'));
    const t = traceFlow(createTraceContext(state, [dns]), { src: '10.244.1.12', dst: '10.96.0.10', proto: 'icmp' });
    const plain = traceFlow(createTraceContext(state, []), { src: '10.244.1.12', dst: '10.96.0.10', proto: 'icmp' });
    // the same hops as a trace that knows no Service at all: nothing translates it
    expect(t.hops.map((h) => h.kind)).toEqual(plain.hops.map((h) => h.kind));
    expect(t.disposition).toBe(plain.disposition);
    const ruled = t.hops.find((h) => h.ciliumRules?.includes('lb-icmp-skips-service-lookup'));
    expect(ruled).toMatchObject({ kind: 'bpf', program: 'cil_from_container' });
  });

  it('on a release the rule was not read for, the hop says so instead of vouching for it', async () => {
    const state = await loadNodeState(snap('kind-v4/k1'));
    state.cilium.status = { ...state.cilium.status!, version: '1.20.0' };
    const t = traceFlow(createTraceContext(state, [dns]), { src: '10.244.1.12', dst: '10.96.0.10', proto: 'icmp' });
    const hop = t.hops.find((h) => h.ciliumRules?.includes('lb-icmp-skips-service-lookup'));
    expect(hop).toMatchObject({ inferred: true, because: expect.stringMatching(/1\.20\.0 is outside 1\.13–1\.19/) });
  });

  it('a config that sets the proposed echo responder makes the answer unknown, not silently routed', async () => {
    const state = await loadNodeState(snap('kind-v4/k1'));
    state.cilium.config['bpf-lb-reply-icmp-echo-virtual-ips'] = {
      value: 'true',
      source: { probe: 'cilium-config', text: 'bpf-lb-reply-icmp-echo-virtual-ips true' },
    };
    const t = traceFlow(createTraceContext(state, [dns]), { src: '10.244.1.12', dst: '10.96.0.10', proto: 'icmp' });
    expect(t.disposition).toBe('unknown');
    expect(t.warnings.map((w) => w.code)).toContain('icmp-echo-responder');
  });

  it('trace and diff agree on migrate-ipvs: answered by the host before (kube-ipvs0), routed away after', async () => {
    const flow = { src: '10.244.1.12', dst: '10.96.0.1', proto: 'icmp' as const };
    const before = (await runTrace(snap('migrate-ipvs/before'), flow)).trace;
    const after = (await runTrace(snap('migrate-ipvs/after'), flow)).trace;
    expect(before.disposition).toBe('delivered');
    expect(before.hops.at(-1)).toMatchObject({ kind: 'deliver', target: 'local-socket' });
    expect(after.disposition).not.toBe('delivered');
    expect(after.hops.map((h) => h.kind)).not.toContain('drop');
    const { diff } = await runDiff(snap('migrate-ipvs/before'), snap('migrate-ipvs/after'));
    const change = diff.behaviour.find((b) => b.code === 'icmp-echo');
    expect(change?.frontends).toContain('10.96.0.1');
  });
});
