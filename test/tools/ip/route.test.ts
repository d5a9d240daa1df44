import { describe, expect, it } from 'vitest';
import { parseIpRoute, renderRoute } from '../../../src/tools/ip/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import type { Route } from '../../../src/model/types.js';
import { codes, fx, noText, section } from './helpers.js';

const find = (rs: Route[], dst: string, table = 254) => {
  const r = rs.filter((x) => x.dst === dst && x.table === table);
  expect(r, `${dst} table ${table}`).toHaveLength(1);
  return r[0]!;
};

describe('ip -4 route (np-ip-a lab: every route type, tables, ECMP, RFC 5549, nhid, metrics)', () => {
  const json = parseIpRoute(fx('route/np-ip-a.4-j-d-table-all.json'), 'ip-route4', 4);
  const text = parseIpRoute(fx('route/np-ip-a.4-d-table-all.txt'), 'ip-route4', 4);

  it('gives the same model from JSON and text of the same state', () => {
    expect(json.value).toHaveLength(36);
    expect(noText(text.value)).toEqual(noText(json.value));
    expect(codes(json.warnings)).toEqual(['route-nhid']);
    expect(text.warnings).toEqual(json.warnings);
    expect(json.warnings[0]!.message).toMatch(/\[2 records\]/);
  });

  it('maps tables: names to ids, numbers as given (uint32)', () => {
    const v = json.value;
    expect(find(v, '10.81.0.0/16', 4000000000).nexthops).toEqual([{ dev: 'ipa0' }]);
    expect(find(v, '0.0.0.0/0', 100).nexthops).toEqual([{ gateway: '192.0.2.2', gatewayFamily: 4, dev: 'ipa0' }]);
    expect(find(v, '10.80.0.0/16', 253).type).toBe('unicast');
    expect(find(v, '0.0.0.0/0', 2004)).toMatchObject({ type: 'local', scope: 'host', nexthops: [{ dev: 'lo' }] });
    expect(find(v, '127.0.0.0/8', 255)).toMatchObject({ type: 'local', prefsrc: '127.0.0.1' });
    expect(find(v, '192.0.2.255/32', 255).type).toBe('broadcast');
    expect(new Set(v.map((r) => r.table))).toEqual(new Set([4000000000, 100, 200, 2004, 253, 254, 255]));
  });

  it('reads route types without inventing next hops', () => {
    const v = json.value;
    expect(find(v, '10.200.0.0/16', 100)).toMatchObject({ type: 'throw', nexthops: [] });
    expect(find(v, '10.96.0.0/12')).toMatchObject({ type: 'blackhole', nexthops: [] });
    expect(find(v, '10.97.0.0/16')).toMatchObject({ type: 'unreachable', nexthops: [] });
    expect(find(v, '10.98.0.0/16')).toMatchObject({ type: 'prohibit', metric: 5, nexthops: [] });
  });

  it('reads gateways, RFC 5549, multipath weights, nhid, flags, tos, metrics', () => {
    const v = json.value;
    expect(find(v, '0.0.0.0/0')).toMatchObject({
      metric: 100,
      protocol: 'boot',
      scope: 'global',
      nexthops: [{ gateway: '192.0.2.1', dev: 'ipa0' }],
    });
    expect(find(v, '198.51.100.0/24').nexthops).toEqual([{ gateway: 'fe80::b', gatewayFamily: 6, dev: 'ipa0' }]);
    expect(find(v, '10.10.0.0/16').nexthops).toEqual([
      { gateway: '192.0.2.1', gatewayFamily: 4, dev: 'ipa0', weight: 1 },
      { gateway: '203.0.113.1', gatewayFamily: 4, dev: 'ipa1', weight: 3 },
    ]);
    expect(find(v, '10.50.0.0/16')).toMatchObject({ nhid: 12, nexthops: [{ weight: 1 }, { weight: 2 }] });
    expect(find(v, '10.51.0.0/16')).toMatchObject({ nhid: 10, nexthops: [{ gateway: '192.0.2.1', dev: 'ipa0' }] });
    expect(find(v, '10.30.0.0/16')).toMatchObject({ flags: ['onlink'], nexthops: [{ gateway: '10.30.0.1' }] });
    expect(find(v, '10.9.9.2/32')).toMatchObject({
      flags: ['linkdown'],
      scope: 'link',
      prefsrc: '10.9.9.1',
      protocol: 'kernel',
    });
    expect(find(v, '10.40.0.0/16').tos).toBe(0x10);
    expect(find(v, '10.71.0.0/16')).toMatchObject({ mtu: 1400, protocol: 'static' });
    expect(find(v, '10.72.0.0/16')).toMatchObject({ mtu: 1300, protocol: 'openr', prefsrc: '192.0.2.11' });
    expect(v.filter((r) => r.dst === '10.70.0.0/16').map((r) => [r.metric, r.nexthops[0]!.dev])).toEqual([
      [10, 'ipa0'],
      [20, 'ipa1'],
    ]);
  });

  it('renders JSON routes as ip-route lines for evidence', () => {
    expect(find(json.value, '198.51.100.0/24').source).toEqual({
      probe: 'ip-route4',
      text: '198.51.100.0/24 via inet6 fe80::b dev ipa0',
    });
    expect(find(json.value, '10.10.0.0/16').source.text).toBe(
      '10.10.0.0/16 nexthop via 192.0.2.1 dev ipa0 weight 1 nexthop via 203.0.113.1 dev ipa1 weight 3',
    );
    expect(renderRoute(find(json.value, '0.0.0.0/0', 2004))).toBe('local default dev lo table 2004 scope host');
    expect(renderRoute(find(json.value, '10.40.0.0/16'))).toBe('10.40.0.0/16 tos 0x10 via 192.0.2.2 dev ipa0');
    expect(find(text.value, '10.50.0.0/16').source.text).toBe(
      'unicast 10.50.0.0/16 nhid 12 table main proto boot scope global nh_info id 12 group 10/11,2 scope global proto unspec nexthop via 192.0.2.1 dev ipa0 weight 1 nexthop via 203.0.113.1 dev ipa1 weight 2',
    );
  });

  it('reads text without -d: a plain `ip r s` is the main table', () => {
    const t = parseIpRoute(fx('route/np-ip-a.4-main.txt'), 'p', 4);
    const j = parseIpRoute(fx('route/np-ip-a.4-j-main.json'), 'p', 4);
    expect(t.value.length).toBe(18);
    expect(t.value.every((r) => r.table === 254)).toBe(true);
    expect(noText(t.value)).toEqual(noText(j.value));
    const all = parseIpRoute(fx('route/np-ip-a.4-table-all.txt'), 'p', 4);
    // without -d: same routes, same tables; protocol boot / scope global are simply not printed
    const strip = (rs: Route[]) => rs.map((r) => [r.table, r.type, r.dst, r.nexthops, r.metric]);
    expect(strip(all.value)).toEqual(strip(json.value));
  });

  it('reads the shared node capture (kernel 6.18, iproute2 6.1) in both forms', () => {
    const j = parseIpRoute(fx('route/shared-node.4-j-p-d-table-all.json'), 'p', 4);
    const t = parseIpRoute(fx('route/shared-node.4-d-table-all.txt'), 'p', 4);
    expect(j.value).toHaveLength(33);
    expect(noText(t.value)).toEqual(noText(j.value));
    expect(find(j.value, '100.64.0.0/24').nexthops).toEqual([
      { gateway: 'fe80::445c:fff:fea4:d2ca', gatewayFamily: 6, dev: 'ens5' },
    ]);
    expect(find(j.value, '0.0.0.0/0', 2004).type).toBe('local');
    const tn = parseIpRoute(fx('route/shared-node.4-main-nodetail.txt'), 'p', 4);
    const jn = parseIpRoute(fx('route/shared-node.4-j-main-nodetail.json'), 'p', 4);
    expect(noText(tn.value)).toEqual(noText(jn.value));
  });
});

describe('ip -6 route', () => {
  const json = parseIpRoute(fx('route/np-ip-a.6-j-d-table-all.json'), 'ip-route6', 6);
  const text = parseIpRoute(fx('route/np-ip-a.6-d-table-all.txt'), 'ip-route6', 6);

  it('gives the same model from JSON, pretty JSON and text', () => {
    expect(json.value).toHaveLength(40);
    expect(noText(text.value)).toEqual(noText(json.value));
    expect(parseIpRoute(fx('route/np-ip-a.6-j-p-d-table-all.json'), 'ip-route6', 6).value).toEqual(json.value);
    expect(codes(json.warnings)).toEqual(['route-nhid']);
  });

  it('reads link-local gateways, from, multipath, mtu, onlink, pref/expires routes, local-table types', () => {
    const v = json.value;
    expect(find(v, '::/0')).toMatchObject({
      metric: 1024,
      nexthops: [{ gateway: 'fe80::b', gatewayFamily: 6, dev: 'ipa0' }],
    });
    expect(find(v, '::/0', 100).nexthops).toEqual([{ gateway: '2001:db8:2::1', gatewayFamily: 6, dev: 'ipa1' }]);
    expect(find(v, '2001:db8:cc::/48')).toMatchObject({
      src: '2001:db8:244::/48',
      nexthops: [{ gateway: '2001:db8:1::1' }],
    });
    expect(find(v, '2001:db8:ffff::/48').nexthops).toEqual([
      { gateway: 'fe80::b', gatewayFamily: 6, dev: 'ipa0', weight: 1 },
      { gateway: '2001:db8:2::1', gatewayFamily: 6, dev: 'ipa1', weight: 2 },
    ]);
    expect(find(v, '2001:db8:77::/48')).toMatchObject({ mtu: 1280, metric: 50 });
    expect(find(v, '2001:db8:99::/48').flags).toEqual(['onlink']);
    expect(find(v, '2001:db8:bb::/48').nexthops[0]!.gateway).toBe('fe80::b');
    expect(find(v, '2001:db8:aaaa::/64').metric).toBe(1024);
    expect(find(v, '2001:db8:ee::/48')).toMatchObject({ nhid: 20, nexthops: [{ gateway: 'fe80::b', dev: 'ipa0' }] });
    expect(find(v, '2001:db8:100::/48', 100)).toMatchObject({ type: 'throw', nexthops: [] });
    expect(find(v, '2001:db8:dead::/48')).toMatchObject({ type: 'blackhole', nexthops: [] });
    expect(find(v, '2001:db8:bad::/48').type).toBe('prohibit');
    expect(v.filter((r) => r.dst === 'ff00::/8').every((r) => r.type === 'multicast' && r.table === 255)).toBe(true);
    expect(find(v, 'fe80::a/128', 255).type).toBe('local');
    expect(v.filter((r) => r.dst === 'fe80::/64')).toHaveLength(7);
  });

  it('reads the shared node capture and the no-detail forms alike', () => {
    const j = parseIpRoute(fx('route/shared-node.6-j-p-d-table-all.json'), 'p', 6);
    const t = parseIpRoute(fx('route/shared-node.6-d-table-all.txt'), 'p', 6);
    expect(noText(t.value)).toEqual(noText(j.value));
    const jn = parseIpRoute(fx('route/shared-node.6-j-main-nodetail.json'), 'p', 6);
    const tn = parseIpRoute(fx('route/shared-node.6-main-nodetail.txt'), 'p', 6);
    expect(noText(tn.value)).toEqual(noText(jn.value));
    expect(find(jn.value, '2001:db8:aaaa::/64').nexthops).toEqual([
      { gateway: '2001:db8:1::1', gatewayFamily: 6, dev: 'ens5' },
    ]);
  });
});

describe('ip route format traps', () => {
  it('refuses to guess the table of a `-d ... table 100` dump (iproute2 drops the filtered key)', () => {
    const r = parseIpRoute(fx('route/np-ip-a.4-j-d-table100.json'), 'p', 4);
    expect(r.value).toEqual([]);
    expect(codes(r.warnings)).toEqual(['route-table-unknown']);
    expect(r.warnings[0]!.message).toMatch(/\[3 records\]/);
    const t = parseIpRoute(
      fx('route/np-ip-a.4-d-table-all.txt')
        .split('\n')
        .map((l) => l.replace(/ table \S+/, ''))
        .join('\n'),
      'p',
      4,
    );
    expect(t.value).toEqual([]);
    expect(codes(t.warnings)).toContain('route-table-unknown');
  });

  it('warns when a `dev` filter removed the device', () => {
    const cap = fx('route/shared-node.filter-suppresses-keys.txt');
    const r = parseIpRoute(section(cap, 'ip -j route show dev ens5'), 'p', 4);
    expect(r.value.map((x) => x.dst)).toEqual(['0.0.0.0/0', '100.64.0.0/24', '192.0.2.0/24']);
    expect(codes(r.warnings)).toEqual(['route-no-dev']);
    expect(r.warnings[0]!.message).toMatch(/\[3 records\]/);
  });
});

describe('ip route bad input', () => {
  const full = fx('route/np-ip-a.4-j-d-table-all.json');

  it('throws a ParseError naming the probe on truncated JSON', () => {
    const cut = full.slice(0, 500);
    expect(() => parseIpRoute(cut, 'ip-route4', 4)).toThrow(ParseError);
    expect(() => parseIpRoute(cut, 'ip-route4', 4)).toThrow(
      /^ip-route4: not valid JSON \(.*\); the output looks truncated$/,
    );
    expect(() => parseIpRoute('{"dst":"10.0.0.0/8"}', 'p', 4)).toThrow(/expected a JSON array/);
  });

  it('reads ANSI-coloured text and JSON and CRLF line ends like the plain output', () => {
    const plain = parseIpRoute(fx('route/np-ip-a.4-d-table-all.txt'), 'p', 4);
    const colour = parseIpRoute(fx('route/np-ip-a.4-d-table-all.color.txt'), 'p', 4);
    expect(fx('route/np-ip-a.4-d-table-all.color.txt')).toContain('\u001b[');
    expect(colour.value).toEqual(plain.value);
    const crlf = parseIpRoute(fx('route/np-ip-a.4-d-table-all.txt').replace(/\n/g, '\r\n'), 'p', 4);
    expect(crlf.value).toEqual(plain.value);
    // iproute2 6.1 prints no colour in JSON; a terminal paste can still wrap it
    const j = parseIpRoute(full, 'p', 4);
    const wrapped = parseIpRoute(
      `\u001b[1m${full.replace(/"dst":"([^"]+)"/g, '"dst":"\u001b[35m$1\u001b[0m"')}\u001b[0m\r\n`,
      'p',
      4,
    );
    expect(wrapped.value).toEqual(j.value);
  });

  it('skips an element with a wrong type, accepts unknown keys, ignores __proto__', () => {
    const r = parseIpRoute(
      '[{"dst":"10.0.0.0/8","dev":7},{"dst":"10.1.0.0/16","dev":"eth0","tcp_usec_ts":null,"new_key":{"x":[1]}},' +
        '{"__proto__":{"gateway":"192.0.2.66","polluted":1},"dst":"10.2.0.0/16","dev":"eth0"},{"dst":"10.3.0.0/16","metric":-1,"dev":"eth0"},' +
        '{"dst":"10.4.0.0/16","nexthops":[{"gateway":5}]},"junk",null]',
      'p',
      4,
    );
    expect(r.value.map((x) => [x.dst, x.nexthops])).toEqual([
      ['10.1.0.0/16', [{ dev: 'eth0' }]],
      ['10.2.0.0/16', [{ dev: 'eth0' }]],
    ]);
    expect(r.warnings.map((w) => w.message)).toEqual([
      'route #0: dev: Invalid input: expected string, received number',
      'route #3: metric: Too small: expected number to be >=0',
      'route #4: nexthops.0.gateway: Invalid input: expected string, received number',
      'route #5: Invalid input: expected object, received string',
      'route #6: Invalid input: expected object, received null',
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(r.value[1]!)).toBe(Object.prototype);
  });

  it('warns on an unknown route type or word instead of crashing', () => {
    const j = parseIpRoute(
      '[{"type":"weird","dst":"10.0.0.0/8"},{"type":"unspec","dst":"10.1.0.0/16"},{"dst":"10.2.0.0/16","dev":"eth0"}]',
      'p',
      4,
    );
    expect(j.value.map((r) => r.dst)).toEqual(['10.2.0.0/16']);
    expect(codes(j.warnings)).toEqual(['route-type-unknown', 'route-type-unknown']);
    const t = parseIpRoute(
      'weird 10.0.0.0/8 dev eth0\n10.1.0.0/16 dev eth0 frobnicate\n10.2.0.0/16 via 192.0.2.1 dev eth0 encap mpls 100\n10.3.0.0/16 via nonsense dev eth0\n',
      'p',
      4,
    );
    expect(t.value.map((r) => [r.dst, r.nexthops])).toEqual([['10.1.0.0/16', [{ dev: 'eth0' }]]]);
    expect(t.warnings.map((w) => w.code).sort()).toEqual(
      ['record-skipped', 'route-encap', 'route-token-unknown', 'route-type-unknown'].sort(),
    );
    expect(t.warnings.find((w) => w.code === 'route-token-unknown')!.message).toMatch(/"frobnicate"/);
  });

  it('rejects output that is not ip route at all, and reads an empty dump as no routes', () => {
    expect(() => parseIpRoute('RTNETLINK answers: Operation not permitted\n', 'p', 4)).toThrow(ParseError);
    expect(() => parseIpRoute('\u0000\u0001\u00ff\ufffd binary', 'p', 4)).toThrow(ParseError);
    expect(parseIpRoute('', 'p', 4)).toEqual({ value: [], warnings: [] });
    expect(parseIpRoute('[]', 'p', 6)).toEqual({ value: [], warnings: [] });
  });

  it('keeps huge numbers and deep nesting from crashing or being misread', () => {
    const r = parseIpRoute(
      '[{"dst":"10.0.0.0/8","dev":"eth0","metric":1e300},{"dst":"10.1.0.0/16","dev":"eth0","table":"99999999999"},' +
        '{"dst":"10.2.0.0/16","x":' +
        '['.repeat(5000) +
        ']'.repeat(5000) +
        ',"dev":"eth0"}]',
      'p',
      4,
    );
    expect(r.value.map((x) => x.dst)).toEqual(['10.2.0.0/16']);
    expect(codes(r.warnings)).toEqual(['record-skipped', 'table-name-unresolved']);
  });

  it('skips routes of a table known only by an rt_tables name, with a warning', () => {
    const t = parseIpRoute('10.0.0.0/8 dev eth0 table cilium\n10.1.0.0/16 dev eth0\n', 'p', 4);
    expect(t.value.map((r) => r.dst)).toEqual(['10.1.0.0/16']);
    expect(codes(t.warnings)).toEqual(['record-skipped', 'table-name-unresolved']);
    const j = parseIpRoute('[{"dst":"10.0.0.0/8","dev":"eth0","table":"cilium"}]', 'p', 4);
    expect(j.value).toEqual([]);
    expect(j.warnings[0]!.message).toMatch(/table "cilium"/);
  });

  it('canonicalises destinations: host bits cleared, host routes get /32, short prefixes expanded', () => {
    const r = parseIpRoute(
      '[{"dst":"10.1.2.3/8","dev":"a"},{"dst":"010.0.0.1","dev":"a"},{"dst":"192.0.2.7","dev":"a"},{"dst":"0.0.0.0/0","dev":"a"},{"dst":"1.2.3.4/33","dev":"a"}]',
      'p',
      4,
    );
    expect(r.value.map((x) => x.dst)).toEqual(['10.0.0.0/8', '192.0.2.7/32', '0.0.0.0/0']);
    expect(r.warnings).toHaveLength(2);
    expect(parseIpRoute('10/8 dev a\n', 'p', 4).value[0]!.dst).toBe('10.0.0.0/8');
    expect(parseIpRoute('[{"dst":"2001:DB8::1:0:0:0/64","dev":"a"}]', 'p', 6).value[0]!.dst).toBe('2001:db8::/64');
  });
});
