import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ProbeSource } from '../../src/collect/source.js';
import { runSvcLookup } from '../../src/commands/svc-lookup.js';
import { byCodeUnit } from '../../src/model/order.js';

// The services table of a migrate-* pair's TOPOLOGY.md, and what `svc lookup` makes of a snapshot, in the
// same shape, so tests can compare them.

export const snapshotsDir = (rel = '') => fileURLToPath(new URL(`../../fixtures/snapshots/${rel}`, import.meta.url));

export interface MigrateRow {
  frontend: string;
  backends: string[];
  /** snapshot directory → layers that program the frontend there (empty: none) */
  sources: Record<string, string[]>;
}

/** The rows between the services-table markers; the columns after `backends` are snapshot directories. */
export function migrateTable(pair: string): { snaps: string[]; rows: MigrateRow[] } {
  const md = readFileSync(`${snapshotsDir(pair)}/TOPOLOGY.md`, 'utf8');
  const body = /<!-- services-table -->\n([\s\S]*?)<!-- \/services-table -->/.exec(md)?.[1];
  if (!body) throw new Error(`${pair}/TOPOLOGY.md has no services table`);
  const cells = (l: string) =>
    l
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  const [head, , ...lines] = body.trim().split('\n');
  const cols = cells(head!);
  const snaps = cols.slice(cols.indexOf('backends') + 1);
  const list = (c: string) =>
    c === '—' || c === ''
      ? []
      : c
          .split(',')
          .map((x) => x.trim())
          .sort();
  const rows = lines.map((l) => {
    const c = cells(l);
    const get = (name: string) => c[cols.indexOf(name)]!;
    return {
      frontend: get('frontend').replace(/`/g, ''),
      backends: list(get('backends')),
      sources: Object.fromEntries(snaps.map((s) => [s, list(get(s))])),
    };
  });
  return { snaps, rows };
}

export interface SeenFrontend {
  frontend: string;
  sources: string[];
  backends: string[];
}

/** `svc lookup` of every frontend address:port/proto the table names, as table-shaped rows. */
export async function lookupAll(src: () => ProbeSource, rows: MigrateRow[]): Promise<Map<string, SeenFrontend[]>> {
  const out = new Map<string, SeenFrontend[]>();
  for (const q of new Set(rows.map((r) => r.frontend.replace(/\/i$/, '')))) {
    const { result } = await runSvcLookup(src(), q);
    out.set(
      q,
      result.frontends
        .map((f) => ({
          frontend: f.frontend,
          sources: [...f.sources].sort(),
          backends: f.backends
            .filter((b) => b.state === 'active')
            .map((b) => `${b.address}:${b.port}`)
            .sort(),
        }))
        .sort((a, b) => byCodeUnit(a.frontend, b.frontend)),
    );
  }
  return out;
}

/** The table's expectation for one snapshot column, in the shape of `lookupAll`. */
export function expected(rows: MigrateRow[], snap: string): Map<string, SeenFrontend[]> {
  const out = new Map<string, SeenFrontend[]>();
  for (const r of rows) {
    const q = r.frontend.replace(/\/i$/, '');
    if (!out.has(q)) out.set(q, []);
    if (r.sources[snap]!.length > 0)
      out.get(q)!.push({ frontend: r.frontend, sources: r.sources[snap]!, backends: r.backends });
  }
  for (const v of out.values()) v.sort((a, b) => byCodeUnit(a.frontend, b.frontend));
  return out;
}
