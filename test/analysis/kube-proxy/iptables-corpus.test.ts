import { describe, expect, it } from 'vitest';
import { kubeProxyServicesFromIptables } from '../../../src/analysis/kube-proxy/index.js';
import { applyIptablesRestore, parseIptablesSave } from '../../../src/tools/iptables/index.js';
import { traceKubeProxyIptables } from '../../helpers/trace-iptables.js';
import { expectedSummaries, read, readJson, summarise, type ExpectedSvc } from '../../helpers/kube-proxy.js';

const UP = 'upstream/';

describe('kube-proxy iptables corpus (TestOverallIPTablesRules)', () => {
  const spec = readJson(UP + 'iptables__TestOverallIPTablesRules.services.json');
  const parsed = parseIptablesSave(read(UP + spec.expected_dump_file), 'iptables-save');
  const svcs = kubeProxyServicesFromIptables(parsed.value, 'iptables-save', 4);

  it('parses the dump without warnings', () => {
    expect(parsed.warnings).toEqual([]);
    expect(svcs.warnings).toEqual([]);
    expect(parsed.value.tables.map((t) => t.name)).toEqual(['filter', 'nat']);
  });

  it('extracts exactly the service ports, frontends and endpoints the test encodes', () => {
    const got = svcs.value.map(summarise).sort();
    expect(got).toEqual(
      expectedSummaries(spec.expected_service_extraction as ExpectedSvc[], 'iptablesSEPChain', '0.0.0.0'),
    );
  });

  it('names the kube-proxy chains of each service port', () => {
    for (const s of spec.expected_service_extraction as ExpectedSvc[]) {
      const cip = svcs.value.find((e) => e.type === 'ClusterIP' && e.frontend.address === s.clusterIP)!;
      if (s.chains.svc) expect(cip.chain).toBe(s.chains.svc);
      const ext = svcs.value.filter(
        (e) => e.name === s.servicePortName && (e.type === 'ExternalIP' || e.type === 'NodePort'),
      );
      for (const e of ext) expect(e.chain).toBe(s.chains.ext);
      const lb = svcs.value.filter((e) => e.name === s.servicePortName && e.type === 'LoadBalancer');
      for (const e of lb) expect(e.chain).toBe(s.chains.fw ?? s.chains.ext);
    }
  });

  it('computes effective endpoint probabilities, affinity, eTP=Local, source ranges', () => {
    const svc4 = svcs.value.find((e) => e.frontend.address === '172.30.0.44')!;
    expect(svc4.backends.map((b) => [b.address, b.probability])).toEqual([
      ['10.180.0.4', 0.5],
      ['10.180.0.5', 0.5],
    ]);
    expect(svc4.flags.raw).toContain('masquerade:!src 10.0.0.0/8');
    const svc5lb = svcs.value.find((e) => e.frontend.address === '5.6.7.8')!;
    expect(svc5lb.flags).toMatchObject({
      sessionAffinity: true,
      affinityTimeoutSeconds: 10800,
      sourceRangeCheck: true,
    });
    expect(svc5lb.sourceRanges).toEqual(['203.0.113.0/25']);
    const svc5 = svcs.value.find((e) => e.frontend.address === '172.30.0.45')!;
    expect(svc5.flags.affinityTimeoutSeconds).toBe(10800);
    const svc2ext = svcs.value.find((e) => e.frontend.address === '192.168.99.22')!;
    expect(svc2ext.flags.externalTrafficPolicyLocal).toBe(true);
    expect(svc2ext.noEndpoints).toBe('drop');
    const svc6 = svcs.value.find((e) => e.frontend.address === '172.30.0.46')!;
    expect(svc6).toMatchObject({ name: 'ns6/svc6:p80', noEndpoints: 'reject', backends: [] });
  });
});

describe('kube-proxy iptables corpus (TestSyncProxyRulesRepeated, partial restores)', () => {
  const spec = readJson(UP + 'iptables__TestSyncProxyRulesRepeated.services.json');
  const steps = spec.steps as {
    step: number;
    file: string;
    expected_service_extraction?: ExpectedSvc[];
    expected_state_after_step?: ExpectedSvc[];
  }[];

  it('applies each partial restore on the previous state and extracts the expected state', () => {
    let state = parseIptablesSave(read(UP + steps[0]!.file), 'iptables-save').value;
    for (const st of steps) {
      if (st.step > 1)
        state = applyIptablesRestore(state, parseIptablesSave(read(UP + st.file), 'iptables-save').value);
      const want = st.expected_service_extraction ?? st.expected_state_after_step!;
      const got = kubeProxyServicesFromIptables(state, 'iptables-save', 4);
      expect(got.value.map(summarise).sort(), `step ${st.step}`).toEqual(
        expectedSummaries(want, 'iptablesSEPChain', '0.0.0.0'),
      );
      expect(got.warnings, `step ${st.step}`).toEqual([]);
    }
  });

  it('a partial dump alone names the chains it lacks instead of reporting no endpoints', () => {
    const p = parseIptablesSave(read(UP + steps[1]!.file), 'iptables-save');
    expect(p.warnings.map((w) => w.message)).toContain(
      'line 20: nat KUBE-SERVICES jumps to KUBE-SVC-XPGD46QRK7WJZT7O, which is not defined in this dump',
    );
    const got = kubeProxyServicesFromIptables(p.value, 'iptables-save', 4);
    const svc1 = got.value.find((e) => e.name === 'ns1/svc1:p80')!;
    expect(svc1.backends).toEqual([]);
    expect(svc1.incomplete).toMatch(/KUBE-SVC-XPGD46QRK7WJZT7O/);
    const svc3 = got.value.find((e) => e.name === 'ns3/svc3:p80')!;
    expect(svc3.incomplete).toBeUndefined();
    expect(svc3.backends.map((b) => `${b.address}:${b.port}`)).toEqual(['10.0.3.1:80']);
  });
});

describe('kube-proxy iptables corpus (TestTracePacket)', () => {
  const spec = readJson(UP + 'iptables__TestTracePacket.flows.json');
  const rs = parseIptablesSave(read(UP + spec.rules_file), 'iptables-save');
  const local: string[] = spec.nodeIPs_local;

  it('parses the static ruleset (built-in hooks, unquoted multi-word comments)', () => {
    expect(rs.warnings).toEqual([]);
    const input = rs.value.tables.find((t) => t.name === 'filter')!.chains.find((c) => c.name === 'INPUT')!;
    expect(input.rules[0]!.comment).toBe('kubernetes health check service ports');
    expect(input.rules[0]!.target?.name).toBe('KUBE-NODEPORTS');
  });

  for (const f of spec.flows as {
    name: string;
    sourceIP: string;
    protocol: 'tcp';
    destIP: string;
    destPort: number;
    output: string;
    masq: boolean;
  }[]) {
    it(`flow "${f.name}" → ${f.output || '(no match)'}${f.masq ? ', masquerade' : ''}`, () => {
      const r = traceKubeProxyIptables(rs.value, {
        src: f.sourceIP,
        dst: f.destIP,
        proto: f.protocol,
        dport: f.destPort,
        origin: local.includes(f.sourceIP) ? 'local' : 'outside',
        localAddresses: local,
      });
      const verdicts = [
        ...new Set(r.branches.filter((b) => b.verdict !== 'continue').map((b) => b.verdict.toUpperCase())),
      ];
      const output =
        verdicts.length > 0
          ? verdicts.join(', ')
          : r.branches
              .filter((b) => b.dnat)
              .map((b) => `${b.dnat!.address}:${b.dnat!.port}`)
              .join(', ');
      expect(output).toBe(f.output);
      expect(r.branches.some((b) => b.masquerade)).toBe(f.masq);
      expect(r.unknown).toEqual([]);
    });
  }

  it('splits a two-endpoint service into two equally likely branches with their KUBE-SEP chains', () => {
    const r = traceKubeProxyIptables(rs.value, {
      src: '10.0.0.2',
      dst: '172.30.0.44',
      proto: 'tcp',
      dport: 80,
      origin: 'outside',
      localAddresses: local,
    });
    expect(r.branches.map((b) => [b.dnat?.address, b.dnat?.chain, b.probability, b.verdict])).toEqual([
      ['10.180.0.4', 'KUBE-SEP-UKSFD7AGPMPPLUHC', 0.5, 'continue'],
      ['10.180.0.5', 'KUBE-SEP-C6EBXVWJJZMIWKLZ', 0.5, 'continue'],
    ]);
  });

  it('masquerades a ClusterIP connection from outside the pod CIDR (KUBE-MARK-MASQ then POSTROUTING)', () => {
    const r = traceKubeProxyIptables(rs.value, {
      src: '203.0.113.9',
      dst: '172.30.0.41',
      proto: 'tcp',
      dport: 80,
      origin: 'outside',
      localAddresses: local,
    });
    expect(r.branches).toHaveLength(1);
    expect(r.branches[0]).toMatchObject({ masquerade: true, dnat: { address: '10.180.0.1', port: 80 } });
  });
});
