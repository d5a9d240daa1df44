import { describe, expect, it } from 'vitest';
import { kubeProxyServicesFromIptables } from '../../../src/analysis/kube-proxy/index.js';
import { parseIptablesSave } from '../../../src/tools/iptables/index.js';
import { traceKubeProxyIptables } from '../../helpers/trace-iptables.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { expectedSummaries, read, readJson, summarise, type ExpectedSvc } from '../../helpers/kube-proxy.js';

const CAPTURE = 'iptables-save/iptables-save.kubeproxy-iptables-mode+cilium-like.nft-backend.txt';

describe('parseIptablesSave on real iptables-save output (iptables 1.8.9, nf_tables)', () => {
  const p = parseIptablesSave(read(CAPTURE), 'iptables-save');

  it('reads header, tables, policies and counters', () => {
    expect(p.warnings).toEqual([]);
    expect(p.value.family).toBe(4);
    expect(p.value.backend).toBe('nf_tables');
    expect(p.value.tables.map((t) => t.name)).toEqual(['mangle', 'raw', 'filter', 'nat']);
    const pre = p.value.tables.find((t) => t.name === 'nat')!.chains.find((c) => c.name === 'PREROUTING')!;
    expect(pre).toMatchObject({ policy: 'ACCEPT', packets: 0, bytes: 0, declared: true });
    expect(pre.rules.map((r) => r.target?.name)).toEqual(['KUBE-SERVICES', 'CILIUM_PRE_nat']);
  });

  it('keeps match modules, negation and target options as token lists', () => {
    const post = p.value.tables.find((t) => t.name === 'nat')!.chains.find((c) => c.name === 'KUBE-POSTROUTING')!;
    const ret = post.rules[0]!;
    expect(ret.matches).toEqual([
      { module: 'mark', options: [{ name: 'mark', negated: true, args: ['0x4000/0x4000'] }] },
    ]);
    expect(post.rules[1]!.target).toEqual({
      name: 'MARK',
      goto: false,
      options: [{ name: 'set-xmark', negated: false, args: ['0x4000/0x0'] }],
    });
    const sep = p.value.tables
      .find((t) => t.name === 'nat')!
      .chains.find((c) => c.name === 'KUBE-SEP-I77PXRDZVX7PMWMN')!;
    const dnat = sep.rules.find((r) => r.target?.name === 'DNAT')!;
    expect(dnat.matches.find((m) => m.module === 'recent')!.options.map((o) => o.name)).toEqual([
      'set',
      'name',
      'mask',
      'rsource',
    ]);
    expect(dnat.comment).toBe('ns5/svc5:p80');
  });

  it('extracts the same Services from the kernel-canonicalised dump as from kube-proxy’s restore input', () => {
    const spec = readJson('upstream/iptables__TestOverallIPTablesRules.services.json');
    const s = kubeProxyServicesFromIptables(p.value, 'iptables-save');
    expect(s.warnings).toEqual([]);
    expect(s.value.map(summarise).sort()).toEqual(
      expectedSummaries(spec.expected_service_extraction as ExpectedSvc[], 'iptablesSEPChain', '0.0.0.0'),
    );
    const svc4 = s.value.find((e) => e.frontend.address === '172.30.0.44')!;
    // iptables-save prints 0.50000000000 (11 decimals)
    expect(svc4.backends.map((b) => b.probability)).toEqual([0.5, 0.5]);
    expect(svc4.source).toBe('kube-proxy-iptables');
    expect(svc4.backends[0]!.source.text).toBe(
      '-A KUBE-SEP-UKSFD7AGPMPPLUHC -p tcp -m comment --comment "ns4/svc4:p80" -m tcp -j DNAT --to-destination 10.180.0.4:80',
    );
  });

  it('traces through the real hooks: PREROUTING → KUBE-SERVICES, and Cilium chains do not disturb it', () => {
    const r = traceKubeProxyIptables(p.value, {
      src: '10.0.0.2',
      dst: '172.30.0.41',
      proto: 'tcp',
      dport: 80,
      origin: 'outside',
      localAddresses: ['192.168.0.2'],
    });
    expect(r.branches.map((b) => [b.dnat?.address, b.dnat?.port, b.masquerade])).toEqual([['10.180.0.1', 80, false]]);
  });

  it('an empty ip6tables-save is an empty ruleset', () => {
    const e = parseIptablesSave(read('iptables-save/ip6tables-save.empty.nft-backend.txt'), 'ip6tables-save');
    expect(e).toEqual({ value: { tables: [] }, warnings: [] });
  });
});

describe('parseIptablesSave on damaged input', () => {
  const full = read(CAPTURE);

  it('truncated mid-table: warns about the missing COMMIT and the chains it cannot see, keeps the rest', () => {
    const lines = full.split('\n');
    const cut = lines.findIndex((l) =>
      l.startsWith('-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.180.0.5:80"'),
    );
    const p = parseIptablesSave(lines.slice(0, cut).join('\n'), 'iptables-save');
    const msgs = p.warnings.map((w) => `${w.code} ${w.message}`);
    expect(msgs).toContain(`iptables-no-commit line ${cut}: table nat ends without COMMIT (truncated dump?)`);
    const s = kubeProxyServicesFromIptables(p.value, 'iptables-save');
    expect(s.warnings.map((w) => w.code)).toContain('kube-proxy-truncated');
    const svc4 = s.value.find((e) => e.frontend.address === '172.30.0.44')!;
    // the cut left one of two endpoints: kept, but flagged
    expect(svc4.backends.map((b) => b.address)).toEqual(['10.180.0.4']);
    expect(svc4.incomplete).toMatch(/no COMMIT/);
    const svc2 = s.value.find((e) => e.frontend.address === '172.30.0.42')!;
    expect(svc2.backends).toEqual([]);
    expect(svc2.incomplete).toMatch(/no COMMIT/);
    // the filter table came before the cut and is complete
    expect(s.value.find((e) => e.frontend.address === '172.30.0.46')!.noEndpoints).toBe('reject');
  });

  it('a rule jumping to an undeclared chain names the line', () => {
    const p = parseIptablesSave(
      '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y\nCOMMIT\n',
      'iptables-save',
    );
    expect(p.warnings).toEqual([
      {
        code: 'iptables-missing-chain',
        message: 'line 3: nat KUBE-SERVICES jumps to KUBE-SVC-NPX46M4PTMTKRN6Y, which is not defined in this dump',
        source: 'iptables-save',
      },
    ]);
    const s = kubeProxyServicesFromIptables(p.value, 'iptables-save');
    expect(s.value[0]).toMatchObject({
      name: 'default/kubernetes:https',
      type: 'ClusterIP',
      frontend: { address: '10.96.0.1', port: 443, proto: 'TCP' },
      backends: [],
    });
    expect(s.value[0]!.incomplete).toMatch(/KUBE-SVC-NPX46M4PTMTKRN6Y/);
  });

  it('unknown match modules and garbage lines are warnings naming the line; the rest is parsed', () => {
    const text = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      '-A INPUT -m frobnicate --wibble 3 -j DROP',
      'this is not iptables',
      '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT',
      'COMMIT',
    ].join('\n');
    const p = parseIptablesSave(text, 'iptables-save');
    expect(p.warnings.map((w) => [w.code, w.message.split(':')[0]])).toEqual([
      ['iptables-unknown-match', 'line 3'],
      ['iptables-unknown-line', 'line 4'],
    ]);
    const input = p.value.tables[0]!.chains[0]!;
    expect(input.rules.map((r) => r.target?.name)).toEqual(['DROP', 'ACCEPT']);
    expect(input.rules[0]!.unknownModules).toEqual(['frobnicate']);
    expect(input.rules[1]!.matches.find((m) => m.module === 'tcp')!.options[0]).toEqual({
      name: 'dport',
      negated: false,
      args: ['22'],
    });
  });

  it('a rule with an unknown module is reported as unknown by the tracer, not as a match', () => {
    const text =
      '*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m frobnicate -j DNAT --to-destination 10.0.0.9:443\nCOMMIT\n';
    const p = parseIptablesSave(text, 'iptables-save');
    const r = traceKubeProxyIptables(p.value, {
      src: '10.0.0.2',
      dst: '10.96.0.1',
      proto: 'tcp',
      dport: 443,
      origin: 'outside',
      localAddresses: [],
    });
    expect(r.branches.map((b) => b.dnat)).toEqual([undefined]);
    expect(r.unknown.map((e) => e.text)).toEqual([
      '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m frobnicate -j DNAT --to-destination 10.0.0.9:443',
    ]);
  });

  it('binary garbage throws ParseError; unbalanced quotes are a line warning', () => {
    expect(() => parseIptablesSave('\u0000\u0001\u0002garbage\n{"x":1}', 'iptables-save')).toThrow(ParseError);
    const p = parseIptablesSave(
      '*nat\n:X - [0:0]\n-A X -m comment --comment "open -j ACCEPT\nCOMMIT\n',
      'iptables-save',
    );
    expect(p.warnings.map((w) => w.code)).toEqual(['iptables-bad-rule']);
    expect(p.value.tables[0]!.chains[0]!.rules).toEqual([]);
  });

  it('__proto__ as a chain name stays data', () => {
    const p = parseIptablesSave('*nat\n:__proto__ - [0:0]\n-A __proto__ -j RETURN\nCOMMIT\n', 'iptables-save');
    expect(p.value.tables[0]!.chains[0]!.name).toBe('__proto__');
    expect(({} as Record<string, unknown>).RETURN).toBeUndefined();
  });
});
