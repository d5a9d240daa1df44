import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { diffNodes, type DiffSideInput } from '../../src/analysis/diff.js';
import { alignHops } from '../../src/analysis/diff-paths.js';
import type { Backend, ServiceEntry } from '../../src/model/service.js';
import type { NodeState } from '../../src/model/types.js';
import type { PathHop } from '../../src/model/diff.js';
import { parseIptablesSave } from '../../src/tools/iptables/index.js';
import { parseNftRuleset } from '../../src/tools/nft/index.js';
import { parseIpset } from '../../src/tools/ipset/index.js';
import { fixtureText } from '../helpers/state.js';

// Diffs of in-memory sides: the bundled kind-v4 node k1 (eth0 172.18.0.2, pods 10.244.1.12 and 10.244.1.57,
// remote node 172.18.0.3 owning 10.244.2.0/24, Cilium status with socket-LB) and Services given here.
const k1 = () =>
  loadNodeState(dirSource(fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url))));

const be = (address: string, port: number, state: Backend['state'] = 'active'): Backend => ({
  address,
  port,
  state,
  source: { probe: 'x', text: `${address}:${port}` },
});
const kp = (
  address: string,
  port: number,
  proto: 'TCP' | 'UDP',
  backends: Backend[],
  over: Partial<ServiceEntry> = {},
): ServiceEntry => ({
  source: 'kube-proxy-iptables',
  frontend: { address, port, proto },
  type: 'ClusterIP',
  flags: { algorithm: 'random' },
  backends,
  chain: `KUBE-SVC-${address.replace(/\W/g, '')}${port}`,
  evidence: [
    {
      probe: 'iptables-save',
      text: `-A KUBE-SERVICES -d ${address}/32 -p ${proto.toLowerCase()} -m ${proto.toLowerCase()} --dport ${port} -j KUBE-SVC-x`,
    },
  ],
  ...over,
});
const cil = (
  address: string,
  port: number,
  proto: 'TCP' | 'UDP' | 'ANY',
  backends: Backend[],
  over: Partial<ServiceEntry> = {},
): ServiceEntry => ({
  source: 'cilium-bpf',
  frontend: { address, port, proto },
  type: 'ClusterIP',
  flags: { routable: false },
  backends,
  evidence: [{ probe: 'bpf-map/cilium_lb4_services_v2', text: `${address}:${port}/${proto} slot 0` }],
  ...over,
});
const side = (state: NodeState, services: ServiceEntry[], extra: Partial<DiffSideInput> = {}): DiffSideInput => ({
  source: 'mem',
  state,
  services,
  iptables: [],
  warnings: [],
  ...extra,
});

const DNS = [be('10.244.1.57', 53), be('10.244.2.7', 53)];
const WEB = [be('10.244.2.7', 8080)];
const beforeServices = () => [
  kp('10.96.0.10', 53, 'UDP', DNS, { name: 'kube-system/kube-dns:dns' }),
  kp('0.0.0.0', 31940, 'TCP', WEB, { type: 'NodePort', chain: 'KUBE-EXT-WEB', name: 'default/web' }),
];
const afterServices = () => [
  cil('10.96.0.10', 53, 'UDP', DNS),
  cil('0.0.0.0', 31940, 'TCP', WEB, { type: 'NodePort' }),
  cil('172.18.0.2', 31940, 'TCP', WEB, { type: 'NodePort', flags: { routable: true } }),
];

describe('diff: Service parity', () => {
  it('a clean migration: every frontend served the same, owner kube-proxy → Cilium, NodePorts per node address', async () => {
    const d = diffNodes(side(await k1(), beforeServices()), side(await k1(), afterServices()));
    expect(d.services.map((s) => [s.frontend, s.status, s.owner.before, s.owner.after])).toEqual([
      ['0.0.0.0:31940/TCP', 'changed', 'kube-proxy-iptables', 'cilium-bpf'],
      ['172.18.0.2:31940/TCP', 'unchanged', 'kube-proxy-iptables', 'cilium-bpf'],
      ['10.96.0.10:53/UDP', 'unchanged', 'kube-proxy-iptables', 'cilium-bpf'],
    ]);
    // kube-proxy's NodePort answered on every local address from anywhere; Cilium's from outside on its NodePort addresses
    expect(d.services[0]!.changes).toEqual([
      expect.objectContaining({
        field: 'reach',
        regression: false,
        after: "from outside on 172.18.0.2 only; other local addresses from this node's sockets",
      }),
    ]);
    expect(d.services.every((s) => !s.regression)).toBe(true);
    expect(d.summary.services).toMatchObject({
      before: 3,
      after: 3,
      unchanged: 2,
      changed: 1,
      removed: 0,
      regressions: 0,
    });
    expect(d.leftovers).toEqual([]);
    expect(d.summary.verdict).toBe('clean');
    expect(d.summary.regressions).toBe(0);
    expect(d.summary.lines[0]).toMatch(/clean migration/);
  });

  it('a frontend served before and by nobody after is a regression; one only after is added, not a regression', async () => {
    const after = afterServices().filter((e) => e.frontend.address !== '10.96.0.10');
    after.push(cil('10.96.0.20', 80, 'TCP', WEB));
    const d = diffNodes(side(await k1(), beforeServices()), side(await k1(), after));
    const dns = d.services.find((s) => s.frontend === '10.96.0.10:53/UDP')!;
    expect(dns).toMatchObject({
      status: 'removed',
      regression: true,
      owner: { before: 'kube-proxy-iptables', after: null },
      name: 'kube-system/kube-dns:dns',
    });
    expect(dns.summary).toMatch(/no layer serves it after/);
    expect(d.services.find((s) => s.frontend === '10.96.0.20:80/TCP')).toMatchObject({
      status: 'added',
      regression: false,
    });
    expect(d.services[0]!.frontend).toBe('10.96.0.10:53/UDP');
    expect(d.summary.verdict).toBe('regressions');
  });

  it('a lost backend, another affinity or traffic policy is a change and a regression', async () => {
    const after = afterServices();
    after[0] = cil('10.96.0.10', 53, 'UDP', [DNS[0]!], {
      flags: { sessionAffinity: true, affinityTimeoutSeconds: 10800 },
    });
    after[2] = cil('172.18.0.2', 31940, 'TCP', WEB, { type: 'NodePort', flags: { externalTrafficPolicyLocal: true } });
    const d = diffNodes(side(await k1(), beforeServices()), side(await k1(), after));
    const dns = d.services.find((s) => s.frontend === '10.96.0.10:53/UDP')!;
    expect(dns.status).toBe('changed');
    expect(dns.changes.map((c) => c.field).sort()).toEqual(['affinity', 'backends']);
    expect(dns.changes.find((c) => c.field === 'backends')!.because).toMatch(/lost 10\.244\.2\.7:53/);
    expect(dns.changes.find((c) => c.field === 'affinity')).toMatchObject({ before: 'None', after: 'ClientIP 10800s' });
    const np = d.services.find((s) => s.frontend === '172.18.0.2:31940/TCP')!;
    expect(np.changes).toEqual([{ field: 'traffic-policy', before: 'Cluster', after: 'Local', regression: true }]);
  });

  it("Cilium ≤ 1.16 keys frontends without protocol: its /ANY entry serves kube-proxy's TCP and UDP ones", async () => {
    const before = [kp('10.96.0.10', 53, 'UDP', DNS), kp('10.96.0.10', 53, 'TCP', DNS)];
    const d = diffNodes(side(await k1(), before), side(await k1(), [cil('10.96.0.10', 53, 'ANY', DNS)]));
    expect(d.services.map((s) => [s.frontend, s.status, s.after?.programmedAs])).toEqual([
      ['10.96.0.10:53/TCP', 'unchanged', '10.96.0.10:53/ANY'],
      ['10.96.0.10:53/UDP', 'unchanged', '10.96.0.10:53/ANY'],
    ]);
  });

  it('a NodePort kube-proxy served on a node address Cilium does not program is removed there', async () => {
    const s = await k1();
    const eth0 = s.addrs.find((a) => a.ifname === 'eth0' && a.family === 4)!;
    s.addrs.push({
      ...eth0,
      ifname: 'eth1',
      ifindex: 99,
      local: '198.51.100.2',
      source: { probe: 'ip-addr', text: 'inet 198.51.100.2/24 scope global eth1' },
    });
    const d = diffNodes(side(s, beforeServices()), side(s, afterServices()));
    expect(d.services.find((x) => x.frontend === '198.51.100.2:31940/TCP')).toMatchObject({
      status: 'removed',
      regression: true,
      type: 'NodePort',
    });
    expect(d.services.find((x) => x.frontend === '172.18.0.2:31940/TCP')!.status).toBe('unchanged');
  });

  it('a frontend only leftover kube-proxy rules still serve, on a node Cilium took over, is a regression', async () => {
    const after = [
      ...afterServices().filter((e) => e.frontend.address !== '10.96.0.10'),
      kp('10.96.0.10', 53, 'UDP', DNS),
    ];
    const d = diffNodes(side(await k1(), beforeServices()), side(await k1(), after));
    const dns = d.services.find((s) => s.frontend === '10.96.0.10:53/UDP')!;
    expect(dns.changes).toEqual([
      expect.objectContaining({
        field: 'owner',
        before: 'kube-proxy-iptables',
        after: 'kube-proxy-iptables',
        regression: true,
      }),
    ]);
  });

  it("IPVS: the type and traffic policy come from kube-proxy's ipsets when the snapshot has them", async () => {
    const ipvs = (address: string, port: number, type: ServiceEntry['type']): ServiceEntry => ({
      source: 'ipvs',
      frontend: { address, port, proto: 'TCP' },
      type,
      flags: {},
      backends: WEB,
      evidence: [{ probe: 'ipvsadm', text: `-A -t ${address}:${port} -s rr` }],
    });
    const sets = parseIpset(
      `${fixtureText('tools/ipset/ipset-save.kube-proxy-ipvs.txt')}add KUBE-NODE-PORT-LOCAL-TCP 31940\n`,
      'ipset',
    ).value;
    const before = side(await k1(), [ipvs('192.0.2.50', 80, 'ClusterIP'), ipvs('172.18.0.2', 31940, 'NodePort')], {
      ipsets: sets,
    });
    const after = side(await k1(), [
      cil('192.0.2.50', 80, 'TCP', WEB, { type: 'ExternalIP' }),
      cil('172.18.0.2', 31940, 'TCP', WEB, { type: 'NodePort' }),
    ]);
    const d = diffNodes(before, after);
    expect(d.services.find((s) => s.frontend === '192.0.2.50:80/TCP')!.before!.type).toBe('ExternalIP');
    const np = d.services.find((s) => s.frontend === '172.18.0.2:31940/TCP')!;
    expect(np.before!.trafficPolicy).toBe('Local');
    expect(np.before!.evidence.map((e) => e.text)).toContain('add KUBE-NODE-PORT-LOCAL-TCP 31940');
    expect(np.changes.map((c) => c.field)).toEqual(['traffic-policy']);
  });
});

describe('diff: leftovers on the after node', () => {
  const iptables = (text: string) => [
    { probe: 'iptables-save', family: 4 as const, rules: parseIptablesSave(text, 'iptables-save').value },
  ];
  const captured = fixtureText(
    'tools/kube-proxy/iptables-save/iptables-save.kubeproxy-iptables-mode+cilium-like.nft-backend.txt',
  );

  it('kube-proxy chains still hooked from the built-in chains act on packets: a regression, with the hook lines and the command', async () => {
    const d = diffNodes(
      side(await k1(), beforeServices()),
      side(await k1(), afterServices(), { iptables: iptables(captured) }),
    );
    const nat = d.leftovers.find((l) => l.name === 'nat KUBE-* chains (IPv4)')!;
    expect(nat).toMatchObject({ kind: 'iptables-chains', actsOnPackets: true, regression: true });
    expect(nat.command).toBe('iptables-save -t nat | grep -- KUBE-');
    expect(nat.evidence.map((e) => e.text)).toContain(
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    );
    expect(nat.breaks).toMatch(/DNATed to the backends kube-proxy knew/);
    const filter = d.leftovers.find((l) => l.name === 'filter KUBE-* chains (IPv4)')!;
    expect(filter.actsOnPackets).toBe(true);
    expect(filter.breaks).toMatch(/REJECTs new connections/);
    expect(d.summary.verdict).toBe('regressions');
  });

  it("chains nothing jumps to are reported but do not act; kubelet's own chains alone are not leftovers", async () => {
    const unhooked = captured
      .split('\n')
      .filter((l) => !/^-A (PREROUTING|OUTPUT|POSTROUTING|INPUT|FORWARD) .*-j KUBE-/.test(l))
      .join('\n');
    const d = diffNodes(
      side(await k1(), beforeServices()),
      side(await k1(), afterServices(), { iptables: iptables(unhooked) }),
    );
    const nat = d.leftovers.find((l) => l.name === 'nat KUBE-* chains (IPv4)')!;
    expect(nat).toMatchObject({ actsOnPackets: false, regression: false });
    expect(nat.breaks).toMatch(/KUBE-SVC\/SEP\/EXT chains are left unreachable/);
    const kubelet =
      '*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n-A INPUT -j KUBE-FIREWALL\n-A OUTPUT -j KUBE-FIREWALL\n-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\nCOMMIT\n';
    const k = diffNodes(
      side(await k1(), beforeServices()),
      side(await k1(), afterServices(), { iptables: iptables(kubelet) }),
    );
    expect(k.leftovers).toEqual([]);
    expect(k.summary.verdict).toBe('clean');
  });

  it('the kube-proxy nft table, IPVS virtual servers, kube-ipvs0 with its local routes, and KUBE-* ipsets', async () => {
    const s = await k1();
    const lo = s.links.find((l) => l.name === 'lo')!;
    s.links.push({
      ...lo,
      name: 'kube-ipvs0',
      ifindex: 50,
      kind: 'dummy',
      source: { probe: 'ip-link', text: '50: kube-ipvs0: <BROADCAST,NOARP> mtu 1500 state DOWN' },
    });
    const eth0 = s.addrs.find((a) => a.ifname === 'eth0' && a.family === 4)!;
    s.addrs.push({
      ...eth0,
      ifname: 'kube-ipvs0',
      ifindex: 50,
      local: '10.96.0.10',
      prefixlen: 32,
      source: { probe: 'ip-addr', text: 'inet 10.96.0.10/32 scope global kube-ipvs0' },
    });
    s.routes.push({
      family: 4,
      table: 255,
      type: 'local',
      dst: '10.96.0.10/32',
      nexthops: [{ dev: 'kube-ipvs0' }],
      source: {
        probe: 'ip-route4',
        text: 'local 10.96.0.10 dev kube-ipvs0 table local proto kernel scope host src 10.96.0.10',
      },
    });
    const ipvs: ServiceEntry = {
      source: 'ipvs',
      frontend: { address: '10.96.0.10', port: 53, proto: 'UDP' },
      type: 'ClusterIP',
      flags: {},
      backends: DNS,
      evidence: [{ probe: 'ipvsadm', text: '-A -u 10.96.0.10:53 -s rr' }],
    };
    const nft = {
      probe: 'nft-ruleset',
      rules: parseNftRuleset(
        fixtureText('tools/kube-proxy/nft/nft-j-list-ruleset.kube-proxy-nftables-mode.json'),
        'nft-ruleset',
      ).value,
    };
    const sets = parseIpset(fixtureText('tools/ipset/ipset-save.kube-proxy-ipvs.txt'), 'ipset').value;
    const d = diffNodes(side(await k1(), beforeServices()), side(s, [...afterServices(), ipvs], { nft, ipsets: sets }));
    const kinds = d.leftovers.map((l) => [l.kind, l.actsOnPackets]);
    expect(kinds).toEqual([
      ['nft-table', true],
      ['ipvs', true],
      ['kube-ipvs0', true],
      ['ipset', false],
    ]);
    const dev = d.leftovers.find((l) => l.kind === 'kube-ipvs0')!;
    expect(dev.breaks).toMatch(/1 Service addresses are still the node's own \(1 `local` routes/);
    expect(dev.evidence.map((e) => e.probe)).toEqual(['ip-link', 'ip-addr', 'ip-route4']);
    expect(d.leftovers.find((l) => l.kind === 'nft-table')!.command).toBe('nft list table ip kube-proxy');
    expect(d.leftovers.find((l) => l.kind === 'ipset')!.breaks).toMatch(/no rule matches on them/);
    // the same sets matched by an iptables rule act on packets
    const rule = iptables(
      '*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT\nCOMMIT\n',
    );
    const u = diffNodes(
      side(await k1(), beforeServices()),
      side(await k1(), afterServices(), { ipsets: sets, iptables: rule }),
    );
    expect(u.leftovers.find((l) => l.kind === 'ipset')).toMatchObject({ actsOnPackets: true, regression: true });
  });
});

describe('diff: paths', () => {
  const hop = (kind: PathHop['kind'], label: string): PathHop => ({ kind, label, detail: label });

  it('aligns hop lists and pairs a removed hop with the one that took its place', () => {
    const b = [
      hop('route', 'route in pod'),
      hop('bpf', 'bpf cil_from_container'),
      hop('kube-proxy', 'kube-proxy KUBE-SVC-X'),
      hop('deliver', 'deliver'),
    ];
    const a = [
      hop('socket-lb', 'socket-lb cil_sock4_connect'),
      hop('route', 'route in pod'),
      hop('bpf', 'bpf cil_from_container'),
      hop('redirect_peer', 'redirect_peer lxc1'),
      hop('deliver', 'deliver'),
    ];
    expect(alignHops(b, a).map((s) => [s.change, s.before?.label, s.after?.label])).toEqual([
      ['added', undefined, 'socket-lb cil_sock4_connect'],
      ['same', 'route in pod', 'route in pod'],
      ['same', 'bpf cil_from_container', 'bpf cil_from_container'],
      ['replaced', 'kube-proxy KUBE-SVC-X', 'redirect_peer lxc1'],
      ['same', 'deliver', 'deliver'],
    ]);
  });

  it('traces each frontend from a pod and the host, each NodePort from outside, and pod → pod: kube-proxy DNAT becomes socket-LB', async () => {
    const d = diffNodes(side(await k1(), beforeServices()), side(await k1(), afterServices()));
    const cats = d.paths.flows.map((f) => f.category);
    expect(cats).toEqual(
      expect.arrayContaining(['pod-to-pod', 'service-from-pod', 'service-from-host', 'nodeport-from-outside']),
    );
    expect(d.paths.sampled).toBe(false);
    const pod = d.paths.flows.find((f) => f.category === 'service-from-pod' && f.frontend === '10.96.0.10:53/UDP')!;
    expect(pod.flow).toMatchObject({ src: '10.244.1.12', dst: '10.96.0.10', proto: 'udp', dport: 53 });
    expect(pod.before.hops.map((h) => h.kind)).toContain('kube-proxy');
    expect(pod.after.hops[0]).toMatchObject({ kind: 'socket-lb' });
    expect(pod.changedKinds.removed).toContain('kube-proxy');
    expect(pod.changedKinds.added).toContain('socket-lb');
    expect(pod).toMatchObject({ changed: true, regression: false });
    const np = d.paths.flows.find((f) => f.category === 'nodeport-from-outside')!;
    expect(np.flow).toMatchObject({ src: '172.18.0.3', dst: '172.18.0.2', dport: 31940 });
    // kube-proxy's 0.0.0.0 NodePort is hit by a packet to the node's address
    expect(np.before.hops.map((h) => h.kind)).toContain('kube-proxy');
    expect(np.after.hops.map((h) => h.kind)).toContain('tc-lb');
    const p2p = d.paths.flows.find((f) => f.category === 'pod-to-pod')!;
    expect(p2p).toMatchObject({ changed: false, regression: false });
    expect(p2p.summary).toMatch(/^same path/);
  });

  it('a Service flow load-balanced before and not after is a path regression; sampling is bounded and said', async () => {
    const after = afterServices().filter((e) => e.frontend.address !== '10.96.0.10');
    const d = diffNodes(side(await k1(), beforeServices()), side(await k1(), after));
    const pod = d.paths.flows.find((f) => f.category === 'service-from-pod' && f.frontend === '10.96.0.10:53/UDP')!;
    expect(pod.regression).toBe(true);
    expect(pod.summary).toMatch(/no layer translates 10\.96\.0\.10:53\/UDP after/);
    const few = diffNodes(side(await k1(), beforeServices()), side(await k1(), afterServices()), { maxFlows: 2 });
    expect(few.paths.flows).toHaveLength(2);
    expect(few.paths.sampled).toBe(true);
    expect(few.paths.note).toMatch(/sampled: 2 of \d+ flows traced/);
  });
});

describe('diff: behaviour changes, only when the states show them', () => {
  it('ICMP echo: VIPs on kube-ipvs0 before answered ping; served by Cilium after, they do not', async () => {
    const b = await k1();
    const eth0 = b.addrs.find((a) => a.ifname === 'eth0' && a.family === 4)!;
    b.addrs.push({
      ...eth0,
      ifname: 'kube-ipvs0',
      ifindex: 50,
      local: '10.96.0.10',
      prefixlen: 32,
      source: { probe: 'ip-addr', text: 'inet 10.96.0.10/32 scope global kube-ipvs0' },
    });
    const d = diffNodes(side(b, beforeServices()), side(await k1(), afterServices()));
    const icmp = d.behaviour.find((x) => x.code === 'icmp-echo')!;
    expect(icmp).toMatchObject({ regression: false, frontends: ['10.96.0.10'] });
    expect(icmp.evidence[0]!.text).toMatch(/kube-ipvs0/);
    // iptables mode never answered it: nothing to say
    expect(
      diffNodes(side(await k1(), beforeServices()), side(await k1(), afterServices())).behaviour.map((x) => x.code),
    ).not.toContain('icmp-echo');
  });

  it('client source address: kube-proxy masqueraded, Cilium SNAT mode keeps it for local backends only', async () => {
    const a = await k1();
    a.cilium.status = {
      ...a.cilium.status!,
      kprMode: { mode: 'SNAT', source: { probe: 'cilium-status', text: '  Mode:                  SNAT' } },
    };
    const d = diffNodes(side(await k1(), beforeServices()), side(a, afterServices()));
    const src = d.behaviour.find((x) => x.code === 'client-source-address')!;
    expect(src.detail).toMatch(
      /SNAT mode Cilium source-NATs to this node only when the chosen backend is on another node/,
    );
    expect(src.frontends).toEqual(['172.18.0.2:31940/TCP']);
    expect(src.evidence.map((e) => e.text)).toContain('  Mode:                  SNAT');
    a.cilium.status.kprMode = { mode: 'DSR', source: { probe: 'cilium-status', text: '  Mode:                  DSR' } };
    expect(
      diffNodes(side(await k1(), beforeServices()), side(a, afterServices())).behaviour.find(
        (x) => x.code === 'client-source-address',
      )!.detail,
    ).toMatch(/DSR mode no backend is source-NATed/);
  });

  it('socket-LB and external access to ClusterIPs are stated when the after state shows them', async () => {
    const d = diffNodes(side(await k1(), beforeServices()), side(await k1(), afterServices()));
    const codes = d.behaviour.map((x) => x.code);
    // k1 has socket-LB before too (Cilium was there with kube-proxy): no change to report
    expect(codes).not.toContain('socket-lb');
    const ext = d.behaviour.find((x) => x.code === 'external-clusterip')!;
    expect(ext.detail).toMatch(/\(DROP_IS_CLUSTER_IP\) unless bpf\.lbExternalClusterIP=true/);
    expect(ext.frontends).toEqual(['10.96.0.10:53/UDP']);
    const b = await k1();
    b.cgroup = [];
    b.cilium.status = { ...b.cilium.status! };
    delete b.cilium.status.socketLB;
    delete b.cilium.status.socketLBCoverage;
    // before the migration: Cilium without kube-proxy replacement (which would turn socket-LB on)
    b.cilium.status.kubeProxyReplacement = {
      mode: 'False',
      devices: [],
      source: { probe: 'cilium-status', text: 'KubeProxyReplacement:    False' },
    };
    b.cilium.config = {};
    const withSock = diffNodes(side(b, beforeServices()), side(await k1(), afterServices()));
    expect(withSock.behaviour.find((x) => x.code === 'socket-lb')!.title).toMatch(
      /at the socket, before any packet exists/,
    );
    const routable = afterServices().map((e) => (e.type === 'ClusterIP' ? { ...e, flags: { routable: true } } : e));
    expect(
      diffNodes(side(await k1(), beforeServices()), side(await k1(), routable)).behaviour.map((x) => x.code),
    ).not.toContain('external-clusterip');
  });

  it('hostPort: portmap DNAT before and nothing after is a regression; Cilium HostPort entries after are a change', async () => {
    const portmap =
      '*nat\n:PREROUTING ACCEPT [0:0]\n:CNI-HOSTPORT-DNAT - [0:0]\n:CNI-DN-1 - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"cilium\\" id: \\"abc\\"" -m multiport --dports 8080 -j CNI-DN-1\n-A CNI-DN-1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.244.1.57:80\nCOMMIT\n';
    const ipt = [
      { probe: 'iptables-save', family: 4 as const, rules: parseIptablesSave(portmap, 'iptables-save').value },
    ];
    const lost = diffNodes(side(await k1(), beforeServices(), { iptables: ipt }), side(await k1(), afterServices()));
    expect(lost.behaviour.find((x) => x.code === 'hostport')).toMatchObject({
      regression: true,
      title: 'hostPorts are no longer served',
    });
    expect(lost.summary.verdict).toBe('regressions');
    const hp = cil('172.18.0.2', 8080, 'TCP', [be('10.244.1.57', 80)], { type: 'HostPort' });
    const moved = diffNodes(
      side(await k1(), beforeServices(), { iptables: ipt }),
      side(await k1(), [...afterServices(), hp]),
    );
    expect(moved.behaviour.find((x) => x.code === 'hostport')).toMatchObject({
      regression: false,
      title: 'hostPort is now Cilium BPF, not iptables DNAT',
    });
  });
});
