import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseFlagWords, parseL3n4 } from '../../src/tools/cilium-lb/index.js';
import { parseHexOrDec } from '../../src/tools/ip/common.js';
import { canonIp } from '../../src/model/addr.js';
import { assertNoPollution, RUNS, SEED } from './harness.js';

// The pieces the whole-output parsers are built from, fuzzed on their own with the words real outputs put in
// front of them: they answer "not one" (null/undefined) or a value in range, and never throw.
const opts = { numRuns: RUNS * 10, ...(SEED !== undefined ? { seed: SEED } : {}) };
const WORDS = [
  '10.96.0.10',
  '[2001:db8::a]',
  '0.0.0.0',
  '[::]',
  '256.1.1.1',
  '[10.0.0.1]',
  ':',
  '53',
  '65535',
  '65536',
  '-1',
  '0x35',
  '/TCP',
  '/UDP',
  '/SCTP',
  '/ANY',
  '/i',
  '/__proto__',
  '/constructor',
  '__proto__',
  'ClusterIP',
  'NodePort',
  'LoadBalancer',
  'HostPort',
  'ExternalIPs',
  'LocalRedirect',
  'non-routable',
  'Local',
  'sessionAffinity',
  'l7-load-balancer',
  ',',
  ' ',
  '0x',
  '0xffffffff',
  '0x100000000',
  '4294967295',
  '4294967296',
  '',
  'é',
];
const text = fc.oneof(
  fc.array(fc.constantFrom(...WORDS), { maxLength: 8 }).map((w) => w.join('')),
  fc.string({ maxLength: 40 }),
);

describe('fuzz sub-parsers', () => {
  it('parseL3n4 (cilium frontends and backends): null, or a canonical address and a port', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseL3n4(t);
        assertNoPollution();
        if (r === null) return;
        expect(canonIp(r.address)).toBe(r.address);
        expect(Number.isInteger(r.port) && r.port >= 0 && r.port <= 65535).toBe(true);
        if (r.proto !== undefined) expect(['TCP', 'UDP', 'SCTP', 'ANY']).toContain(r.proto);
      }),
      opts,
    );
  });
  it('parseFlagWords (cilium service flags): a known type or none, every word kept or reported', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseFlagWords(t);
        assertNoPollution();
        expect(typeof r.flags.routable).toBe('boolean');
        if (r.type !== undefined) expect(typeof r.type).toBe('string');
        for (const u of r.unknown) expect(typeof u).toBe('string');
      }),
      opts,
    );
  });
  it('parseHexOrDec (ip rule/route marks and tables): undefined or a u32', () => {
    fc.assert(
      fc.property(text, (t) => {
        const r = parseHexOrDec(t);
        if (r !== undefined) expect(Number.isInteger(r) && r >= 0 && r <= 0xffffffff, `${t} → ${r}`).toBe(true);
      }),
      opts,
    );
  });
});
