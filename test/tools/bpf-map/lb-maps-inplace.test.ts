// The LB maps read in place (uniformDump: a compact `bpftool -j` dump, only the asked entries decoded) against the
// row scan of every entry (inPlace: false): same Services, layout and warnings, on every bundled dump and on
// dumps fuzzed from them (addresses that prefix one another, repeated backend ids, layout bytes, broken text).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeLbMaps, LB_MAP_NAMES, type LbMapDumps } from '../../../src/tools/bpf-map/index.js';
import { uniformDump } from '../../../src/tools/bpf-map/dump.js';
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
            expect(uniformDump(b), `${f} +${offset}: hex digit ${x} replaced`).toBeDefined();
            changed++;
          }
        }
      }
      expect(changed).toBeGreaterThan(100);
    });
  it('a dump many times the size of the blocks it is compared in', () => {
    // the fixture's elements repeated (as the fuzzed dumps above repeat elements): ~1.1 MB
    const one = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as unknown[];
    const text = Buffer.from(JSON.stringify(Array.from({ length: 6000 }, (_, i) => one[i % one.length])));
    expect(uniformDump(text)?.count).toBe(6000);
    for (let offset = 0; offset < 4; offset++)
      for (let x = offset; x < text.length; x += x < text.length - 1000 ? 4093 : 1) {
        const b = at(text, offset);
        b[x] = text[x]! ^ 0x40;
        expect(uniformDump(b), `+${offset}: byte ${x} changed`).toBeUndefined();
      }
  });
});
