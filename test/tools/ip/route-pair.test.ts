import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DETAIL_WINDOW } from '../../../src/tools/ip/parse-route.js';
import { scanRoutePair, type PairInput, type PairStats } from '../../../src/tools/ip/route-pair.js';
import { scanIpRouteData } from '../../../src/tools/ip/route-scan.js';
import { RUNS, SEED } from '../../fuzz/harness.js';

// A diff's after-side route scan made from the before side's (route-pair.ts) must be exactly the full
// scan of the after file: the same columns, byte ranges, parsed routes, warnings, or the same refusal.
// The pairs are bundled captures' own elements (their bytes as `ip` printed them, cut at the ranges the
// scan gives), with routes removed, inserted, changed, moved, and separators rewritten.

type Fam = 4 | 6;
const FIX = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

/** every element of every bundled JSON route capture of a family, as its bytes */
function pool(fam: Fam): string[] {
  const files: string[] = [];
  for (const n of readdirSync(join(FIX, 'tools/ip/route')).sort())
    if (n.endsWith('.json') && /\.6-/.test(n) === (fam === 6)) files.push(join(FIX, 'tools/ip/route', n));
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n === `ip-route${fam}.json`) files.push(p);
    }
  };
  walk(join(FIX, 'snapshots'));
  const out: string[] = [];
  for (const f of files) {
    const bytes = readFileSync(f);
    const d = scanIpRouteData(bytes, 'p', fam);
    if (!d) continue;
    for (let i = 0; i < d.starts.length; i++) out.push(bytes.subarray(d.starts[i]!, d.ends[i]!).toString('utf8'));
  }
  return out;
}

const doc = (els: string[], sep: string[] = []): Buffer =>
  Buffer.from(`[${els.map((e, i) => (i === 0 ? e : (sep[i] ?? ',') + e)).join('')}]\n`);

/** a positional reader over bytes, giving at most `max` per read (a short read) */
const input = (bytes: Buffer, max = 1 << 30): PairInput => ({
  size: bytes.length,
  read: (buf, at, n, pos) => {
    const k = Math.max(0, Math.min(n, max, bytes.length - pos));
    buf.set(bytes.subarray(pos, pos + k), at);
    return k;
  },
});

function agrees(before: Buffer, after: Buffer, fam: Fam, chunk?: number, max?: number): PairStats {
  const pair: PairStats = { reused: false, added: 0, removed: 0, kept: 0 };
  const got = scanRoutePair(input(before, max), input(after, max), 'p', fam, {
    pair,
    ...(chunk !== undefined ? { chunk } : {}),
  });
  expect(got.before).toEqual(scanIpRouteData(before, 'p', fam));
  expect(got.after).toEqual(scanIpRouteData(after, 'p', fam));
  return pair;
}

/** a before side of n elements from the pool (repeated when it is shorter) */
function base(p: string[], n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => p[(from + i) % p.length]!);
}

for (const fam of [4, 6] as const) {
  describe(`the after side from the before side = the full scan (IPv${fam})`, () => {
    const p = pool(fam);
    const els = base(p, 400);
    const before = doc(els);
    const edited = (f: (e: string[]) => void): Buffer => {
      const e = [...els];
      f(e);
      return doc(e);
    };
    // an element of the pool that is not at this place of the before side
    const other = (i: number) => p[(i * 7 + 3) % p.length]!;

    it('has captures to build from', () => {
      expect(p.length).toBeGreaterThan(fam === 4 ? 50 : 10);
      expect(scanIpRouteData(before, 'p', fam)).toBeDefined();
    });

    it('the same file: everything kept', () => {
      const s = agrees(before, Buffer.from(before), fam);
      expect(s).toEqual({ reused: true, added: 0, removed: 0, kept: 400 });
    });

    it('removed, inserted, changed and moved routes past the first elements: made, not scanned', () => {
      const cases: [string, Buffer][] = [
        ['removed', edited((e) => e.splice(200, 1))],
        ['removed last', edited((e) => e.pop())],
        ['removed a stretch', edited((e) => e.splice(100, 50))],
        ['inserted', edited((e) => e.splice(150, 0, other(1)))],
        ['appended', edited((e) => e.push(other(2), other(3)))],
        ['changed', edited((e) => e.splice(300, 1, other(4)))],
        ['moved', edited((e) => e.splice(350, 0, ...e.splice(120, 1)))],
        [
          'many',
          edited((e) => {
            for (let i = 390; i > DETAIL_WINDOW; i -= 37) e.splice(i, 1, other(i), other(i + 1));
          }),
        ],
        ['everything after the first elements removed', edited((e) => e.splice(DETAIL_WINDOW + 1))],
      ];
      for (const [name, after] of cases) {
        const s = agrees(before, after, fam);
        expect(s.reused, name).toBe(true);
        expect(s.added + s.removed, name).toBeGreaterThan(0);
      }
    });

    it('a separator written otherwise, and the document re-indented', () => {
      const sep: string[] = [];
      sep[250] = ' ,\n  ';
      expect(agrees(before, doc(els, sep), fam).reused).toBe(true);
      agrees(before, Buffer.from(before.toString().replace(/\]\n$/, ' ]  \n')), fam);
    });

    it('edits the resync does not reach, or among the first elements: scanned in full, the same', () => {
      expect(
        agrees(
          before,
          edited((e) => e.splice(1, 1)),
          fam,
        ).reused,
      ).toBe(false);
      // past the resync's reach (unless the pool, shorter than the stretch, repeats within it)
      agrees(
        before,
        edited((e) => e.splice(DETAIL_WINDOW + 5, 300)),
        fam,
      );
      expect(agrees(before, doc(base(p, 400, 1)), fam).reused).toBe(false);
    });

    it('an after side that is not plain ip JSON: the same refusal', () => {
      const bad = [
        Buffer.from(before.toString().replace(/\]\n$/, ']x')),
        Buffer.from(before.toString().replace(/\]\n$/, '')),
        edited((e) => e.splice(200, 0, '{"dst":')),
        edited((e) => e.splice(200, 0, '42')),
        Buffer.from(before.toString().replace(/\]\n$/, ']\r\n')),
      ];
      for (const after of bad) agrees(before, after, fam);
    });

    it('through small buffers and short reads', () => {
      const after = edited((e) => {
        e.splice(300, 1, other(9));
        e.splice(100, 2);
      });
      for (const [chunk, max] of [
        [4096, 1000],
        [1, 7],
        [64 << 10, 1 << 20],
      ] as const)
        agrees(before, after, fam, chunk, max);
    });

    it('random edit scripts (fuzz)', () => {
      const edit = fc.record({
        at: fc.nat(420),
        kind: fc.constantFrom('remove', 'insert', 'change', 'move'),
        n: fc.integer({ min: 1, max: 4 }),
        pick: fc.nat(10_000),
      });
      fc.assert(
        fc.property(fc.array(edit, { maxLength: 12 }), (edits) => {
          const e = [...els];
          for (const x of edits) {
            const at = x.at % (e.length + 1);
            if (x.kind === 'remove') e.splice(at, x.n);
            else if (x.kind === 'insert') e.splice(at, 0, ...Array.from({ length: x.n }, (_, i) => other(x.pick + i)));
            else if (x.kind === 'change')
              e.splice(at, x.n, ...Array.from({ length: x.n }, (_, i) => other(x.pick + i)));
            else e.splice(x.pick % (e.length + 1), 0, ...e.splice(at, x.n));
          }
          agrees(before, doc(e), fam);
        }),
        { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
    });
  });
}
