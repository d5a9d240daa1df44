import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';
import { kubeProxyServicesFromIptables } from '../../src/analysis/kube-proxy/iptables.js';
import { kubeProxyServicesFromNft } from '../../src/analysis/kube-proxy/nft.js';
import { flagDifferences, flagReport, mergeFlags, type NodeLbFacts } from '../../src/analysis/service-flags.js';
import { loadServices, markLbListUnknowns, markServiceListUnknowns } from '../../src/collect/load-services.js';
import { dirSource } from '../../src/collect/source.js';
import type { ServiceEntry, ServiceFlagReport } from '../../src/model/service.js';
import { parseCiliumLbList, parseCiliumServiceList } from '../../src/tools/cilium-lb/index.js';
import { parseIptablesSave } from '../../src/tools/iptables/parse-iptables.js';
import { parseNftRuleset } from '../../src/tools/nft/index.js';

// Every flag from every source, on real output: the LB maps of the migrate-* labs (dumped by bpftool from maps the
// kernel held), `bpf lb list` / `service list` outputs (fixtures/tools/cilium-lb, sources in its README),
// kube-proxy's own expected rule dumps (fixtures/tools/kube-proxy/upstream) and the migrate-ipvs lab's ipvsadm.

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (p: string) => readFileSync(`${root}${p}`, 'utf8');
const find = (es: ServiceEntry[], fe: string) => {
  const e = es.find(
    (x) =>
      `${x.frontend.address}:${x.frontend.port}/${x.frontend.proto}${x.frontend.scope === 'internal' ? '/i' : ''}` ===
      fe,
  );
  if (!e) throw new Error(`no entry ${fe} in ${es.map((x) => `${x.frontend.address}:${x.frontend.port}`).join(' ')}`);
  return e;
};
const value = (r: ServiceFlagReport[keyof ServiceFlagReport]) => (r && 'value' in r ? r.value : undefined);
const why = (r: ServiceFlagReport[keyof ServiceFlagReport]) => (r && 'unknown' in r ? r.unknown : undefined);
const ev = (text: string) => ({ probe: 'cilium-status', text });

async function load(snap: string, address: string) {
  const r = await loadServices(dirSource(`${root}fixtures/snapshots/${snap}`), [], kubeProxyReader, {
    only: { kind: 'address', address },
  });
  return r.entries;
}

describe('flags from the pinned LB maps (Cilium 1.19 layout, real kernel dumps)', () => {
  it('session affinity with its timeout, traffic policies, routable, L7 and source-range bits', async () => {
    const sticky = find(
      (await load('migrate-iptables/after', '10.96.88.30')).filter((e) => e.source === 'cilium-bpf'),
      '10.96.88.30:8443/TCP',
    );
    const f = flagReport(sticky);
    expect(value(f.sessionAffinity)).toBe(true);
    expect(value(f.affinityTimeoutSeconds)).toBe(10800);
    expect(value(f.routable)).toBe(false);
    expect(value(f.externalTrafficPolicy)).toBe('Cluster');
    expect(value(f.l7LoadBalancer)).toBe(false);
    expect(f.l7ProxyPort).toBeUndefined();
    expect(value(f.sourceRangeCheck)).toBe(false);
    const local = (await load('migrate-iptables/after', '0.0.0.0')).filter((e) => e.source === 'cilium-bpf');
    const ext = flagReport(find(local, '0.0.0.0:30417/TCP'));
    expect(value(ext.externalTrafficPolicy)).toBe('Local');
    expect(value(ext.internalTrafficPolicy)).toBe('Cluster');
    expect(value(ext.sessionAffinity)).toBe(false);
    expect(ext.affinityTimeoutSeconds).toBeUndefined();
  });

  it('algorithm byte 0 is the node default: unknown without the status, its Backend Selection with it', async () => {
    const e = find(
      (await load('migrate-iptables/after', '10.96.0.10')).filter((x) => x.source === 'cilium-bpf'),
      '10.96.0.10:53/UDP',
    );
    expect(why(flagReport(e).algorithm)).toMatch(/algorithm byte 0.*node's default.*Backend Selection\) was not read/);
    const node: NodeLbFacts = {
      version: '1.19.0',
      backendSelection: {
        value: 'Maglev (Table Size: 16381)',
        source: ev('Backend Selection: Maglev (Table Size: 16381)'),
      },
    };
    const f = flagReport(e, node);
    expect(value(f.algorithm)).toBe('maglev');
    expect(f.algorithm).toMatchObject({ from: expect.stringMatching(/node default/) });
  });

  it('DSR bit clear: SNAT in SNAT mode; unknown in DSR mode (annotation mode is not in the node state) or without the mode', async () => {
    const e = find(
      (await load('migrate-iptables/after', '10.96.45.10')).filter((x) => x.source === 'cilium-bpf'),
      '10.96.45.10:80/TCP',
    );
    expect(why(flagReport(e).dsr)).toMatch(/DSR bit clear.*mode.*not read/);
    expect(why(flagReport(e, { version: '1.19.0', kprMode: { mode: 'DSR', source: ev('Mode: DSR') } }).dsr)).toMatch(
      /DSR bit clear.*Hybrid or annotation mode/,
    );
    expect(value(flagReport(e, { kprMode: { mode: 'SNAT', source: ev('Mode: SNAT') } }).dsr)).toBe(false);
    // the source ranges live in another map: unknown, never an empty list
    expect(flagReport(e).sourceRanges).toBeUndefined();
  });

  it('before 1.17 the maps have no DSR bit or algorithm byte: the node-wide settings decide', async () => {
    const e = find(
      (await load('kind-v4-svc/k1', '10.96.0.10')).filter((x) => x.source === 'cilium-bpf'),
      '10.96.0.10:53/ANY',
    );
    const bare = flagReport(e);
    expect(why(bare.dsr)).toMatch(/no DSR bit/);
    expect(why(bare.algorithm)).toMatch(/no algorithm byte/);
    const hybrid = flagReport(e, { version: '1.13.9', kprMode: { mode: 'Hybrid', source: ev('Mode: Hybrid') } });
    // a frontend for any protocol under Hybrid: DSR for TCP, SNAT for UDP, so not one answer
    expect(why(hybrid.dsr)).toMatch(/DSR for TCP and SNAT for UDP/);
    expect(value(flagReport(e, { version: '1.13.9', kprMode: { mode: 'DSR', source: ev('Mode: DSR') } }).dsr)).toBe(
      true,
    );
    const random = flagReport(e, {
      version: '1.13.9',
      backendSelection: { value: 'Random', source: ev('Backend Selection: Random') },
    });
    expect(value(random.algorithm)).toBe('random');
  });
});

describe('flags from `cilium-dbg bpf lb list`', () => {
  const v117 = parseCiliumLbList(
    read('fixtures/tools/cilium-lb/bpf-lb-list/v1.17.from-format.txt'),
    'cilium-lb-list',
  ).value;

  it('flag words: a printed word is set, an absent one clear; dsr read as clear only from 1.17', () => {
    const withVersion = structuredClone(v117);
    for (const e of withVersion) markLbListUnknowns(e, '1.17.2');
    const sticky = flagReport(find(withVersion, '10.96.7.7:443/TCP'));
    expect(value(sticky.sessionAffinity)).toBe(true);
    expect(value(sticky.dsr)).toBe(true);
    expect(value(sticky.routable)).toBe(false);
    expect(why(sticky.affinityTimeoutSeconds)).toMatch(/does not print the affinity timeout/);
    expect(why(sticky.algorithm)).toMatch(/does not print the load-balancing algorithm/);
    const np = flagReport(find(withVersion, '192.168.1.10:31940/TCP'));
    expect(value(np.externalTrafficPolicy)).toBe('Local');
    expect(value(np.routable)).toBe(true);
    expect(value(np.sessionAffinity)).toBe(false);
    // a clear DSR bit is SNAT only when the node's NodePort mode is not DSR
    expect(why(np.dsr)).toMatch(/DSR bit clear.*not read/);
    const snat = find(withVersion, '192.168.1.10:31940/TCP');
    expect(value(flagReport(snat, { kprMode: { mode: 'SNAT', source: ev('Mode: SNAT') } }).dsr)).toBe(false);
    const noVersion = structuredClone(v117);
    for (const e of noVersion) markLbListUnknowns(e);
    expect(why(flagReport(find(noVersion, '192.168.1.10:31940/TCP')).dsr)).toMatch(
      /prints `dsr` from 1.17.*version was not read/,
    );
  });

  it('L7 load balancer with its proxy port (a public 1.15 paste)', () => {
    const es = parseCiliumLbList(
      read('fixtures/tools/cilium-lb/bpf-lb-list/v1.15-dev-l7lb-gh31503.txt'),
      'cilium-lb-list',
    ).value;
    for (const e of es) markLbListUnknowns(e, '1.15.0');
    const f = flagReport(find(es, '172.18.0.2:32646/ANY'));
    expect(value(f.l7LoadBalancer)).toBe(true);
    expect(value(f.l7ProxyPort)).toBe(15735);
    expect(why(f.dsr)).toMatch(/1.15.0 has no per-Service DSR flag/);
  });

  it('a layout that prints no flag words shows no flag (a 2018 paste)', () => {
    const es = parseCiliumLbList(read('fixtures/corpus/cilium-lb-list/issue3905-2018.txt'), 'cilium-lb-list').value;
    for (const e of es) markLbListUnknowns(e);
    const f = flagReport(find(es, '10.96.0.1:443/ANY'));
    for (const k of [
      'routable',
      'sessionAffinity',
      'externalTrafficPolicy',
      'l7LoadBalancer',
      'sourceRangeCheck',
    ] as const)
      expect(why(f[k])).toMatch(/prints no service flags/);
  });
});

describe('flags from `cilium-dbg service list`', () => {
  it('JSON: the traffic policies are read, everything models.ServiceSpecFlags lacks is unknown', () => {
    const es = parseCiliumServiceList(
      read('fixtures/tools/cilium-lb/service-list/v1.18.from-format.json'),
      'cilium-service-list',
    ).value;
    for (const e of es) markServiceListUnknowns(e, 'json');
    const np = flagReport(find(es, 'fd00:10:96::a:53/UDP/i'));
    expect(value(np.externalTrafficPolicy)).toBe('Local');
    expect(value(np.internalTrafficPolicy)).toBe('Local');
    for (const k of ['routable', 'dsr', 'sessionAffinity', 'l7LoadBalancer', 'sourceRangeCheck'] as const)
      expect(why(np[k])).toMatch(/ServiceSpecFlags/);
    expect(why(np.algorithm)).toMatch(/ServiceSpecFlags.*Backend Selection\) was not read/);
  });

  it('text: no flag at all', () => {
    const es = parseCiliumServiceList(
      read('fixtures/tools/cilium-lb/service-list/v1.17.from-format.txt'),
      'cilium-service-list',
    ).value;
    for (const e of es) markServiceListUnknowns(e, 'txt');
    const f = flagReport(es[0]!);
    for (const k of [
      'routable',
      'dsr',
      'sessionAffinity',
      'externalTrafficPolicy',
      'internalTrafficPolicy',
      'l7LoadBalancer',
      'sourceRangeCheck',
    ] as const)
      expect(why(f[k])).toMatch(/text `cilium service list` does not show it/);
  });
});

describe("flags from kube-proxy's rules (its own TestOverall*Rules dumps)", () => {
  const ipt = kubeProxyServicesFromIptables(
    parseIptablesSave(
      read('fixtures/tools/kube-proxy/upstream/iptables__TestOverallIPTablesRules.expected.iptables-restore.txt'),
      'iptables-save',
    ).value,
    'iptables-save',
    4,
  ).value;
  const nft = kubeProxyServicesFromNft(
    parseNftRuleset(
      read('fixtures/tools/kube-proxy/upstream/nftables__TestOverallNFTablesRules.expected.nft-transaction.txt'),
      'nft-ruleset',
    ).value,
    'nft-ruleset',
  ).value;

  for (const [name, es] of [
    ['iptables', ipt],
    ['nftables', nft],
  ] as const) {
    it(`${name}: svc5's affinity (10800 s) and source range, svc2's externalTrafficPolicy=Local, svc1's internal policy`, () => {
      const svc5 = flagReport(find(es, '5.6.7.8:80/TCP'));
      expect(value(svc5.sessionAffinity)).toBe(true);
      expect(value(svc5.affinityTimeoutSeconds)).toBe(10800);
      expect(value(svc5.sourceRangeCheck)).toBe(true);
      expect(value(svc5.sourceRanges)).toEqual(['203.0.113.0/25']);
      expect(value(svc5.externalTrafficPolicy)).toBe('Cluster');
      const svc2 = flagReport(find(es, '1.2.3.4:80/TCP'));
      expect(value(svc2.externalTrafficPolicy)).toBe('Local');
      expect(value(svc2.sessionAffinity)).toBe(false);
      expect(value(svc2.sourceRangeCheck)).toBe(false);
      expect(why(svc2.internalTrafficPolicy)).toMatch(/ClusterIP rule/);
      const svc1 = flagReport(find(es, '172.30.0.41:80/TCP'));
      expect(value(svc1.internalTrafficPolicy)).toBe('Cluster');
      expect(why(svc1.externalTrafficPolicy)).toMatch(/not a ClusterIP/);
      // what kube-proxy cannot do is a fact of the layer; Cilium's routable setting has no kube-proxy counterpart
      expect(value(svc1.dsr)).toBe(false);
      expect(value(svc1.l7LoadBalancer)).toBe(false);
      expect(value(svc1.algorithm)).toBe('random');
      expect(why(svc1.routable)).toMatch(/Cilium's setting/);
    });
  }
});

describe('flags from ipvsadm (migrate-ipvs lab)', () => {
  it('persistent is session affinity with its timeout, the scheduler is the algorithm, policies are unknown', async () => {
    const ipvs = (await load('migrate-ipvs/before', '10.96.88.30')).filter((e) => e.source === 'ipvs');
    const f = flagReport(find(ipvs, '10.96.88.30:8443/TCP'));
    expect(value(f.sessionAffinity)).toBe(true);
    expect(value(f.affinityTimeoutSeconds)).toBe(10800);
    expect(value(f.algorithm)).toMatch(/^ipvs:/);
    // kube-proxy programs every real server with -m: replies come back through the node
    expect(f.dsr).toMatchObject({ value: false, from: expect.stringMatching(/masqueraded \(-m\)/) });
    expect(why(f.externalTrafficPolicy)).toMatch(/ipsets/);
    expect(why(f.sourceRangeCheck)).toMatch(/ipsets/);
  });
});

describe('mergeFlags', () => {
  it('takes each flag from the first source that shows it; unknown only when none does, with every reason', async () => {
    const es = await load('migrate-iptables/before', '10.96.88.30');
    const bpf = find(
      es.filter((e) => e.source === 'cilium-bpf'),
      '10.96.88.30:8443/TCP',
    );
    const kp = find(
      es.filter((e) => e.source === 'kube-proxy-iptables'),
      '10.96.88.30:8443/TCP',
    );
    const m = mergeFlags([
      { source: 'cilium-bpf', flags: flagReport(bpf) },
      { source: 'kube-proxy-iptables', flags: flagReport(kp) },
    ]);
    // Cilium without kube-proxy replacement does not program the affinity kube-proxy has (the lab's TOPOLOGY.md):
    // the first source wins, the timeout is not taken from the other layer, and the difference is reported
    expect(m.sessionAffinity).toMatchObject({ value: false, from: expect.stringMatching(/^cilium-bpf: /) });
    expect(m.affinityTimeoutSeconds).toBeUndefined();
    expect(
      flagDifferences([
        { source: 'cilium-bpf', flags: flagReport(bpf) },
        { source: 'kube-proxy-iptables', flags: flagReport(kp) },
      ]),
    ).toContain('sessionAffinity: cilium-bpf false, kube-proxy-iptables true');
    // the maps cannot say DSR without the node's mode; kube-proxy never does DSR: the first source that knows wins
    expect(m.dsr).toMatchObject({ value: false, from: expect.stringMatching(/^kube-proxy-iptables: /) });
    const routable = m.routable;
    expect(value(routable)).toBe(false);
    const onlyUnknown = mergeFlags([{ source: 'kube-proxy-iptables', flags: flagReport(kp) }]);
    expect(why(onlyUnknown.routable)).toMatch(/^kube-proxy-iptables: /);
  });
});
