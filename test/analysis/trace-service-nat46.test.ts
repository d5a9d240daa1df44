import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import type { ServiceEntry } from '../../src/model/service.js';
import type { NodeState } from '../../src/model/types.js';

// kind-v4 k1 (its status says `NAT46/64 Support: Disabled`) with an IPv4 NodePort whose backend is IPv6.
const k1 = () =>
  loadNodeState(dirSource(fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url))));
const np: ServiceEntry = {
  source: 'cilium-bpf',
  frontend: { address: '172.18.0.2', port: 31940, proto: 'TCP' },
  type: 'NodePort',
  flags: { routable: true },
  backends: [
    {
      address: '2001:db8:42::a:5',
      port: 8080,
      state: 'active',
      source: { probe: 'bpf-map/cilium_lb4_backends_v3', text: '[2001:db8:42::a:5]:8080' },
    },
  ],
  evidence: [{ probe: 'bpf-map/cilium_lb4_services_v2', text: '172.18.0.2:31940 slot 0 count 1' }],
};
const outside = { src: '203.0.113.50', dst: '172.18.0.2', proto: 'tcp' as const, dport: 31940 };
const withNat = (s: NodeState, enabled: boolean | undefined) => {
  const { nat46x64Services: _, ...rest } = s.cilium.status!;
  s.cilium.status =
    enabled === undefined
      ? rest
      : { ...rest, nat46x64Services: { enabled, source: { probe: 'cilium-status', text: '- Services: …' } } };
  return s;
};

describe('a frontend with backends of the other family (NAT46/64)', () => {
  it('from outside with NAT46/64 on: translated to IPv6 in cil_from_netdev, not a family mismatch', async () => {
    const t = traceFlow(createTraceContext(withNat(await k1(), true), [np]), outside);
    const lb = t.hops.find((h) => h.kind === 'tc-lb');
    expect(lb).toMatchObject({ at: 'cil_from_netdev', ciliumRules: ['lb-nat46x64-nodeport'] });
    expect(lb!.detail).toMatch(/::ffff:203\.0\.113\.50/);
    // the hop before it is the program that does it
    const i = t.hops.indexOf(lb!);
    expect(t.hops[i - 1]).toMatchObject({ kind: 'bpf', program: 'cil_from_netdev' });
    expect(t.hops.some((h) => h.kind === 'drop' && h.code === 'family-mismatch')).toBe(false);
  });

  it('from outside with NAT46/64 off (the bundled status): DROP_NAT_46X64_DISABLED', async () => {
    const t = traceFlow(createTraceContext(await k1(), [np]), outside);
    expect(t.disposition).toBe('dropped');
    expect(t.hops.at(-1)).toMatchObject({ kind: 'drop', code: 'DROP_NAT_46X64_DISABLED' });
  });

  it('when neither the status nor the config says: unknown, with the reason', async () => {
    const t = traceFlow(createTraceContext(withNat(await k1(), undefined), [np]), outside);
    expect(t.disposition).toBe('unknown');
    expect(t.hops.at(-1)).toMatchObject({ kind: 'tc-lb', inferred: true, because: expect.stringMatching(/NAT46\/64/) });
  });

  it('from a pod: socket-LB leaves it to the per-packet LB, which netpath does not decide here', async () => {
    const t = traceFlow(createTraceContext(withNat(await k1(), true), [np]), { ...outside, src: '10.244.1.12' });
    expect(t.disposition).toBe('unknown');
    expect(t.hops).toEqual([
      expect.objectContaining({ kind: 'tc-lb', at: 'cil_from_container', ciliumRules: ['socket-lb-skips-nat46x64'] }),
    ]);
  });
});
