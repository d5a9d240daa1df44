import { describe, expect, it } from 'vitest';
import type { Family, NextHop, Route, RouteType, Rule } from '../../src/model/types.js';
import { buildFib, bpfFibQuery, fibLookupDivergence } from '../../src/analysis/route-lookup/index.js';

function rt(family: Family, dst: string, o: Partial<Route> & { via?: string; dev?: string } = {}): Route {
  const nexthops: NextHop[] = o.nexthops ?? [];
  if (!o.nexthops && (o.via || o.dev)) {
    const nh: NextHop = {};
    if (o.via) {
      nh.gateway = o.via;
      nh.gatewayFamily = o.via.includes(':') ? 6 : 4;
    }
    if (o.dev) nh.dev = o.dev;
    nexthops.push(nh);
  }
  const r: Route = {
    family,
    table: o.table ?? 254,
    type: (o.type ?? 'unicast') as RouteType,
    dst,
    nexthops,
    source: {
      probe: `ip-route${family}`,
      text: `${o.type ?? ''} ${dst} ${o.via ?? ''} ${o.dev ?? ''} t${o.table ?? 254} m${o.metric ?? ''}`.trim(),
    },
  };
  if (o.metric !== undefined) r.metric = o.metric;
  if (o.src !== undefined) r.src = o.src;
  if (o.tos !== undefined) r.tos = o.tos;
  if (o.flags !== undefined) r.flags = o.flags;
  if (o.prefsrc !== undefined) r.prefsrc = o.prefsrc;
  return r;
}

function rule(family: Family, priority: number, o: Partial<Rule> = {}): Rule {
  return {
    family,
    priority,
    action: 'lookup',
    ...o,
    source: { probe: `ip-rule${family}`, text: `${priority}: ${JSON.stringify(o)}` },
  };
}

const LOCAL4 = [
  rt(4, '10.1.0.1/32', { table: 255, type: 'local', dev: 'eth0', prefsrc: '10.1.0.1' }),
  rt(4, '10.1.0.255/32', { table: 255, type: 'broadcast', dev: 'eth0', prefsrc: '10.1.0.1' }),
  rt(4, '127.0.0.0/8', { table: 255, type: 'local', dev: 'lo' }),
];

describe('buildFib: policy rules', () => {
  it('uses the kernel default rules when the state has none (local, then main, then default)', () => {
    const fib = buildFib({
      routes: [
        ...LOCAL4,
        rt(4, '0.0.0.0/0', { via: '10.1.0.254', dev: 'eth0' }),
        rt(4, '192.0.2.0/24', { table: 253, via: '10.1.0.9', dev: 'eth0' }),
      ],
      rules: [],
    });
    expect(fib.rules(4).map((r) => r.priority)).toEqual([0, 32766, 32767]);
    expect(fib.rules(6).map((r) => r.priority)).toEqual([0, 32766]);
    const d = fib.lookup({ family: 4, dst: '198.51.100.1' });
    expect(d.result).toBe('unicast');
    expect(d.ruleIsDefault).toBe(true);
    expect(d.rule?.priority).toBe(32766);
    expect(d.table).toBe(254);
    expect(d.gateway).toBe('10.1.0.254');
    expect(d.dev).toBe('eth0');
    const l = fib.lookup({ family: 4, dst: '10.1.0.1' });
    expect(l.result).toBe('local');
    expect(l.dev).toBe('lo');
    expect(l.table).toBe(255);
    expect(fib.lookup({ family: 4, dst: '10.1.0.255' }).result).toBe('broadcast');
    expect(fib.lookup({ family: 4, dst: '10.1.0.255' }).dev).toBe('eth0');
  });

  it('falls through to the default table and reports no-route with ENETUNREACH', () => {
    const fib = buildFib({ routes: [rt(4, '192.0.2.0/24', { table: 253, via: '10.1.0.9', dev: 'eth0' })], rules: [] });
    const d = fib.lookup({ family: 4, dst: '192.0.2.7' });
    expect(d.rule?.priority).toBe(32767);
    expect(d.table).toBe(253);
    const n = fib.lookup({ family: 4, dst: '198.51.100.7' });
    expect(n.result).toBe('no-route');
    expect(n.error).toBe('ENETUNREACH');
    expect(n.steps.filter((s) => s.kind === 'table-miss').map((s) => s.table)).toEqual([255, 254, 253]);
  });

  it('matches fwmark with and without mask, and the rule is reported as the decider', () => {
    const rules = [
      rule(4, 0, { table: 255 }),
      rule(4, 100, { fwmark: 0x1, fwmask: 0x1, table: 100 }),
      rule(4, 110, { fwmark: 0x200, table: 110 }),
      rule(4, 32766, { table: 254 }),
    ];
    const routes = [
      rt(4, '0.0.0.0/0', { via: '10.1.0.254', dev: 'eth0' }),
      rt(4, '0.0.0.0/0', { table: 100, via: '10.2.0.254', dev: 'eth1' }),
      rt(4, '0.0.0.0/0', { table: 110, via: '10.3.0.254', dev: 'eth2' }),
    ];
    const fib = buildFib({ routes, rules });
    expect(fib.lookup({ family: 4, dst: '192.0.2.1', mark: 0x3 }).dev).toBe('eth1');
    expect(fib.lookup({ family: 4, dst: '192.0.2.1', mark: 0x2 }).dev).toBe('eth0');
    // no mask given: all 32 bits compared
    expect(fib.lookup({ family: 4, dst: '192.0.2.1', mark: 0x200 }).dev).toBe('eth2');
    expect(fib.lookup({ family: 4, dst: '192.0.2.1', mark: 0x1200 }).dev).toBe('eth0');
    const d = fib.lookup({ family: 4, dst: '192.0.2.1', mark: 0x1 });
    expect(d.rule).toBe(rules[1]);
    expect(d.ruleIsDefault).toBeUndefined();
  });

  it('inverts the whole match with not, and evaluates from/to/iif/oif/uid/ipproto/ports', () => {
    const routes = [
      rt(4, '0.0.0.0/0', { via: '10.1.0.254', dev: 'eth0' }),
      rt(4, '0.0.0.0/0', { table: 200, via: '10.2.0.254', dev: 'eth1' }),
    ];
    const mk = (o: Partial<Rule>) =>
      buildFib({ routes, rules: [rule(4, 10, { ...o, table: 200 }), rule(4, 32766, { table: 254 })] });
    const hit = (o: Partial<Rule>, q: Partial<Parameters<ReturnType<typeof buildFib>['lookup']>[0]>) =>
      mk(o).lookup({ family: 4, dst: '192.0.2.1', ...q }).table === 200;
    expect(hit({ not: true, dst: '192.0.2.0/24' }, {})).toBe(false);
    expect(hit({ not: true, dst: '198.51.100.0/24' }, {})).toBe(true);
    expect(hit({ src: '10.9.0.0/16' }, { src: '10.9.1.1' })).toBe(true);
    expect(hit({ src: '10.9.0.0/16' }, {})).toBe(false);
    // IPv4 flow without a source carries 0.0.0.0, which 0.0.0.0/8 contains
    expect(hit({ src: '0.0.0.0/8' }, {})).toBe(true);
    expect(hit({ iif: 'lo' }, {})).toBe(true);
    expect(hit({ iif: 'lo' }, { iif: 'eth3' })).toBe(false);
    expect(hit({ iif: 'eth3' }, { iif: 'eth3' })).toBe(true);
    expect(hit({ oif: 'eth1' }, {})).toBe(false);
    expect(hit({ uidrange: [1000, 2000] }, {})).toBe(false);
    expect(hit({ uidrange: [1000, 2000] }, { uid: 1500 })).toBe(true);
    expect(hit({ uidrange: [0, 0] }, {})).toBe(true);
    expect(hit({ ipproto: 6 }, {})).toBe(false);
    expect(hit({ ipproto: 6, dport: [80, 80] }, { ipproto: 6, dport: 80 })).toBe(true);
    expect(hit({ ipproto: 6, dport: [80, 80] }, { ipproto: 6, dport: 81 })).toBe(false);
    expect(hit({ sport: [1000, 2000] }, { sport: 1999 })).toBe(true);
    expect(hit({ tos: 0x10 }, { tos: 0x10 })).toBe(true);
    expect(hit({ tos: 0x10 }, {})).toBe(false);
  });

  it('never matches a rule whose iif device does not exist (detached)', () => {
    const routes = [
      rt(4, '0.0.0.0/0', { via: '10.1.0.254', dev: 'eth0' }),
      rt(4, '0.0.0.0/0', { table: 200, via: '10.2.0.254', dev: 'eth1' }),
    ];
    const rules = [rule(4, 10, { iif: 'ghost0', table: 200 }), rule(4, 32766, { table: 254 })];
    const links = [{ ifindex: 1, name: 'lo', flags: [], source: { probe: 'ip-link', text: 'lo' } }];
    expect(buildFib({ routes, rules }).lookup({ family: 4, dst: '192.0.2.1', iif: 'ghost0' }).table).toBe(200);
    expect(buildFib({ routes, rules, links }).lookup({ family: 4, dst: '192.0.2.1', iif: 'ghost0' }).table).toBe(254);
  });

  it('continues after throw, follows goto (re-testing the target), skips unresolved goto', () => {
    const routes = [
      rt(4, '0.0.0.0/0', { via: '10.1.0.254', dev: 'eth0' }),
      rt(4, '10.0.0.0/8', { table: 300, type: 'throw' }),
      rt(4, '10.5.0.0/16', { table: 300, via: '10.3.0.254', dev: 'eth3' }),
      rt(4, '0.0.0.0/0', { table: 400, via: '10.4.0.254', dev: 'eth4' }),
    ];
    const rules = [
      rule(4, 10, { action: 'goto', goto: 30, fwmark: 0x2 }),
      rule(4, 15, { action: 'goto', goto: 25 }),
      rule(4, 20, { action: 'blackhole' }),
      rule(4, 30, { dst: '10.0.0.0/8', table: 300 }),
      rule(4, 40, { fwmark: 0x2, table: 400 }),
      rule(4, 32766, { table: 254 }),
    ];
    const fib = buildFib({ routes, rules });
    const bh = fib.lookup({ family: 4, dst: '10.9.9.9' });
    expect(bh.result).toBe('blackhole');
    expect(bh.error).toBe('EINVAL');
    expect(bh.steps.some((s) => s.kind === 'goto-unresolved')).toBe(true);
    const th = fib.lookup({ family: 4, dst: '10.9.9.9', mark: 0x2 });
    expect(th.steps.map((s) => s.kind)).toContain('throw');
    expect(th.table).toBe(400);
    expect(fib.lookup({ family: 4, dst: '10.5.1.1', mark: 0x2 }).dev).toBe('eth3');
    // goto target does not match: evaluation continues after the target
    expect(fib.lookup({ family: 4, dst: '192.0.2.1', mark: 0x2 }).dev).toBe('eth4');
  });

  it('suppress_prefixlength rejects a short match but not a blackhole route', () => {
    const routes = [
      rt(4, '0.0.0.0/0', { via: '10.1.0.254', dev: 'eth0' }),
      rt(4, '0.0.0.0/0', { table: 900, via: '10.9.0.254', dev: 'wg0' }),
      rt(4, '192.0.2.0/24', { via: '10.1.0.1', dev: 'eth0' }),
      rt(4, '198.51.100.0/24', { type: 'blackhole' }),
    ];
    const rules = [rule(4, 10, { table: 254, suppressPrefixlen: 0 }), rule(4, 20, { table: 900 })];
    const fib = buildFib({ routes, rules });
    const d = fib.lookup({ family: 4, dst: '203.0.113.1' });
    expect(d.steps.some((s) => s.kind === 'suppress')).toBe(true);
    expect(d.dev).toBe('wg0');
    expect(fib.lookup({ family: 4, dst: '192.0.2.9' }).dev).toBe('eth0');
    expect(fib.lookup({ family: 4, dst: '198.51.100.9' }).result).toBe('blackhole');
  });

  it('maps rule actions to the kernel errors', () => {
    const fib = buildFib({
      routes: [],
      rules: [
        rule(4, 1, { action: 'unreachable', dst: '10.1.0.0/16' }),
        rule(4, 2, { action: 'prohibit', dst: '10.2.0.0/16' }),
        rule(4, 3, { action: 'blackhole' }),
      ],
    });
    expect(fib.lookup({ family: 4, dst: '10.1.1.1' })).toMatchObject({ result: 'unreachable', error: 'ENETUNREACH' });
    expect(fib.lookup({ family: 4, dst: '10.2.1.1' })).toMatchObject({ result: 'prohibit', error: 'EACCES' });
    expect(fib.lookup({ family: 4, dst: '10.3.1.1' })).toMatchObject({ result: 'blackhole', error: 'EINVAL' });
  });
});

describe('buildFib: route selection', () => {
  it('longest prefix, then lowest metric, then TOS-specific entries first (IPv4)', () => {
    const fib = buildFib({
      routes: [
        rt(4, '10.0.0.0/8', { via: '10.255.0.1', dev: 'eth0' }),
        rt(4, '10.1.0.0/16', { via: '10.255.0.2', dev: 'eth1', metric: 20 }),
        rt(4, '10.1.0.0/16', { via: '10.255.0.3', dev: 'eth2', metric: 10 }),
        rt(4, '10.1.0.0/16', { via: '10.255.0.4', dev: 'eth3', metric: 30, tos: 0x10 }),
      ],
      rules: [],
    });
    expect(fib.lookup({ family: 4, dst: '10.1.2.3' }).dev).toBe('eth2');
    expect(fib.lookup({ family: 4, dst: '10.1.2.3', tos: 0x10 }).dev).toBe('eth3');
    expect(fib.lookup({ family: 4, dst: '10.2.2.3' }).dev).toBe('eth0');
  });

  it('reports reject route types with their errors', () => {
    const fib = buildFib({
      routes: [
        rt(4, '192.0.2.0/28', { type: 'blackhole' }),
        rt(4, '192.0.2.16/28', { type: 'unreachable' }),
        rt(4, '192.0.2.32/28', { type: 'prohibit' }),
      ],
      rules: [],
    });
    expect(fib.lookup({ family: 4, dst: '192.0.2.1' })).toMatchObject({
      result: 'blackhole',
      error: 'EINVAL',
      nexthops: [],
    });
    expect(fib.lookup({ family: 4, dst: '192.0.2.17' })).toMatchObject({
      result: 'unreachable',
      error: 'EHOSTUNREACH',
    });
    expect(fib.lookup({ family: 4, dst: '192.0.2.33' })).toMatchObject({ result: 'prohibit', error: 'EACCES' });
  });

  it('lists every live multipath candidate and names no single dev', () => {
    const fib = buildFib({
      routes: [
        rt(4, '198.51.100.0/24', {
          nexthops: [
            { gateway: '10.1.0.2', gatewayFamily: 4, dev: 'eth0', weight: 1 },
            { gateway: '10.2.0.2', gatewayFamily: 4, dev: 'eth1', weight: 2 },
            { gateway: '10.3.0.2', gatewayFamily: 4, dev: 'eth2', flags: ['dead', 'linkdown'] },
          ],
        }),
      ],
      rules: [],
    });
    const d = fib.lookup({ family: 4, dst: '198.51.100.5' });
    expect(d.multipath).toBe(true);
    expect(d.nexthops.map((n) => n.gateway)).toEqual(['10.1.0.2', '10.2.0.2']);
    expect(d.dev).toBeUndefined();
    expect(d.gateway).toBeUndefined();
  });

  it('passes over dead routes to shorter prefixes; linkdown counts only with ignore_routes_with_linkdown', () => {
    const routes = [
      rt(4, '0.0.0.0/0', { via: '10.1.0.254', dev: 'eth0' }),
      rt(4, '10.99.0.0/16', { via: '10.4.0.2', dev: 'eth4', flags: ['linkdown'] }),
    ];
    expect(buildFib({ routes, rules: [] }).lookup({ family: 4, dst: '10.99.1.1' }).dev).toBe('eth4');
    const ign = buildFib({
      routes,
      rules: [],
      sysctl: { 'net.ipv4.conf.eth4.ignore_routes_with_linkdown': { value: '1' } },
    });
    const d = ign.lookup({ family: 4, dst: '10.99.1.1' });
    expect(d.dev).toBe('eth0');
    expect(d.steps.some((s) => s.kind === 'route-skip')).toBe(true);
  });

  it('carries IPv4 routes with IPv6 next hops', () => {
    const fib = buildFib({ routes: [rt(4, '100.64.0.0/16', { via: '2001:db8:3::2', dev: 'eth3' })], rules: [] });
    expect(fib.lookup({ family: 4, dst: '100.64.1.1' })).toMatchObject({
      result: 'unicast',
      gateway: '2001:db8:3::2',
      gatewayFamily: 6,
      dev: 'eth3',
    });
  });

  it('applies IPv4 output-path checks: non-local source, 0.0.0.0/8, multicast, limited broadcast, oif fallback', () => {
    const addrs = [
      {
        ifindex: 1,
        ifname: 'lo',
        family: 4 as const,
        local: '127.0.0.1',
        prefixlen: 8,
        scope: 'host',
        source: { probe: 'ip-addr', text: '' },
      },
      {
        ifindex: 2,
        ifname: 'eth0',
        family: 4 as const,
        local: '10.1.0.1',
        prefixlen: 24,
        scope: 'global',
        source: { probe: 'ip-addr', text: '' },
      },
    ];
    const fib = buildFib({
      routes: [...LOCAL4, rt(4, '0.0.0.0/0', { via: '10.1.0.254', dev: 'eth0' })],
      rules: [],
      addrs,
    });
    expect(fib.lookup({ family: 4, dst: '192.0.2.1', src: '10.9.9.9' })).toMatchObject({
      result: 'invalid-source',
      error: 'ENETUNREACH',
    });
    expect(fib.lookup({ family: 4, dst: '192.0.2.1', src: '10.1.0.1' }).result).toBe('unicast');
    // __mkroute_output: a loopback source cannot leave through eth0
    expect(fib.lookup({ family: 4, dst: '192.0.2.1', src: '127.0.0.1' })).toMatchObject({
      result: 'invalid',
      error: 'EINVAL',
    });
    expect(fib.lookup({ family: 4, dst: '127.0.0.5', src: '127.0.0.1' })).toMatchObject({ result: 'local', dev: 'lo' });
    expect(fib.lookup({ family: 4, dst: '0.1.2.3' })).toMatchObject({ result: 'invalid', error: 'EINVAL' });
    expect(fib.lookup({ family: 4, dst: '224.0.0.5' }).result).toBe('multicast');
    expect(fib.lookup({ family: 4, dst: '255.255.255.255' }).result).toBe('broadcast');
    const noDefault = buildFib({ routes: LOCAL4, rules: [] });
    expect(noDefault.lookup({ family: 4, dst: '192.0.2.1', oif: 'eth7' })).toMatchObject({
      result: 'unicast',
      dev: 'eth7',
    });
  });

  it('IPv6: source-specific routes, metric preference, default rules without a default table', () => {
    const fib = buildFib({
      routes: [
        rt(6, '::/0', { via: '2001:db8:1::ff', dev: 'eth0', metric: 1024 }),
        rt(6, '2001:db8:77::/48', { via: '2001:db8:3::2', dev: 'eth3', metric: 1024 }),
        rt(6, '2001:db8:77::/48', { via: '2001:db8:2::2', dev: 'eth2', metric: 1024, src: '2001:db8:2::/64' }),
        rt(6, '2001:db8:88::/48', { via: '2001:db8:2::2', dev: 'eth2', metric: 200 }),
        rt(6, '2001:db8:88::/48', { via: '2001:db8:3::2', dev: 'eth3', metric: 100 }),
        rt(6, '2001:db8:99::/48', { type: 'unreachable', metric: 1024 }),
      ],
      rules: [],
    });
    expect(fib.rules(6).map((r) => r.table)).toEqual([255, 254]);
    expect(fib.lookup({ family: 6, dst: '2001:db8:77::1' }).dev).toBe('eth3');
    expect(fib.lookup({ family: 6, dst: '2001:db8:77::1', src: '2001:db8:2::1' }).dev).toBe('eth2');
    expect(fib.lookup({ family: 6, dst: '2001:db8:77::1', src: '2001:db8:5::1' }).dev).toBe('eth3');
    expect(fib.lookup({ family: 6, dst: '2001:db8:88::1' }).dev).toBe('eth3');
    expect(fib.lookup({ family: 6, dst: '2001:db8:99::1' })).toMatchObject({
      result: 'unreachable',
      error: 'EHOSTUNREACH',
    });
    expect(fib.lookup({ family: 6, dst: '2001:db8:ffff::1' }).gateway).toBe('2001:db8:1::ff');
  });

  it('IPv6 rule `from` does not match a flow without a source', () => {
    const fib = buildFib({
      routes: [
        rt(6, '::/0', { via: '2001:db8:1::ff', dev: 'eth0' }),
        rt(6, '::/0', { table: 200, via: '2001:db8:2::ff', dev: 'eth2' }),
      ],
      rules: [rule(6, 0, { table: 255 }), rule(6, 100, { src: '::/1', table: 200 }), rule(6, 32766, { table: 254 })],
    });
    expect(fib.lookup({ family: 6, dst: '2001:db8:9::1' }).dev).toBe('eth0');
    expect(fib.lookup({ family: 6, dst: '2001:db8:9::1', src: '2001:db8:1::1' }).dev).toBe('eth2');
  });
});

describe('bpf_fib_lookup divergence', () => {
  const routes = [
    rt(4, '0.0.0.0/0', { via: '10.1.0.254', dev: 'eth0' }),
    rt(4, '0.0.0.0/0', { table: 100, via: '10.2.0.254', dev: 'eth1' }),
  ];
  const rules = [
    rule(4, 0, { table: 255 }),
    rule(4, 100, { fwmark: 0x200, fwmask: 0xf00, table: 100 }),
    rule(4, 110, { uidrange: [1000, 1000], table: 100 }),
    rule(4, 120, { iif: 'eth9', table: 100 }),
    rule(4, 130, { dst: '192.0.2.0/24', table: 100 }),
    rule(4, 32766, { table: 254 }),
  ];
  const fib = buildFib({ routes, rules });

  it('builds the flow the helper passes: no mark, uid 0, iif = the program device', () => {
    expect(
      bpfFibQuery({ family: 4, dst: '198.51.100.1', mark: 0x200, uid: 1000, iif: 'lo' }, { ifindexDev: 'lxc1' }),
    ).toEqual({ family: 4, dst: '198.51.100.1', mark: 0, uid: 0, iif: 'lxc1' });
    expect(
      bpfFibQuery(
        { family: 4, dst: '198.51.100.1', mark: 0x200 },
        { ifindexDev: 'lxc1', passMark: true, output: true },
      ),
    ).toEqual({ family: 4, dst: '198.51.100.1', mark: 0x200, uid: 0, oif: 'lxc1' });
  });

  it('names the fwmark rule when the packet mark selects it, and the iif rule when the devices differ', () => {
    const div = fibLookupDivergence(
      fib,
      { family: 4, dst: '198.51.100.1', iif: 'eth9', mark: 0x200, uid: 0 },
      { ifindexDev: 'lxc1' },
    );
    expect(div.map((d) => d.rule.priority)).toEqual([100, 120]);
    expect(div[0]!.why).toMatch(/matches the packet but not the BPF lookup: mark/);
    expect(div[1]!.why).toMatch(/iif \(packet eth9, BPF lxc1\)/);
  });

  it('reports rules on unknown fields as possible divergences, and nothing that cannot differ', () => {
    const div = fibLookupDivergence(fib, { family: 4, dst: '198.51.100.1', iif: 'lxc1' }, { ifindexDev: 'lxc1' });
    expect(div.map((d) => d.rule.priority)).toEqual([100, 110]);
    const none = fibLookupDivergence(
      fib,
      { family: 4, dst: '198.51.100.1', iif: 'lxc1', mark: 0x100, uid: 0 },
      { ifindexDev: 'lxc1' },
    );
    expect(none).toEqual([]);
  });

  it('with DIRECT every configured rule is bypassed', () => {
    const div = fibLookupDivergence(fib, { family: 4, dst: '198.51.100.1' }, { direct: true, tbid: 100 });
    expect(div.length).toBe(rules.length);
    expect(div[0]!.why).toMatch(/DIRECT looks only in table 100/);
  });
});
