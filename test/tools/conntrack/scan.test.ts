import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CtAddrs,
  cheapView,
  matchesEntry,
  parseConntrackFull,
  scanConntrack,
  scanConntrackText,
  viewOf,
  type ConntrackQuery,
} from '../../../src/tools/conntrack/index.js';
import type { ConntrackEntry } from '../../../src/model/conntrack.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const DIR = new URL('../../../fixtures/tools/conntrack/', import.meta.url);
function realLines(): string[] {
  const out: string[] = [];
  const walk = (u: URL) => {
    for (const d of readdirSync(u, { withFileTypes: true })) {
      if (d.isDirectory()) walk(new URL(`${d.name}/`, u));
      else if (/\.txt$/.test(d.name))
        out.push(
          ...readFileSync(new URL(d.name, u), 'utf8')
            .split('\n')
            .filter((l) => /src=/.test(l) || /^conntrack v/.test(l)),
        );
    }
  };
  walk(DIR);
  return out;
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
  .map(([line, edits]) => {
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
  });

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
