import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildFib, type RouteQuery } from '../../src/analysis/route-lookup/index.js';
import type { Family, Route, RouteType, Rule } from '../../src/model/types.js';
import { parseIpRoute, parseIpRule } from '../../src/tools/ip/index.js';
import { RUNS, SEED } from '../fuzz/harness.js';
import { filesUnder } from '../helpers/files.js';

// A table answers its first lookups by scanning its routes and is indexed only after many: the
// answers (decision, rule, table, route, next hops and the steps that explain them) must be exactly
// those of the index, on every bundled route dump and on fuzzed tables.

const root = new URL('../../fixtures/', import.meta.url).pathname;

const fam = (p: string): Family => (/(route|rule)6|\.6-/.test(p) ? 6 : 4);

/** Both engines on the same input: scan only (never indexed) and indexed from the first lookup. */
function compare(routes: Route[], rules: Rule[], qs: RouteQuery[]): number {
  const scan = buildFib({ routes, rules, scansBeforeIndex: Number.POSITIVE_INFINITY });
  const index = buildFib({ routes, rules, scansBeforeIndex: 0 });
  // and the default: scans, then the index once the table has answered enough
  const mixed = buildFib({ routes, rules });
  // and few scans: an address asked again is answered from the kept scan, a new one past 3 builds the index
  const few = buildFib({ routes, rules, scansBeforeIndex: 3 });
  for (const q of qs) {
    const want = index.lookup(q);
    expect(scan.lookup(q), JSON.stringify(q)).toEqual(want);
    expect(mixed.lookup(q), JSON.stringify(q)).toEqual(want);
    expect(few.lookup(q), JSON.stringify(q)).toEqual(want);
  }
  return qs.length;
}

const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** Addresses around each route's prefix: its network, its last address, the ones just outside. */
function around(r: Route): string[] {
  const [net, l] = r.dst.split('/');
  const len = Number(l ?? (r.family === 4 ? 32 : 128));
  if (r.family === 6) {
    const base = net!.replace(/::$/, ':');
    return [net!, `${base}:1`.replace(':::', '::'), `${base}:ffff`.replace(':::', '::')].filter((a) =>
      /^[0-9a-f:]+$/.test(a),
    );
  }
  const a = net!.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  const span = 2 ** (32 - len);
  return [a, a + span - 1, a + span, a - 1].filter((x) => x >= 0 && x < 2 ** 32).map(v4);
}

describe('table lookups by scan give the index answers', () => {
  it('on every bundled route dump (snapshots and ip captures), with its rules', () => {
    let n = 0;
    const dumps = [
      ...filesUnder(join(root, 'snapshots'), /^ip-route[46]\.json$/),
      ...filesUnder(join(root, 'tools/ip/route'), /\.[46]-j.*\.json$/),
    ];
    expect(dumps.length).toBeGreaterThan(20);
    for (const p of dumps) {
      const f = fam(p);
      const text = readFileSync(p, 'utf8');
      if (text.includes('\u001b')) continue;
      const routes = parseIpRoute(text, 'r', f).value;
      let rules: Rule[] = [];
      try {
        rules = parseIpRule(readFileSync(p.replace(/ip-route([46])\.json$/, 'ip-rule$1.json'), 'utf8'), 'u', f).value;
      } catch {
        // a capture without its rules: the kernel's default rules
      }
      const qs: RouteQuery[] = [];
      for (const r of routes)
        for (const dst of around(r)) {
          qs.push({ family: f, dst });
          qs.push({ family: f, dst, mark: 0x200, iif: 'eth1', src: f === 4 ? '192.0.2.7' : '2001:db8:ffff::7' });
        }
      n += compare(routes, rules, qs);
    }
    expect(n).toBeGreaterThan(1000);
  });

  it('on fuzzed tables: overlapping prefixes, same-prefix metric/TOS/source twins, reject types, dead hops, policy tables', () => {
    const types: RouteType[] = ['unicast', 'unicast', 'unicast', 'blackhole', 'unreachable', 'throw', 'local'];
    const route4 = fc
      .record({
        a: fc.integer({ min: 0, max: 0xffffffff }),
        len: fc.oneof(fc.constantFrom(0, 8, 16, 24, 32), fc.integer({ min: 0, max: 32 })),
        table: fc.constantFrom(254, 254, 100, 255),
        type: fc.constantFrom(...types),
        metric: fc.option(fc.constantFrom(0, 5, 10, 100), { nil: undefined }),
        tos: fc.option(fc.constantFrom(0x10, 0x4), { nil: undefined }),
        dead: fc.boolean(),
        dev: fc.constantFrom('eth0', 'eth1'),
      })
      .map(({ a, len, table, type, metric, tos, dead, dev }): Route => {
        // few distinct networks, so prefixes overlap and twins occur
        const net = len === 0 ? 0 : (a & 0x0f0f0f0f & (~0 << (32 - len))) >>> 0;
        const r: Route = {
          family: 4,
          table,
          type,
          dst: `${v4(net)}/${len}`,
          nexthops: ['unicast', 'local'].includes(type) ? [{ dev, gateway: '192.0.2.1', gatewayFamily: 4 }] : [],
          source: { probe: 'p', text: `${type} ${v4(net)}/${len} t${table} m${metric} tos${tos}` },
        };
        if (metric !== undefined) r.metric = metric;
        if (tos !== undefined) r.tos = tos;
        if (dead && type === 'unicast') r.flags = ['dead'];
        return r;
      });
    const rules = parseIpRule(
      JSON.stringify([
        { priority: 0, src: 'all', table: 'local' },
        { priority: 100, src: 'all', fwmark: '0x10', table: '100' },
        { priority: 32766, src: 'all', table: 'main' },
      ]),
      'u',
      4,
    ).value;
    expect(rules).toHaveLength(3);
    fc.assert(
      fc.property(
        fc.array(route4, { minLength: 1, maxLength: 300 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 80 }),
        (routes, addrs) => {
          const qs: RouteQuery[] = [];
          for (const x of addrs) {
            const dst = v4((x & 0x0f0f0f0f) >>> 0);
            qs.push({ family: 4, dst }, { family: 4, dst, mark: 0x10 }, { family: 4, dst, tos: 0x10 });
          }
          for (const r of routes.slice(0, 20)) for (const dst of around(r)) qs.push({ family: 4, dst });
          compare(routes, rules, qs);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
