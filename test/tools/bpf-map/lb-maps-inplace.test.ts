// The LB maps read in place (uniformDump: a compact `bpftool -j` dump, only the asked entries decoded) against the
// row scan of every entry (inPlace: false): same Services, layout and warnings, on every bundled dump and on
// dumps fuzzed from them (addresses that prefix one another, repeated backend ids, layout bytes, broken text).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeLbMaps, LB_MAP_NAMES, type LbMapDumps } from '../../../src/tools/bpf-map/index.js';
import { uniformDump, uniformKeyAt } from '../../../src/tools/bpf-map/dump.js';
import { seeded } from '../../helpers/seeded.js';

const root = new URL('../../../fixtures/', import.meta.url).pathname;

/** Every directory of the fixtures holding LB map dumps, with the extension they use. */
function dumpDirs(): { dir: string; ext: string }[] {
  const out: { dir: string; ext: string }[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = join(d, e.name);
      for (const ext of ['json', 'txt'])
        if (
          existsSync(join(p, `${LB_MAP_NAMES.services4}.${ext}`)) ||
          existsSync(join(p, `${LB_MAP_NAMES.services6}.${ext}`))
        )
          out.push({ dir: p, ext });
      walk(p);
    }
  };
  walk(root);
  return out;
}

function load(dir: string, ext: string): Record<keyof LbMapDumps, Buffer | undefined> {
  return Object.fromEntries(
    Object.entries(LB_MAP_NAMES).map(([k, name]) => {
      const f = join(dir, `${name}.${ext}`);
      return [k, existsSync(f) ? readFileSync(f) : undefined];
    }),
  ) as Record<keyof LbMapDumps, Buffer | undefined>;
}

const defined = (d: Record<string, Buffer | undefined>): LbMapDumps =>
  Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) as LbMapDumps;

type Only = Parameters<typeof decodeLbMaps>[1] extends infer O ? (O extends { only?: infer Q } ? Q : never) : never;

/** The questions asked of one set of dumps: none, each frontend with and without its port, near misses. */
function questions(dumps: LbMapDumps): (Only | undefined)[] {
  const all = decodeLbMaps(dumps, { inPlace: false }).value.services;
  const qs: (Only | undefined)[] = [undefined, 'none'];
  for (const s of all.slice(0, 12)) {
    qs.push({ address: s.frontend.address, port: s.frontend.port }, { address: s.frontend.address });
    qs.push({ address: s.frontend.address, port: s.frontend.port + 1 });
  }
  qs.push({ address: '10.96.0.1' }, { address: '10.96.0.10', port: 53 }, { address: '10.96.0.100' });
  qs.push([{ address: '10.96.0.1', port: 443 }, { address: '10.96.0.10' }], { address: 'fd00:10:96::a' });
  return qs;
}

function same(dumps: LbMapDumps, only: Only | undefined, version?: string): void {
  const o = { ...(only !== undefined ? { only } : {}), ...(version !== undefined ? { version } : {}) };
  const ref = decodeLbMaps(dumps, { ...o, inPlace: false });
  const fast = decodeLbMaps(dumps, o);
  expect(fast).toEqual(ref);
}

describe('LB maps read in place, against the row scan', () => {
  const dirs = dumpDirs();

  it('finds the bundled dumps, and reads the compact ones in place', () => {
    expect(dirs.length).toBeGreaterThanOrEqual(14);
    const inPlace = dirs.filter(({ dir, ext }) => {
      const s = load(dir, ext).services4;
      return s !== undefined && uniformDump(s) !== undefined;
    });
    expect(inPlace.length).toBeGreaterThanOrEqual(12);
  });

  it('same answer on every bundled dump, for every question', () => {
    for (const { dir, ext } of dirs) {
      const dumps = defined(load(dir, ext));
      for (const q of questions(dumps)) for (const v of [undefined, '1.13.9', '1.18.1']) same(dumps, q, v);
    }
  });

  it('same answer on fuzzed dumps', () => {
    const bases = dirs.filter((d) => d.ext === 'json').map(({ dir }) => load(dir, 'json'));
    const { rnd, int, pick } = seeded(0x5eed_17d);
    const near = [
      [10, 96, 0, 1],
      [10, 96, 0, 10],
      [10, 96, 0, 100],
      [10, 96, 1, 0],
    ];
    let readInPlace = 0;
    let readByRows = 0;
    for (let round = 0; round < 120; round++) {
      const base = pick(bases);
      const dumps: LbMapDumps = {};
      for (const [k, buf] of Object.entries(base) as [keyof LbMapDumps, Buffer | undefined][]) {
        if (buf === undefined) continue;
        let entries = (JSON.parse(buf.toString('utf8')) as { key: string[]; value: string[] }[]).map((e) => ({
          key: e.key.map((x) => parseInt(x, 16)),
          value: e.value.map((x) => parseInt(x, 16)),
        }));
        const svc = k.startsWith('services');
        const be = k.startsWith('backends');
        for (const e of entries) {
          if (rnd() < 0.3 && svc && e.key.length === 12) e.key.splice(0, 4, ...pick(near));
          if (rnd() < 0.1 && svc) e.key[4 + int(4)] = pick([0, 1, 0x35, 0x50]);
          if (rnd() < 0.05 && svc) e.key[e.key.length - 4] = pick([0, 6, 17, 132, 99]);
          if (rnd() < 0.05 && svc) e.key[e.key.length - 3] = pick([0, 1, 2]);
          if (rnd() < 0.1 && svc) e.value[int(e.value.length)] = int(256);
          if (rnd() < 0.1 && be) e.value[e.value.length - 1 - int(4)] = pick([0, 1, 7]);
          if (rnd() < 0.05 && be) e.key[0] = int(4);
          if (rnd() < 0.1 && k.startsWith('revnat')) e.value[int(e.value.length)] = int(256);
          if (rnd() < 0.05 && k.startsWith('revnat')) e.key[1] = int(8);
        }
        if (rnd() < 0.2 && entries.length > 1) entries.splice(int(entries.length), 1);
        if (rnd() < 0.2 && entries.length > 0) entries.push(structuredClone(pick(entries)));
        if (rnd() < 0.05 && entries.length > 0) pick(entries).value.push(0);
        if (rnd() < 0.1) entries = entries.reverse();
        // backend ids in ascending order (read by a binary search), with an id repeated next to itself: the Map's
        // last row wins, so the copy is told apart by its value
        if (be && rnd() < 0.3) {
          const id = (e: { key: number[] }) => e.key.reduce((a, x, j) => a + x * 256 ** j, 0);
          entries.sort((x, y) => id(x) - id(y));
          if (rnd() < 0.5 && entries.length > 0) {
            const i = int(entries.length);
            const copy = structuredClone(entries[i]!);
            copy.value[copy.value.length - 8] = (copy.value[copy.value.length - 8]! + 1) & 0xff;
            entries.splice(i + 1, 0, copy);
          }
        }
        let text = JSON.stringify(
          entries.map((e) => ({
            key: e.key.map((x) => `0x${x.toString(16).padStart(2, '0')}`),
            value: e.value.map((x) => `0x${x.toString(16).padStart(2, '0')}`),
          })),
        );
        // what a text can do that bpftool -j does not: the row scan decides, the in-place reading steps aside
        const r = rnd();
        const at = () => 1 + int(Math.max(1, text.length - 2));
        if (r < 0.05) text = text.replace(/0x0a/, '0x0A');
        else if (r < 0.1) text = text.replace(/"0x0(\w)"/, '"0x$1"');
        else if (r < 0.13) {
          const p = at();
          text = text.slice(0, p) + ' ' + text.slice(p);
        } else if (r < 0.16) text = text.replace(/"0x(\w)(\w)"/, '"0x$1g"');
        else if (r < 0.18) text = text.replace(/\},\{/, '},{"formatted":{},');
        else if (r < 0.2) text = JSON.stringify(JSON.parse(text), null, 1);
        else if (r < 0.22) text = `${text}\n`;
        dumps[k] = Buffer.from(text);
      }
      if (dumps.services4 !== undefined && uniformDump(dumps.services4 as Buffer)) readInPlace++;
      else readByRows++;
      for (const q of questions(dumps)) same(dumps, q, pick([undefined, '1.15.0', '1.17.2']));
    }
    // both readings were exercised
    expect(readInPlace).toBeGreaterThan(60);
    expect(readByRows).toBeGreaterThan(10);
  });
});

describe("layout-deciding bytes the in-place reading skips by the dump check's ORs", () => {
  // the in-place reading looks for the first row with each layout-deciding property only where some row can have
  // it (uniformDump's ORs of every element offset); here each such byte is set in one row only, every other row
  // cleared, so a skip that is wrong changes the layout or its reasons
  const dir = join(root, 'snapshots/kind-v4-svc/k1/bpf-map');
  type Entry = { key: number[]; value: number[] };
  const read = (f: string): Entry[] =>
    (JSON.parse(readFileSync(join(dir, `${f}.json`), 'utf8')) as { key: string[]; value: string[] }[]).map((e) => ({
      key: e.key.map((x) => parseInt(x, 16)),
      value: e.value.map((x) => parseInt(x, 16)),
    }));
  const text = (es: Entry[]) =>
    Buffer.from(
      JSON.stringify(
        es.map((e) => ({
          key: e.key.map((x) => `0x${x.toString(16).padStart(2, '0')}`),
          value: e.value.map((x) => `0x${x.toString(16).padStart(2, '0')}`),
        })),
      ),
    );
  const svcs = read(LB_MAP_NAMES.services4);
  const bes = read(LB_MAP_NAMES.backends4);
  const rn = readFileSync(join(dir, `${LB_MAP_NAMES.revnat4}.json`));
  // services: key proto (byte 8), value algorithm byte 3, flags2 (9), qcount (10, 11); backends: value proto (6),
  // cluster id high byte (9), zone (10), pad (11)
  const svcPlaces: { side: 'key' | 'value'; j: number; values: number[] }[] = [
    { side: 'key', j: 8, values: [6, 17] },
    { side: 'value', j: 3, values: [1, 2] },
    { side: 'value', j: 9, values: [0x04, 0x10, 0x20, 0x30, 0x40, 0x80, 0xc0, 0x3c, 0x41] },
    { side: 'value', j: 10, values: [1] },
    { side: 'value', j: 11, values: [1] },
  ];
  const bePlaces = [6, 9, 10, 11];
  const clear = (es: Entry[], side: 'key' | 'value', js: number[]) =>
    es.map((e) => {
      const c = structuredClone(e);
      for (const j of js) c[side][j] = 0;
      return c;
    });
  const cleared = () => {
    const s = clear(clear(svcs, 'key', [8]), 'value', [3, 9, 10, 11]);
    const b = clear(bes, 'value', bePlaces);
    return { s, b };
  };
  const asks = (s: Entry[]): (Only | undefined)[] => [
    undefined,
    'none',
    { address: `${s[0]!.key.slice(0, 4).join('.')}` },
  ];
  it('in the Service map', () => {
    let compared = 0;
    for (const place of svcPlaces)
      for (const v of place.values)
        for (const row of [0, 1, svcs.length >> 1, svcs.length - 1]) {
          const { s, b } = cleared();
          s[row]![place.side][place.j] = v;
          const dumps: LbMapDumps = { services4: text(s), backends4: text(b), revnat4: rn };
          expect(uniformDump(dumps.services4 as Buffer)?.lower).toBe(true);
          for (const q of asks(s)) for (const ver of [undefined, '1.13.9', '1.17.2']) same(dumps, q, ver);
          compared++;
        }
    expect(compared).toBeGreaterThan(50);
  });
  it('in the backend map', () => {
    for (const j of bePlaces)
      for (const v of [1, 0x80])
        for (const row of [0, 1, bes.length >> 1, bes.length - 1]) {
          const { s, b } = cleared();
          b[row]!.value[j] = v;
          const dumps: LbMapDumps = { services4: text(s), backends4: text(b), revnat4: rn };
          expect(uniformDump(dumps.backends4 as Buffer)?.lower).toBe(true);
          for (const q of asks(s)) for (const ver of [undefined, '1.14.0', '1.18.1']) same(dumps, q, ver);
        }
  });
});

/** The OR over every element of the byte at each element offset (the comma after each but the last included). */
function naiveOrs(text: Uint8Array, u: { start: number; stride: number; count: number }): Uint8Array {
  const ors = new Uint8Array(u.stride);
  const end = u.start + u.count * u.stride - 1;
  for (let x = u.start; x < end; x++) ors[(x - u.start) % u.stride]! |= text[x]!;
  return ors;
}

describe('uniformDump checks every byte, wherever the dump starts in its buffer', () => {
  // it compares the dump four bytes at a time from the first 4-aligned address of the buffer, and the bytes
  // before and after those words one at a time: each of them is checked at every alignment
  const files = ['cilium_lb4_services_v2.json', 'cilium_lb4_backends_v3.json', 'cilium_lb4_reverse_nat.json'];
  const dir = join(root, 'snapshots/kind-v4-svc/k1/bpf-map');
  /** text placed at byte `offset` of a fresh buffer */
  const at = (text: Uint8Array, offset: number) => {
    const buf = new Uint8Array(new ArrayBuffer(offset + text.length + 8), offset, text.length);
    buf.set(text);
    return buf;
  };
  for (const f of files)
    it(f, () => {
      const text = readFileSync(join(dir, f));
      const ref = uniformDump(text);
      expect(ref, `${f} is a compact dump`).toBeDefined();
      expect(ref!.lower).toBe(true);
      expect(ref!.ors).toEqual(naiveOrs(text, ref!));
      const hex = (c: number) => /[0-9a-fA-F]/.test(String.fromCharCode(c));
      let changed = 0;
      for (let offset = 0; offset < 4; offset++) {
        const u = uniformDump(at(text, offset));
        expect({ ...u, text: undefined }).toEqual({ ...ref, text: undefined });
        for (let x = 0; x < text.length; x++) {
          const b = at(text, offset);
          // any byte changed by 0x40 breaks the dump's form (a hex digit becomes a non-hex character, a
          // brace, quote, comma, letter of "key"/"value", bracket or trailing newline another character)
          b[x] = text[x]! ^ 0x40;
          expect(
            uniformDump(b),
            `${f} +${offset}: byte ${x} (${String.fromCharCode(text[x]!)}) changed`,
          ).toBeUndefined();
          // a hex digit of a token replaced by another one keeps it (text[x - 1] is x or a digit of the token)
          if (hex(text[x]!) && (text[x - 1] === 0x78 || text[x - 2] === 0x78)) {
            b[x] = text[x] === 0x37 ? 0x41 : 0x37;
            const u = uniformDump(b);
            expect(u, `${f} +${offset}: hex digit ${x} replaced`).toBeDefined();
            // an uppercase digit: read in place, but neither searched as text nor judged by the ORs
            expect(u!.lower, `${f} +${offset}: hex digit ${x} replaced`).toBe(b[x] !== 0x41);
            if (u!.lower && changed % 5 === 0) expect(u!.ors, `${f} +${offset}: ORs`).toEqual(naiveOrs(b, u!));
            if (!u!.lower) expect(u!.ors).toBeUndefined();
            changed++;
          }
        }
      }
      expect(changed).toBeGreaterThan(100);
      // the bytes before the first and after the last whole word are compared one at a time: every hex digit of the
      // first and the last element, at every alignment, set to one no other element may have there
      for (let offset = 0; offset < 4; offset++)
        for (const x of [...Array(ref!.stride).keys()].flatMap((j) => [1 + j, text.length - 3 - j]))
          if (hex(text[x]!) && (text[x - 1] === 0x78 || text[x - 2] === 0x78))
            for (const c of [0x66, 0x39]) {
              const b = at(text, offset);
              b[x] = c;
              expect(uniformDump(b)!.ors, `${f} +${offset}: byte ${x} set to ${c}`).toEqual(naiveOrs(b, ref!));
            }
    });
  it('the ORs of a dump of one, two or three elements, at every alignment', () => {
    const one = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as unknown[];
    for (let n = 1; n <= 3; n++) {
      const text = Buffer.from(JSON.stringify(one.slice(0, n)));
      for (let offset = 0; offset < 4; offset++) {
        const u = uniformDump(at(text, offset));
        expect(u?.count).toBe(n);
        expect(u!.ors).toEqual(naiveOrs(text, u!));
      }
    }
  });
  it('a dump many times the size of the blocks it is compared in', () => {
    // the fixture's elements repeated (as the fuzzed dumps above repeat elements): ~1.1 MB
    const one = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as unknown[];
    const text = Buffer.from(JSON.stringify(Array.from({ length: 6000 }, (_, i) => one[i % one.length])));
    expect(uniformDump(text)?.count).toBe(6000);
    // one digit changed in one element, anywhere and at every alignment: the ORs see it
    const { int } = seeded(0x0a5);
    for (let n = 0; n < 40; n++) {
      const b = at(text, n % 4);
      const u0 = uniformDump(b)!;
      const e = int(6000);
      const j = uniformKeyAt(u0, 0, 0) - u0.start + int(2) + 7 * int(u0.klen);
      b[u0.start + e * u0.stride + j] = 0x66;
      expect(uniformDump(b)!.ors).toEqual(naiveOrs(b, u0));
    }
    for (let offset = 0; offset < 4; offset++)
      for (let x = offset; x < text.length; x += x < text.length - 1000 ? 4093 : 1) {
        const b = at(text, offset);
        b[x] = text[x]! ^ 0x40;
        expect(uniformDump(b), `+${offset}: byte ${x} changed`).toBeUndefined();
      }
  });
});
