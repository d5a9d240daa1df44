import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastDnat, fastEntry, readFast } from '../../../src/tools/conntrack/fast.js';
import {
  CtAddrs,
  dnatSkip,
  parseConntrackLine,
  plainNatLess,
  scanConntrackText,
} from '../../../src/tools/conntrack/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { filesUnder } from '../../helpers/files.js';
import { genSnapshot } from '../../helpers/bench-gen.js';
import { natLess } from '../../helpers/conntrack-lines.js';

// fast.ts reads the usual conntrack line without parseConntrackLine; whatever it accepts must come out as the
// entry parseConntrackLine builds, byte for byte in JSON (key order included: the entries are printed), and a scan
// with it must equal the scan without it (entries, warnings, counts, cut), kept or only counted.

/** Every bundled conntrack capture (snapshots, tool fixtures, error outputs). */
const FILES = filesUnder(new URL('../../../fixtures/', import.meta.url).pathname, /^conntrack.*\.txt$/);
const REAL = FILES.flatMap((f) => readFileSync(f, 'utf8').split('\n')).filter((l) => l.includes('src='));

let gen: string;
let BENCH: string[] = [];
beforeAll(() => {
  // the bench's own generator (bench/gen.mjs, seeded), before and after kube-proxy's removal: its lines are the
  // shape the large tables are made of
  gen = mkdtempSync(join(tmpdir(), 'np-fast-'));
  genSnapshot(join(gen, 'b'));
  genSnapshot(join(gen, 'a'), ['--after']);
  BENCH = ['b', 'a'].flatMap((s) =>
    readFileSync(join(gen, s, 'conntrack4.txt'), 'utf8')
      .split('\n')
      .slice(0, 3000),
  );
});
afterAll(() => rmSync(gen, { recursive: true, force: true }));

/** The fast reading of one line as JSON, or undefined when it is not in the fast shape. */
function fastJson(l: string, lineNo = 7): string | undefined {
  // the line inside a larger text, as natRegion hands it over: positions, not a string of its own
  const t = `x\n${l}\nsrc=1.2.3.4`;
  if (!readFast(t, 2, 2 + l.length)) return undefined;
  const dnat = fastDnat(t);
  const e = fastEntry(t, 2, lineNo, 'conntrack4');
  expect(e.dnat).toBe(dnat);
  return JSON.stringify(e);
}
function fullJson(l: string, lineNo = 7): string | undefined {
  const r = parseConntrackLine(l, lineNo, 'conntrack4');
  return r.kind === 'entry' ? JSON.stringify(r.entry) : undefined;
}

/** A line is read the same way, or not read by the fast path at all. */
function agree(l: string): boolean {
  const f = fastJson(l);
  if (f === undefined) return false;
  expect(f, l).toBe(fullJson(l));
  return true;
}

const HOSTILE_VALUES = [
  '',
  '0',
  '00',
  '080',
  '65535',
  '65536',
  '255',
  '256',
  '4294967295',
  '4294967296',
  '99999999999',
  '9007199254740991',
  '9007199254740993',
  '123456789012345678901',
  '-1',
  '+1',
  '1e3',
  '0x10',
  '10.0.0.1',
  '10.0.0.256',
  '010.0.0.1',
  '10.0.0',
  '::ffff:10.0.0.1',
  '2001:db8::1',
  'ESTABLISHED',
  'é',
];
const HOSTILE_WORDS = [
  '[ASSURED]',
  '[UNREPLIED]',
  '[OFFLOAD]',
  '[HW_OFFLOAD]',
  '[ASSURED',
  '[start=Sun',
  'Nov',
  '22]',
  'zone=1',
  'zone-orig=1',
  'zone-reply=2',
  'mark=1',
  'secmark=3',
  'secctx=null',
  'helper=ftp',
  'labels=x',
  'use=1',
  'id=5',
  'delta-time=9',
  'src=10.0.0.9',
  'dst=10.0.0.9',
  'sport=1',
  'dport=2',
  'type=8',
  'code=0',
  'packets=1',
  'bytes=2',
  'srckey=0x1',
  'x',
  '=1',
  'SYN_SENT',
  'ipv4',
  '2',
  'unknown',
  '\t',
  '\r',
  '\u000b',
  '\u001b[0m',
  'conntrack',
];

/** A line changed at the word level: values from the pools, words dropped, repeated, swapped, inserted, cut. */
function mutate(line: string, edits: [number, number, number][]): string {
  let w = line.split(' ');
  for (const [at, op, pick] of edits) {
    if (w.length === 0) w = [''];
    const i = at % w.length;
    const word = w[i]!;
    const eq = word.indexOf('=');
    if (op === 0 && eq > 0) w[i] = word.slice(0, eq + 1) + HOSTILE_VALUES[pick % HOSTILE_VALUES.length];
    else if (op === 1) w.splice(i, 1);
    else if (op === 2) w.splice(i, 0, word);
    else if (op === 3 && i + 1 < w.length) [w[i], w[i + 1]] = [w[i + 1]!, word];
    else if (op === 4) w.splice(i, 0, HOSTILE_WORDS[pick % HOSTILE_WORDS.length]!);
    else if (op === 5) w[i] = HOSTILE_WORDS[pick % HOSTILE_WORDS.length]!;
    else if (op === 6)
      w = w
        .join(' ')
        .slice(0, pick % (line.length + 1))
        .split(' ');
    else if (op === 7) w[i] = `${word}${pick % 2 ? ' ' : '  '}`;
    else if (op === 8 && word !== '') w[i] = word.slice(0, pick % word.length);
    else if (op === 9) w = [w.join(' ').replace(/^ipv4 +2 +/, pick % 2 ? 'ipv6     10 ' : '')];
  }
  return w.join(' ');
}

describe('fast.ts reads a line as parseConntrackLine does', () => {
  it('every line of every bundled capture, and the bench generator lines (most in the fast shape)', () => {
    let fast = 0;
    for (const l of REAL) if (agree(l)) fast++;
    // the captures' IPv4 tcp/udp/icmp lines: the fast path must not quietly refuse everything
    expect(fast).toBeGreaterThan(60);
    let benchFast = 0;
    for (const l of BENCH) if (l !== '' && agree(l)) benchFast++;
    expect(benchFast).toBe(BENCH.filter((l) => l !== '').length);
  });

  it('the shapes it reads: ports, ICMP, [UNREPLIED], flags in any order, meta fields, timeouts and states', () => {
    const tcp =
      'ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.96.0.1 sport=40000 dport=80 packets=3 bytes=180 src=10.0.1.9 dst=10.0.0.1 sport=8080 dport=40000 packets=2 bytes=120 [ASSURED] mark=0 delta-time=5 use=1';
    for (const l of [
      tcp,
      tcp.replace('ipv4     2 ', ''),
      tcp.replace(' packets=3 bytes=180', '').replace(' packets=2 bytes=120', ''),
      tcp.replace('[ASSURED] mark=0', 'mark=0 [ASSURED] [OFFLOAD]'),
      tcp.replace(' [ASSURED]', ' [HW_OFFLOAD]').replace('use=1', 'use=1 id=4000000000'),
      tcp.replace('431999 ESTABLISHED ', ''),
      tcp.replace('431999 ', ''),
      tcp.replace(' use=1', ' zone=7 secmark=2 use=1'),
      `${tcp}   `,
      tcp.replace('src=10.0.1.9', '[UNREPLIED] src=10.0.1.9'),
      'udp      17 29 src=10.0.0.1 dst=10.96.0.10 sport=5353 dport=53 [UNREPLIED] src=10.0.0.3 dst=10.0.0.1 sport=53 dport=5353 mark=0 use=1',
      'icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=77 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=77 mark=0 use=1 id=9',
      'sctp     132 5 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 use=1',
      'udplite  136 5 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 use=1',
      'dccp     33 5 OPEN src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 use=1',
    ])
      expect(agree(l), l).toBe(true);
    // left to parseConntrackLine (which may accept or refuse them): IPv6, zones per direction, time stamps, GRE,
    // a duplicate flag, a value out of range, the summary, odd whitespace
    for (const l of [
      'ipv6     10 tcp      6 5 ESTABLISHED src=2001:db8::1 dst=2001:db8::2 sport=1 dport=2 src=2001:db8::2 dst=2001:db8::1 sport=2 dport=1 use=1',
      tcp.replace(' packets=3', ' zone-orig=1 packets=3'),
      tcp.replace(' use=1', ' [start=Sun Nov 22 11:10:37 2026] use=1'),
      tcp.replace('[ASSURED]', '[ASSURED] [ASSURED]'),
      tcp.replace('sport=40000', 'sport=65536'),
      tcp.replace('mark=0', 'mark=0 mark=1'),
      tcp.replace('ipv4     2', 'ipv4     3'),
      tcp.replace(' use=1', '\tuse=1'),
      tcp.replace(' use=1', ' \u000buse=1'),
      ` ${tcp}`,
      'conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.',
      'gre      47 179 src=10.0.0.1 dst=10.0.0.2 srckey=0x0 dstkey=0x0 src=10.0.0.2 dst=10.0.0.1 srckey=0x0 dstkey=0x0 use=1',
    ])
      expect(fastJson(l), l).toBeUndefined();
  });

  it('property: mutated lines (values, words dropped, repeated, swapped, inserted, cut) read alike or not at all', () => {
    let fast = 0;
    let n = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...REAL, ...BENCH.filter((l) => l !== '').slice(0, 400)),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 9 }), fc.nat()), { maxLength: 3 }),
        (line, edits) => {
          const l = mutate(line, edits);
          n++;
          if (agree(l)) fast++;
        },
      ),
      { numRuns: 10000, seed: 20261207 },
    );
    // enough of the mutated lines stay in the fast shape that both sides of it are exercised
    expect(fast).toBeGreaterThan(n / 5);
    expect(fast).toBeLessThan(n - n / 5);
  });
});

/** A whole scan as JSON (entries, warnings, counts, cut), or its ParseError. */
function scanJson(t: string | Buffer, opts: { fast: boolean; count?: boolean; maxEntries?: number }): string {
  try {
    return JSON.stringify(
      scanConntrackText(
        t,
        { nat: 'dnat' },
        {
          probe: 'conntrack4',
          fast: opts.fast,
          ...(opts.count ? { count: true } : {}),
          ...(opts.maxEntries !== undefined ? { maxEntries: opts.maxEntries } : {}),
        },
      ),
    );
  } catch (e) {
    if (e instanceof ParseError) return `error: ${e.message}`;
    throw e;
  }
}

describe('a { nat: dnat } scan with fast.ts = the scan without it, kept or counted', () => {
  it('every bundled capture and the bench generator tables, whole and cut', () => {
    const texts = [
      ...FILES.map((f) => readFileSync(f)),
      readFileSync(join(gen, 'b', 'conntrack4.txt')),
      readFileSync(join(gen, 'a', 'conntrack4.txt')),
    ];
    let matched = 0;
    for (const t of texts)
      for (const maxEntries of [undefined, 3, 500]) {
        const slow = scanJson(t, { fast: false, ...(maxEntries ? { maxEntries } : {}) });
        expect(scanJson(t, { fast: true, ...(maxEntries ? { maxEntries } : {}) })).toBe(slow);
        // counted: the same result without the entries
        const r = JSON.parse(slow.startsWith('error') ? '{}' : slow) as { entries?: unknown[]; matched?: number };
        const counted = slow.startsWith('error') ? slow : JSON.stringify({ ...r, entries: [] });
        expect(scanJson(t, { fast: true, count: true, ...(maxEntries ? { maxEntries } : {}) })).toBe(counted);
        expect(scanJson(t, { fast: false, count: true, ...(maxEntries ? { maxEntries } : {}) })).toBe(counted);
        matched += r.matched ?? 0;
      }
    expect(matched).toBeGreaterThan(1000);
  });

  it('property: texts of mutated lines (CR, tabs, colour, cut lines), cut and counted, scan alike', () => {
    const line = fc
      .tuple(
        fc.constantFrom(...REAL, ...BENCH.filter((l) => l !== '').slice(0, 200)),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 9 }), fc.nat()), { maxLength: 2 }),
      )
      .map(([l, e]) => mutate(l, e));
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 30 }),
        fc.constantFrom('\n', '\n', '\r\n'),
        fc.boolean(),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
        (ls, eol, terminated, maxEntries) => {
          let t = ls.join(eol);
          if (terminated && t !== '') t += eol;
          const o = maxEntries !== undefined ? { maxEntries } : {};
          const slow = scanJson(t, { fast: false, ...o });
          expect(scanJson(t, { fast: true, ...o })).toBe(slow);
          expect(scanJson(t, { fast: true, count: true, ...o })).toBe(scanJson(t, { fast: false, count: true, ...o }));
        },
      ),
      { numRuns: 1500, seed: 20261207 },
    );
  });
});

describe('plainNatLess answers as dnatSkip, where it answers', () => {
  const addrs = new CtAddrs();
  /** 1 or 0 must be dnatSkip's true or false; -1 leaves the line to dnatSkip */
  function check(l: string): number {
    const t = `x\n${l}\nsrc=1.2.3.4 `;
    const p = plainNatLess(t, 2, 2 + l.length);
    if (p !== -1) expect(p === 1, l).toBe(dnatSkip(t, 2, 2 + l.length, addrs));
    return p;
  }
  it('captures and bench generator lines, as they are and made NAT-less', () => {
    const seen = [0, 0, 0];
    for (const l of [...REAL, ...BENCH, ...REAL.map(natLess), ...BENCH.map(natLess)]) seen[check(l) + 1]!++;
    // all three answers occur: the bench lines are the usual shape, with and without NAT
    expect(seen[2]).toBeGreaterThan(3000);
    expect(seen[1]).toBeGreaterThan(100);
    expect(seen[0]).toBeGreaterThan(10);
  });
  it('property: mutated lines, made NAT-less before or after the change', () => {
    const seen = [0, 0, 0];
    fc.assert(
      fc.property(
        fc.constantFrom(...REAL, ...BENCH.filter((l) => l !== '').slice(0, 400)),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 9 }), fc.nat()), { maxLength: 3 }),
        fc.nat({ max: 2 }),
        (line, edits, when) => {
          const l =
            when === 0 ? mutate(natLess(line), edits) : when === 1 ? natLess(mutate(line, edits)) : mutate(line, edits);
          seen[check(l) + 1]!++;
        },
      ),
      { numRuns: 20000, seed: 20261207 },
    );
    expect(Math.min(...seen)).toBeGreaterThan(1000);
  });
});
