import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mask4, seeded, v4, v6 } from '../helpers/seeded.js';
import { addNetns, canUseNetns, delNetns, ipBatch, ipIn, uniqueName, vethNode } from '../helpers/netns.js';
import { fibAgrees, kernelRouteGet, type RouteGetQuery } from '../helpers/route-get.js';
import { parseIpAddr, parseIpLink, parseIpRoute, parseIpRule } from '../../src/tools/ip/index.js';
import { scanIpRouteJson } from '../../src/tools/ip/route-scan.js';
import { allRoutes } from '../../src/model/route-columns.js';
import { buildFib, type Fib } from '../../src/analysis/route-lookup/index.js';
import type { Family } from '../../src/model/types.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// The table shapes of a BGP node at scale — multipath routes with weights and nexthop objects (single
// hops and weighted groups), next to plain `proto bgp` routes with a metric — read the way a trace
// reads a large table (the byte scanner's fast path, scanIpRouteJson), and the FIB's answer checked
// against the kernel's `ip route get` for 10,000 destinations per family, policy rules included.

const NS = uniqueName('npperf-rt');
const PEER = uniqueName('npperf-rtp');
const N_QUERIES = 10_000;

const { int, pick, rnd } = seeded(0x1f123bb5);

const HOP4 = [
  ['198.51.100.2', 'd0'],
  ['203.0.113.2', 'd1'],
  ['192.0.2.2', 'd2'],
];
const HOP6 = [
  ['2001:db8:a::2', 'd0'],
  ['2001:db8:b::2', 'd1'],
  ['2001:db8:c::2', 'd2'],
];
// nexthop objects: 1-3 and 21-23 single hops, 10-12 and 30-31 groups (weighted and not)
const NH4 = [1, 2, 3, 10, 11, 12];
const NH6 = [21, 22, 23, 30, 31];

interface Built {
  prefixes4: [number, number][];
  prefixes6: number[][];
}

function ecmp(hops: string[][]): string {
  const n = 2 + int(2);
  const picked = [...hops].sort(() => rnd() - 0.5).slice(0, n);
  return picked.map(([gw, dev]) => `nexthop via ${gw} dev ${dev} weight ${1 + int(4)}`).join(' ');
}

function build(): Built {
  vethNode(
    NS,
    PEER,
    ['d0', 'd1', 'd2'],
    ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0'],
  );
  const l4: string[] = [
    'addr add 198.51.100.1/24 dev d0',
    'addr add 203.0.113.1/24 dev d1',
    'addr add 192.0.2.1/24 dev d2',
    'rule add pref 100 from 10.1.0.0/16 lookup 100',
    'rule add pref 110 fwmark 0x10/0xff lookup 100',
    'rule add pref 120 iif d1 lookup 200',
    'route add default via 198.51.100.254 dev d0 proto bgp metric 20',
    'route add table 100 default nhid 11 proto bgp metric 20',
  ];
  const l6: string[] = [
    'addr add 2001:db8:a::1/64 dev d0 nodad',
    'addr add 2001:db8:b::1/64 dev d1 nodad',
    'addr add 2001:db8:c::1/64 dev d2 nodad',
    'rule add pref 100 fwmark 0x10/0xff lookup 100',
    'rule add pref 120 iif d1 lookup 200',
    'route add table 100 default nhid 30 proto bgp metric 1024',
  ];
  const built: Built = { prefixes4: [], prefixes6: [] };
  const tables = ['', 'table 100 ', 'table 200 '];
  // one route per table and prefix (metrics are equal: a second would be refused)
  const taken = new Set<string>();
  for (let i = 0; i < 4000; i++) {
    const len = 12 + int(17);
    const a = mask4(((10 << 24) | int(1 << 24)) >>> 0, len);
    const t = pick(tables);
    if (taken.has(`${t}${a}/${len}`)) continue;
    taken.add(`${t}${a}/${len}`);
    built.prefixes4.push([a, len]);
    const k = rnd();
    const tail = ` proto bgp metric ${pick([20, 20, 30])}`;
    if (k < 0.4) l4.push(`route add ${t}${v4(a)}/${len}${tail} ${ecmp(HOP4)}`);
    else if (k < 0.8) l4.push(`route add ${t}${v4(a)}/${len} nhid ${pick(NH4)}${tail}`);
    else {
      const [gw, dev] = pick(HOP4);
      l4.push(`route add ${t}${v4(a)}/${len} via ${gw} dev ${dev}${tail}`);
    }
  }
  for (let i = 0; i < 3000; i++) {
    const len = 40 + int(41);
    const g = [0x2001, 0xdb8, int(0x10000), int(0x10000), int(0x10000), int(0x10000), 0, 0];
    for (let b = len; b < 128; b++) g[b >> 4] = g[b >> 4]! & ~(1 << (15 - (b & 15)));
    const t = pick(tables);
    if (taken.has(`${t}${v6(g)}/${len}`)) continue;
    taken.add(`${t}${v6(g)}/${len}`);
    built.prefixes6.push([...g, len]);
    const k = rnd();
    const tail = ` proto bgp metric ${pick([1024, 1024, 512])}`;
    if (k < 0.4) l6.push(`route add ${t}${v6(g)}/${len}${tail} ${ecmp(HOP6)}`);
    else if (k < 0.8) l6.push(`route add ${t}${v6(g)}/${len} nhid ${pick(NH6)}${tail}`);
    else {
      const [gw, dev] = pick(HOP6);
      l6.push(`route add ${t}${v6(g)}/${len} via ${gw} dev ${dev}${tail}`);
    }
  }
  // nexthop objects take no family flag (a group's family is AF_UNSPEC); they must exist before the
  // routes, and the addresses before them. iproute2 6.1 takes no per-line -6 in batch mode: one batch
  // per family
  const nh = [
    'nexthop add id 1 via 198.51.100.2 dev d0',
    'nexthop add id 2 via 203.0.113.2 dev d1',
    'nexthop add id 3 via 192.0.2.2 dev d2',
    'nexthop add id 10 group 1/2',
    'nexthop add id 11 group 1,3/3',
    'nexthop add id 12 group 2,2/3,5',
    'nexthop add id 21 via 2001:db8:a::2 dev d0',
    'nexthop add id 22 via 2001:db8:b::2 dev d1',
    'nexthop add id 23 via 2001:db8:c::2 dev d2',
    'nexthop add id 30 group 21/22',
    'nexthop add id 31 group 21,4/23',
  ];
  const addrs = (ls: string[]) => ls.filter((l) => l.startsWith('addr '));
  const rest = (ls: string[]) => ls.filter((l) => !l.startsWith('addr '));
  for (const [lines, fam] of [
    [addrs(l4), 4],
    [addrs(l6), 6],
    [nh, undefined],
    [rest(l4), 4],
    [rest(l6), 6],
  ] as const) {
    const { failed } = ipBatch(NS, [...lines], false, fam);
    expect([...failed].slice(0, 5)).toEqual([]);
  }
  return built;
}

function queries(b: Built, family: Family): RouteGetQuery[] {
  const out: RouteGetQuery[] = [];
  for (let i = 0; i < N_QUERIES; i++) {
    let dst: string;
    if (family === 4) {
      if (rnd() < 0.8) {
        const [a, len] = pick(b.prefixes4);
        dst = v4((a + int(2 ** (32 - len))) >>> 0);
      } else dst = v4(((10 << 24) | int(1 << 24)) >>> 0);
    } else {
      const p = pick(b.prefixes6);
      const g = p.slice(0, 8);
      if (rnd() < 0.5) g[7] = 1 + int(0xfff0);
      dst = rnd() < 0.1 ? v6([0x2001, 0xdb8, int(0x10000), 7, 0, 0, 0, 1]) : v6(g);
    }
    const q: RouteGetQuery = { family, dst };
    const k = rnd();
    if (k < 0.15) q.mark = pick([0x10, 0x110, 0x1]);
    else if (k < 0.3) {
      q.iif = pick(['d0', 'd1']);
      q.src = family === 4 ? pick(['10.1.2.3', '172.16.5.5']) : pick(['2001:db8:77::1', '2001:db8:88::5']);
    }
    out.push(q);
  }
  return out;
}

const NETNS_OK = canUseNetns();

describe.skipIf(!NETNS_OK)(
  `ECMP and nexthop-object tables, read by the byte scanner, agree with the kernel${NETNS_OK ? '' : ' [skipped: needs root and a working `ip netns`]'}`,
  () => {
    let fib: Fib;
    let built: Built;

    beforeAll(() => {
      delNetns(NS, PEER);
      addNetns(NS, PEER);
      built = build();
      const columns = ([4, 6] as Family[]).map((fam) => {
        const text = ipIn(NS, [`-${fam}`, '-j', '-d', 'route', 'show', 'table', 'all']);
        const s = scanIpRouteJson(Buffer.from(text), `ip-route${fam}`, fam);
        expect(s, `IPv${fam} dump scanned`).toBeDefined();
        // the shapes under test took the fast path (only the first nhid route is parsed in full)
        expect(s!.slow).toBeLessThanOrEqual(1);
        const full = parseIpRoute(text, `ip-route${fam}`, fam);
        expect(allRoutes(s!.columns)).toEqual(full.value);
        expect(s!.warnings).toEqual(full.warnings);
        expect(full.value.filter((r) => r.nhid !== undefined).length).toBeGreaterThan(1000);
        expect(full.value.filter((r) => r.nhid === undefined && r.nexthops.length > 1).length).toBeGreaterThan(1000);
        return s!.columns;
      });
      const u4 = parseIpRule(ipIn(NS, ['-4', '-j', 'rule', 'show']), 'ip-rule4', 4).value;
      const u6 = parseIpRule(ipIn(NS, ['-6', '-j', 'rule', 'show']), 'ip-rule6', 6).value;
      const links = parseIpLink(ipIn(NS, ['-j', '-d', 'link', 'show']), 'ip-link').value;
      const addrs = parseIpAddr(ipIn(NS, ['-j', 'addr', 'show']), 'ip-addr').value;
      fib = buildFib({ columns, rules: [...u4, ...u6], links, addrs });
    }, 240_000);

    afterAll(() => delNetns(NS, PEER));

    for (const family of [4, 6] as Family[]) {
      it(`buildFib agrees on ${N_QUERIES} IPv${family} destinations`, () => {
        const qs = queries(built, family);
        const kernel = kernelRouteGet(NS, qs);
        const bad: string[] = [];
        const seen = new Set<string>();
        qs.forEach((q, i) => {
          const d = fib.lookup(
            {
              family: q.family,
              dst: q.dst,
              ...(q.iif ? { iif: q.iif } : {}),
              ...(q.src ? { src: q.src } : {}),
              ...(q.mark !== undefined ? { mark: q.mark } : {}),
            },
            { steps: false },
          );
          const k = kernel[i]!;
          seen.add(k.errno ?? k.result);
          if (d.multipath) seen.add(d.route?.nhid !== undefined ? 'nhid-group' : 'ecmp');
          else if (d.route?.nhid !== undefined) seen.add('nhid-single');
          if (d.table === 100) seen.add('table-100');
          if (!fibAgrees(d, k))
            bad.push(
              `${JSON.stringify(q)}: buildFib ${d.result}/${d.error ?? ''} dev=${d.dev} gw=${d.gateway} nh=${JSON.stringify(d.nexthops)} rule=${d.rule?.priority} table=${d.table} vs kernel ${JSON.stringify(k)}`,
            );
        });
        expect(bad.slice(0, 10)).toEqual([]);
        expect([...seen].sort()).toEqual(
          expect.arrayContaining(['ecmp', 'nhid-group', 'nhid-single', 'table-100', 'unicast']),
        );
      }, 120_000);
    }
  },
);
