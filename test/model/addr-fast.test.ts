import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonIp, canonIpByRegex, familyByRegex, familyOf, ipToBytes, ipToBytesByRegex } from '../../src/model/addr.js';
import { RUNS, SEED } from '../fuzz/harness.js';

// canonIp and familyOf read the usual address forms by hand and the rest through node:net's checks
// (canonIpByRegex, familyByRegex): on every input both must give the same answer.

const same = (s: string) => {
  expect(canonIp(s), JSON.stringify(s)).toBe(canonIpByRegex(s));
  expect(familyOf(s), JSON.stringify(s)).toBe(familyByRegex(s));
  expect(ipToBytes(s), JSON.stringify(s)).toEqual(ipToBytesByRegex(s));
};

describe('canonIp: hand-read forms give what node:net gives', () => {
  it('at the edges of each form', () => {
    const edges = [
      ...['0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1.2.3.', '.1.2.3', '1..2.3'],
      ...['1.2.3.04', '10.244.1.12', ' 10.0.0.1', '10.0.0.1 ', '1.2.3.4/32', '1.2.3.-4', '１.2.3.4', '1.2.3.4\n'],
      ...[
        '::',
        '::1',
        '1::',
        '1:',
        ':1',
        ':::',
        '1:::2',
        '::1::',
        '1:2:3:4:5:6:7:8',
        '1:2:3:4:5:6:7::',
        '::1:2:3:4:5:6:7',
      ],
      ...['1::2:3:4:5:6:7', '1:2:3:4::5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '00000::1', '0000::1', 'FE80::A'],
      ...['fe80::dcc8:40ff:fefd:9073', '2001:db8::', '2001:0db8:0000:0000:0000:0000:0000:0001', '::ffff:1.2.3.4'],
      ...['fe80::1%eth0', '1:2:3:4:5:6:1.2.3.4', 'g::1', '::g', '1:2::3:4::', '', ':', '.', 'default', 'x:y'],
    ];
    for (const e of edges) same(e);
  });

  it('on generated addresses and address-like strings', () => {
    const chars = fc.constantFrom(...'0123456789abcdefABCDEFg:.% '.split(''));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.ipV4(),
          fc.ipV4Extended(),
          fc.ipV6(),
          fc.ipV6().map((s) => s.toUpperCase()),
          // runs of groups with a `::` somewhere: 5 to 9 groups around it
          fc
            .tuple(fc.array(fc.constantFrom('0', 'a', 'ffff'), { minLength: 5, maxLength: 9 }), fc.nat(9))
            .map(([g, at]) => `${g.slice(0, at).join(':')}::${g.slice(at).join(':')}`),
          fc.array(chars, { maxLength: 45 }).map((a) => a.join('')),
          fc
            .array(fc.constantFrom('0', '1', 'ff', '0000', 'abcd', '12345', ':', '::', '.'), { maxLength: 12 })
            .map((a) => a.join('')),
        ),
        (s) => {
          same(s);
        },
      ),
      { numRuns: RUNS * 300, seed: SEED },
    );
  });
});
