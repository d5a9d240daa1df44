import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flowQuery, MAX_FLOW_ENTRIES } from '../../src/collect/conntrack.js';
import { flowSourceQuery, narrowSourceScan, SOURCE_SCAN_MAX } from '../../src/collect/flow-conntrack.js';
import { parseConntrackFull, scanConntrackText, type ScanResult } from '../../src/tools/conntrack/index.js';
import { ParseError } from '../../src/tools/parse-error.js';
import type { Flow } from '../../src/model/trace.js';
import type { Family } from '../../src/model/types.js';
import { filesUnder } from '../helpers/files.js';

// The trace scans its conntrack table for the flow's tuples to any destination before the Services are loaded, and
// narrows that to the backends afterwards (collect/flow-conntrack.ts). Whenever it narrows, the answer must be the
// exact scan's (flowQuery with the backends, the trace's limit): same entries, cut, lines, bytes and warnings.

const FIX = new URL('../../fixtures/', import.meta.url).pathname;
const FILES = [
  ...filesUnder(`${FIX}tools/conntrack`, /\.txt$/),
  ...filesUnder(`${FIX}snapshots`, /conntrack[46]\.txt$/),
].filter((f) => !f.endsWith('.stderr.txt'));

type Result = Omit<ScanResult, 'parsed'> | 'parse-error';
/** what the trace keeps of a scan (`parsed` counts the source scan's own full parses, and is not kept) */
function scan(text: string, q: ReturnType<typeof flowQuery>, maxEntries: number): ScanResult | 'parse-error' {
  try {
    return scanConntrackText(text, q, { probe: 'conntrack4', maxEntries });
  } catch (e) {
    if (e instanceof ParseError) return 'parse-error';
    throw e;
  }
}
const kept = (r: ScanResult | 'parse-error'): Result => {
  if (r === 'parse-error') return r;
  const { parsed: _parsed, ...rest } = r;
  return rest;
};

/** The narrowed answer, or undefined where the trace would run the exact scan. */
function narrowed(
  text: string,
  flow: Flow,
  family: Family,
  alsoDst: { address: string; port: number }[],
  max: number,
  sourceMax = SOURCE_SCAN_MAX,
): Result | undefined {
  const pre = scan(text, flowSourceQuery(flow, family), sourceMax);
  // the worker fails; the trace reads the table itself
  if (pre === 'parse-error') return undefined;
  const r = narrowSourceScan(pre, flow, family, alsoDst, max);
  return r === undefined ? undefined : kept(r);
}

describe('flowSourceQuery then narrowSourceScan = flowQuery with the backends', () => {
  it('every bundled conntrack capture: each entry as a flow, its reply source as a backend', () => {
    expect(FILES.length).toBeGreaterThan(8);
    let compared = 0;
    for (const f of FILES) {
      const text = readFileSync(f, 'utf8');
      let entries: ReturnType<typeof parseConntrackFull>['value']['entries'];
      try {
        entries = parseConntrackFull(text, 'c').value.entries;
      } catch {
        continue;
      }
      for (const e of entries.slice(0, 40)) {
        if (e.proto !== 'tcp' && e.proto !== 'udp' && e.proto !== 'icmp' && e.proto !== 'icmpv6') continue;
        const proto = e.proto === 'icmpv6' ? 'icmp' : e.proto;
        const family = e.family;
        const backend = { address: e.reply.src, port: e.reply.sport ?? 0 };
        for (const flow of [
          { src: e.orig.src, dst: e.orig.dst, proto } as Flow,
          {
            src: e.orig.src,
            dst: e.orig.dst,
            proto,
            ...(e.orig.dport !== undefined ? { dport: e.orig.dport } : {}),
            ...(e.orig.sport !== undefined ? { sport: e.orig.sport } : {}),
          } as Flow,
        ])
          for (const alsoDst of [[], [backend]])
            for (const max of [1, MAX_FLOW_ENTRIES]) {
              const got = narrowed(text, flow, family, alsoDst, max);
              if (got === undefined) continue;
              expect(got, `${f} ${JSON.stringify({ flow, alsoDst, max })}`).toEqual(
                kept(scan(text, flowQuery(flow, family, alsoDst), max)),
              );
              compared++;
            }
      }
    }
    // the narrowing answered most questions (a comparison that always falls back proves nothing)
    expect(compared).toBeGreaterThan(300);
  });

  // fuzzed tables: real lines with their addresses and ports drawn from small pools (so that flows, backends and
  // lines meet often), words dropped or replaced; flows, backends and both limits drawn from the same pools
  const LINES = FILES.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => /src=/.test(l) || /^conntrack v/.test(l)),
  );
  const V4 = ['10.244.1.5', '10.96.0.10', '10.244.2.7', '192.0.2.1'];
  const V6 = ['2001:db8::5', 'fd00::10', '2001:db8::7'];
  const PORTS = [80, 53, 8080, 50000, 50001];
  const HOSTILE = ['', 'src=', 'dst=10.96.0.10', 'sport=x', '[UNREPLIED]', 'ipv4', 'udp'];
  const line = fc
    .tuple(
      fc.constantFrom(...LINES),
      fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.nat()), { maxLength: 2 }),
    )
    .map(([l, picks, edits]) => {
      // every address and port from the pools, then a few words dropped or replaced
      let k = 0;
      const w = l.split(' ').map((word) => {
        const m = /^(src|dst|sport|dport)=/.exec(word);
        if (!m) return word;
        const pick = picks[k++ % picks.length]!;
        if (m[1] === 'sport' || m[1] === 'dport') return `${m[0]}${PORTS[pick % PORTS.length]}`;
        const pool = word.includes(':') ? V6 : V4;
        return `${m[0]}${pool[pick % pool.length]}`;
      });
      for (const [at, op, pick] of edits) {
        const i = at % w.length;
        if (op === 0) w.splice(i, 1);
        else if (op === 1) w[i] = HOSTILE[pick % HOSTILE.length]!;
      }
      return w.join(' ');
    });
  const table = fc
    .tuple(fc.array(line, { maxLength: 60 }), fc.boolean())
    .map(([ls, terminated]) => ls.join('\n') + (terminated && ls.length ? '\n' : ''));
  const flowArb = fc
    .record({
      v6: fc.boolean(),
      s: fc.nat(),
      d: fc.nat(),
      proto: fc.constantFrom('tcp', 'udp', 'icmp'),
      sport: fc.option(fc.constantFrom(...PORTS), { nil: undefined }),
      dport: fc.option(fc.constantFrom(...PORTS), { nil: undefined }),
      backends: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...PORTS)), { maxLength: 3 }),
    })
    .map((r) => {
      const pool = r.v6 ? V6 : V4;
      const flow: Flow = {
        src: pool[r.s % pool.length]!,
        dst: pool[r.d % pool.length]!,
        proto: r.proto as Flow['proto'],
      };
      if (r.proto !== 'icmp' && r.sport !== undefined) flow.sport = r.sport;
      if (r.proto !== 'icmp' && r.dport !== undefined) flow.dport = r.dport;
      const alsoDst = r.backends.map(([k, port]) => ({ address: pool[k % pool.length]!, port }));
      return { flow, family: (r.v6 ? 6 : 4) as Family, alsoDst };
    });

  it('property: fuzzed tables, flows, backends and limits', () => {
    let compared = 0;
    let declined = 0;
    fc.assert(
      fc.property(
        table,
        flowArb,
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 12 }),
        (t, { flow, family, alsoDst }, max, sourceMax) => {
          const got = narrowed(t, flow, family, alsoDst, max, sourceMax);
          if (got === undefined) {
            declined++;
            return;
          }
          expect(got).toEqual(kept(scan(t, flowQuery(flow, family, alsoDst), max)));
          compared++;
        },
      ),
      { numRuns: 3000, seed: 20261207 },
    );
    expect(compared).toBeGreaterThan(1000);
    // and the refusals were exercised: cut scans and warned lines
    expect(declined).toBeGreaterThan(50);
  });

  it('declines a source scan that was cut, an answer the exact scan would cut, and a scan that warned', () => {
    const l = (sport: number, dst: string) =>
      `tcp      6 431999 ESTABLISHED src=10.244.1.5 dst=${dst} sport=${sport} dport=80 src=${dst} dst=10.244.1.5 sport=80 dport=${sport} [ASSURED] mark=0 use=1`;
    const text = [l(50000, '10.96.0.10'), l(50001, '192.0.2.1'), l(50002, '10.96.0.10')].join('\n') + '\n';
    const flow: Flow = { src: '10.244.1.5', dst: '10.96.0.10', proto: 'tcp', dport: 80 };
    const pre = scan(text, flowSourceQuery(flow, 4), 100) as ScanResult;
    expect(pre.entries.map((e) => e.orig.sport)).toEqual([50000, 50001, 50002]);
    // narrowed: the two tuples to 10.96.0.10
    expect(narrowSourceScan(pre, flow, 4, [], 2)?.entries.map((e) => e.orig.sport)).toEqual([50000, 50002]);
    // with the third as a backend: three entries, more than a limit of 2 (the exact scan would stop at the third)
    expect(narrowSourceScan(pre, flow, 4, [{ address: '192.0.2.1', port: 80 }], 2)).toBeUndefined();
    // the source scan stopped at its own limit
    expect(narrowSourceScan(scan(text, flowSourceQuery(flow, 4), 2) as ScanResult, flow, 4, [], 2)).toBeUndefined();
    // a skipped line: a warning the exact scan may not have given
    const warned = scan(`${text}tcp 6 src=10.244.1.5 dst=10.96.0.10 sport=1\n`, flowSourceQuery(flow, 4), 100);
    expect((warned as ScanResult).warnings.length).toBeGreaterThan(0);
    expect(narrowSourceScan(warned as ScanResult, flow, 4, [], 2)).toBeUndefined();
  });
});
