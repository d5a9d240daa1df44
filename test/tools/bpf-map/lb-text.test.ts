import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToIp } from '../../../src/model/addr.js';
import { hex, ip } from '../../../src/tools/bpf-map/lb-maps.js';

// The whole decode writes every entry's bytes as hex and its addresses as text, ~30 times per Service: the two
// helpers build the text without a copy per call, and must give the plain forms' text for any array of numbers
// (bytes, and the non-bytes a hand-edited dump could hold), at any offset and length.
const plainHex = (b: number[]) => b.map((x) => x.toString(16).padStart(2, '0')).join(' ');
const plainIp = (b: number[], o: number, n: number) => bytesToIp(Uint8Array.from(b.slice(o, o + n)));

const num = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.integer({ min: 0, max: 255 }),
  fc.integer({ min: -300, max: 70000 }),
  fc.double({ noNaN: false }),
  fc.constant(-0),
);

describe('LB-map text helpers = the plain forms', () => {
  it('property: hex of any numbers', () => {
    fc.assert(
      fc.property(fc.array(num, { maxLength: 24 }), (b) => {
        expect(hex(b)).toBe(plainHex(b));
      }),
      { numRuns: 3000, seed: 20261207 },
    );
  });
  it('property: an IPv4 or IPv6 address at any offset, also past the end', () => {
    fc.assert(
      fc.property(fc.array(num, { maxLength: 24 }), fc.nat(24), fc.constantFrom(4, 16), (b, o, n) => {
        let want: string | Error;
        try {
          want = plainIp(b, o, n);
        } catch (e) {
          want = e as Error;
        }
        if (want instanceof Error) expect(() => ip(b, o, n)).toThrow();
        else expect(ip(b, o, n)).toBe(want);
      }),
      { numRuns: 3000, seed: 20261207 },
    );
    expect(ip([10, 0, 0, 1], 0, 4)).toBe('10.0.0.1');
  });
});
