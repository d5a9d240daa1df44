import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { parseIptablesSave } from '../../src/tools/iptables/index.js';
import { expected, lookupAll, migrateTable, snapshotsDir } from '../helpers/migrate.js';

// The kube-proxy → Cilium migration snapshots (scripts/lab/migrate.sh): each pair loads with the existing
// loaders, and what `svc lookup` finds in each snapshot is what the pair's TOPOLOGY.md table says.

const dir = (pair: string, snap = '') => snapshotsDir(`${pair}/${snap}`);
const PAIRS = readdirSync(dir('')).filter((d) => d.startsWith('migrate-') && existsSync(`${dir(d)}/TOPOLOGY.md`));

describe.each(PAIRS)('%s', (pair) => {
  const { snaps, rows } = migrateTable(pair);

  it('has a before and at least one after snapshot, and a non-trivial table', () => {
    expect(snaps[0]).toBe('before');
    expect(snaps.length).toBeGreaterThanOrEqual(2);
    expect(rows.length).toBeGreaterThanOrEqual(8);
  });

  describe.each(snaps)('%s', (snap) => {
    const src = () => dirSource(dir(pair, snap));

    it('loads with the node-state loader: required probes present, nothing failed', async () => {
      const st = await loadNodeState(src());
      expect(st.sources.filter((s) => s.status === 'failed')).toEqual([]);
      expect(st.warnings.filter((w) => w.code === 'required-probe-unavailable')).toEqual([]);
      expect(st.node.name).toBe('k1');
      const kpr = st.cilium.status?.kubeProxyReplacement?.mode;
      const hooks = st.cgroup.map((c) => c.name).sort();
      if (snap === 'before') {
        expect(kpr).toBe('False');
        expect(st.cilium.status?.socketLB?.enabled).toBe(false);
        expect(hooks).toEqual([]);
      } else {
        expect(kpr).toBe('True');
        expect(st.cilium.status?.socketLB?.enabled).toBe(true);
        expect(hooks).toEqual([
          'cil_sock4_connect',
          'cil_sock4_getpeername',
          'cil_sock4_post_bind',
          'cil_sock4_recvmsg',
          'cil_sock4_sendmsg',
        ]);
      }
    });

    it('svc lookup finds exactly the frontends, layers and backends of TOPOLOGY.md', async () => {
      expect(await lookupAll(src, rows)).toEqual(expected(rows, snap));
    });
  });
});

describe('migrate-iptables: kube-proxy leftovers and conntrack', () => {
  const text = (snap: string, f: string) => readFileSync(`${dir('migrate-iptables', snap)}/${f}`, 'utf8');
  const chains = (snap: string) =>
    parseIptablesSave(text(snap, 'iptables-save.txt'), 'iptables-save').value.tables.flatMap((t) =>
      t.chains.map((c) => `${t.name}/${c.name}`),
    );
  // NATed entries: the reply tuple's source is not the original destination
  const natted = (snap: string) =>
    text(snap, 'conntrack4.txt')
      .split('\n')
      .filter((l) => {
        const src = [...l.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]);
        const dst = [...l.matchAll(/\bdst=(\S+)/g)].map((m) => m[1]);
        return src.length === 2 && dst.length === 2 && src[1] !== dst[0];
      });

  it('before: kube-proxy chains and NATed flows; after-broken: orphaned chains and the same stale flows', () => {
    const kp = (snap: string) => chains(snap).filter((c) => /\/KUBE-(SVC|SEP|EXT|SVL)-/.test(c));
    expect(kp('before').length).toBeGreaterThanOrEqual(20);
    expect(kp('after-broken')).toEqual(kp('before'));
    expect(kp('after')).toEqual([]);
    expect(natted('before').length).toBeGreaterThanOrEqual(5);
    // the original tuple (`src= dst= sport= dport=`) of every flow NATed before is still NATed after-broken
    const orig = (l: string) => /src=\S+ dst=\S+ sport=\d+ dport=\d+/.exec(l)![0];
    expect(natted('after-broken').map(orig)).toEqual(expect.arrayContaining(natted('before').map(orig)));
    expect(natted('after')).toEqual([]);
  });

  it("after: only kubelet's chains are left", () => {
    expect(
      chains('after')
        .filter((c) => c.includes('KUBE-'))
        .sort(),
    ).toEqual([
      'filter/KUBE-KUBELET-CANARY',
      'mangle/KUBE-IPTABLES-HINT',
      'mangle/KUBE-KUBELET-CANARY',
      'nat/KUBE-KUBELET-CANARY',
    ]);
  });
});

describe('migrate-nft: the kube-proxy tables', () => {
  const tables = (snap: string) =>
    (
      JSON.parse(readFileSync(`${dir('migrate-nft', snap)}/nft-ruleset.json`, 'utf8')) as {
        nftables: { table?: { family: string; name: string } }[];
      }
    ).nftables
      .flatMap((o) => (o.table ? [`${o.table.family} ${o.table.name}`] : []))
      .sort();

  it('are in before and left behind in after-broken, gone in after; iptables holds only kubelet chains throughout', () => {
    expect(tables('before')).toEqual(expect.arrayContaining(['ip kube-proxy', 'ip6 kube-proxy']));
    expect(tables('after-broken')).toEqual(tables('before'));
    expect(tables('after').filter((t) => t.endsWith('kube-proxy'))).toEqual([]);
    for (const snap of ['before', 'after-broken', 'after']) {
      const save = readFileSync(`${dir('migrate-nft', snap)}/iptables-save.txt`, 'utf8');
      expect([...save.matchAll(/^:(KUBE-\S+)/gm)].map((m) => m[1]).sort()).toEqual([
        'KUBE-IPTABLES-HINT',
        'KUBE-KUBELET-CANARY',
        'KUBE-KUBELET-CANARY',
        'KUBE-KUBELET-CANARY',
      ]);
    }
  });
});

describe('migrate-ipvs: kube-ipvs0, ipsets and the IPVS table', () => {
  const read = (snap: string, f: string) => readFileSync(`${dir('migrate-ipvs', snap)}/${f}`, 'utf8');
  const has = (snap: string, f: string) => existsSync(`${dir('migrate-ipvs', snap)}/${f}`);
  const clusterIPs = ['10.96.0.1', '10.96.0.10', '10.96.45.10', '10.96.77.20', '10.96.88.30', '10.96.99.40'];

  it('kube-ipvs0 holds every ClusterIP with a local route before and after-broken, and is gone after', async () => {
    for (const snap of ['before', 'after-broken']) {
      const st = await loadNodeState(dirSource(dir('migrate-ipvs', snap)));
      expect(
        st.addrs
          .filter((a) => a.ifname === 'kube-ipvs0')
          .map((a) => a.local)
          .sort(),
      ).toEqual(clusterIPs);
      const local = st.routes.filter(
        (r) => r.table === 255 && r.type === 'local' && r.nexthops.some((n) => n.dev === 'kube-ipvs0'),
      );
      expect(local.map((r) => r.dst).sort()).toEqual(clusterIPs.map((ip) => `${ip}/32`));
    }
    const after = await loadNodeState(dirSource(dir('migrate-ipvs', 'after')));
    expect(after.links.some((l) => l.name === 'kube-ipvs0')).toBe(false);
  });

  it('ipsets stay (unreferenced) after-broken and are destroyed after; ipvsadm is empty after', () => {
    const entries = (snap: string, set: string) =>
      read(snap, 'ipset.txt')
        .split('\n')
        .filter((l) => l.startsWith(`add ${set} `));
    expect(entries('before', 'KUBE-CLUSTER-IP')).toHaveLength(7);
    expect(entries('after-broken', 'KUBE-CLUSTER-IP').sort()).toEqual(entries('before', 'KUBE-CLUSTER-IP').sort());
    expect(read('before', 'iptables-save.txt')).toContain('--match-set KUBE-CLUSTER-IP');
    expect(read('after-broken', 'iptables-save.txt')).not.toContain('--match-set');
    expect(has('after', 'ipset.txt')).toBe(false);
    expect(read('after', 'ipvsadm.txt')).toBe('');
    expect(read('after-broken', 'ipvsadm.txt')).toBe(read('before', 'ipvsadm.txt'));
  });
});
