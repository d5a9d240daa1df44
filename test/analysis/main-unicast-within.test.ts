import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mainUnicastWithin } from '../../src/analysis/trace/classify.js';
import { columnsFromRoutes } from '../../src/model/route-columns.js';
import { emptyNodeState, type Family, type Route } from '../../src/model/types.js';
import { parseIpRoute } from '../../src/tools/ip/index.js';
import { RUNS, SEED } from '../fuzz/harness.js';
import { filesUnder } from '../helpers/files.js';

// mainUnicastWithin reads route columns (prefix tested on the key words, Routes built only inside): it must list
// the routes the Route-object path lists (main table, unicast, not default, inside the CIDR), in order,
// on every bundled route dump and on fuzzed tables and CIDRs of every length.

const root = new URL('../../fixtures/', import.meta.url).pathname;

function both(routes: Route[], fam: Family, cidr: string): { objects: Route[]; columns: Route[] } {
  const objects = emptyNodeState();
  objects.routes = routes;
  const cols = emptyNodeState();
  cols.routeColumns = [columnsFromRoutes(routes, fam)];
  return { objects: mainUnicastWithin(objects, fam, cidr), columns: mainUnicastWithin(cols, fam, cidr) };
}

const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const net4 = (a: number, len: number) => `${v4(len === 0 ? 0 : ((a >>> (32 - len)) << (32 - len)) >>> 0)}/${len}`;

describe('mainUnicastWithin on columns = on Route objects', () => {
  it('on every bundled route dump, for CIDRs around its routes', () => {
    let n = 0;
    for (const p of filesUnder(join(root, 'snapshots'), /^ip-route[46]\.json$/)) {
      const fam: Family = p.endsWith('6.json') ? 6 : 4;
      const routes = parseIpRoute(readFileSync(p, 'utf8'), 'r', fam).value;
      const cidrs = new Set<string>(fam === 4 ? ['0.0.0.0/0', '10.0.0.0/8', '10.244.0.0/16'] : ['::/0', 'fd00::/8']);
      for (const r of routes) {
        cidrs.add(r.dst.includes('/') ? r.dst : `${r.dst}/${fam === 4 ? 32 : 128}`);
        if (fam === 4) {
          const [a, l] = r.dst.split('/');
          const x = a!.split('.').reduce((s, o) => s * 256 + Number(o), 0);
          const len = Number(l ?? 32);
          for (const d of [-8, -1, 1]) if (len + d >= 0 && len + d <= 32) cidrs.add(net4(x, len + d));
        }
      }
      for (const c of cidrs) {
        const { objects, columns } = both(routes, fam, c);
        expect(columns, `${p} ${c}`).toEqual(objects);
        n++;
      }
    }
    expect(n).toBeGreaterThan(100);
  });

  it('on fuzzed IPv4 main tables (types, tables, default routes) and CIDRs of every length', () => {
    const route = fc.record({
      a: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(0x0af40000, 0x0af40100, 0x0a000001)),
      len: fc.integer({ min: 0, max: 32 }),
      type: fc.constantFrom('unicast', 'unicast', 'local', 'blackhole'),
      table: fc.constantFrom('main', 'main', 'local', '200'),
      gw: fc.integer({ min: 1, max: 250 }),
    });
    fc.assert(
      fc.property(
        fc.array(route, { maxLength: 40 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 32 }),
        (rs, ca, clen) => {
          const json = JSON.stringify(
            rs.map((r) => ({
              type: r.type,
              dst: r.len === 0 ? 'default' : net4(r.a, r.len),
              ...(r.type === 'unicast' ? { gateway: `192.0.2.${r.gw}`, dev: 'eth0' } : { dev: 'lo' }),
              ...(r.table === 'main' ? {} : { table: r.table }),
              flags: [],
            })),
          );
          const routes = parseIpRoute(json, 'r', 4).value;
          const { objects, columns } = both(routes, 4, net4(ca, clen));
          expect(columns).toEqual(objects);
        },
      ),
      { numRuns: RUNS * 10, seed: SEED },
    );
  });
});
