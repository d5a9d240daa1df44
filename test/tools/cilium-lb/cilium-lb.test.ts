import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseCiliumLbList, parseCiliumServiceList } from '../../../src/tools/cilium-lb/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const fx = (p: string) => readFileSync(new URL(`../../../fixtures/tools/cilium-lb/${p}`, import.meta.url), 'utf8');
const codes = (w: { code: string }[]) => w.map((x) => x.code);

describe('parseCiliumServiceList text', () => {
  it('v1.19 kind (gh 44301): /PROTO frontends and backends', () => {
    const r = parseCiliumServiceList(fx('service-list/v1.19-kind-gh44301.txt'), 'svc');
    expect(r.warnings).toEqual([]);
    expect(r.value.map((s) => s.id)).toEqual([1, 2, 3, 4, 5, 12, 15]);
    const dnsUdp = r.value.find((s) => s.id === 3)!;
    expect(dnsUdp.frontend).toEqual({ address: '10.96.0.10', port: 53, proto: 'UDP', scope: 'external' });
    expect(dnsUdp.type).toBe('ClusterIP');
    expect(dnsUdp.source).toBe('cilium-dbg');
    expect(dnsUdp.backends.map((b) => [b.address, b.port, b.proto, b.state])).toEqual([
      ['10.244.1.69', 53, 'UDP', 'active'],
      ['10.244.1.109', 53, 'UDP', 'active'],
    ]);
    expect(dnsUdp.backends[1]!.source.text).toBe('2 => 10.244.1.109:53/UDP (active)');
  });

  it('v1.15 IPv6 in brackets (gh 33076), no protocol ⇒ ANY', () => {
    const r = parseCiliumServiceList(fx('service-list/v1.15-ipv6-gh33076.txt'), 'svc');
    expect(r.warnings).toEqual([]);
    const s1 = r.value[0]!;
    expect(s1.frontend).toEqual({ address: 'ffff:fff:fff:701::2:dceb', port: 80, proto: 'ANY', scope: 'external' });
    expect(s1.backends.map((b) => b.address)).toEqual(['ffff:fff:fff:700:0:2:7:2c53', 'ffff:fff:fff:700:0:2:7:949c']);
    expect(r.value.find((s) => s.id === 7)!.backends[0]).toMatchObject({ port: 10250, state: 'active' });
    expect(r.value[0]!.backends[0]!.proto).toBeUndefined();
  });

  it('maintenance state (gh 24136) and a grep without header (gh 36535)', () => {
    const r = parseCiliumServiceList(fx('service-list/v1.14-get-maintenance-gh24136.txt'), 'svc');
    expect(r.value[0]!.type).toBe('NodePort');
    expect(r.value[0]!.backends.map((b) => b.state)).toEqual(['active', 'maintenance', 'active']);
    const g = parseCiliumServiceList(fx('service-list/v1.14.0-grep-gh36535.txt'), 'svc');
    expect(g.value.map((s) => [s.id, s.frontend.port, s.backends[0]!.address])).toEqual([
      [16214, 31810, '20.240.138.206'],
      [16215, 31800, '20.240.138.193'],
    ]);
  });

  it('pre-1.13 rows without state are unknown, a service without backends is kept', () => {
    const r = parseCiliumServiceList(fx('service-list/v1.7-no-state-gh10231.txt'), 'svc');
    expect(r.warnings).toEqual([]);
    expect(r.value.find((s) => s.id === 58)!.frontend.address).toBe('0.0.0.0');
    expect(r.value.find((s) => s.id === 58)!.backends[0]!.state).toBe('unknown');
    expect(r.value.find((s) => s.id === 62)!.backends).toEqual([]);
  });

  it('v1.17 format: /i scope, (Remote), terminating-not-serving, (preferred)', () => {
    const r = parseCiliumServiceList(fx('service-list/v1.17.from-format.txt'), 'svc');
    expect(r.warnings).toEqual([]);
    expect(r.value.find((s) => s.id === 4)!.backends.map((b) => b.state)).toEqual(['active', 'terminating']);
    const i = r.value.find((s) => s.id === 7)!;
    expect(i.frontend).toEqual({ address: '192.168.178.29', port: 31940, proto: 'TCP', scope: 'internal' });
    expect(i.backends[0]!.state).toBe('quarantined');
    const remote = r.value.find((s) => s.id === 8)!;
    expect(remote.flags.raw).toEqual(['Remote']);
    expect(remote.frontend.address).toBe('fd00::10');
    expect(remote.backends[0]).toMatchObject({ address: 'fd00:1::5', port: 8443, state: 'terminating-not-serving' });
  });

  it('bad input: unknown state, unreadable lines are warnings; garbage is a ParseError', () => {
    const t =
      'ID   Frontend   Service Type   Backend\n1    10.0.0.1:80   ClusterIP   1 => 10.0.0.2:80 (sleeping)\n                2 => 10.0.0.999:80 (active)\n2    10.0.0.1:99999   ClusterIP   1 => 10.0.0.2:80 (active)\n';
    const r = parseCiliumServiceList(t, 'svc');
    expect(r.value).toHaveLength(1);
    expect(r.value[0]!.backends).toHaveLength(1);
    expect(r.value[0]!.backends[0]!.state).toBe('unknown');
    expect(codes(r.warnings)).toEqual(['unknown-state', 'backend-skipped', 'line-skipped']);
    expect(() => parseCiliumServiceList('\u0000\u0001 binary junk\nmore', 'svc')).toThrow(ParseError);
    expect(() => parseCiliumServiceList('{"not": "an array"}', 'svc')).toThrow(ParseError);
    expect(() => parseCiliumServiceList('[{"spec": ', 'svc')).toThrow(ParseError);
  });
});

describe('parseCiliumServiceList JSON', () => {
  it('uses status.realized, maps flags and case-insensitive protocols', () => {
    const r = parseCiliumServiceList(fx('service-list/v1.18.from-format.json'), 'svc.json');
    const [a, b] = r.value;
    expect(a!.name).toBe('default/my-nginx');
    expect(a!.flags).toMatchObject({ externalTrafficPolicyLocal: false, internalTrafficPolicyLocal: false });
    expect(a!.backends.map((x) => [x.address, x.state, x.nodeName, x.weight])).toEqual([
      ['10.217.0.107', 'active', 'n1', 1],
      ['10.217.0.149', 'terminating', 'n2', 1],
    ]);
    expect(a!.evidence[0]!.text).toBe('4 10.104.239.135:80/TCP ClusterIP default/my-nginx');
    expect(b!.frontend).toEqual({ address: 'fd00:10:96::a', port: 53, proto: 'UDP', scope: 'internal' });
    expect(b!.type).toBe('NodePort');
    expect(b!.flags).toMatchObject({ externalTrafficPolicyLocal: true, internalTrafficPolicyLocal: true });
    expect(b!.backends[0]).toMatchObject({ proto: 'UDP', state: 'maintenance' });
    expect(codes(r.warnings)).toEqual(['not-realized']);
  });

  it('hostile records are skipped with warnings', () => {
    const t = JSON.stringify([
      { spec: { id: 1, 'frontend-address': { ip: '10.0.0.1', port: 80, protocol: 'TCP' }, flags: { type: 'Weird' } } },
      { spec: { id: 2, 'frontend-address': { ip: '10.0.0.1', port: 1e20 } } },
      { spec: { id: 3, 'frontend-address': { ip: 'nope', port: 80 } } },
      { spec: { id: 4, 'frontend-address': { ip: '10.0.0.1', port: 80, protocol: 'ICMP' } } },
    ]).replace('"flags"', '"__proto__":{"x":1},"flags"');
    const r = parseCiliumServiceList(t, 'svc');
    expect(r.value).toEqual([]);
    expect(r.warnings.filter((w) => w.code === 'record-skipped')).toHaveLength(4);
  });
});

describe('parseCiliumLbList', () => {
  it('v1.17+ rows in random order with /PROTO, /i, IPv6, missing backend', () => {
    const r = parseCiliumLbList(fx('bpf-lb-list/v1.17.from-format.txt'), 'lb');
    const by = (a: string, p: number, scope = 'external') =>
      r.value.find((s) => s.frontend.address === a && s.frontend.port === p && s.frontend.scope === scope)!;
    const dns = by('10.96.0.10', 53);
    expect(dns).toMatchObject({ id: 5, type: 'ClusterIP', frontend: { proto: 'UDP' }, source: 'cilium-dbg' });
    expect(dns.flags.routable).toBe(false);
    expect(dns.backends.map((b) => [b.slot, b.address, b.port, b.proto, b.state])).toEqual([
      [1, '10.244.1.171', 53, 'UDP', 'unknown'],
      [2, '10.244.2.206', 53, 'UDP', 'unknown'],
    ]);
    const np = by('192.168.1.10', 31940);
    expect(np).toMatchObject({
      id: 8,
      type: 'NodePort',
      flags: { externalTrafficPolicyLocal: true, twoScopes: true, routable: true },
    });
    const npi = by('192.168.1.10', 31940, 'internal');
    expect(npi.id).toBe(10);
    expect(npi.backends.map((b) => b.address)).toEqual(['10.244.1.20', '10.244.2.30']);
    const v6 = by('fd00:10:96::a', 53);
    expect(v6.backends[0]).toMatchObject({ address: 'fd00:10:244:1::ab', slot: 1 });
    const sur = by('0.0.0.0', 31940);
    expect(sur.backends).toEqual([]);
    expect(r.warnings.map((w) => w.code)).toEqual(['backend-missing']);
    expect(r.warnings[0]!.message).toContain('backend 12');
    expect(by('10.96.7.7', 443).flags).toMatchObject({ sessionAffinity: true, dsr: true, routable: false });
  });

  it('v1.13 grouped rows with an empty first column', () => {
    const r = parseCiliumLbList(fx('bpf-lb-list/v1.13.from-format.txt'), 'lb');
    expect(r.warnings).toEqual([]);
    expect(
      r.value.map((s) => [s.id, s.frontend.address, s.frontend.proto, s.backends.map((b) => `${b.slot}:${b.address}`)]),
    ).toEqual([
      [5, '10.96.0.10', 'ANY', ['1:10.244.1.171', '2:10.244.2.206']],
      [8, '192.168.1.10', 'ANY', ['1:10.244.1.20']],
      [9, 'fd00:10:96::a', 'ANY', ['1:fd00:10:244:1::ab']],
    ]);
  });

  it('v1.16 (slot) column and L7LB proxy port', () => {
    const r = parseCiliumLbList(fx('bpf-lb-list/v1.16.from-format.txt'), 'lb');
    expect(r.warnings).toEqual([]);
    const l7 = r.value.find((s) => s.id === 33)!;
    expect(l7.flags).toMatchObject({ l7LoadBalancer: true, l7ProxyPort: 15735, routable: true });
    expect(r.value.find((s) => s.id === 5)!.backends.map((b) => b.slot)).toEqual([1, 2]);
  });

  it('v1.15-dev real output (gh 31503): grouped with slots, InternalLocal, L7 proxy port', () => {
    const r = parseCiliumLbList(fx('bpf-lb-list/v1.15-dev-l7lb-gh31503.txt'), 'lb');
    expect(r.warnings).toEqual([]);
    expect(r.value.map((s) => s.id)).toEqual([1, 14, 22, 30, 33]);
    expect(r.value.find((s) => s.id === 22)!.flags).toMatchObject({
      internalTrafficPolicyLocal: true,
      routable: false,
    });
    expect(r.value.find((s) => s.id === 1)!.backends[0]).toMatchObject({ address: '172.18.0.3', port: 6443, slot: 1 });
    expect(r.value.find((s) => s.id === 30)!.flags.l7ProxyPort).toBe(15735);
  });

  it('pre-1.13 real output without slots (gh 10402, gh 17729)', () => {
    const a = parseCiliumLbList(fx('bpf-lb-list/v1.7-no-slot-gh10402.txt'), 'lb');
    expect(a.warnings).toEqual([]);
    expect(a.value.find((s) => s.id === 3)).toMatchObject({
      type: 'ExternalIP',
      frontend: { address: '10.88.58.5', port: 443 },
    });
    expect(a.value.find((s) => s.id === 3)!.backends).toHaveLength(6);
    const b = parseCiliumLbList(fx('bpf-lb-list/v1.10-grep-no-slot-gh17729.txt'), 'lb');
    expect(codes(b.warnings)).toEqual(['line-skipped']);
    expect(b.value.find((s) => s.id === 59)!.backends.map((x) => x.address)).toEqual([
      '192.168.214.171',
      '192.168.154.116',
      '192.168.177.116',
    ]);
  });

  it('bad input: unknown flags, duplicate slots, no master, garbage', () => {
    const t = [
      'SERVICE ADDRESS   BACKEND ADDRESS (REVNAT_ID) (SLOT)',
      '10.0.0.1:80/TCP (0)   0.0.0.0:0 (3) (0) [ClusterIP, frobnicate]',
      '10.0.0.1:80/TCP (1)   10.1.0.1:80/TCP (3) (1)',
      '10.0.0.1:80/TCP (1)   10.1.0.2:80/TCP (3) (1)',
      '10.0.0.2:80/TCP (1)   10.1.0.2:80/TCP (4) (1)',
      '10.0.0.3:80/TCP (1)   10.1.0.2:80/TCP (4) (2)',
      '999.0.0.1:80 (0)   0.0.0.0:0 (3) (0) [ClusterIP]',
    ].join('\n');
    const r = parseCiliumLbList(t, 'lb');
    expect(codes(r.warnings).sort()).toEqual(
      [
        'duplicate-slot',
        'line-skipped',
        'service-without-master',
        'service-without-master',
        'slot-mismatch',
        'unknown-flag',
      ].sort(),
    );
    expect(r.value).toHaveLength(1);
    expect(r.value[0]!.flags.raw).toEqual(['ClusterIP', 'frobnicate']);
    expect(() => parseCiliumLbList('hello\nworld', 'lb')).toThrow(ParseError);
    expect(() => parseCiliumLbList('', 'lb')).toThrow(ParseError);
    // header only: an empty table is a valid answer
    expect(parseCiliumLbList('SERVICE ADDRESS   BACKEND ADDRESS (REVNAT_ID) (SLOT)\n', 'lb').value).toEqual([]);
  });
});
