import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CtAddrs,
  cheapView,
  countNl,
  dnatSkip,
  matchesEntry,
  parseConntrackFull,
  scanConntrack,
  scanConntrackText,
  viewOf,
  type ConntrackQuery,
  type ScanResult,
} from '../../../src/tools/conntrack/index.js';
import { fileChunks } from '../../../src/collect/file-chunks.js';
import type { ConntrackEntry } from '../../../src/model/conntrack.js';
import { canonIp, plainV4At } from '../../../src/model/addr.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { filesUnder } from '../../helpers/files.js';
import { natLess } from '../../helpers/conntrack-lines.js';

const DIR = new URL('../../../fixtures/tools/conntrack/', import.meta.url);
function realLines(): string[] {
  return filesUnder(DIR.pathname, /\.txt$/).flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => /src=/.test(l) || /^conntrack v/.test(l)),
  );
}
const LINES = realLines();
const ADDRS = [
  '10.244.1.5',
  '10.96.0.10',
  '203.0.113.1',
  '192.0.2.10',
  '169.254.42.1',
  '2001:db8:1::10',
  '2001:db8:1::1',
  '2001:db8:244::5',
  '192.0.2.1',
  '198.51.100.2',
];
const SPELLINGS = [
  ...ADDRS,
  '::ffff:192.0.2.10',
  '::ffff:c000:20a',
  '2001:DB8:1::1',
  '2001:db8:1:0:0:0:0:1',
  '010.96.0.10',
  '10.96.0.100',
  '110.96.0.10',
  '2001:db8:1::100',
  '1.2.3',
];
const PORTS = ['80', '8080', '53', '5353', '45636', '9090', '0', '65535', '65536', '080', '-1'];
const HOSTILE = [
  '',
  '\t',
  '  ',
  '\r',
  '\u001b[1m',
  '\u001b[0m',
  '__proto__',
  '[ASSURED]',
  '[UNREPLIED]',
  'src=10.96.0.10',
  'dst=',
  'id=1',
  'zone=5',
  'é',
  '[start=x',
  'sport=80',
  'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.',
];

/** A real line with some of its words changed: addresses and ports from a pool, words dropped, duplicated or replaced. */
const mutatedLine = fc
  .tuple(fc.constantFrom(...LINES), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.nat()), { maxLength: 4 }))
  .map(([line, edits]) => edit(line, edits));

function edit(line: string, edits: [number, number, number][]): string {
  const w = line.split(' ');
  for (const [at, op, pick] of edits) {
    const i = at % w.length;
    const word = w[i]!;
    const eq = word.indexOf('=');
    if (op === 0 && eq > 0 && /^(src|dst)$/.test(word.slice(0, eq)))
      w[i] = `${word.slice(0, eq + 1)}${SPELLINGS[pick % SPELLINGS.length]}`;
    else if (op === 1 && eq > 0 && /port$/.test(word.slice(0, eq)))
      w[i] = `${word.slice(0, eq + 1)}${PORTS[pick % PORTS.length]}`;
    else if (op === 2) w.splice(i, 1);
    else if (op === 3) w.splice(i, 0, word);
    else if (op === 4) w[i] = HOSTILE[pick % HOSTILE.length]!;
    else if (op === 5 && eq > 0) w[i] = `${word.slice(0, eq + 1)}${SPELLINGS[pick % SPELLINGS.length]}`;
    else if (op === 6) {
      // the whole entry as IPv4-mapped IPv6, spelled as inet_ntop prints it
      for (let k = 0; k < w.length; k++) w[k] = w[k]!.replace(/^(src|dst)=(\d+\.\d+\.\d+\.\d+)$/, '$1=::ffff:$2');
      if (w[0] === 'ipv4') w.splice(0, w.indexOf('2') + 1, 'ipv6', '', '', '', '', '10');
    }
  }
  return w.join(' ');
}

const text = fc
  .tuple(
    fc.array(fc.oneof(fc.constantFrom(...LINES), mutatedLine, mutatedLine), { maxLength: 40 }),
    fc.constantFrom('\n', '\r\n'),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([ls, eol, terminated, ansi]) => {
    let t = ls.map((l) => (ansi && l.length % 7 === 0 ? `\u001b[32m${l}\u001b[0m` : l)).join(eol);
    if (terminated && t !== '') t += eol;
    return t;
  });

const qAddress = fc.constantFrom(...ADDRS, '::ffff:192.0.2.10', '::ffff:c000:20a', '2001:DB8:1::1');
const qPort = fc.constantFrom(80, 8080, 53, 5353, 45636, 9090, 52312);
const qProto = fc.constantFrom('tcp', 'udp', 'icmp', 'icmpv6');
const qFamily = fc.constantFrom(4 as const, 6 as const);
const qNat = fc.constantFrom('dnat' as const, 'snat' as const, 'any' as const, 'none' as const);
const qWhere = fc.constantFrom(
  (v: { orig: { sport?: number } }) => (v.orig.sport ?? 0) > 45000,
  (v: { reply: { src: string } }) => v.reply.src.startsWith('203.'),
);
// mostly one or two conditions, so that many queries match something
const query: fc.Arbitrary<ConntrackQuery> = fc.oneof(
  fc.record({ address: qAddress }),
  fc.record({ address: qAddress, proto: qProto }),
  fc.record({ port: qPort }),
  fc.record({ nat: qNat }),
  fc.record({ nat: qNat, family: qFamily }),
  fc.record({ address: qAddress, where: qWhere }),
  fc.record(
    { address: qAddress, port: qPort, proto: qProto, family: qFamily, nat: qNat, where: qWhere },
    { requiredKeys: [] },
  ),
);

/** Splits bytes at random offsets (inside lines, inside multi-byte characters). */
function chunks(buf: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

type Outcome = { entries: ConntrackEntry[] } | 'parse-error';
function reference(t: string, q: ConntrackQuery): Outcome {
  try {
    return { entries: parseConntrackFull(t, 'conntrack4').value.entries.filter((e) => matchesEntry(e, q)) };
  } catch (e) {
    if (e instanceof ParseError) return 'parse-error';
    throw e;
  }
}
async function streamed(t: string, q: ConntrackQuery, cuts: number[]): Promise<Outcome> {
  try {
    return { entries: (await scanConntrack(chunks(Buffer.from(t), cuts), q, { probe: 'conntrack4' })).entries };
  } catch (e) {
    if (e instanceof ParseError) return 'parse-error';
    throw e;
  }
}

describe('scanConntrack: filtering while scanning equals parse-all-then-filter', () => {
  it('property: random real-looking inputs (mutated captures), random queries, random chunking', async () => {
    expect(LINES.length).toBeGreaterThan(20);
    await fc.assert(
      fc.asyncProperty(text, query, fc.array(fc.nat(), { maxLength: 6 }), async (t, q, cuts) => {
        const want = reference(t, q);
        const got = await streamed(t, q, cuts);
        if (want === 'parse-error') {
          // nothing in the text is conntrack output: the scanner refuses it or finds nothing
          expect(got === 'parse-error' || got.entries.length === 0).toBe(true);
        } else {
          expect(got).toEqual(want);
        }
      }),
      { numRuns: 400, seed: 20261123 },
    );
  });

  it('property: the cheap view of a line equals the view of its full parse', () => {
    fc.assert(
      fc.property(mutatedLine, (l) => {
        // the scanner takes the cheap view of cleaned lines only (CR and colour go the full-parse way)
        if (/[\r\u001b]/.test(l)) return;
        let parsed: ReturnType<typeof parseConntrackFull>['value']['entries'][number] | undefined;
        try {
          parsed = parseConntrackFull(l + '\n', 'c').value.entries[0];
        } catch {
          return;
        }
        if (!parsed) return;
        const v = cheapView(l, new CtAddrs());
        if (v !== undefined) expect(v).toEqual(viewOf(parsed));
      }),
      { numRuns: 1000, seed: 20261123 },
    );
  });

  it('property: a query by address or port counts every line, as the unfiltered scan does', async () => {
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.oneof(fc.record({ address: qAddress }), fc.record({ port: qPort })),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (t, q, cuts) => {
          let all: ScanResult;
          let got: ScanResult;
          try {
            all = await scanConntrack(chunks(Buffer.from(t), cuts), {}, { probe: 'conntrack4' });
            got = await scanConntrack(chunks(Buffer.from(t), cuts), q, { probe: 'conntrack4' });
          } catch (e) {
            if (e instanceof ParseError) return;
            throw e;
          }
          expect(got.lines).toBe(all.lines);
        },
      ),
      { numRuns: 300, seed: 20261207 },
    );
  });

  it('property: countNl equals a byte-by-byte count, at any offsets of any buffer', () => {
    const bytes = fc.array(fc.oneof(fc.constant(10), fc.constant(10), fc.integer({ min: 0, max: 255 })), {
      maxLength: 300,
    });
    fc.assert(
      fc.property(bytes, fc.nat({ max: 7 }), fc.nat(), fc.nat(), (xs, pad, a, b) => {
        // a Buffer that does not start at its ArrayBuffer's start, as fileChunks' subarrays do
        const buf = Buffer.from(new Uint8Array([...new Array<number>(pad).fill(10), ...xs]).buffer, pad, xs.length);
        const from = xs.length ? a % (xs.length + 1) : 0;
        const to = from + (xs.length - from ? b % (xs.length - from + 1) : 0);
        let want = 0;
        for (let i = from; i < to; i++) if (buf[i] === 10) want++;
        expect(countNl(buf, from, to)).toBe(want);
      }),
      { numRuns: 2000, seed: 20261207 },
    );
  });

  it('a query by address reads only the lines that contain it', () => {
    const t = readFileSync(new URL('shared/conntrack-L-o-extended.node.txt', DIR), 'utf8');
    const r = scanConntrackText(t, { address: '2001:db8:1::1' }, { probe: 'conntrack6' });
    expect(r.lines).toBe(9);
    // only the three entries that name 2001:db8:1::1 (a filtered scan does not look for the summary line)
    expect(r.parsed).toBe(3);
    expect(r.summaryCount).toBeUndefined();
    expect(scanConntrackText(t, {}, { probe: 'c' }).summaryCount).toBe(8);
    expect(r.entries.map((e) => e.line)).toEqual([5, 8, 9]);
    const dnat = scanConntrackText(t, { nat: 'dnat', proto: 'tcp' }, { probe: 'conntrack4' });
    expect(dnat.entries.map((e) => e.orig.sport)).toEqual([52312, 45636, 53444]);
  });

  it('maxEntries stops the scan and says the result was cut', () => {
    const t = readFileSync(new URL('shared/conntrack-L-o-extended.node.txt', DIR), 'utf8');
    const r = scanConntrackText(t, { address: '10.244.1.5' }, { probe: 'c', maxEntries: 2 });
    expect(r.entries).toHaveLength(2);
    expect(r.cut).toBe(true);
    expect(scanConntrackText(t, { address: '10.244.1.5' }, { probe: 'c' }).cut).toBe(false);
  });

  it('a query address that is not an address is a bug of the caller', () => {
    expect(() => scanConntrackText('', { address: 'nope' }, { probe: 'c' })).toThrow(/not an address/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The byte pre-filter of `{ nat: 'dnat' }` (dnatSkip): a line it skips never becomes a string. The result must be
// the one the line-by-line path gives (entries, warnings, line count, cut, summary), on every capture bundled with
// the project and on fuzzed lines, many of them made NAT-less first so that the pre-filter has lines to skip.

const NATLESS = LINES.map(natLess);
const natLine = fc
  .tuple(
    fc.constantFrom(...NATLESS, ...LINES),
    fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.nat()), { maxLength: 3 }),
    fc.boolean(),
  )
  // edited, then (or not) made NAT-less again: an odd address or port then sits on both sides
  .map(([line, edits, again]) => (again ? natLess(edit(line, edits)) : edit(line, edits)));
const natText = fc
  .tuple(
    fc.array(fc.oneof(fc.constantFrom(...NATLESS), natLine, natLine, fc.constantFrom(...LINES)), { maxLength: 40 }),
    fc.constantFrom('\n', '\r\n'),
    fc.boolean(),
  )
  .map(([ls, eol, terminated]) => {
    let t = ls.join(eol);
    if (terminated && t !== '') t += eol;
    return t;
  });

type Whole = Omit<Awaited<ReturnType<typeof scanConntrack>>, 'parsed'> | { error: string };
async function whole(
  t: string,
  lean: boolean,
  cuts: number[],
  maxEntries?: number,
): Promise<Whole & { parsed?: number }> {
  try {
    const r = await scanConntrack(
      chunks(Buffer.from(t), cuts),
      { nat: 'dnat' },
      {
        probe: 'conntrack4',
        lean,
        ...(maxEntries !== undefined ? { maxEntries } : {}),
      },
    );
    return r;
  } catch (e) {
    if (e instanceof ParseError) return { error: e.message };
    throw e;
  }
}
/** Lines of the text the pre-filter skips (so that the comparisons above are not all of lines it reads in full). */
function skippable(t: string): number {
  const a = new CtAddrs();
  let n = 0;
  for (const l of t.split('\n')) if (/^[\x20-\x7e]*$/.test(l) && dnatSkip(l, 0, l.length, a)) n++;
  return n;
}
const withoutParsed = ({ parsed: _p, ...r }: Whole & { parsed?: number }) => r;

/** Every bundled conntrack capture (snapshots, tool fixtures, error outputs). */
const files = filesUnder(new URL('../../../fixtures/', import.meta.url).pathname, /^conntrack.*\.txt$/);

describe('the nat=dnat byte pre-filter gives what reading every line gives', () => {
  it('every bundled conntrack capture (snapshots, tool fixtures, error outputs), whole and in odd chunks', async () => {
    expect(files.length).toBeGreaterThan(15);
    let skipped = 0;
    for (const f of files) {
      const t = readFileSync(f, 'utf8');
      for (const cuts of [[], [7, 300, 301, 2000]]) {
        const lean = await whole(t, true, cuts);
        const full = await whole(t, false, cuts);
        expect(withoutParsed(lean), f).toEqual(withoutParsed(full));
      }
      skipped += skippable(t);
    }
    // the captures hold entries without NAT: the pre-filter did skip lines
    expect(skipped).toBeGreaterThan(20);
  });

  it('property: fuzzed lines, most without NAT, random chunking and cuts', async () => {
    let skipped = 0;
    await fc.assert(
      fc.asyncProperty(
        natText,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        async (t, cuts, max) => {
          const lean = await whole(t, true, cuts, max);
          const full = await whole(t, false, cuts, max);
          expect(withoutParsed(lean)).toEqual(withoutParsed(full));
          skipped += skippable(t);
        },
      ),
      { numRuns: 600, seed: 20261207 },
    );
    expect(skipped).toBeGreaterThan(1000);
  });

  // dnatSkip tells a dotted quad from its characters instead of asking CtAddrs (node:net's isIPv4): the two must
  // agree on every near-address (leading zeros, 256, five parts, empty parts, a colon), and a line carrying one
  // on both sides must still scan as reading every line does
  const nearV4 = fc.oneof(
    fc.stringMatching(/^[0-9.]{0,17}$/),
    fc.stringMatching(/^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}$/),
    fc.ipV4(),
    fc.stringMatching(/^[0-9a-f:.]{1,20}$/),
  );
  it('property: the dotted-quad test is isIPv4 on near-addresses, and such lines scan as read in full', async () => {
    const tcp =
      'tcp      6 86398 ESTABLISHED src=S dst=D sport=5 dport=80 src=D dst=S sport=80 dport=5 [ASSURED] mark=0 use=1';
    await fc.assert(
      fc.asyncProperty(nearV4, nearV4, async (a, b) => {
        const t = `x${a} `;
        expect(plainV4At(t, 1, 1 + a.length)).toBe(isIPv4(a));
        const line = tcp.replace(/=S /g, `=${a} `).replace(/=D /g, `=${b} `);
        expect(withoutParsed(await whole(`${line}\n`, true, []))).toEqual(
          withoutParsed(await whole(`${line}\n`, false, [])),
        );
      }),
      { numRuns: 3000, seed: 20261207 },
    );
  });

  // dnatSkip tries each key where conntrack prints it before searching: a line with keys out of place, missing or
  // repeated must still scan as read in full
  it('property: a key inserted or dropped at any word of a NAT-less line scans as read in full', async () => {
    const tokens = [
      ' dst=10.0.0.2',
      ' sport=80',
      ' dport=5',
      ' d=1',
      ' dstx=1',
      ' sport=',
      ' dport=x',
      ' src=10.0.0.2',
      ' zone=1',
    ];
    const base = natLess(LINES.find((l) => / dport=/.test(l) && !/ipv6|:/.test(l))!);
    let skipped = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.constantFrom(...tokens), fc.boolean(), async (at, tok, drop) => {
        const spaces = [...base.matchAll(/ /g)].map((m) => m.index!);
        const i = spaces[at % spaces.length]!;
        const j = base.indexOf(' ', i + 1);
        const line = drop
          ? base.slice(0, i) + base.slice(j < 0 ? base.length : j)
          : base.slice(0, i) + tok + base.slice(i);
        skipped += skippable(line);
        expect(withoutParsed(await whole(`${line}\n`, true, []))).toEqual(
          withoutParsed(await whole(`${line}\n`, false, [])),
        );
      }),
      { numRuns: 1500, seed: 20261207 },
    );
    expect(skipped).toBeGreaterThan(100);
  });

  it('dnatSkip skips only plain NAT-less lines', () => {
    const a = new CtAddrs();
    const yes =
      'tcp      6 86398 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=5 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=5 [ASSURED] mark=0 use=1';
    const b = (l: string) => dnatSkip(`${l}\n`, 0, l.length, a);
    expect(b(yes)).toBe(true);
    expect(b(`ipv4     2 ${yes}`)).toBe(true);
    // DNAT by address or by port, another spelling, a bad address, a tab, a missing reply port: read in full
    expect(b(yes.replace('src=10.0.0.2', 'src=10.0.0.3'))).toBe(false);
    expect(b(yes.replace('sport=80', 'sport=8080'))).toBe(false);
    expect(b(yes.replace('dport=80', 'dport=080'))).toBe(false);
    expect(b(yes.replace(/10\.0\.0\.1/g, '10.0.0.999'))).toBe(false);
    expect(b(yes.replace(' sport=80 dport=5', ''))).toBe(false);
    expect(b(`ipv4 x ${yes}`)).toBe(false);
    // a `src=` inside another word is not the reply's (cheapView's ` src=`): this DNAT line is read in full
    const dnat = yes.replace('src=10.0.0.2 dst=10.0.0.1', 'src=10.0.0.3 dst=10.0.0.1');
    expect(b(dnat)).toBe(false);
    expect(b(dnat.replace(' src=10.0.0.3', ' xsrc=10.0.0.2 src=10.0.0.3'))).toBe(false);
    expect(b(yes.replace(' src=10.0.0.2', ' xsrc=10.0.0.2 src=10.0.0.2'))).toBe(true);
    expect(b('conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.')).toBe(false);
  });
});

// The worker's conntrack scan reads its file through one reused buffer (fileChunks) and a bench or
// summary caller may take the entries one by one (onEntry) instead of keeping them: both must give
// what the keeping scan over a read stream gives, entry for entry, wherever the pieces end.
describe('reused read buffer and handed-over entries = the keeping scan over a read stream', () => {
  const queries: ConntrackQuery[] = [{}, { nat: 'dnat' }, { address: '10.244.1.5' }, { address: '10.96.0.10' }];

  async function outcome(run: () => Promise<ScanResult>): Promise<ScanResult | string> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof ParseError) return e.message;
      throw e;
    }
  }

  it('every bundled conntrack capture, pieces of 1, 7, 64, 4096 bytes and 1 MiB', async () => {
    expect(files.length).toBeGreaterThan(15);
    let entries = 0;
    for (const f of files)
      for (const q of queries)
        for (const size of [1, 7, 64, 4096, 1 << 20]) {
          const want = await outcome(() =>
            scanConntrack(createReadStream(f, { highWaterMark: size }) as AsyncIterable<Buffer>, q, {
              probe: 'conntrack4',
            }),
          );
          const got = await outcome(() => scanConntrack(fileChunks(f, size), q, { probe: 'conntrack4' }));
          expect(got, `${f} ${JSON.stringify(q)} ${size}`).toEqual(want);
          if (typeof want !== 'string') entries += want.entries.length;
        }
    expect(entries).toBeGreaterThan(100);
  });

  it('property: entries handed to onEntry are the kept entries, with maxEntries and random chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        text,
        query,
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        async (t, q, cuts, max) => {
          const opts = { probe: 'conntrack4', ...(max !== undefined ? { maxEntries: max } : {}) };
          const kept = await outcome(() => scanConntrack(chunks(Buffer.from(t), cuts), q, opts));
          const handed: ConntrackEntry[] = [];
          const sunk = await outcome(() =>
            scanConntrack(chunks(Buffer.from(t), cuts), q, { ...opts, onEntry: (e) => handed.push(e) }),
          );
          if (typeof kept === 'string') {
            expect(sunk).toBe(kept);
            return;
          }
          expect(typeof sunk).toBe('object');
          const s = sunk as ScanResult;
          expect(s.entries).toEqual([]);
          expect(handed).toEqual(kept.entries);
          expect({ ...s, entries: handed }).toEqual(kept);
          expect(kept.matched).toBe(kept.entries.length);
        },
      ),
      { numRuns: 400, seed: 20261207 },
    );
  });
});

// The SIMD byte search (tools/text/byte-search.ts) replaces the region loop's indexOf searches and newline
// counts: every result — entries, their order and line numbers, warnings, lines, errors — must be the one the
// indexOf path gives, wherever the pieces end and wherever a cut stops the scan.
describe('the SIMD region search = the indexOf region search', () => {
  const both = async (chunksOf: () => Iterable<Buffer>, q: ConntrackQuery, max?: number) => {
    const opts = { probe: 'conntrack4', ...(max !== undefined ? { maxEntries: max } : {}) };
    const run = async (simd: boolean) => {
      try {
        return await scanConntrack(chunksOf(), q, { ...opts, simd });
      } catch (e) {
        if (e instanceof ParseError) return e.message;
        throw e;
      }
    };
    return [await run(true), await run(false)] as const;
  };

  it('every bundled conntrack capture, each address and port in it, whole, in pieces and cut', async () => {
    expect(files.length).toBeGreaterThan(15);
    let entries = 0;
    for (const f of files) {
      const buf = readFileSync(f);
      const t = buf.toString('latin1');
      const addrs = new Set([...t.matchAll(/(?:src|dst)=([^ \n]+)/g)].map((m) => m[1]!));
      const ports = new Set([...t.matchAll(/port=(\d+)/g)].map((m) => Number(m[1])));
      const qs: ConntrackQuery[] = [
        ...[...addrs].filter((a) => canonIp(a) !== null).map((address) => ({ address })),
        ...[...ports].slice(0, 8).map((port) => ({ port })),
      ];
      for (const q of qs)
        for (const [cuts, max] of [
          [[], undefined],
          [[7, 300, 301, 2000], undefined],
          [[], 1],
          [[150, 151], 2],
        ] as const) {
          const [fast, slow] = await both(() => chunks(buf, [...cuts]), q, max);
          expect(fast, `${f} ${JSON.stringify(q)} ${cuts} ${max}`).toEqual(slow);
          if (typeof slow !== 'string') entries += slow.entries.length;
        }
    }
    expect(entries).toBeGreaterThan(200);
  });

  it('property: fuzzed lines (tabs, CR, colour, NUL-free), address and port queries, random pieces and cuts', async () => {
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.oneof(fc.record({ address: qAddress }), fc.record({ port: qPort }), query),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        async (t, q, cuts, max) => {
          const [fast, slow] = await both(() => chunks(Buffer.from(t), cuts), q, max);
          expect(fast).toEqual(slow);
        },
      ),
      { numRuns: 600, seed: 20261207 },
    );
  });

  it('a NUL byte is still refused, wherever it is', async () => {
    const t = readFileSync(new URL('shared/conntrack-L.node.txt', DIR));
    for (const at of [0, 17, t.length - 1]) {
      const b = Buffer.from(t);
      b[at] = 0;
      const [fast, slow] = await both(() => [b], { address: '10.244.1.5' });
      expect(fast).toBe(slow);
      expect(String(fast)).toMatch(/NUL/);
    }
  });

  it('a table larger than the read piece, through the lent buffer (fileChunks) and through copies', async () => {
    // 600 KiB of real lines with the flow's address every so often: several pieces and copy windows
    const one = LINES.filter((l) => l.includes('src=')).join('\n');
    const big = Buffer.from(
      `${Array.from({ length: 4000 }, (_, i) => (i % 97 === 0 ? one : LINES[i % LINES.length])).join('\n')}\n`,
    );
    const dir = mkdtempSync(join(tmpdir(), 'npC-ct-'));
    try {
      const f = join(dir, 'conntrack4.txt');
      writeFileSync(f, big);
      for (const q of [{ address: '10.244.1.5' }, { address: '10.96.0.10' }, { port: 53 }] as ConntrackQuery[])
        for (const size of [4096, 128 << 10, 1 << 20]) {
          const [fast, slow] = await both(() => fileChunks(f, size), q);
          const [copied] = await both(() => fileChunks(f, size, false), q);
          expect(fast, `${JSON.stringify(q)} ${size}`).toEqual(slow);
          expect(copied).toEqual(slow);
          expect(typeof slow === 'object' && slow.entries.length).toBeGreaterThan(0);
        }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
