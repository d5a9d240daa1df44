import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseIpAddr, parseIpLink, parseIpNeigh, parseIpNetnsList, parseIpRoute, parseIpRule } from '../../../src/tools/ip/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const fx = (n: string) => readFileSync(new URL(`../../../fixtures/tools/ip/${n}`, import.meta.url), 'utf8');
const noSource = <T extends { source: unknown }>(xs: T[]) => xs.map(({ source: _s, ...rest }) => rest);

describe('ip route', () => {
  const json = parseIpRoute(fx('ip-j-p-4-d-route-show-table-all.node.json'), 'ip-route4', 4);
  const text = parseIpRoute(fx('ip-4-d-route-show-table-all.node.txt'), 'ip-route4', 4);

  it('reads JSON and text of the same state into the same model', () => {
    expect(json.warnings).toEqual([]);
    expect(text.warnings).toEqual([]);
    expect(json.value.length).toBe(33);
    expect(noSource(text.value)).toEqual(noSource(json.value));
  });

  it('maps tables, types, gateways, multipath and RFC 5549 next hops', () => {
    const r = (dst: string, table = 254) => json.value.find((x) => x.dst === dst && x.table === table)!;
    expect(r('0.0.0.0/0')).toMatchObject({ type: 'unicast', metric: 100, prefsrc: '192.0.2.10', nexthops: [{ gateway: '192.0.2.1', dev: 'ens5' }] });
    expect(r('0.0.0.0/0', 100).nexthops).toEqual([{ gateway: '192.0.2.2', gatewayFamily: 4, dev: 'ens5' }]);
    expect(r('10.200.0.0/16', 100).type).toBe('throw');
    expect(r('0.0.0.0/0', 2004).type).toBe('local');
    expect(r('10.96.0.0/12').type).toBe('blackhole');
    expect(r('198.51.100.128/25')).toMatchObject({ type: 'prohibit', metric: 5 });
    expect(r('10.244.1.5/32').nexthops).toEqual([{ dev: 'lxc1234' }]);
    expect(r('100.64.0.0/24').nexthops).toEqual([{ gateway: 'fe80::445c:fff:fea4:d2ca', gatewayFamily: 6, dev: 'ens5' }]);
    expect(r('203.0.113.0/24').nexthops.map((n) => n.weight)).toEqual([1, 3]);
    expect(r('198.18.0.0/15').nexthops).toHaveLength(2);
    expect(r('10.245.0.0/16').flags).toEqual(['onlink']);
    expect(json.value.filter((x) => x.table === 255).every((x) => ['local', 'broadcast'].includes(x.type))).toBe(true);
  });

  it('renders JSON routes as ip-style evidence', () => {
    expect(json.value.find((x) => x.dst === '100.64.0.0/24')!.source).toEqual({
      probe: 'ip-route4',
      text: '100.64.0.0/24 via inet6 fe80::445c:fff:fea4:d2ca dev ens5',
    });
  });

  it('reads IPv6 JSON and text alike', () => {
    const j6 = parseIpRoute(fx('ip-j-p-6-d-route-show-table-all.node.json'), 'ip-route6', 6);
    const t6 = parseIpRoute(fx('ip-6-d-route-show-table-all.node.txt'), 'ip-route6', 6);
    expect(j6.warnings).toEqual([]);
    expect(noSource(t6.value)).toEqual(noSource(j6.value));
    expect(j6.value.find((r) => r.dst === '::/0')!.nexthops[0]).toMatchObject({ gateway: 'fe80::445c:fff:fea4:d2ca', dev: 'ens5' });
  });

  it('takes a plain `ip r s` paste as the main table', () => {
    const t = parseIpRoute(fx('ip-4-route-show.main.nodetail.txt'), 'ip-route4', 4);
    const j = parseIpRoute(fx('ip-j-4-route-show.main.nodetail.json'), 'ip-route4', 4);
    expect(t.value.every((r) => r.table === 254)).toBe(true);
    expect(noSource(t.value)).toEqual(noSource(j.value));
  });

  it('fails clearly on truncated JSON and skips bad elements with a warning', () => {
    const full = fx('ip-j-p-4-d-route-show-table-all.node.json');
    expect(() => parseIpRoute(full.slice(0, 300), 'ip-route4', 4)).toThrow(ParseError);
    expect(() => parseIpRoute(full.slice(0, 300), 'ip-route4', 4)).toThrow(/ip-route4: not valid JSON/);
    const bad = parseIpRoute('[{"dst":"10.0.0.0/8","dev":7},{"dst":"nope"},{"dst":"10.1.0.0/16","type":"weird"},{"__proto__":{"x":1},"dst":"10.2.0.0/16","dev":"eth0"}]', 'p', 4);
    expect(bad.value.map((r) => r.dst)).toEqual(['10.2.0.0/16']);
    expect(bad.warnings).toHaveLength(3);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('strips ANSI colour and CRLF', () => {
    const coloured = '\u001b[32m10.0.0.0/8\u001b[0m via 192.0.2.1 dev \u001b[36meth0\u001b[0m\r\n';
    expect(parseIpRoute(coloured, 'p', 4).value[0]).toMatchObject({ dst: '10.0.0.0/8', nexthops: [{ gateway: '192.0.2.1', dev: 'eth0' }] });
  });
});

describe('ip rule', () => {
  it('reads every selector and action, JSON and text alike', () => {
    const j = parseIpRule(fx('ip-j-d-rule-show.node.json'), 'ip-rule4', 4);
    const t = parseIpRule(fx('ip-d-rule-show.node.txt'), 'ip-rule4', 4);
    expect(j.warnings).toEqual([]);
    expect(noSource(t.value)).toEqual(noSource(j.value));
    const r = (p: number) => j.value.find((x) => x.priority === p)!;
    expect(r(9)).toMatchObject({ fwmark: 0x200, fwmask: 0xf00, table: 2004 });
    expect(r(200)).toMatchObject({ src: '10.244.0.0/16', dst: '10.96.0.0/12', ipproto: 6, dport: [443, 443], table: 200 });
    expect(r(201)).toMatchObject({ oif: 'ens5', uidrange: [1000, 2000] });
    expect(r(202)).toMatchObject({ src: '198.51.100.0/24', action: 'prohibit' });
    expect(r(203)).toMatchObject({ iif: 'lo', action: 'goto', goto: 32766 });
    expect(r(32000)).toMatchObject({ not: true, fwmark: 1, fwmask: 1, suppressPrefixlen: 0, table: 254 });
    expect(r(0).table).toBe(255);
  });

  it('reads IPv6 rules', () => {
    const j = parseIpRule(fx('ip-j-p-6-rule-show.node.json'), 'ip-rule6', 6);
    const t = parseIpRule(fx('ip-6-rule-show.node.txt'), 'ip-rule6', 6);
    expect(noSource(t.value)).toEqual(noSource(j.value));
    expect(j.value.length).toBeGreaterThan(1);
  });
});

describe('ip link / addr / neigh / netns', () => {
  it('reads device kinds and veth peers', () => {
    const j = parseIpLink(fx('ip-j-d-link-show.node.json'), 'ip-link');
    const t = parseIpLink(fx('ip-d-link-show.node.txt'), 'ip-link');
    const lxc = j.value.find((l) => l.name === 'lxc1234')!;
    expect(lxc).toMatchObject({ ifindex: 2, kind: 'veth', linkIndex: 2, linkNetnsId: 0, mtu: 1500 });
    expect(j.value.find((l) => l.name === 'vethB')!.master).toBe('cni0');
    expect(j.value.find((l) => l.name === 'wg-node')!.kind).toBe('tun');
    expect(t.value.map((l) => [l.name, l.kind, l.linkIndex])).toEqual(j.value.map((l) => [l.name, l.kind, l.linkIndex]));
    expect(() => parseIpLink('garbage that is not ip output', 'ip-link')).toThrow(ParseError);
  });

  it('reads addresses in both forms', () => {
    const j = parseIpAddr(fx('ip-j-p-addr-show.node.pretty.json'), 'ip-addr');
    const t = parseIpAddr(fx('ip-addr-show.node.txt'), 'ip-addr');
    expect(noSource(t.value)).toEqual(noSource(j.value));
    expect(j.value.find((a) => a.local === '192.0.2.11')).toMatchObject({ ifname: 'ens5', prefixlen: 24, secondary: true });
    expect(j.value.find((a) => a.ifname === 'tun0' && a.family === 4)).toMatchObject({ local: '10.9.9.1', peer: '10.9.9.2', prefixlen: 32 });
  });

  it('reads neighbours and namespaces', () => {
    const j = parseIpNeigh(fx('ip-j-p-neigh-show.node.json'), 'ip-neigh');
    const t = parseIpNeigh(fx('ip-neigh-show.node.txt'), 'ip-neigh');
    expect(noSource(t.value)).toEqual(noSource(j.value));
    expect(j.value.find((n) => n.dst === '2001:db8:1::1')).toMatchObject({ router: true, state: ['REACHABLE'], dev: 'ens5' });
    expect(j.value.find((n) => n.dst === '192.0.2.98')!.state).toEqual(['FAILED']);
    expect(parseIpNetnsList(fx('ip-j-netns-list.host.json'), 'ip-netns').value.length).toBeGreaterThan(0);
  });
});
