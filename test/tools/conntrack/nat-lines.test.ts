import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CtAddrs,
  dnatSkip,
  plainNatLess,
  scanConntrack,
  type ScanOptions,
} from '../../../src/tools/conntrack/index.js';
import { fastDnat, fastEntry, loadFast, readFast } from '../../../src/tools/conntrack/fast.js';
import { byteSearch, REC } from '../../../src/tools/text/byte-search.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { filesUnder } from '../../helpers/files.js';
import { genSnapshot } from '../../helpers/bench-gen.js';
import { natLess } from '../../helpers/conntrack-lines.js';

// The `--nat dnat` scan asks the SIMD module (ByteSearch.natLines) what plainNatLess answers for every line of a
// region at once, and reads only the lines it does not answer 1 for. Its answers must be plainNatLess's, line for
// line (2: plainNatLess -1 and dnatSkip true), on every bundled capture, on the bench generator's lines and on
// mutated lines; and a scan through it must equal the scan that reads every line in JS (simd: false).

const search = byteSearch()!;
const files = filesUnder(new URL('../../../fixtures/', import.meta.url).pathname, /^conntrack.*\.txt$/);
let gen = '';
let BENCH: string[] = [];
beforeAll(() => {
  gen = mkdtempSync(join(tmpdir(), 'np-natlines-'));
  genSnapshot(join(gen, 'b'));
  genSnapshot(join(gen, 'a'), ['--after']);
  BENCH = ['b', 'a'].map((s) => readFileSync(join(gen, s, 'conntrack4.txt'), 'latin1'));
}, 60_000);
afterAll(() => rmSync(gen, { recursive: true, force: true }));

/**
 * The module's answer for each line of `text` (whole lines, each ending with a newline) next to plainNatLess's;
 * the lines where they disagree (none expected), and how many it answered 2.
 */
function compare(
  text: string,
  hay?: Buffer,
): { bad: string[]; twos: number; threes: number; zeros: number; lines: number } {
  const buf = hay ?? Buffer.from(text, 'latin1');
  const r = search.natLines(buf, 0, buf.length);
  if (r === undefined) throw new Error('natLines refused the text');
  const got = new Map<number, [number, number, number, number]>();
  for (let c = 0; c < r.count; c++)
    got.set(r.quads[4 * c + 2]!, [r.quads[4 * c]!, r.quads[4 * c + 1]!, r.quads[4 * c + 3]!, c]);
  const bad: string[] = [];
  const addrs = new CtAddrs();
  let twos = 0;
  let threes = 0;
  let zeros = 0;
  let k = 0;
  for (let ls = 0; ls < text.length; k++) {
    const le = text.indexOf('\n', ls);
    const want = plainNatLess(text, ls, le);
    const g = got.get(k);
    const have = g?.[2] ?? 1;
    if (have === 2) twos++;
    if (have === 3) threes++;
    if (have === 0) zeros++;
    let ok = have === 2 ? want === -1 && dnatSkip(text, ls, le, addrs) : have === 3 ? want === 0 : have === want;
    // 3: readFast accepts the line, and the record gives its entry (and its NAT) field for field; 0: it refuses it
    if (ok && have === 3) {
      ok = readFast(text, ls, le);
      const want = ok ? JSON.stringify({ ...fastEntry(text, ls, k + 1, 'p'), dnat: fastDnat(text) }) : '';
      loadFast(r.recs, g![3] * REC.size, 0);
      const fromRec = JSON.stringify({ ...fastEntry(text, ls, k + 1, 'p'), dnat: fastDnat(text) });
      ok = ok && fromRec === want && (r.recs[g![3] * REC.size + REC.dnat] === 1) === fastDnat(text);
    } else if (ok && have === 0) ok = !readFast(text, ls, le);
    if (!ok || (g !== undefined && (g[0] !== ls || g[1] !== le)))
      bad.push(`${JSON.stringify(text.slice(ls, le))}: plainNatLess ${want}, module ${have}`);
    ls = le + 1;
  }
  if (r.lines !== k) bad.push(`lines: ${r.lines}, text ${k}`);
  return { bad, twos, threes, zeros, lines: k };
}

const wholeLines = (t: string) => (t === '' || t.endsWith('\n') ? t : `${t}\n`);

/** Real lines: every bundled capture's, and the bench generator's (before and after kube-proxy's removal). */
const realLines = () => [
  ...files.flatMap((f) => readFileSync(f, 'latin1').split('\n')),
  ...BENCH.flatMap((t) => t.split('\n').slice(0, 2000)),
];

// bytes a mutation inserts: the ones the test reads (digits, dot, space, `=`, letters of the keys), the bytes
// conntrack does not print (CR, tab, NUL, ESC, high latin1) and whole words that change a line's shape
const BYTES = '0123456789. =.srcdtpo:x[]\r\t\u0000\u001b\u00e9\u00ff';
const WORDS = [
  ' zone=1',
  ' mark=5',
  ' [UNREPLIED]',
  ' dport=80',
  ' sport=80',
  ' src=10.0.0.1',
  ' dst=10.0.0.1',
  ' type=8 code=0 id=1',
  ' 0',
  '  ',
  'ipv6     10 ',
  'ipv4     2 ',
  '2026-12-08T01:02:03.4567890Z ',
  '[pod/x] ',
  ' ::ffff:10.0.0.1',
  // readFast's limits and its at-most-once rules: the module must refuse (0) exactly where readFast does
  ' packets=9007199254740993 bytes=1',
  ' packets=18446744073709551615 bytes=18446744073709551616',
  ' zone=65536',
  ' zone=65535',
  ' secmark=4294967296',
  ' delta-time=9007199254740991',
  ' delta-time=99999999999999999999',
  ' id=4294967295',
  ' use=01',
  ' [OFFLOAD]',
  ' [HW_OFFLOAD]',
  ' [ASSURED]',
  ' [SEEN_REPLY]',
  ' SYN_SENT2',
  ' 4294967296',
  ' udplite 136',
  ' sctp 132',
  ' dccp 33',
  ' type=3 code=1 id=65536',
];
const mutated = (lines: string[]) =>
  fc
    .tuple(
      fc.constantFrom(...lines),
      fc.boolean(),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.nat()), { maxLength: 4 }),
    )
    .map(([line, plain, edits]) => {
      let l = plain ? natLess(line) : line;
      for (const [at, op, pick] of edits) {
        const i = l.length === 0 ? 0 : at % (l.length + 1);
        if (op === 0) l = l.slice(0, i) + BYTES[pick % BYTES.length] + l.slice(i);
        else if (op === 1) l = l.slice(0, i) + l.slice(i + 1 + (pick % 3));
        else if (op === 2) l = l.slice(0, i) + WORDS[pick % WORDS.length] + l.slice(i);
        // a word between two words, or at the end, as conntrack would print an extra field
        else if (op === 5) {
          const sp = [...l.matchAll(/ /g)].map((m) => m.index!);
          const j = sp.length ? sp[at % sp.length]! : l.length;
          l = l.slice(0, j) + WORDS[pick % WORDS.length] + l.slice(j);
        } else if (op === 6) l += WORDS[pick % WORDS.length];
        // truncated where a capture or a paste may cut it
        else if (op === 3) l = l.slice(0, i);
        // one value's digit changed: an address or a port of one side only
        else l = l.slice(0, i) + l.slice(i).replace(/\d/, String(pick % 10));
      }
      return l.replace(/\n/g, '');
    });

describe('natLines: plainNatLess for every line at once, in the SIMD module', () => {
  it('every bundled conntrack capture, line for line', () => {
    expect(files.length).toBeGreaterThan(15);
    let lines = 0;
    let twos = 0;
    for (const f of files) {
      const c = compare(wholeLines(readFileSync(f, 'latin1')));
      expect(c.bad, f).toEqual([]);
      lines += c.lines;
      twos += c.twos;
      // the same lines made NAT-less: the answers the scan skips on (1) and the NATed ones (0) both occur
      const n = compare(wholeLines(readFileSync(f, 'latin1').split('\n').map(natLess).join('\n')));
      expect(n.bad, f).toEqual([]);
    }
    expect(lines).toBeGreaterThan(150);
    expect(twos).toBeGreaterThan(0);
  });

  it("the bench generator's tables (more lines than one call answers, more bytes than one copy window)", () => {
    for (const t of BENCH) {
      const c = compare(t);
      expect(c.bad).toEqual([]);
      expect(c.lines).toBeGreaterThan(9000);
      expect(c.twos).toBeGreaterThan(0);
    }
  });

  it('in place in the lent buffer, from any line start: the same answers as a copy', () => {
    const t = BENCH[1]!.slice(0, 900_000);
    const text = t.slice(0, t.lastIndexOf('\n') + 1);
    const lease = search.lease(text.length)!;
    try {
      lease.buf.write(text, 'latin1');
      const hay = lease.buf.subarray(0, text.length);
      expect(compare(text, hay).bad).toEqual([]);
      const copy = Buffer.from(text, 'latin1');
      for (const from of [0, text.indexOf('\n') + 1, text.indexOf('\n', 500_000) + 1]) {
        const a = search.natLines(hay, from, hay.length)!;
        const qa = a.quads.slice(0, a.count * 4);
        const b = search.natLines(copy, from, copy.length)!;
        expect(b.quads.slice(0, b.count * 4)).toEqual(qa);
        expect(b.lines).toBe(a.lines);
        expect(qa[0]! >= from).toBe(true);
      }
    } finally {
      lease.release();
    }
  });

  it('property: mutated real lines (bytes, words, truncation, one side changed, CI-log prefixes)', () => {
    const lines = realLines().filter((l) => l.includes('src='));
    let twos = 0;
    let ones = 0;
    let threes = 0;
    let zeros = 0;
    fc.assert(
      fc.property(fc.array(mutated(lines), { minLength: 1, maxLength: 30 }), (ls) => {
        const c = compare(`${ls.join('\n')}\n`);
        expect(c.bad).toEqual([]);
        twos += c.twos;
        threes += c.threes;
        zeros += c.zeros;
        ones += ls.filter((l) => plainNatLess(`${l}\n`, 0, l.length) === 1).length;
      }),
      { numRuns: 1500, seed: 20261208 },
    );
    // not vacuous: the module skipped lines (1), answered for dnatSkip (2), read NATed lines (3) and left to
    // readFast NATed lines it refuses (0)
    expect(ones).toBeGreaterThan(500);
    expect(twos).toBeGreaterThan(100);
    expect(threes).toBeGreaterThan(300);
    expect(zeros).toBeGreaterThan(300);
  });

  it('refuses a range that does not end with a newline', () => {
    expect(search.natLines(Buffer.from('tcp 6 src=1.2.3.4'), 0, 17)).toBeUndefined();
  });
});

type Out = Awaited<ReturnType<typeof scanConntrack>> | { error: string };
async function scan(buf: Buffer, cuts: number[], opts: Partial<ScanOptions>): Promise<Out> {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    pieces.push(buf.subarray(prev, c));
    prev = c;
  }
  pieces.push(buf.subarray(prev));
  try {
    return await scanConntrack(pieces, { nat: 'dnat' }, { probe: 'conntrack4', ...opts });
  } catch (e) {
    if (e instanceof ParseError) return { error: e.message };
    throw e;
  }
}

describe('the `--nat dnat` scan through natLines = the scan that reads every line in JS', () => {
  const modes: Partial<ScanOptions>[] = [{}, { count: true }, { maxEntries: 3 }, { count: true, maxEntries: 500 }];

  it('every bundled capture and the bench tables, whole and in pieces, kept, counted and cut', async () => {
    for (const t of [...files.map((f) => readFileSync(f)), ...BENCH.map((b) => Buffer.from(b, 'latin1'))])
      for (const cuts of [[], [7, 300, 301, 2000, 70_000, 300_000]])
        for (const m of modes) expect(await scan(t, cuts, m)).toEqual(await scan(t, cuts, { ...m, simd: false }));
  });

  it('property: mutated lines, random pieces and cuts', async () => {
    const lines = realLines().filter((l) => l.includes('src='));
    await fc.assert(
      fc.asyncProperty(
        fc.array(mutated(lines), { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.constantFrom(...modes),
        async (ls, cuts, m) => {
          // more than SIMD_MIN bytes often enough: whole regions go through the module
          const buf = Buffer.from(`${ls.join('\n')}\n`, 'latin1');
          expect(await scan(buf, cuts, m)).toEqual(await scan(buf, cuts, { ...m, simd: false }));
        },
      ),
      { numRuns: 400, seed: 20261208 },
    );
  });
});
