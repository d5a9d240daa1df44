import { readFileSync } from 'node:fs';

/**
 * The element shapes of a node's bulk routes, from the real capture fixtures/tools/ip/route/np-perf-shapes.4-j-d-
 * table-all.json (fixtures/tools/ip/lab/capture-shapes.sh): a multipath route, a nexthop-group route and a
 * single-nexthop-object route, as `ip -j -d route show table all` printed them.
 */
export function routeShapes(): {
  ecmp: Record<string, unknown>;
  nhGroup: Record<string, unknown>;
  nhSingle: Record<string, unknown>;
} {
  const shapes = JSON.parse(
    readFileSync(new URL('../../fixtures/tools/ip/route/np-perf-shapes.4-j-d-table-all.json', import.meta.url), 'utf8'),
  ) as Record<string, unknown>[];
  return {
    ecmp: shapes.find((r) => r.dst === '203.0.113.0/24' && !r.nhid)!,
    nhGroup: shapes.find((r) => r.nhid === 200)!,
    nhSingle: shapes.find((r) => r.nhid === 101)!,
  };
}
