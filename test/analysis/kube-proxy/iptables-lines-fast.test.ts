import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  iptablesLinesNeeded,
  mayHoldByIndexOf,
  mayHoldForTest,
  mayHoldKeeping,
} from '../../../src/analysis/kube-proxy/iptables-lines.js';
import { serviceMatches, type ServiceEntry, type ServiceQuery } from '../../../src/model/service.js';
import { iptablesByteLines } from '../../../src/tools/iptables/parse-iptables.js';
import { inputs, RUNS, SEED, seeds } from '../../fuzz/harness.js';

// iptables-lines.ts's two shortcuts, each held to the plain rule it replaces (the answer as a whole is held to the
// full parse by test/collect/load-services-filter.test.ts):
//  - mayHold reads a line with byte compares; mayHoldByIndexOf is the same rule with Buffer searches;
//  - the kept lines are the unfiled ones merged with the marked ones; the plain rule walks every line and keeps
//    those skip() does not leave out;
//  - mayHoldKeeping's test is mayHold, and its second question (holding) is mayHold of each line the test left out.

const iptSeeds = [...seeds('kube-proxy/iptables-save'), ...seeds('kube-proxy/upstream', /iptables-restore\.txt$/)];

/** fuzzed lines made of the bytes the rule looks at, and the text asked for in them */
const ruleByte = fc.constantFrom(...'-d -dst --destination KUBE-NODEPORTS "\'\\\t 10.96.1.2/32 ns/name:x'.split(''));
const line = fc.array(
  fc.oneof(ruleByte, fc.constantFrom(' -d ', '--dst', '--destination', 'KUBE-NODEPORTS', '"', "'")),
  { maxLength: 40 },
);
const pat = fc.oneof(fc.constantFrom('10.96.1.2', '10.96', 'ns/name', '-d', '"', ''), fc.string({ maxLength: 4 }));

/** every line of `text`, as [bytes, start, end) */
function linesOf(text: string): { b: Buffer; spans: [number, number][] } {
  const b = Buffer.from(text, 'latin1');
  const spans: [number, number][] = [];
  let s = 0;
  for (let p = b.indexOf(10); ; p = b.indexOf(10, s)) {
    const e = p < 0 ? b.length : p;
    spans.push([s, e]);
    if (p < 0) break;
    s = p + 1;
  }
  return { b, spans };
}

const same = (text: string, pats: string[]) => {
  const { b, spans } = linesOf(text);
  for (const pat of pats) {
    const fast = mayHoldForTest(pat);
    const ref = mayHoldByIndexOf(pat);
    for (const [s, e] of spans)
      expect(fast(b, s, e), `${JSON.stringify(pat)} in ${b.toString('latin1', s, e)}`).toBe(ref(b, s, e));
  }
};

describe('mayHold = the same rule with Buffer searches', () => {
  it('on every line of the real and upstream dumps, for their addresses and names', () => {
    let n = 0;
    for (const s of iptSeeds) {
      const pats = [
        ...new Set([
          ...[...s.text.matchAll(/-d (\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!).slice(0, 5),
          ...[...s.text.matchAll(/--comment "?([a-z0-9.-]+\/[a-z0-9.-]+)/g)].map((m) => m[1]!).slice(0, 5),
        ]),
        '10.96',
        '192.0.2.254',
        '',
        'KUBE',
        '-d',
      ];
      same(s.text, pats);
      n += pats.length;
    }
    expect(n).toBeGreaterThan(50);
  });
  it('on lines made of the bytes the rule looks at', () => {
    fc.assert(
      fc.property(
        fc.array(
          line.map((p) => p.join('')),
          { maxLength: 8 },
        ),
        pat,
        (ls, p) => same(ls.join('\n'), [p]),
      ),
      { numRuns: RUNS * 20, seed: SEED },
    );
  });
});

describe("iptablesLinesNeeded's kept lines = every line skip() keeps", () => {
  const check = (input: string) => {
    const { lines } = iptablesByteLines(Buffer.from(input, 'utf8'), 'p');
    const qs: ServiceQuery[] = [
      ...[...input.matchAll(/-d (\d+\.\d+\.\d+\.\d+)/g)]
        .slice(0, 4)
        .map((m) => ({ kind: 'address', address: m[1]! }) as const),
      ...[...input.matchAll(/--comment "?([a-z0-9.-]+)\/([a-z0-9.-]+)/g)]
        .slice(0, 4)
        .map((m) => ({ kind: 'name', namespace: m[1]!, name: m[2]! }) as const),
      { kind: 'address', address: '192.0.2.254' },
    ];
    for (const q of qs) {
      const keep = (f: ServiceEntry['frontend'], name: string | undefined) =>
        serviceMatches(name === undefined ? { frontend: f } : { frontend: f, name }, q);
      const need = iptablesLinesNeeded(
        lines,
        4,
        keep,
        q.kind === 'address' ? { address: q.address } : { name: `${q.namespace}/${q.name}` },
      );
      const walked: number[] = [];
      for (let i = 0; i < lines.length; i++) if (!need.skip(i)) walked.push(i);
      expect([...need.skip.kept], JSON.stringify(q)).toEqual(walked);
    }
  };
  it('on the real and upstream dumps', () => {
    for (const s of iptSeeds) check(s.text);
  });
  it('on fuzzed dumps', () => {
    fc.assert(fc.property(inputs(iptSeeds), check), { numRuns: RUNS, seed: SEED });
  });
});

describe('mayHoldKeeping = mayHold, then mayHold of the lines it left out', () => {
  const same = (text: string, first: string, others: string[]) => {
    const { b, spans } = linesOf(text);
    const k = mayHoldKeeping(first);
    const ref = mayHoldByIndexOf(first);
    const left: number[] = [];
    spans.forEach(([s, e], idx) => {
      const got = k.test(b, s, e, idx);
      expect(got, `${JSON.stringify(first)} in ${b.toString('latin1', s, e)}`).toBe(ref(b, s, e));
      if (!got) left.push(idx);
    });
    for (const o of others) {
      const r = mayHoldByIndexOf(o);
      const want = left.filter((idx) => r(b, spans[idx]![0], spans[idx]![1]));
      expect(
        [...k.holding(o)].sort((x, y) => x - y),
        `${JSON.stringify(first)} then ${JSON.stringify(o)}`,
      ).toEqual(want);
    }
    return left.length;
  };
  it('on every line of the real and upstream dumps, by their names then their addresses', () => {
    let left = 0;
    for (const s of iptSeeds) {
      const names = [...s.text.matchAll(/--comment "?([a-z0-9.-]+\/[a-z0-9.-]+)/g)].map((m) => m[1]!).slice(0, 5);
      const addrs = [...new Set([...s.text.matchAll(/-d (\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!))].slice(0, 8);
      for (const n of [...new Set(names), 'ns/none']) left += same(s.text, n, [...addrs, '10.96', '', 'KUBE']);
    }
    // the second question was asked of lines the first left out
    expect(left).toBeGreaterThan(50);
  });
  it('on lines made of the bytes the rule looks at', () => {
    fc.assert(
      fc.property(
        fc.array(
          line.map((p) => p.join('')),
          { maxLength: 8 },
        ),
        pat,
        fc.array(pat, { maxLength: 3 }),
        (ls, p, os) => {
          same(ls.join('\n'), p, os);
        },
      ),
      { numRuns: RUNS * 20, seed: SEED },
    );
  });
});
