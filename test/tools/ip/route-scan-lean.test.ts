import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allRoutes } from '../../../src/model/route-columns.js';
import { parseIpRoute } from '../../../src/tools/ip/index.js';
import { scanIpRouteData, scanIpRouteJson, TailCache, type ScanOptions } from '../../../src/tools/ip/route-scan.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { inputs, RUNS, SEED, seeds, wrongTypeDocs } from '../../fuzz/harness.js';
import { routeShapes } from '../../helpers/route-shapes.js';

// The route scanner's two shortcuts (leanObject: compact elements read with the position in a
// local; TailCache: an element whose bytes after the destination repeat an accepted tail) must
// give exactly what the element-by-element scanObject gives: the same columns, byte ranges, parsed
// routes, warnings and slow count, or the same refusal. Each document is scanned four ways: with runOf too
// (runs of bulk elements read in a loop of their own) and without it.

type Fam = 4 | 6;

function scan(text: string, fam: Fam, opts: ScanOptions) {
  return scanIpRouteData(Buffer.from(text, 'utf8'), 'p', fam, opts);
}

/** the four paths agree; returns how many elements each shortcut read */
function agree(text: string, fam: Fam): { lean: number; tails: number; runs: number } {
  const stats = { lean: 0, tails: 0, runs: 0 };
  const full = scan(text, fam, { lean: false });
  const lean = scan(text, fam, { tails: false });
  const tails = scan(text, fam, { runs: false });
  const runs = scan(text, fam, { stats });
  expect(lean).toEqual(full);
  expect(tails).toEqual(full);
  expect(runs).toEqual(full);
  return stats;
}

/** and the scan agrees with parseIpRoute (as route-scan.test.ts checks for the default path) */
function agreesWithParser(text: string, fam: Fam): void {
  const s = scanIpRouteJson(Buffer.from(text, 'utf8'), 'p', fam);
  if (s === undefined) return;
  let full: ReturnType<typeof parseIpRoute> | undefined;
  try {
    full = parseIpRoute(text, 'p', fam);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
  expect(full, 'scanner accepted what parseIpRoute rejects').toBeDefined();
  expect(allRoutes(s.columns)).toEqual(full!.value);
  expect(s.warnings).toEqual(full!.warnings);
}

const jsonSeeds = (fam: Fam) => seeds('ip/route', new RegExp(`\\.${fam}-j.*\\.json$`));

// the element shapes of a node's bulk routes, from real captures: a plain route from the bench's
// base capture, multipath and nexthop-object routes (helpers/route-shapes.ts)
const { ecmp, nhGroup, nhSingle } = routeShapes();
const plain4 = {
  type: 'unicast',
  dst: '10.20.0.0/16',
  gateway: '172.18.0.5',
  dev: 'eth0',
  table: 'main',
  protocol: 'bgp',
  scope: 'global',
  metric: 20,
  flags: [] as string[],
};
const plain6 = {
  type: 'unicast',
  dst: '2001:db8:1::/48',
  gateway: 'fe80::1',
  dev: 'eth0',
  table: 'main',
  protocol: 'bgp',
  scope: 'global',
  metric: 1024,
  flags: [] as string[],
  pref: 'medium',
};

/** n elements of the given shapes in turn, each with a prefix of its own: the tails repeat */
function table(fam: Fam, n: number, els: Record<string, unknown>[]): string {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const dst = fam === 4 ? `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24` : `2001:db8:${i.toString(16)}::/48`;
    out.push({ ...els[i % els.length]!, dst });
  }
  return JSON.stringify(out);
}

const tables: [string, Fam, string][] = [
  ['plain', 4, table(4, 240, [plain4, { ...plain4, gateway: '172.18.0.6', metric: undefined }])],
  ['multipath', 4, table(4, 240, [ecmp, plain4])],
  ['nexthop objects', 4, table(4, 240, [nhGroup, nhSingle, plain4])],
  ['IPv6', 6, table(6, 240, [plain6, { ...plain6, gateway: 'fe80::2' }])],
];

// what a byte-for-byte repeat must not hide: one element's tail changed in a way the columns or
// the verdict depend on (a flag, the table, the metric, a key the parser reads, an escape, a syntax error)
const edits: [RegExp, string][] = [
  [/"flags":\[\]/, '"flags":["dead"]'],
  [/"flags":\[\]/, '"flags":["linkdown","onlink"]'],
  [/"table":"main"/, '"table":"200"'],
  [/"table":"main"/, '"table":"local"'],
  [/"metric":(\d+)/, '"metric":7'],
  [/"metric":(\d+)/, '"metric":-1'],
  [/"metric":(\d+)/, '"metric":"20"'],
  [/"dev":"eth0"/, '"dev":"eth\\u0030"'],
  [/"dev":"eth0"/, '"dev":"eth0","via":{"family":"inet6","host":"fe80::1"}'],
  [/"dev":"eth0"/, '"dev":"eth0","dev":"eth1"'],
  [/"dev":"eth0"/, '"dev" :"eth0"'],
  [/"dev":"eth0"/, '"dev":"ethé"'],
  [/"dev":"eth0"/, '"dev":"eth\u0001"'],
  [/"dev":"eth0",/, ''],
  [/"scope":"global"/, '"scope":"global","tos":"0x10"'],
  [/"weight":1/, '"weight":0'],
  [/"weight":1/, '"weight":1.0'],
  [/"nhid":(\d+)/, '"nhid":"101"'],
  [/"gateway":"[^"]*"/, '"gateway":"172.18.0.300"'],
  [/"gateway":"[^"]*"/, '"gateway":"fe80::1%eth0"'],
  [/"type":"unicast"/, '"type":"blackhole"'],
  [/\}$/, '}}'],
  [/\}$/, ''],
];

/** the table with edit e applied to element i's text */
function edited(doc: string, i: number, e: [RegExp, string]): string {
  const els = doc.slice(1, -1).split(/(?<=\}),(?=\{"type")/);
  const k = i % els.length;
  els[k] = els[k]!.replace(e[0], e[1]);
  return `[${els.join(',')}]`;
}

describe('the scanner shortcuts agree with scanObject', () => {
  for (const fam of [4, 6] as Fam[]) {
    it(`on every real IPv${fam} JSON capture, and every wrong-typed key of it`, () => {
      let lean = 0;
      for (const s of jsonSeeds(fam)) {
        lean += agree(s.text, fam).lean;
        for (const doc of wrongTypeDocs(s.text)) agree(doc, fam);
      }
      expect(lean).toBeGreaterThan(0);
    });

    it(`on fuzzed IPv${fam} captures`, () => {
      fc.assert(
        fc.property(inputs(jsonSeeds(fam)), (t) => {
          agree(Buffer.from(t, 'utf8').toString('utf8'), fam);
        }),
        { numRuns: RUNS * 4, seed: SEED },
      );
    });
  }

  for (const [name, fam, doc] of tables) {
    it(`on a ${name} table (tails repeat)`, () => {
      const st = agree(doc, fam);
      agreesWithParser(doc, fam);
      expect(st.tails).toBeGreaterThan(200);
      // elements 64 on (the first ones decide `detailed`), but the last 256 bytes, in runs
      expect(st.runs).toBeGreaterThan(150);
    });

    it(`on a ${name} table with one repeated tail changed`, () => {
      for (const e of edits) {
        for (const i of [70, 239]) {
          const text = edited(doc, i, e);
          agree(text, fam);
          agreesWithParser(text, fam);
          // the changed tail read twice: the second time from the cache
          const twice = text.slice(0, -1) + ',' + text.slice(1);
          agree(twice, fam);
        }
      }
    });

    it(`on a fuzzed ${name} table`, () => {
      const small = JSON.stringify((JSON.parse(doc) as unknown[]).slice(0, 90));
      fc.assert(
        fc.property(
          inputs([{ name, text: small } as ReturnType<typeof seeds>[number]]),
          fc.array(fc.tuple(fc.nat(89), fc.constantFrom(...edits)), { maxLength: 3 }),
          (t, es) => {
            let text = Buffer.from(t, 'utf8').toString('utf8');
            agree(text, fam);
            text = small;
            for (const [i, e] of es) text = edited(text, i, e);
            // the same table twice: the second half reads from the first half's tails
            const twice = text.slice(0, -1) + ',' + text.slice(1);
            agree(twice, fam);
            agreesWithParser(twice, fam);
          },
        ),
        { numRuns: RUNS, seed: SEED },
      );
    });
  }
});

// TailCache compares eight bytes at a time as doubles: equal doubles must mean equal bytes for every
// input, including bytes that make a NaN, +0 or -0 on the input's side. A cached tail against the same
// tail with any one byte changed to any value (and at any alignment) must miss; the tail itself must hit.
describe('TailCache: a tail matches only its own bytes', () => {
  const tails = [
    ',"gateway":"172.18.0.1","dev":"eth0","table":"main","protocol":"bgp","scope":"global","metric":20,"flags":[]}',
    '","table":"main","protocol":"bgp","scope":"global","flags":[],"nexthops":[{"gateway":"172.18.0.5","dev":"eth0","weight":1,"flags":[]}]}',
  ];
  const values = [0x00, 0x01, 0x20, 0x30, 0x7e, 0x7f, 0x80, 0xf0, 0xf8, 0xff];
  it('every byte of two real tails, changed to each of ten values, at eight alignments', () => {
    for (const tail of tails) {
      const t = Buffer.from(tail, 'latin1');
      for (let pad = 0; pad < 8; pad++) {
        const buf = Buffer.alloc(t.length * 2 + pad + 8, 0x20);
        t.copy(buf, 0);
        const at = t.length + pad;
        t.copy(buf, at);
        const cache = new TailCache(buf);
        cache.add({ s: 0, n: t.length, table: 254, metric: 20, plain: 1, nhid: false });
        expect(cache.find(at)).toBeDefined();
        for (let k = 0; k < t.length; k++)
          for (const v of values) {
            if (v === t[k]) continue;
            buf[at + k] = v;
            expect(cache.find(at), `byte ${k} = ${v}, pad ${pad}`).toBeUndefined();
            buf[at + k] = t[k]!;
          }
      }
    }
  });
});

// TailCache finds a candidate by walking a tree of the blocks where cached tails differ, then compares all of
// its bytes. Many tails over a small alphabet (long shared prefixes, equal lengths, tails ending before a node's
// block, more children than the linear search takes), each ending at its only `}` as an element's tail does:
// find() must answer exactly the cached tail whose bytes the input holds, for the tails themselves at any
// alignment, for each with one byte changed, and for inputs cut short.
describe('TailCache: the tree finds exactly the tail the input holds', () => {
  const alphabet = 'ab"1:,';
  const tailArb = fc
    .tuple(
      fc.array(fc.constantFrom(...alphabet), { minLength: 31, maxLength: 90 }),
      fc.constantFrom('', '"gateway":"172.18.0.1","dev":"eth0",', '"nexthops":[{"gateway":"172.18.0.5"'),
    )
    .map(([cs, mid]) => `${mid}${cs.join('')}}`);
  it('matches a brute-force search', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(tailArb, { minLength: 1, maxLength: 40 }),
        fc.nat(7),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(...'ab"1:,}x\u0000\u00ff')), { maxLength: 60 }),
        (tails, pad, edits) => {
          const bufs = tails.map((t) => Buffer.from(t, 'latin1'));
          const src = Buffer.concat(bufs);
          const cache = new TailCache(src);
          let at = 0;
          const kept: Buffer[] = [];
          bufs.forEach((b, i) => {
            if (cache.find(at) === undefined) {
              cache.add({ s: at, n: b.length, table: i, metric: 0, plain: 1, nhid: false });
              kept.push(b);
            }
            at += b.length;
          });
          // the tails are prefix-free and distinct: every one is kept
          expect(kept.length).toBe(tails.length);
          const probe = (input: Buffer, p: number) => {
            cache.rebind(input);
            const got = cache.find(p);
            const want = bufs.findIndex(
              (b) => p + b.length <= input.length && input.subarray(p, p + b.length).equals(b),
            );
            expect(got === undefined ? -1 : got.table).toBe(want);
          };
          for (const [i, b] of bufs.entries()) {
            const input = Buffer.alloc(pad + b.length + 16, 0x20);
            b.copy(input, pad);
            probe(input, pad);
            // cut short: the tail's last byte missing
            probe(input.subarray(0, pad + b.length - 1), pad);
            for (const [k, j, c] of edits) {
              if (k % bufs.length !== i) continue;
              const e = Buffer.from(input);
              e[pad + (j % b.length)] = c.charCodeAt(0);
              probe(e, pad);
            }
          }
        },
      ),
      { numRuns: RUNS * 4, seed: SEED },
    );
  });
});

// v6Dst reads an IPv6 destination in one pass and leaves anything it does not take to the general reader:
// destinations made of IPv6 pieces, well-formed or not, in the bulk of a table (where runs and the tail
// cache read them) and at its start, must give what scanObject and parseIpRoute give.
describe('IPv6 destinations read in one pass agree with the general reader', () => {
  const piece = fc.constantFrom(
    ...['0', '1', '00', 'a', 'f', 'db8', 'ffff', '12345', 'A', 'Db8', 'g', ':', '::', ':::', '/', '.', '1.2.3.4'],
    ...['%eth0', '2001', 'fe80', '/0', '/1', '/64', '/128', '/129', '/01', '/1000', ' ', '\\u0030', 'default'],
  );
  const raw = fc.array(piece, { minLength: 1, maxLength: 12 }).map((ps) => ps.join(''));
  // hex groups with or without one (or two) `::`, and a suffix: mostly near a valid prefix, often just off it
  const group = fc.constantFrom('0', '1', '00', 'db8', 'ffff', 'abcd', '0000', '12345', 'A', 'g1', '');
  const suffix = fc.constantFrom(
    ...['', '', '/0', '/1', '/48', '/64', '/127', '/128', '/129', '/01', '/000', '/1000', '/', '/a', '%eth0'],
    ...['.1', ':', '::', '"'],
  );
  const formed = fc
    .tuple(fc.array(group, { maxLength: 9 }), fc.array(fc.nat(9), { maxLength: 2 }), suffix)
    .map(([gs, gaps, sfx]) => {
      let t = gs.join(':');
      for (const g of gaps) {
        const parts = t.split(':');
        t = [...parts.slice(0, g), '', ...parts.slice(g)].join(':');
        if (g === 0) t = `:${t}`;
      }
      return t + sfx;
    });
  const dst = fc.oneof(formed, formed, raw);
  it('on fuzzed destinations', () => {
    const base = JSON.parse(table(6, 100, [plain6, { ...plain6, gateway: 'fe80::2' }])) as Record<string, unknown>[];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(99), dst), { minLength: 1, maxLength: 6 }), (ds) => {
        const els = base.map((e) => ({ ...e }));
        for (const [i, d] of ds) els[i]!.dst = d;
        const text = JSON.stringify(els).replace(/\\\\u0030/g, '\\u0030');
        agree(text, 6);
        agreesWithParser(text, 6);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
  it('on every form a node prints', () => {
    const forms = [
      '::',
      '::/0',
      '::1',
      '2001:db8::/32',
      '2001:db8:0:1::/64',
      'fe80::/10',
      'ff00::/8',
      '1:2:3:4:5:6:7:8',
    ];
    forms.push('1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '2001:db8:ab:cd:ef:1:2:0/112', 'default', '2001:db8::1/128');
    // just off a prefix: what the one-pass reader must leave to the general one
    forms.push('1::2::3', '::/01', '::/000', '2001:db8::/064', '1:2:3:4:5:6:7:8:9', '2001:db8::1/64', '::ffff:1.2.3.4');
    const els = JSON.parse(table(6, 100, [plain6])) as Record<string, unknown>[];
    forms.forEach((f, k) => {
      els[70 + k]!.dst = f;
    });
    const text = JSON.stringify(els);
    const st = agree(text, 6);
    agreesWithParser(text, 6);
    expect(st.runs).toBeGreaterThan(20);
  });
});
