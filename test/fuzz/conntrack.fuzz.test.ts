import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  matchesEntry,
  parseConntrack,
  scanConntrackText,
  type ConntrackQuery,
} from '../../src/tools/conntrack/index.js';
import { conntrackEntrySchema, type ConntrackEntry } from '../../src/model/conntrack.js';
import { canonIp } from '../../src/model/addr.js';
import { ParseError } from '../../src/tools/parse-error.js';
import { assertNoPollution, defineFuzz, eq, HOSTILE_DOCS, inputs, ok, RUNS, SEED, seeds } from './harness.js';

defineFuzz({
  name: 'conntrack -L',
  seeds: seeds('conntrack', /\.txt$/),
  parse: parseConntrack,
  check: (es) => {
    for (const e of es) {
      ok(conntrackEntrySchema.safeParse(e).success, JSON.stringify(e).slice(0, 200));
      for (const a of [e.orig.src, e.orig.dst, e.reply.src, e.reply.dst]) eq(canonIp(a), a, a);
    }
  },
});

// The scanner the trace uses on big tables must read exactly what the full parse reads, on anything.
describe('fuzz conntrack scanner (scan.ts) against the full parse', () => {
  const real = seeds('conntrack', /\.txt$/);
  const both = (text: string, q: ConntrackQuery) => {
    let full: ConntrackEntry[] | ParseError;
    let scan: ConntrackEntry[] | ParseError;
    try {
      full = parseConntrack(text, 'p').value.filter((e) => matchesEntry(e, q));
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      full = e;
    }
    try {
      scan = scanConntrackText(text, q, { probe: 'p' }).entries;
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      scan = e;
    }
    assertNoPollution();
    if (full instanceof ParseError || scan instanceof ParseError) {
      // a text the parse refuses as a whole may still be scanned for a query that matches nothing in it
      if (full instanceof ParseError && !(scan instanceof ParseError)) expect(scan).toEqual([]);
      return;
    }
    expect(scan).toEqual(full);
  };
  const queries: ConntrackQuery[] = [
    {},
    { address: '10.96.0.10' },
    { port: 53 },
    { proto: 'udp' },
    { nat: 'dnat' },
    { family: 6 },
    { address: '2001:db8:1::1', nat: 'any' },
  ];
  it('same entries for mutated real tables, random and hostile input, under every kind of query', () => {
    for (const h of HOSTILE_DOCS) for (const q of queries) both(h, q);
    fc.assert(
      fc.property(inputs(real), fc.constantFrom(...queries), (t, q) => both(t, q)),
      { numRuns: RUNS * 3, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  });
});
