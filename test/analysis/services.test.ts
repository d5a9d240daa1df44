import { describe, expect, it } from 'vitest';
import { lookupServices, parseServiceQuery } from '../../src/analysis/services.js';
import type { Backend, ServiceEntry } from '../../src/model/service.js';

const be = (address: string, port: number, state: Backend['state'] = 'active'): Backend => ({
  address,
  port,
  state,
  source: { probe: 't', text: `${address}:${port}` },
});
const svc = (over: Partial<ServiceEntry>): ServiceEntry => ({
  source: 'cilium-bpf',
  frontend: { address: '10.96.0.10', port: 53, proto: 'UDP' },
  type: 'ClusterIP',
  flags: {},
  backends: [be('10.244.1.171', 53), be('10.244.2.206', 53)],
  evidence: [],
  ...over,
});

describe('svc lookup analysis', () => {
  it('parses address, port, protocol and names', () => {
    expect(parseServiceQuery('10.96.0.10:53/udp')).toEqual({
      kind: 'address',
      address: '10.96.0.10',
      port: 53,
      proto: 'UDP',
    });
    expect(parseServiceQuery('10.96.0.10')).toEqual({ kind: 'address', address: '10.96.0.10' });
    expect(parseServiceQuery('[2001:db8::a]:443/tcp')).toEqual({
      kind: 'address',
      address: '2001:db8::a',
      port: 443,
      proto: 'TCP',
    });
    expect(parseServiceQuery('2001:db8::a')).toEqual({ kind: 'address', address: '2001:db8::a' });
    expect(parseServiceQuery('kube-system/kube-dns')).toEqual({
      kind: 'name',
      namespace: 'kube-system',
      name: 'kube-dns',
    });
    for (const bad of ['10.96.0.300:53', '10.96.0.10:99999', 'x', '10.96.0.10:53/gre', '/a', 'a/b/c'])
      expect(parseServiceQuery(bad), bad).toBeNull();
  });

  it('groups one frontend across layers and prefers what Cilium executes', () => {
    const r = lookupServices(
      [
        svc({}),
        svc({ source: 'cilium-dbg', name: 'kube-system/kube-dns:dns' }),
        svc({ frontend: { address: '10.96.0.10', port: 53, proto: 'TCP' } }),
      ],
      { kind: 'address', address: '10.96.0.10', port: 53, proto: 'UDP' },
    );
    expect(r.frontends).toHaveLength(1);
    expect(r.frontends[0]).toMatchObject({
      frontend: '10.96.0.10:53/UDP',
      sources: ['cilium-bpf', 'cilium-dbg'],
      name: 'kube-system/kube-dns:dns',
    });
    expect(r.frontends[0]!.conflict).toBeUndefined();
  });

  it('flags stale kube-proxy rules beside Cilium, and different backend sets', () => {
    const same = lookupServices([svc({}), svc({ source: 'kube-proxy-iptables', chain: 'KUBE-SVC-TCOU7JCQXEZGVUNU' })], {
      kind: 'address',
      address: '10.96.0.10',
    });
    expect(same.frontends[0]!.conflict).toMatch(/programmed by both cilium-bpf and kube-proxy-iptables/);
    const diff = lookupServices([svc({}), svc({ source: 'kube-proxy-nftables', backends: [be('10.244.9.9', 53)] })], {
      kind: 'address',
      address: '10.96.0.10',
    });
    expect(diff.frontends[0]!.conflict).toMatch(
      /cilium-bpf sends it to \{10.244.1.171:53,10.244.2.206:53\} but kube-proxy-nftables to \{10.244.9.9:53\}/,
    );
  });

  it('both layers with the same backends: stale with kube-proxy replacement on, by design for ClusterIP without it', () => {
    const ev = (text: string) => [{ probe: 'cilium-status', text }];
    const entries = [svc({}), svc({ source: 'kube-proxy-iptables', chain: 'KUBE-SVC-TCOU7JCQXEZGVUNU' })];
    const q = { kind: 'address' as const, address: '10.96.0.10' };
    const off = lookupServices(entries, q, {
      kubeProxyReplacement: { known: true, value: false, evidence: ev('KubeProxyReplacement:    False') },
    }).frontends[0]!;
    expect(off.conflict).toBeUndefined();
    expect(off.note).toMatch(/as expected without kube-proxy replacement \(KubeProxyReplacement: {4}False\)/);
    const on = lookupServices(entries, q, {
      kubeProxyReplacement: { known: true, value: true, evidence: ev('KubeProxyReplacement:    True') },
    }).frontends[0]!;
    expect(on.note).toBeUndefined();
    expect(on.conflict).toMatch(/stale kube-proxy rules beside Cilium's kube-proxy replacement/);
    const unknownMode = lookupServices(entries, q, {
      kubeProxyReplacement: { known: false, because: 'no cilium-status' },
    }).frontends[0]!;
    expect(unknownMode.conflict).toMatch(/stale kube-proxy rules if kube-proxy replacement is on.*no cilium-status/);
    // different backends stay a conflict whatever the mode
    const differ = lookupServices(
      [svc({}), svc({ source: 'kube-proxy-nftables', backends: [be('10.244.9.9', 53)] })],
      q,
      { kubeProxyReplacement: { known: true, value: false, evidence: ev('KubeProxyReplacement:    False') } },
    ).frontends[0]!;
    expect(differ.conflict).toMatch(/but kube-proxy-nftables to \{10.244.9.9:53\}/);
    expect(differ.note).toBeUndefined();
  });

  it('finds by namespace/name across every port', () => {
    const r = lookupServices(
      [
        svc({ name: 'kube-system/kube-dns:dns' }),
        svc({ name: 'kube-system/kube-dns:dns-tcp', frontend: { address: '10.96.0.10', port: 53, proto: 'TCP' } }),
        svc({ name: 'default/web', frontend: { address: '10.96.1.1', port: 80, proto: 'TCP' } }),
      ],
      { kind: 'name', namespace: 'kube-system', name: 'kube-dns' },
    );
    expect(r.frontends.map((f) => f.frontend)).toEqual(['10.96.0.10:53/TCP', '10.96.0.10:53/UDP']);
  });
});
