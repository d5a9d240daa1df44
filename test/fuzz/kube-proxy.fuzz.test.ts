import { describe, expect, it } from 'vitest';
import { kubeProxyServicesFromIptables, kubeProxyServicesFromNft } from '../../src/analysis/kube-proxy/index.js';
import { parseIptablesSave } from '../../src/tools/iptables/index.js';
import { parseIpvsadm } from '../../src/tools/ipvsadm/index.js';
import { parseNftRuleset } from '../../src/tools/nft/index.js';
import { canonIp } from '../../src/model/addr.js';
import type { ServiceEntry } from '../../src/model/service.js';
import { contract, DEEP_ARRAY, defineFuzz, enormous, eq, seeds } from './harness.js';

function services(ss: ServiceEntry[]): void {
  for (const s of ss) {
    eq(canonIp(s.frontend.address) !== null || s.frontend.address === '', true, s.frontend.address);
    for (const b of s.backends) {
      eq(canonIp(b.address), b.address, b.address);
      if (b.probability !== undefined) eq(b.probability >= 0 && b.probability <= 1, true, String(b.probability));
    }
  }
}

const iptSeeds = [...seeds('kube-proxy/iptables-save'), ...seeds('kube-proxy/upstream', /iptables-restore\.txt$/)];
const nftSeeds = [...seeds('kube-proxy/nft'), ...seeds('kube-proxy/upstream', /nft-transaction\.txt$/)];

// The ruleset models keep iptables'/nft's own words (`-d 10.0.0.1/32`), so only the Service
// extraction on top of them is held to canonical addresses.
defineFuzz({ name: 'iptables-save', seeds: iptSeeds, parse: parseIptablesSave, addrKeys: false, runs: 40 });
defineFuzz({
  name: 'iptables-save → kube-proxy Services',
  seeds: iptSeeds,
  parse: (t, p) => {
    const rs = parseIptablesSave(t, p);
    const s = kubeProxyServicesFromIptables(rs.value, p);
    return { value: s.value, warnings: [...rs.warnings, ...s.warnings] };
  },
  check: services,
  runs: 40,
});
defineFuzz({ name: 'nft list ruleset', seeds: nftSeeds, parse: parseNftRuleset, addrKeys: false, runs: 40 });
defineFuzz({
  name: 'nft ruleset → kube-proxy Services',
  seeds: nftSeeds,
  parse: (t, p) => {
    const rs = parseNftRuleset(t, p);
    const s = kubeProxyServicesFromNft(rs.value, p);
    return { value: s.value, warnings: [...rs.warnings, ...s.warnings] };
  },
  check: services,
  runs: 40,
});
defineFuzz({
  name: 'ipvsadm -Sn/-Ln',
  seeds: seeds('kube-proxy/ipvsadm'),
  parse: (t, p) => parseIpvsadm(t, p),
  check: services,
});

describe('fuzz regressions (kube-proxy nft)', () => {
  const txt = seeds('kube-proxy/nft', /\.txt$/)[0]!.text;
  const tx = seeds('kube-proxy/upstream', /TestOverallNFTablesRules.*nft-transaction\.txt$/)[0]!.text;

  it('a ruleset cut right after `numgen random mod` keeps no NaN modulus', () => {
    const at = txt.indexOf('numgen random mod ') + 'numgen random mod'.length;
    expect(at).toBeGreaterThan(100);
    const rs = contract(() => parseNftRuleset(txt.slice(0, at) + '\n', 'p'), 'p', false)!;
    const rules = rs.tables.flatMap((t) => t.chains.flatMap((c) => c.rules));
    expect(rules.some((r) => r.numgen !== undefined && !Number.isInteger(r.numgen.mod))).toBe(false);
  });

  it('a transaction applied twice gives the same Services, not each one twice with doubled backends', () => {
    const once = kubeProxyServicesFromNft(parseNftRuleset(tx, 'p').value, 'p').value;
    const thrice = kubeProxyServicesFromNft(parseNftRuleset(tx + '\n' + tx + '\n' + tx, 'p').value, 'p').value;
    expect(thrice.length).toBe(once.length);
    const key = (ss: typeof once) =>
      ss
        .map(
          (s) =>
            `${s.type} ${s.frontend.address}:${s.frontend.port} -> ${[...new Set(s.backends.map((b) => `${b.address}:${b.port}`))].sort().join(',')}`,
        )
        .sort();
    expect(key(thrice)).toEqual(key(once));
  });

  it('5 MB of a repeated transaction is read without RangeError (push(...huge))', () => {
    const big = enormous(tx);
    const s = contract(() => {
      const rs = parseNftRuleset(big, 'p');
      return kubeProxyServicesFromNft(rs.value, 'p');
    }, 'p')!;
    expect(s.length).toBe(kubeProxyServicesFromNft(parseNftRuleset(tx, 'p').value, 'p').value.length);
  });

  it('a JSON match whose op is a 10k-deep array is read without RangeError (String() of it recursed)', () => {
    const doc = JSON.parse(seeds('kube-proxy/nft', /combined\.json$/)[0]!.text) as {
      nftables: Record<string, { expr?: { match?: { op?: unknown } }[] }>[];
    };
    const rule = doc.nftables.find((x) => x.rule?.expr?.[0]?.match !== undefined)!.rule!;
    rule.expr![0]!.match!.op = 'NP-DEEP';
    const text = JSON.stringify(doc).replace('"NP-DEEP"', DEEP_ARRAY);
    const rs = contract(() => parseNftRuleset(text, 'p'), 'p', false)!;
    expect(rs.tables.length).toBeGreaterThan(0);
  });
});

describe('fuzz regressions (ipvsadm)', () => {
  it('`-A __proto__ 10.96.0.1:443` is not a Service whose protocol is Object.prototype', () => {
    const text = seeds('kube-proxy/ipvsadm', /-Sn\./)[0]!.text;
    const good = contract(() => parseIpvsadm(text, 'p'), 'p')!;
    const bad = text.replace('-A -t 10.96.0.1:443', '-A __proto__ 10.96.0.1:443');
    expect(bad).not.toBe(text);
    const r = contract(() => parseIpvsadm(bad, 'p'), 'p')!;
    expect(r.every((s) => typeof s.frontend.proto === 'string')).toBe(true);
    expect(r.length).toBe(good.length - 1);
  });
});

describe('fuzz regressions (kube-proxy iptables)', () => {
  it('`-p __proto__` in a KUBE-SERVICES rule does not give a Service whose protocol is Object.prototype', () => {
    const text = seeds('kube-proxy/upstream', /TestOverallIPTablesRules\.expected/)[0]!.text;
    const line = text.split('\n').find((l) => l.startsWith('-A KUBE-SERVICES') && l.includes(' -p tcp '))!;
    const bad = text.replace(line, line.replace(' -p tcp ', ' -p __proto__ '));
    const rs = parseIptablesSave(bad, 'p');
    const r = contract(() => kubeProxyServicesFromIptables(rs.value, 'p'), 'p')!;
    expect(r.every((s) => typeof s.frontend.proto === 'string')).toBe(true);
  });
});
