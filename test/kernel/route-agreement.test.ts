import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mask4, seeded, v4, v6 } from '../helpers/seeded.js';
import {
  addNetns,
  canUseNetns,
  delNetns,
  ipBatch,
  ipIn,
  ROUTER_SYSCTLS,
  uniqueName,
  vethNode,
} from '../helpers/netns.js';
import { fibAgrees, type KernelAnswer, kernelRouteGet, type RouteGetQuery } from '../helpers/route-get.js';
import { parseIpRoute, parseIpRule, parseIpLink, parseIpAddr } from '../../src/tools/ip/index.js';
import { buildRouting, type RouteAnswer, type Routing } from '../../src/analysis/routing.js';
import { buildFib, type Fib } from '../../src/analysis/route-lookup/index.js';
import type { Family } from '../../src/model/types.js';

// a loaded machine (npm run test:stress, a busy CI runner) runs these far slower than an idle one
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// Builds a node in a network namespace with policy rules, several tables, blackhole / unreachable /
// prohibit / throw routes, multipath and thousands of random routes, reads it back with `ip -j`, and
// checks netpath's routing decision against the kernel's `ip route get` for 10,000 destinations per family.

const NS = uniqueName('np-rt');
const PEER = uniqueName('np-rtp');
const N_QUERIES = 10_000;

const { int, pick, rnd } = seeded(0x2545f491);

const GW4 = {
  d0: ['198.51.100.2', '198.51.100.3', '198.51.100.4'],
  d1: ['203.0.113.2', '203.0.113.3'],
  d2: ['192.0.2.2', '192.0.2.3'],
} as Record<string, string[]>;
const GW6 = {
  d0: ['2001:db8:a::2', '2001:db8:a::3'],
  d1: ['2001:db8:b::2'],
  d2: ['2001:db8:c::2', '2001:db8:c::3'],
} as Record<string, string[]>;
const DEVS = ['d0', 'd1', 'd2'];

interface Built {
  prefixes4: [number, number][];
  prefixes6: number[][];
}

function build(): Built {
  vethNode(NS, PEER, DEVS, ROUTER_SYSCTLS);
  const lines: string[] = [
    'addr add 198.51.100.1/24 dev d0',
    'addr add 203.0.113.1/24 dev d1',
    'addr add 192.0.2.1/24 dev d2',
    'addr add 2001:db8:a::1/64 dev d0 nodad',
    'addr add 2001:db8:b::1/64 dev d1 nodad',
    'addr add 2001:db8:c::1/64 dev d2 nodad',
    // policy rules, both families
    'rule add pref 90 lookup main suppress_prefixlength 0',
    'rule add pref 100 from 10.1.0.0/16 lookup 100',
    'rule add pref 110 fwmark 0x10/0xff lookup 200',
    'rule add pref 120 to 10.200.0.0/16 lookup 100',
    'rule add pref 130 not fwmark 0x1/0x1 lookup 300',
    'rule add pref 140 iif d1 lookup 200',
    'rule add pref 150 from 10.66.0.0/16 prohibit',
    'rule add pref 160 fwmark 0x20 goto 32000',
    'rule add pref 32000 lookup 100',
    '-6 rule add pref 100 fwmark 0x10/0xff lookup 200',
    '-6 rule add pref 110 to 2001:db8:200::/48 lookup 100',
    '-6 rule add pref 120 iif d1 lookup 200',
    '-6 rule add pref 130 fwmark 0x20 goto 32000',
    '-6 rule add pref 32000 lookup 100',
    // fixed routes
    'route add default via 198.51.100.254 dev d0',
    'route add table 100 default via 203.0.113.254 dev d1',
    'route add table 200 default via 192.0.2.254 dev d2',
    'route add table 300 10.250.0.0/16 via 192.0.2.9 dev d2',
    'route add table 100 throw 10.200.128.0/17',
    'route add blackhole 10.99.0.0/16',
    'route add unreachable 10.98.0.0/16',
    'route add prohibit 10.97.0.0/16',
    'route add 10.96.0.0/16 nexthop via 198.51.100.2 dev d0 weight 1 nexthop via 203.0.113.2 dev d1 weight 3',
    'route add 10.95.0.0/16 via 198.51.100.3 dev d0 metric 10',
    'route add 10.95.0.0/16 via 203.0.113.3 dev d1 metric 5',
    // no IPv6 default in main: destinations no table covers must come out as "no route"
    '-6 route add table 100 default via 2001:db8:b::ff dev d1',
    '-6 route add table 200 default via 2001:db8:c::ff dev d2',
    '-6 route add table 100 throw 2001:db8:200:8000::/49',
    '-6 route add blackhole 2001:db8:dead::/48',
    '-6 route add unreachable 2001:db8:beef::/48',
    '-6 route add prohibit 2001:db8:f00d::/48',
    '-6 route add 2001:db8:ecc::/48 nexthop via 2001:db8:a::2 dev d0 nexthop via 2001:db8:b::2 dev d1',
    '-6 route add 2001:db8:123::/48 via 2001:db8:a::3 dev d0 metric 10',
    '-6 route add 2001:db8:123::/48 via 2001:db8:c::3 dev d2 metric 5',
  ];
  const built: Built = { prefixes4: [], prefixes6: [] };
  const tables = ['', 'table 100 ', 'table 200 '];
  for (let i = 0; i < 3000; i++) {
    const len = 12 + int(17);
    const a = mask4(((10 << 24) | int(1 << 24)) >>> 0, len);
    built.prefixes4.push([a, len]);
    const dev = pick(DEVS);
    const t = pick(tables);
    const kind = rnd();
    if (kind < 0.06)
      lines.push(`route add ${t}${pick(['blackhole', 'unreachable', 'prohibit', 'throw'])} ${v4(a)}/${len}`);
    else if (kind < 0.1)
      lines.push(
        `route add ${t}${v4(a)}/${len} nexthop via ${pick(GW4.d0!)} dev d0 nexthop via ${pick(GW4.d2!)} dev d2`,
      );
    else if (kind < 0.2) lines.push(`route add ${t}${v4(a)}/${len} dev ${dev} metric ${int(3)}`);
    else
      lines.push(
        `route add ${t}${v4(a)}/${len} via ${pick(GW4[dev]!)} dev ${dev}${rnd() < 0.2 ? ` metric ${int(50)}` : ''}`,
      );
  }
  for (let i = 0; i < 2000; i++) {
    const len = 40 + int(80);
    const g = [0x2001, 0xdb8, int(0x10000), int(0x10000), int(0x10000), int(0x10000), int(0x10000), int(0x10000)];
    for (let b = len; b < 128; b++) g[b >> 4] = g[b >> 4]! & ~(1 << (15 - (b & 15)));
    built.prefixes6.push([...g, len]);
    const dev = pick(DEVS);
    const t = pick(tables);
    const kind = rnd();
    if (kind < 0.06)
      lines.push(`-6 route add ${t}${pick(['blackhole', 'unreachable', 'prohibit', 'throw'])} ${v6(g)}/${len}`);
    else if (kind < 0.1)
      lines.push(
        `-6 route add ${t}${v6(g)}/${len} nexthop via ${pick(GW6.d0!)} dev d0 nexthop via ${pick(GW6.d2!)} dev d2`,
      );
    else
      lines.push(
        `-6 route add ${t}${v6(g)}/${len} via ${pick(GW6[dev]!)} dev ${dev}${rnd() < 0.3 ? ` metric ${1 + int(2000)}` : ''}`,
      );
  }
  // d3's peer stays down (carrier off: its routes are `linkdown`); d4 goes down after the routes
  // are in (its multipath next hops become `dead`); an IPv4 route via an IPv6 next hop; `iif lo`
  ipIn(NS, ['link', 'add', 'd3', 'type', 'veth', 'peer', 'name', 'p3', 'netns', PEER]);
  ipIn(NS, ['link', 'add', 'd4', 'type', 'veth', 'peer', 'name', 'p4', 'netns', PEER]);
  ipIn(NS, ['link', 'set', 'd3', 'up']);
  ipIn(NS, ['link', 'set', 'd4', 'up']);
  ipIn(PEER, ['link', 'set', 'p4', 'up']);
  lines.push(
    'addr add 172.31.3.1/24 dev d3',
    'addr add 172.31.4.1/24 dev d4',
    '-6 addr add 2001:db8:d::1/64 dev d3 nodad',
    '-6 addr add 2001:db8:e::1/64 dev d4 nodad',
    'route add 172.30.0.0/16 via 172.31.3.2 dev d3',
    'route add 172.29.0.0/16 nexthop via 172.31.4.2 dev d4 nexthop via 198.51.100.2 dev d0',
    'route add 172.28.0.0/16 via inet6 2001:db8:a::2 dev d0',
    'rule add pref 125 iif lo to 172.27.0.0/16 lookup 200',
    // table 100: rule 32000 sends IPv6 there before main
    '-6 route add table 100 2001:db8:3000::/48 via 2001:db8:d::2 dev d3',
    '-6 route add table 100 2001:db8:2900::/48 nexthop via 2001:db8:e::2 dev d4 nexthop via 2001:db8:a::2 dev d0',
    '-6 rule add pref 125 iif lo to 2001:db8:2700::/48 lookup 200',
  );
  // iproute2 6.1 takes no per-line -6 in batch mode: one batch per family
  ipBatch(
    NS,
    lines.filter((l) => !l.startsWith('-6 ')),
  );
  ipBatch(
    NS,
    lines.filter((l) => l.startsWith('-6 ')).map((l) => l.slice(3)),
    false,
    6,
  );
  ipIn(NS, ['link', 'set', 'd4', 'down']);
  return built;
}

function queries(b: Built, family: Family): RouteGetQuery[] {
  const out: RouteGetQuery[] = [];
  for (let i = 0; i < N_QUERIES; i++) {
    let dst: string;
    if (family === 4) {
      const r = rnd();
      if (r < 0.6) {
        const [a, len] = pick(b.prefixes4);
        const span = 2 ** (32 - len);
        const off = rnd() < 0.3 ? pick([0, span - 1, span, Math.max(0, span - 2)]) : int(span);
        dst = v4((a + off) >>> 0);
      } else if (r < 0.8)
        dst = v4(((10 << 24) | (pick([99, 98, 97, 96, 95, 200, 250, 1, 66]) << 16) | int(65536)) >>> 0);
      else dst = v4(int(2 ** 32) >>> 0);
      if (/^(0|127|22[4-9]|2[3-5]\d)\./.test(dst)) dst = '10.0.0.1';
    } else {
      const p = pick(b.prefixes6);
      const g = p.slice(0, 8);
      const len = p[8]!;
      if (rnd() < 0.3) g[7] = int(0x10000);
      const fixed =
        rnd() < 0.15
          ? [
              0x2001,
              0xdb8,
              pick([0xdead, 0xbeef, 0xf00d, 0xecc, 0x123, 0x200]),
              pick([0, 0x8001]),
              0,
              0,
              0,
              int(100) + 1,
            ]
          : null;
      void len;
      const stray = rnd() < 0.1 ? [0x2001, 0xdb8, int(0x10000), int(0x10000), 0, 0, 0, 1] : null;
      dst = v6(stray ?? fixed ?? g);
    }
    const q: RouteGetQuery = { family, dst };
    const k = rnd();
    if (k < 0.15) q.mark = pick([0x10, 0x110, 0x1, 0x20, 0x3]);
    else if (k < 0.3) {
      q.iif = pick(['d0', 'd1']);
      q.src = family === 4 ? pick(['10.1.2.3', '10.66.1.1', '172.16.5.5']) : pick(['2001:db8:77::1', '2001:db8:88::5']);
    }
    out.push(q);
  }
  return out;
}

function agree(a: RouteAnswer, k: KernelAnswer): boolean {
  if (a.result !== k.result) return false;
  if (a.result !== 'unicast') return true;
  return a.nexthops.some((n) => (n.dev ?? undefined) === k.dev && (n.gateway ?? undefined) === k.gateway);
}

/** Locally generated traffic with a source address (local or not), as `ip route get X from S` asks it. */
function outputQueries(family: Family, n: number): RouteGetQuery[] {
  const srcs =
    family === 4
      ? ['198.51.100.1', '203.0.113.1', '192.0.2.1', '10.1.2.3', '127.0.0.1']
      : ['2001:db8:a::1', '2001:db8:b::1', '2001:db8:77::1'];
  const out: RouteGetQuery[] = [];
  for (let i = 0; i < n; i++) {
    let dst =
      family === 4
        ? v4(((10 << 24) | int(1 << 24)) >>> 0)
        : v6([0x2001, 0xdb8, pick([0x200, 0xecc, 0x123, 0xdead, int(0x10000)]), int(0x10000), 0, 0, 0, int(0x10000)]);
    if (rnd() < 0.05) dst = pick(srcs.slice(0, 3));
    else if (rnd() < 0.2)
      dst =
        family === 4
          ? v4((((172 << 24) | (pick([30, 29, 28, 27]) << 16)) >>> 0) + int(65536))
          : v6([0x2001, 0xdb8, pick([0x3000, 0x2900, 0x2700]), int(0x10000), 0, 0, 0, int(0x10000)]);
    const q: RouteGetQuery = { family, dst, src: pick(srcs) };
    if (rnd() < 0.3) q.mark = pick([0x10, 0x20, 0x1]);
    out.push(q);
  }
  return out;
}

const NETNS_OK = canUseNetns();

describe.skipIf(!NETNS_OK)(
  `routing agrees with the kernel (ip route get) in a real namespace${NETNS_OK ? '' : ' [skipped: needs root and a working `ip netns`]'}`,
  () => {
    let routing: Routing;
    let fib: Fib;
    let built: Built;

    beforeAll(() => {
      delNetns(NS, PEER);
      addNetns(NS, PEER);
      built = build();
      const r4 = parseIpRoute(ipIn(NS, ['-4', '-j', '-d', 'route', 'show', 'table', 'all']), 'ip-route4', 4);
      const r6 = parseIpRoute(ipIn(NS, ['-6', '-j', '-d', 'route', 'show', 'table', 'all']), 'ip-route6', 6);
      const u4 = parseIpRule(ipIn(NS, ['-4', '-j', 'rule', 'show']), 'ip-rule4', 4);
      const u6 = parseIpRule(ipIn(NS, ['-6', '-j', 'rule', 'show']), 'ip-rule6', 6);
      const links = parseIpLink(ipIn(NS, ['-j', '-d', 'link', 'show']), 'ip-link').value;
      const addrs = parseIpAddr(ipIn(NS, ['-j', 'addr', 'show']), 'ip-addr').value;
      expect([...r4.warnings, ...r6.warnings, ...u4.warnings, ...u6.warnings]).toEqual([]);
      expect(r4.value.length).toBeGreaterThan(2500);
      expect(r6.value.length).toBeGreaterThan(1500);
      routing = buildRouting([...r4.value, ...r6.value], [...u4.value, ...u6.value], { links, addrs });
      fib = buildFib({ routes: [...r4.value, ...r6.value], rules: [...u4.value, ...u6.value], links, addrs });
      // the states the agreement must cover are really in the dump
      const flagged = (rs: typeof r4.value, f: string) =>
        rs.some((r) => (r.flags ?? []).includes(f) || r.nexthops.some((n) => (n.flags ?? []).includes(f)));
      for (const rs of [r4.value, r6.value]) {
        expect(flagged(rs, 'dead')).toBe(true);
        expect(flagged(rs, 'linkdown')).toBe(true);
      }
      expect(r4.value.some((r) => r.nexthops.some((n) => n.gatewayFamily === 6))).toBe(true);
      expect(u4.value.some((r) => r.iif === 'lo') && u6.value.some((r) => r.iif === 'lo')).toBe(true);
    }, 120_000);

    afterAll(() => delNetns(NS, PEER));

    for (const family of [4, 6] as Family[]) {
      it(`agrees on ${N_QUERIES} IPv${family} destinations`, () => {
        const qs = queries(built, family);
        const kernel = kernelRouteGet(NS, qs);
        const bad: string[] = [];
        const seen = new Set<string>();
        qs.forEach((q, i) => {
          const a = routing.lookup({
            family: q.family,
            dst: q.dst,
            iif: q.iif ?? 'lo',
            ...(q.src ? { src: q.src } : {}),
            ...(q.mark !== undefined ? { mark: q.mark } : {}),
          });
          seen.add(String(kernel[i]!.result));
          if (!agree(a, kernel[i]!))
            bad.push(
              `${JSON.stringify(q)}: netpath ${a.result} ${JSON.stringify(a.nexthops)} (${a.summary}) vs kernel ${JSON.stringify(kernel[i])}`,
            );
        });
        expect(bad.slice(0, 10)).toEqual([]);
        // the sample must exercise every outcome, or agreement proves little
        expect([...seen].sort()).toEqual(
          expect.arrayContaining(['blackhole', 'no-route', 'prohibit', 'unicast', 'unreachable']),
        );
      }, 120_000);
    }

    for (const family of [4, 6] as Family[]) {
      it(`buildFib agrees on errno, type, dev and gateway for ${N_QUERIES} IPv${family} destinations plus locally generated ones`, () => {
        const qs = [...queries(built, family), ...outputQueries(family, 2000)];
        // a few with an output device: IPv4 assumes an on-link destination when the lookup fails
        const oifs = qs.map((q, i) => (family === 4 && !q.iif && !q.src && i % 97 === 0 ? 'd2' : undefined));
        const kernel = kernelRouteGet(NS, qs, oifs);
        const bad: string[] = [];
        const seen = new Set<string>();
        qs.forEach((q, i) => {
          const oif = oifs[i];
          const d = fib.lookup(
            {
              family: q.family,
              dst: q.dst,
              ...(q.iif ? { iif: q.iif } : {}),
              ...(oif ? { oif } : {}),
              ...(q.src ? { src: q.src } : {}),
              ...(q.mark !== undefined ? { mark: q.mark } : {}),
            },
            { steps: false },
          );
          const k = kernel[i]!;
          seen.add(k.errno ?? String(k.result));
          if (d.multipath) seen.add('multipath');
          if (!d.multipath && d.route && d.route.nexthops.length > 1) seen.add('dead-nexthop-skipped');
          if (d.gatewayFamily === 6 && family === 4) seen.add('ipv6-nexthop');
          if (d.rule?.iif === 'lo') seen.add('iif-lo');
          if (!fibAgrees(d, k))
            bad.push(
              `${JSON.stringify({ ...q, oif })}: buildFib ${d.result}/${d.error ?? ''} dev=${d.dev} gw=${d.gateway} nh=${JSON.stringify(d.nexthops)} rule=${d.rule?.priority} table=${d.table} vs kernel ${JSON.stringify(k)}`,
            );
        });
        expect(bad.slice(0, 10)).toEqual([]);
        expect([...seen].sort()).toEqual(
          expect.arrayContaining([
            'EACCES',
            'EHOSTUNREACH',
            'EINVAL',
            'ENETUNREACH',
            'local',
            'multipath',
            'unicast',
            'dead-nexthop-skipped',
            'iif-lo',
            ...(family === 4 ? ['ipv6-nexthop'] : []),
          ]),
        );
      }, 120_000);
    }
  },
);
