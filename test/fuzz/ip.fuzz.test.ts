import { describe, expect, it } from 'vitest';
import { canonIp, canonPrefix } from '../../src/model/addr.js';
import {
  parseIpAddr,
  parseIpLink,
  parseIpNeigh,
  parseIpNetnsList,
  parseIpRoute,
  parseIpRule,
} from '../../src/tools/ip/index.js';
import { contract, defineFuzz, eq, ok, seeds } from './harness.js';

const isPrefix = (p: string, fam: 4 | 6) => eq(canonPrefix(p, fam), p, p);

defineFuzz({
  name: 'ip link',
  seeds: seeds('ip/link'),
  parse: parseIpLink,
  check: (links) => {
    for (const l of links) {
      eq(Number.isInteger(l.ifindex) && l.ifindex >= 0, true);
      ok(l.name.length > 0);
    }
  },
});

defineFuzz({
  name: 'ip addr',
  seeds: seeds('ip/addr'),
  parse: parseIpAddr,
  check: (addrs) => {
    for (const a of addrs) {
      eq(canonIp(a.local), a.local, a.local);
      eq(a.prefixlen >= 0 && a.prefixlen <= (a.family === 4 ? 32 : 128), true);
    }
  },
});

for (const fam of [4, 6] as const) {
  defineFuzz({
    name: `ip -${fam} route`,
    seeds: seeds('ip/route', new RegExp(`\\.${fam}-`)),
    parse: (t, p) => parseIpRoute(t, p, fam),
    check: (routes) => {
      for (const r of routes) {
        eq(r.family, fam);
        isPrefix(r.dst, fam);
        if (r.src !== undefined) isPrefix(r.src, fam);
        eq(Number.isInteger(r.table) && r.table >= 0 && r.table <= 0xffffffff, true);
        for (const nh of r.nexthops) if (nh.gateway !== undefined) eq(canonIp(nh.gateway), nh.gateway);
      }
    },
  });

  defineFuzz({
    name: `ip -${fam} rule`,
    seeds: seeds('ip/rule', new RegExp(`\\.${fam}[-.]`)),
    parse: (t, p) => parseIpRule(t, p, fam),
    check: (rules) => {
      for (const r of rules) {
        eq(r.family, fam);
        if (r.src !== undefined) isPrefix(r.src, fam);
        if (r.dst !== undefined) isPrefix(r.dst, fam);
        eq(Number.isInteger(r.priority) && r.priority >= 0 && r.priority <= 0xffffffff, true);
        for (const range of [r.sport, r.dport]) {
          if (range !== undefined)
            for (const x of range) eq(Number.isInteger(x) && x >= 0 && x <= 65535, true, String(x));
        }
      }
    },
  });
}

defineFuzz({
  name: 'ip neigh',
  seeds: seeds('ip/neigh'),
  parse: parseIpNeigh,
  check: (ns) => {
    for (const n of ns) eq(canonIp(n.dst), n.dst, n.dst);
  },
});

defineFuzz({ name: 'ip netns list', seeds: seeds('ip/netns'), parse: parseIpNetnsList });

describe('fuzz regressions (ip)', () => {
  it('a link head cut after `mtu` leaves mtu unknown with a warning, not NaN', () => {
    const r = contract(
      () => parseIpLink('1: lo: <LOOPBACK,UP,LOWER_UP> mtu  qdisc noqueue state UNKNOWN\n', 'p'),
      'p',
    )!;
    expect(r[0]!.mtu).toBeUndefined();
    expect(r[0]!.name).toBe('lo');
  });
  it('a zone id where a prefix belongs is not a prefix (no TypeError)', () => {
    expect(canonPrefix('fe80::1%eth0/64')).toBeNull();
    expect(canonPrefix('fe80::1%eth0all')).toBeNull();
    const rules = contract(
      () =>
        parseIpRule(
          '102:\tfrom fe80::1%eth0all fwmark 0xa00/0xf00 lookup 2005\n32766:\tfrom all lookup main\n',
          'p',
          6,
        ),
      'p',
    )!;
    expect(rules.map((r) => r.priority)).toEqual([32766]);
  });
  it('a JSON link whose ifindex does not fit u32 (4294967296) is skipped, the others kept', () => {
    const text = seeds('ip/link', /np-ip-a\.j-d\.json$/)[0]!.text;
    const links = JSON.parse(text) as { ifindex: number }[];
    const good = contract(() => parseIpLink(text, 'p'), 'p')!;
    links[1]!.ifindex = 4294967296;
    const r = contract(() => parseIpLink(JSON.stringify(links), 'p'), 'p')!;
    expect(r.length).toBe(good.length - 1);
    expect(r.some((l) => l.ifindex > 0xffffffff)).toBe(false);
  });
  it('a JSON netns with id -1 does not report id -1', () => {
    const r = contract(() => parseIpNetnsList('[{"name":"np-a","id":0},{"name":"np-b","id":-1}]', 'p'), 'p')!;
    expect(r.some((n) => n.id === -1)).toBe(false);
    expect(r[0]).toEqual({ name: 'np-a', id: 0 });
  });
});
