import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildFib, type RouteQuery } from '../../src/analysis/route-lookup/index.js';
import type { Route } from '../../src/model/types.js';
import { RUNS, SEED } from '../fuzz/harness.js';

// The route index keeps each table as ranges of slots (table-index.ts): a range can hold slots that are no route
// (a route whose destination is not a prefix of its family, skipped with a warning). Such a slot is never an
// answer, whether the table is scanned or indexed: the answers are those of the same routes without it.

const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

const route = (dst: string, table: number, dev: string): Route => ({
  family: 4,
  table,
  type: 'unicast',
  dst,
  nexthops: [{ dev }],
  source: { probe: 'p', text: `${dst} dev ${dev} table ${table}` },
});

function same(routes: Route[], qs: RouteQuery[]): void {
  const valid = routes.filter((r) => !r.dst.startsWith('bad'));
  for (const scansBeforeIndex of [0, 3, Number.POSITIVE_INFINITY]) {
    const got = buildFib({ routes, rules: [], scansBeforeIndex });
    const want = buildFib({ routes: valid, rules: [], scansBeforeIndex });
    for (const q of qs) expect(got.lookup(q), `${JSON.stringify(q)} ${scansBeforeIndex}`).toEqual(want.lookup(q));
  }
}

describe('slots that hold no route, inside a table’s range', () => {
  it('a skipped route between two of table main is no default route', () => {
    const routes = [route('10.0.0.0/8', 254, 'a'), route('bad/8', 254, 'x'), route('192.168.0.0/16', 254, 'b')];
    same(routes, [
      { family: 4, dst: '172.16.0.1' },
      { family: 4, dst: '10.1.2.3' },
      { family: 4, dst: '192.168.1.1' },
    ]);
  });

  it('property: skipped routes anywhere in tables of any order', () => {
    const r = fc
      .record({
        a: fc.integer({ min: 0, max: 0xffffffff }),
        len: fc.constantFrom(0, 8, 16, 24, 32),
        table: fc.constantFrom(254, 254, 100, 255),
        bad: fc.boolean(),
        dev: fc.constantFrom('eth0', 'eth1'),
      })
      .map(({ a, len, table, bad, dev }) => {
        const net = len === 0 ? 0 : (a & 0x0f0f0f0f & (~0 << (32 - len))) >>> 0;
        return route(bad ? `bad${v4(net)}/${len}` : `${v4(net)}/${len}`, table, dev);
      });
    fc.assert(
      fc.property(
        fc.array(r, { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 20 }),
        (routes, addrs) => {
          const qs: RouteQuery[] = addrs.map((x) => ({ family: 4, dst: v4((x & 0x0f0f0f0f) >>> 0) }));
          same(routes, qs);
        },
      ),
      { numRuns: RUNS * 4, seed: SEED },
    );
  });
});
