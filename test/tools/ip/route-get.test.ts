import { describe, expect, it } from 'vitest';
import { parseRouteGetBatch } from '../../../src/tools/ip/route-get.js';
import {
  MAX_ROUTE_GET_LINES,
  routeGetInput,
  routeGetLine,
  validRouteGetLine,
} from '../../../src/exec/route-get-input.js';
import { parseIpRoute, parseIpRule } from '../../../src/tools/ip/index.js';
import { buildFib, KernelFib, type RouteQuery } from '../../../src/analysis/route-lookup/index.js';
import type { Family } from '../../../src/model/types.js';
import { fx } from './helpers.js';
import { seeded } from '../../helpers/seeded.js';
import { scanIpRouteJson } from '../../../src/tools/ip/route-scan.js';
import { dumpingMid, parseFibTriestat, parseRt6Stats, planFromCounters } from '../../../src/collect/kernel-routes.js';

// fixtures/tools/ip/route-get: one run of fixtures/tools/ip/lab/capture-route-get.sh (iproute2 6.1)
const lines = fx('route-get/route-get.batch').split('\n').filter(Boolean);
const stdout = fx('route-get/route-get.stdout');
const stderr = fx('route-get/route-get.stderr');

describe('route get lines (the only stdin netpath writes)', () => {
  it('accepts every captured line and builds the same text from its parts', () => {
    for (const l of lines) expect(validRouteGetLine(l), l).not.toBeNull();
    expect(
      routeGetLine({
        family: 4,
        dst: '10.10.1.1',
        fibmatch: true,
        src: '198.51.100.7',
        iif: 'd1',
        ipproto: 6,
        sport: 40000,
        dport: 443,
      }),
    ).toBe('route get fibmatch 10.10.1.1 from 198.51.100.7 iif d1 ipproto 6 sport 40000 dport 443');
    expect(routeGetLine({ family: 6, dst: '::ffff:10.0.0.1', mark: 0xffffffff })).toBe(
      'route get ::ffff:10.0.0.1 mark 4294967295',
    );
  });

  it('refuses anything else before it runs', () => {
    for (const bad of [
      'route add 10.0.0.0/8 dev eth0',
      'route del default',
      'link set eth0 down',
      'route get 10.0.0.0/8',
      'route get 10.0.0.256',
      'route get 010.0.0.1',
      'route get fe80::1%eth0',
      'route get 10.0.0.1 from 2001:db8::1',
      'route get 10.0.0.1 iif -force',
      'route get 10.0.0.1 iif a/b',
      `route get 10.0.0.1 oif ${'a'.repeat(16)}`,
      'route get 10.0.0.1 mark 4294967296',
      'route get 10.0.0.1 mark 0x10',
      'route get 10.0.0.1 ipproto sctpx',
      'route get 10.0.0.1 ipproto 256',
      'route get 10.0.0.1 dport 65536',
      'route get 10.0.0.1 dport 1 dport 2',
      'route get 10.0.0.1 dport 1 sport 2',
      'route get 10.0.0.1 table 100',
      'route get 10.0.0.1 from',
      'route get 10.0.0.1\nroute flush table main',
      'route get 10.0.0.1;reboot',
      'route  get 10.0.0.1',
      ' route get 10.0.0.1',
    ])
      expect(validRouteGetLine(bad), bad).toBeNull();
    expect(() => routeGetLine({ family: 4, dst: '2001:db8::1' })).toThrow(/not a valid route get line/);
    expect(routeGetInput([])).toBeNull();
    expect(routeGetInput(['route get 10.0.0.1', 'route del 10.0.0.1'])).toBeNull();
    expect(routeGetInput(Array(MAX_ROUTE_GET_LINES + 1).fill('route get 10.0.0.1'))).toBeNull();
    expect(routeGetInput(['route get 10.0.0.1', 'route get ::1'])).toBe('route get 10.0.0.1\nroute get ::1\n');
  });
});

describe('ip -d -j -force -batch - output', () => {
  const got = parseRouteGetBatch(lines, stdout, stderr);

  it('pairs answers and failures with their lines', () => {
    expect(got).toHaveLength(lines.length);
    const failed = got.flatMap((a, i) => (a.ok ? [] : [[i + 1, a.errno]]));
    expect(failed).toEqual([
      [7, 'EINVAL'],
      [8, 'EHOSTUNREACH'],
      [9, 'EACCES'],
      [10, 'ENETUNREACH'],
      [13, 'EHOSTUNREACH'],
      [17, 'EINVAL'],
    ]);
  });

  it('reads fibmatch answers as FIB entries: prefix, table, every next hop with its flags', () => {
    const r = (i: number) => {
      const a = got[i - 1]!;
      if (!a.ok) throw new Error(`line ${i} failed`);
      return a.route;
    };
    expect(r(2)).toMatchObject({ dst: '10.96.0.0/16', table: 254, type: 'unicast' });
    expect(r(2).nexthops.map((n) => [n.gateway, n.dev, n.weight])).toEqual([
      ['198.51.100.2', 'd0', 1],
      ['203.0.113.2', 'd1', 3],
    ]);
    expect(r(3).nexthops[1]!.flags).toEqual(['linkdown']);
    expect(r(5)).toMatchObject({ dst: '10.10.0.0/16', table: 100, protocol: 'bgp', metric: 20 });
    expect(r(6).table).toBe(100); // iif d1 → rule 110
    expect(r(12)).toMatchObject({ dst: '127.0.0.1/32', table: 255, type: 'local' });
    expect(r(18).dst).toBe('::/0');
    expect(r(2).source.probe).toBe('ip-route-get');
  });

  it('refuses output it cannot pair with the lines', () => {
    expect(() => parseRouteGetBatch(lines.slice(1), stdout, stderr)).toThrow(/lines asked/);
    expect(() => parseRouteGetBatch(['route get 10.0.0.1'], 'oops\n', '')).toThrow(/not JSON/);
    expect(() => parseRouteGetBatch(['route get 10.0.0.1'], '[{},{}]\n', '')).toThrow(/not one route/);
  });
});

function queryOf(line: string): RouteQuery {
  const t = line.split(' ').filter((w) => w !== 'fibmatch');
  const family = validRouteGetLine(line) as Family;
  const q: RouteQuery = { family, dst: t[2]! };
  for (let i = 3; i < t.length; i += 2) {
    const v = t[i + 1]!;
    if (t[i] === 'from') q.src = v;
    else if (t[i] === 'iif') q.iif = v;
    else if (t[i] === 'oif') q.oif = v;
    else if (t[i] === 'mark') q.mark = Number(v);
    else if (t[i] === 'ipproto') q.ipproto = { tcp: 6, udp: 17, icmp: 1 }[v] ?? Number(v);
    else if (t[i] === 'sport') q.sport = Number(v);
    else if (t[i] === 'dport') q.dport = Number(v);
  }
  return q;
}

describe('KernelFib on the captured answers', () => {
  const r4 = parseIpRoute(fx('route-get/route-get.ip-route4.json'), 'ip-route4', 4).value;
  const r6 = parseIpRoute(fx('route-get/route-get.ip-route6.json'), 'ip-route6', 6).value;
  const rules = [
    ...parseIpRule(fx('route-get/route-get.ip-rule4.json'), 'ip-rule4', 4).value,
    ...parseIpRule(fx('route-get/route-get.ip-rule6.json'), 'ip-rule6', 6).value,
  ];
  // keyed as KernelFib asks (ipproto as a number)
  const key = (l: string) => KernelFib.line(queryOf(l)) ?? l;
  const answers = new Map(parseRouteGetBatch(lines, stdout, stderr).map((a, i) => [key(lines[i]!), a]));
  const full = buildFib({ routes: [...r4, ...r6], rules });
  // main is the kernel's; table 100 and local are dumped
  const kernelFib = () =>
    new KernelFib({
      routes: [...r4, ...r6].filter((r) => r.table !== 254),
      rules,
      asked: new Set([4, 6]),
      askedTables: { 4: new Set([254]), 6: new Set([254]) },
      answers,
    });

  it('gives the dump-based decision for every answered fibmatch line, or says it cannot', () => {
    const fib = kernelFib();
    const fibmatch = lines.filter((l) => l.startsWith('route get fibmatch '));
    let same = 0;
    for (const l of fibmatch) {
      const q = queryOf(l);
      const k = fib.lookup(q);
      const d = full.lookup(q);
      if (fib.unexplained.size > 0) {
        // a blackhole route in main, or the oif fallback: only the dump shows which; the caller reads it
        expect(answers.get(key(l))!.ok, l).toBe(false);
        // fibmatch has no FIB entry to print for the on-link guess the kernel makes with an oif
        expect(d.error !== undefined || l.includes(' oif '), l).toBe(true);
        fib.unexplained.clear();
        continue;
      }
      same++;
      expect(k.kernelQuery).toBe(`ip ${key(l)}`);
      // IPv6 fibmatch prints a multipath route's next hops from the sibling it picked: the same set, rotated
      const set = (ns: typeof d.nexthops) => ns.map((n) => JSON.stringify(n)).sort();
      expect([k.result, k.error, k.table, k.route?.dst, set(k.nexthops)], l).toEqual([
        d.result,
        d.error,
        d.table,
        d.route?.dst,
        set(d.nexthops),
      ]);
    }
    expect(same).toBeGreaterThanOrEqual(9);
    expect(fib.missing.size).toBe(0);
  });

  it('decides the same from the dumped tables as columns (how a live trace holds them) as from Route objects', () => {
    // the dumped tables as a live trace scans them: ip's JSON of the tables other than main, read by scanIpRouteJson
    const columns = ([4, 6] as const).map((f) => {
      const text = fx(`route-get/route-get.ip-route${f}.json`);
      const dumped = (JSON.parse(text) as { table?: string }[]).filter((r) => r.table !== 'main');
      const scanned = scanIpRouteJson(Buffer.from(JSON.stringify(dumped)), `ip-route${f}`, f);
      if (!scanned) throw new Error(`ip-route${f}: not scanned`);
      return scanned.columns;
    });
    const asObjects = kernelFib();
    const asColumns = new KernelFib({
      routes: [],
      columns,
      rules,
      asked: new Set([4, 6]),
      askedTables: { 4: new Set([254]), 6: new Set([254]) },
      answers,
    });
    // every captured question, then seeded random ones: most have no answer (recorded as missing alike)
    const { int, pick } = seeded(0x5eed17);
    const qs: RouteQuery[] = lines.filter((l) => l.startsWith('route get fibmatch ')).map(queryOf);
    const dsts = [...r4, ...r6].map((r) => r.dst.split('/')[0]!).filter((d) => d !== 'default');
    for (let i = 0; i < 2000; i++) {
      const q: RouteQuery = { ...queryOf(pick(lines.filter((l) => l.startsWith('route get fibmatch ')))) };
      if (int(3) === 0) q.dst = pick(dsts);
      if (int(4) === 0) q.mark = int(64);
      if (int(5) === 0) q.dport = int(65536);
      qs.push(q);
    }
    let answered = 0;
    for (const q of qs) {
      const a = asObjects.lookup(q);
      const b = asColumns.lookup(q);
      expect(JSON.stringify(b), JSON.stringify(q)).toBe(JSON.stringify(a));
      if (a.kernelQuery !== undefined) answered++;
      expect([...asColumns.unexplained]).toEqual([...asObjects.unexplained]);
      asObjects.unexplained.clear();
      asColumns.unexplained.clear();
    }
    expect([...asColumns.missing].sort()).toEqual([...asObjects.missing].sort());
    expect(answered).toBeGreaterThan(100);
  });

  it('records questions it has no answer for', () => {
    const fib = kernelFib();
    const d = fib.lookup({ family: 4, dst: '10.1.2.3', mark: 7 });
    expect(d.result).toBe('unknown');
    expect([...fib.missing]).toEqual(['route get fibmatch 10.1.2.3 mark 7']);
  });
});

describe('which tables the kernel answers (the captured counters, with a low threshold)', () => {
  const triestat = fx('route-get/fib_triestat.txt');
  const rt6 = fx('route-get/rt6_stats.txt');
  const rules = [
    ...parseIpRule(fx('route-get/route-get.ip-rule4.json'), 'ip-rule4', 4).value,
    ...parseIpRule(fx('route-get/route-get.ip-rule6.json'), 'ip-rule6', 6).value,
  ];

  it('reads prefixes per IPv4 table and the IPv6 route count', () => {
    expect([...parseFibTriestat(triestat)!]).toEqual([
      [100, 1],
      [254, 10],
      [255, 11],
    ]);
    expect(parseRt6Stats(rt6)).toBe(0x12);
    expect(parseFibTriestat('Main:\n\tPrefixes: 3\n')).toBeNull();
    expect(parseRt6Stats('0013 000c')).toBeNull();
  });

  it('asks the kernel about the large tables, dumps the others and always table local', () => {
    const p = planFromCounters(triestat, rt6, rules, 5);
    expect([...p.asked].sort()).toEqual([4, 6]);
    expect([...p.askedTables[4]]).toEqual([254]);
    expect(p.dumped[4]).toEqual([100, 255]);
    expect([...p.askedTables[6]]).toEqual([254]);
    expect(p.dumped[6]).toEqual([100, 255]);
    const none = planFromCounters(triestat, rt6, rules);
    expect(none.asked.size).toBe(0);
  });

  it('once the kernel answers, asks a table over dumpMax too, and dumpingMid dumps it again', () => {
    // table 100 holds 1 prefix, main 10, local 11: over 0 but not over 5, table 100 is asked rather than dumped
    const p = planFromCounters(triestat, rt6, rules, 5, 0);
    expect([...p.askedTables[4]].sort()).toEqual([100, 254]);
    expect(p.dumped[4]).toEqual([255]);
    expect(p.mid).toEqual([100]);
    expect(p.why).toContain('table 100 holds 1 (over 0: asked rather than dumped)');
    // the plan before dumpMax, but for the reason line
    const { why: _a, ...back } = dumpingMid(p);
    const old = planFromCounters(triestat, rt6, rules, 5, 1);
    const { why: _b, ...before } = old;
    expect(back).toEqual(before);
    expect(dumpingMid(p).why).toBe(old.why);
    // tables are never asked without a large one, whatever their size against dumpMax
    expect(planFromCounters(triestat, rt6, rules, 50, 0).asked.size).toBe(0);
  });
});
