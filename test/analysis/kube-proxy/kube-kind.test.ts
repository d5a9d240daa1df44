import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kubeKind } from '../../../src/analysis/kube-proxy/iptables.js';

// kubeKind replaced `/^KUBE-([A-Z]+)-/.exec(name)?.[1]` on the per-rule path: it must answer the same
const byRegex = (name: string) => /^KUBE-([A-Z]+)-/.exec(name)?.[1];

describe('kubeKind', () => {
  it('agrees with the expression on kube-proxy names and near misses', () => {
    for (const n of [
      'KUBE-SEP-V46HGDIREN5QP57V',
      'KUBE-SVC-K7ZVFMM3TUXRXRZR',
      'KUBE-MARK-MASQ',
      'KUBE-SERVICES',
      'KUBE-',
      'KUBE--X',
      'KUBE-SEP',
      'KUBE-SEP-',
      'KUBE-sep-X',
      'KUBE-FW1-X',
      'kube-SEP-X',
      'DNAT',
      '',
    ])
      expect(kubeKind(n)).toBe(byRegex(n));
  });
  it('agrees with the expression on generated names', () => {
    const part = fc.constantFrom('KUBE-', 'SEP', 'SVC', '-', 'a', 'Z', '1', 'XLB-', 'K');
    fc.assert(
      fc.property(fc.array(part, { maxLength: 6 }), fc.string({ maxLength: 4 }), (ps, tail) => {
        const n = ps.join('') + tail;
        expect(kubeKind(n)).toBe(byRegex(n));
      }),
      { numRuns: 2000, seed: 20261207 },
    );
  });
});
