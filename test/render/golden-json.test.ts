import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';

// The outputs scripts/golden-json.mjs wrote from the CLI before hops were typed (test/golden/, one file per
// snapshot group). Rerun in-process, every key and value of the golden must still be there, equal: new fields
// may be added to an object, nothing may be removed or changed; arrays keep their length and order; text
// outputs (the diagrams) are equal byte for byte.

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = join(root, 'test/golden');

interface Golden {
  argv: string[];
  exitCode: number;
  output: unknown;
}

/** Where `actual` lacks or changes something of `golden`: one line per difference, with its JSON path. */
function notContained(golden: unknown, actual: unknown, path = '$'): string[] {
  if (Array.isArray(golden)) {
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${JSON.stringify(actual)}`];
    const out = golden.length === actual.length ? [] : [`${path}: ${golden.length} items, now ${actual.length}`];
    golden.forEach((g, i) => {
      out.push(...notContained(g, actual[i], `${path}[${i}]`));
    });
    return out;
  }
  if (golden !== null && typeof golden === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual))
      return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    const a = actual as Record<string, unknown>;
    return Object.entries(golden).flatMap(([k, v]) =>
      k in a ? notContained(v, a[k], `${path}.${k}`) : [`${path}.${k}: missing (was ${JSON.stringify(v)})`],
    );
  }
  return Object.is(golden, actual) ? [] : [`${path}: ${JSON.stringify(golden)} is now ${JSON.stringify(actual)}`];
}

describe('notContained', () => {
  it('accepts added keys, rejects a removed key, a changed value, a changed array length', () => {
    const g = { a: 1, b: [{ c: 'x' }], d: { e: true } };
    expect(notContained(g, { a: 1, b: [{ c: 'x', f: 2 }], d: { e: true, g: [] } })).toEqual([]);
    expect(notContained(g, { a: 1, b: [{ c: 'x' }], d: {} })).toEqual(['$.d.e: missing (was true)']);
    expect(notContained(g, { a: 1, b: [{ c: 'y' }], d: { e: true } })).toEqual(['$.b[0].c: "x" is now "y"']);
    expect(notContained(g, { a: 1, b: [{ c: 'x' }, {}], d: { e: true } })).toEqual(['$.b: 1 items, now 2']);
    expect(notContained({ a: '1' }, { a: 1 })).toEqual(['$.a: "1" is now 1']);
  });
});

const groups = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('golden outputs over the bundled snapshots', () => {
  it('covers every snapshot group', () => {
    expect(groups.map((g) => g.replace(/\.json$/, '')).sort()).toEqual(
      readdirSync(join(root, 'fixtures/snapshots'), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort(),
    );
  });

  for (const group of groups) {
    const entries = JSON.parse(readFileSync(join(dir, group), 'utf8')) as Golden[];
    describe(group, () => {
      for (const g of entries) {
        it(g.argv.join(' '), async () => {
          const r = await runCli(g.argv);
          expect(r.code).toBe(g.exitCode);
          if (typeof g.output === 'string') expect(r.out).toBe(g.output);
          else expect(notContained(g.output, JSON.parse(r.out))).toEqual([]);
        });
      }
    });
  }
});
