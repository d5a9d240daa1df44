import { describe, expect, it } from 'vitest';
import { kubeProxyServicesFromNft, nftChainServiceName } from '../../../src/analysis/kube-proxy/index.js';
import { parseNftRuleset } from '../../../src/tools/nft/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { expectedSummaries, read, readJson, summarise, type ExpectedSvc } from '../../helpers/kube-proxy.js';

const spec = readJson('upstream/nftables__TestOverallNFTablesRules.services.json');
const want = expectedSummaries(spec.expected_service_extraction as ExpectedSvc[], 'nftEndpointChain', '0.0.0.0', true);

describe('kube-proxy nftables mode: the same Services from three renderings of one ruleset', () => {
  const inputs: [string, string][] = [
    [
      'nft -f transaction (kube-proxy test corpus)',
      'upstream/nftables__TestOverallNFTablesRules.expected.nft-transaction.txt',
    ],
    ['nft list ruleset (kernel, nft 1.0.6)', 'nft/nft-list-ruleset.kube-proxy-nftables-mode.txt'],
    ['nft -j list ruleset (kernel, nft 1.0.6)', 'nft/nft-j-list-ruleset.kube-proxy-nftables-mode.json'],
  ];
  for (const [label, file] of inputs) {
    it(label, () => {
      const p = parseNftRuleset(read(file), 'nft-ruleset');
      expect(p.warnings).toEqual([]);
      const s = kubeProxyServicesFromNft(p.value, 'nft-ruleset');
      expect(s.warnings).toEqual([]);
      expect(s.value.map(summarise).sort()).toEqual(want);
      const svc5lb = s.value.find((e) => e.frontend.address === '5.6.7.8')!;
      expect(svc5lb).toMatchObject({
        type: 'LoadBalancer',
        sourceRanges: ['203.0.113.0/25'],
        flags: { sessionAffinity: true, affinityTimeoutSeconds: 10800, sourceRangeCheck: true },
      });
      const svc4 = s.value.find((e) => e.frontend.address === '172.30.0.44')!;
      expect(svc4.backends.map((b) => [b.address, b.probability, b.proto])).toEqual([
        ['10.180.0.4', 0.5, 'TCP'],
        ['10.180.0.5', 0.5, 'TCP'],
      ]);
      expect(svc4.chain).toBe('service-LAUZTJTB-ns4/svc4/tcp/p80');
      expect(svc4.source).toBe('kube-proxy-nftables');
      const svc2ext = s.value.find((e) => e.frontend.address === '192.168.99.22')!;
      expect(svc2ext).toMatchObject({ noEndpoints: 'drop', backends: [], flags: { externalTrafficPolicyLocal: true } });
      expect(s.value.find((e) => e.frontend.address === '1.2.3.4')!.flags.raw).toContain('external-ip-or-loadbalancer');
    });
  }

  it('the nftables TestSyncProxyRulesRepeated state', () => {
    const sp = readJson('upstream/nftables__TestSyncProxyRulesRepeated.services.json');
    const p = parseNftRuleset(
      read('upstream/nftables__TestSyncProxyRulesRepeated.step1-full-state.nft-transaction.txt'),
      'nft',
    );
    const s = kubeProxyServicesFromNft(p.value, 'nft');
    const exp = (sp.expected_service_extraction ?? sp.steps?.[0]?.expected_service_extraction) as ExpectedSvc[];
    expect(s.value.map(summarise).sort()).toEqual(expectedSummaries(exp, 'nftEndpointChain', '0.0.0.0', true));
  });

  it('chain names give the service port name', () => {
    expect(nftChainServiceName('endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80')).toBe('ns5/svc5:p80');
    expect(nftChainServiceName('service-ABCDEFGH-kube-system/metrics-server/tcp/')).toBe('kube-system/metrics-server');
  });
});

describe('parseNftRuleset on other and damaged input', () => {
  it('iptables-nft tables keep their xt statements as unknown (no Services claimed from them)', () => {
    const p = parseNftRuleset(read('nft/nft-j-list-ruleset.iptables-nft-kubeproxy+cilium-like.json'), 'nft');
    const nat = p.value.tables.find((t) => t.family === 'ip' && t.name === 'nat')!;
    const sep = nat.chains.find((c) => c.name === 'KUBE-SEP-I77PXRDZVX7PMWMN')!;
    expect(sep.rules.some((r) => r.unknown?.includes('xt target DNAT'))).toBe(true);
    expect(kubeProxyServicesFromNft(p.value, 'nft').value).toEqual([]);
  });

  it('a truncated listing warns and keeps what it read', () => {
    const text = read('nft/nft-list-ruleset.kube-proxy-nftables-mode.txt');
    const cut = text.slice(0, text.indexOf('chain service-LAUZTJTB'));
    const p = parseNftRuleset(cut, 'nft');
    expect(p.warnings.map((w) => w.code)).toContain('nft-truncated');
    const s = kubeProxyServicesFromNft(p.value, 'nft');
    const svc4 = s.value.find((e) => e.frontend.address === '172.30.0.44')!;
    expect(svc4.backends).toEqual([]);
    expect(svc4.incomplete).toMatch(/service-LAUZTJTB-ns4\/svc4\/tcp\/p80/);
  });

  it('garbage throws ParseError; JSON without the envelope too', () => {
    expect(() => parseNftRuleset('hello world\nfoo bar', 'nft')).toThrow(ParseError);
    expect(() => parseNftRuleset('{"__proto__": {"nftables": []}}', 'nft')).toThrow(ParseError);
    expect(() => parseNftRuleset('{"nftables": [', 'nft')).toThrow(ParseError);
  });

  it('an unknown statement is a warning naming the line', () => {
    const p = parseNftRuleset('table ip t {\n\tchain c {\n\t\tfrobnicate 7 accept\n\t}\n}\n', 'nft');
    expect(p.warnings).toEqual([
      { code: 'nft-unknown-statement', message: 'line 3: statement(s) not understood: frobnicate 7', source: 'nft' },
    ]);
    expect(p.value.tables[0]!.chains[0]!.rules[0]!.verdict).toEqual({ kind: 'accept' });
  });
});
