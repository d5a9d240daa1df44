import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { checkJsonSchema } from '../../src/render/check.js';
import type { CheckReport } from '../../src/model/check.js';
import { confirmNeighbor, confirmRoute, safeDev } from '../../src/analysis/check/confirm.js';

const S = 'fixtures/snapshots';

async function check(snap: string, ...extra: string[]): Promise<{ code: number; report: CheckReport }> {
  const r = await runCli(['check', '-s', `${S}/${snap}`, '-o', 'json', ...extra]);
  return { code: r.code, report: checkJsonSchema.parse(JSON.parse(r.out)) as CheckReport };
}

/** `severity:kind` of every finding, in report order. */
const kinds = (r: CheckReport) => r.findings.map((f) => `${f.severity}:${f.kind}`);

// What each bundled snapshot's TOPOLOGY.md predicts, written down before the tests were run:
// - kind-v4 (k1, k2, k3): every listed path (pod → pod, → other node, host → pod, → outside, remote → local)
//   is delivered or forwarded, neighbours REACHABLE, one MTU everywhere: nothing to report.
// - migrate-*/before: kube-proxy runs (KPR False): its rules are not leftovers. default/empty has no endpoints
//   ("stays a frontend without backends"): a warning, not an error.
// - migrate-*/after: "no leftovers" (kubelet's chains are not kube-proxy's), conntrack empty: only default/empty.
// - migrate-iptables/after-broken: the filter table is "untouched and live" (REJECT for default/empty): an
//   error-level leftover; nat KUBE-SERVICES "empty but still hooked" and the unreachable chains; the flows NATed
//   by kube-proxy "still ESTABLISHED": stale conntrack NAT.
// - migrate-nft/after-broken: "both kube-proxy tables are left behind, complete and hooked": errors; stale NAT.
// - migrate-ipvs/after-broken: kube-ipvs0 with the ClusterIPs and the IPVS virtual servers still act: errors;
//   the ipsets no rule references: inert (info).
// - v6-wg/node-a: "no default route", so a pod's packet to outside is dropped: a warning for the node; the
//   path to node-c goes through wg-gw (wireguard-go, MTU 1420) from pods whose eth0 has 1500: the MTU shrinks.
// - v6-wg/node-b, node-c: default routes, every listed path works: nothing.
describe('netpath check on the bundled snapshots: the findings their TOPOLOGY.md predicts', () => {
  it.each(['kind-v4/k1', 'kind-v4/k2', 'kind-v4/k3', 'v6-wg/node-b', 'v6-wg/node-c'])(
    '%s: every path works, no finding, exit 0',
    async (snap) => {
      const { code, report } = await check(snap);
      expect(report.findings).toEqual([]);
      expect(report.flowsChecked).toBeGreaterThan(3);
      expect(code).toBe(0);
    },
  );

  it('kind-v4/k1 checks pod → pod, → other nodes, → outside, host → pod, replies and outside → host', async () => {
    const { report } = await check('kind-v4/k1');
    // 2 pods: 2 pod → pod, 2 other nodes' pod CIDRs (+2 replies), 1 → outside, 2 host → pod (+2 replies),
    // 1 outside → host on eth0; every request gets through, so every reply is checked
    expect(report.flowsEnumerated).toBe(12);
    expect(report.flowsChecked).toBe(12);
  });

  it.each(['migrate-iptables', 'migrate-nft', 'migrate-ipvs'])(
    '%s before and after: only default/empty (no endpoints) as a warning, exit 0',
    async (lab) => {
      for (const stage of ['before', 'after']) {
        const { code, report } = await check(`${lab}/${stage}`);
        expect(kinds(report), `${lab}/${stage}`).toEqual(['warning:service-no-backends']);
        expect(report.findings[0]!.message).toContain('10.96.99.40:80/TCP');
        expect(report.findings[0]!.flows.count).toBe(2);
        expect(code).toBe(0);
      }
    },
  );

  it('migrate-iptables/after-broken: live filter leftovers (error), stale NAT, the inert nat chains', async () => {
    const { code, report } = await check('migrate-iptables/after-broken');
    expect(kinds(report)).toEqual([
      'error:kube-proxy-leftover',
      'warning:stale-conntrack-nat',
      'warning:service-no-backends',
      'info:kube-proxy-leftover',
      'info:kube-proxy-leftover',
    ]);
    expect(report.findings[0]!.message).toMatch(/^filter KUBE-\* chains/);
    const nat = report.findings.find((f) => f.kind === 'kube-proxy-leftover' && f.message.startsWith('nat'))!;
    expect(nat.severity).toBe('info');
    const ct = report.findings.find((f) => f.kind === 'stale-conntrack-nat')!;
    expect(ct.message).toContain('10.96.0.1:443/TCP');
    expect(ct.message).toContain('172.18.0.2:31940/TCP');
    expect(ct.evidence.every((e) => e.probe === 'conntrack4')).toBe(true);
    // only the host's old connections are still NATed: the checked flows from the host to those frontends
    expect(ct.flows.count).toBe(3);
    expect(ct.flows.examples.every((x) => x.flow.src === '172.18.0.2')).toBe(true);
    expect(code).toBe(1);
  });

  it('migrate-nft/after-broken: both kube-proxy tables hooked (errors) and stale NAT', async () => {
    const { code, report } = await check('migrate-nft/after-broken');
    expect(kinds(report)).toEqual([
      'error:kube-proxy-leftover',
      'error:kube-proxy-leftover',
      'warning:stale-conntrack-nat',
      'warning:service-no-backends',
    ]);
    expect(
      report.findings
        .slice(0, 2)
        .map((f) => f.message.split(' left')[0])
        .sort(),
    ).toEqual(['table ip kube-proxy', 'table ip6 kube-proxy']);
    expect(code).toBe(1);
  });

  it('migrate-ipvs/after-broken: IPVS and kube-ipvs0 still act (errors), the ipsets are inert', async () => {
    const { code, report } = await check('migrate-ipvs/after-broken');
    expect(kinds(report)).toEqual([
      'error:kube-proxy-leftover',
      'error:kube-proxy-leftover',
      'warning:service-no-backends',
      'info:kube-proxy-leftover',
    ]);
    expect(report.findings.map((f) => f.message.split(' left')[0])).toEqual([
      'IPVS virtual servers',
      'kube-ipvs0 and its addresses',
      expect.stringContaining('10.96.99.40'),
      'kube-proxy ipsets',
    ]);
    expect(code).toBe(1);
  });

  it('v6-wg/node-a: no default route, and the MTU shrinks into wg-gw', async () => {
    const { code, report } = await check('v6-wg/node-a');
    expect(kinds(report).sort()).toEqual(['warning:mtu-shrink', 'warning:no-default-route']);
    const mtu = report.findings.find((f) => f.kind === 'mtu-shrink')!;
    expect(mtu.message).toContain('(1500) to wg-gw (1420)');
    expect(mtu.flows.examples[0]!.flow.dst).toMatch(/^2001:db8:42::c:/);
    expect(mtu.evidence.map((e) => e.probe)).toEqual([
      expect.stringMatching(/^netns\/cni-a[0-9a-f]+-va[12]\/ip-link$/),
      'ip-link',
    ]);
    expect(report.findings.find((f) => f.kind === 'no-default-route')!.message).toMatch(/^IPv6:/);
    expect(code).toBe(0);
  });
});

describe('netpath check on the command line', () => {
  it('-o yaml carries the same contract as -o json', async () => {
    const j = await runCli(['check', '-s', `${S}/migrate-iptables/after-broken`, '-o', 'json']);
    const y = await runCli(['check', '-s', `${S}/migrate-iptables/after-broken`, '-o', 'yaml']);
    expect(parseYaml(y.out)).toEqual(JSON.parse(j.out));
    expect(y.code).toBe(1);
  });

  it('text: each finding, its flows, evidence and confirm commands, then the result line', async () => {
    const r = await runCli(['check', '-s', `${S}/migrate-iptables/after-broken`]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ERROR kube-proxy-leftover {2}filter KUBE-\* chains/m);
    expect(r.out).toContain('confirm: iptables-save -t filter');
    // 26 flows and the 2 hairpins (each local pod that backs a Service, to its own frontend)
    expect(r.out).toMatch(/^result: PROBLEMS — 28 flows checked: 1 error, 2 warnings, 2 info$/m);
    const q = await runCli(['-q', 'check', '-s', `${S}/kind-v4/k1`]);
    expect(q.out).toBe('OK — 12 flows checked: 0 errors, 0 warnings, 0 info\n');
  });

  it('a progress bar on stderr only when it is a terminal and the output is for a person', async () => {
    const tty = await runCli(['check', '-s', `${S}/migrate-iptables/after`], { isStderrTTY: true });
    expect(tty.err).toMatch(/checking \[#+ *\] +\d+% \d+\/\d+ flows/);
    expect(tty.err).toContain('\r\x1b[2K');
    const json = await runCli(['check', '-s', `${S}/migrate-iptables/after`, '-o', 'json'], { isStderrTTY: true });
    expect(json.err).toBe('');
    const piped = await runCli(['check', '-s', `${S}/migrate-iptables/after`]);
    expect(piped.err).toBe('');
  });

  it('--max-flows cuts the flows and says so; a bad value is a usage error', async () => {
    const { report } = await check('migrate-iptables/after', '--max-flows', '5');
    expect(report.flowsChecked).toBeLessThanOrEqual(5);
    expect(report.flowsEnumerated).toBe(30);
    expect(report.warnings.map((w) => w.code)).toContain('flows-cut');
    expect((await runCli(['check', '-s', `${S}/kind-v4/k1`, '--max-flows', 'many'])).code).toBe(2);
  });

  it('exit 3 with one line when the node state cannot be read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'npchk-empty-'));
    try {
      const r = await runCli(['check', '-s', dir]);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(
        /^netpath: .*no node state to check \(ip-link, ip-addr, ip-route4, ip-route6: missing\)\n$/,
      );
      expect((await runCli(['check', '-s', join(dir, 'nope')])).code).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--cluster: each node checked, findings name their node', async () => {
    const r = await runCli(['check', '--cluster', `${S}/v6-wg`, '-o', 'json']);
    const report = checkJsonSchema.parse(JSON.parse(r.out));
    expect(report.nodes).toEqual(['gateway', 'node-a', 'node-b', 'node-c']);
    expect(report.findings.map((f) => `${f.node}:${f.kind}`).sort()).toEqual([
      'node-a:mtu-shrink',
      'node-a:no-default-route',
    ]);
    expect(r.code).toBe(0);
    expect((await runCli(['check', '--cluster', `${S}/v6-wg`, '-s', `${S}/kind-v4/k1`])).code).toBe(2);
  });
});

describe('confirm commands', () => {
  it('take only tokens of the right shape from node state', () => {
    expect(safeDev('eth0')).toBe('eth0');
    expect(safeDev("eth0';reboot;'")).toBe('DEVICE');
    expect(confirmNeighbor('10.0.0.1', 'a b')).toEqual([
      'ip neigh show 10.0.0.1 dev DEVICE',
      'arping -c 3 -I DEVICE 10.0.0.1',
    ]);
    expect(confirmNeighbor('$(id)', 'eth0')[0]).toBe('ip neigh show ADDRESS dev eth0');
    expect(confirmRoute({ flow: { src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', dport: 53 } })).toBe(
      'ip route get 10.0.0.2 from 10.0.0.1 ipproto udp dport 53',
    );
    expect(
      confirmRoute({ flow: { src: '10.0.0.1', dst: '10.96.0.1', proto: 'tcp', dport: 443 } }, '[fd00::5]:6443'),
    ).toBe('ip route get fd00::5 from 10.0.0.1 ipproto tcp');
  });
});

describe('check --cluster journeys (Service, host, reply)', () => {
  it('kind-v4: flowsChecked counts each node’s flows and every cross-node walk; the TOPOLOGY paths all work', async () => {
    const r = await runCli(['check', '--cluster', `${S}/kind-v4`, '-o', 'json']);
    const report = checkJsonSchema.parse(JSON.parse(r.out));
    // k1 12 + k2 12 + k3 8 node flows; 6 pod → remote-pod and 6 host → remote-pod journeys, each delivered,
    // and their 12 replies walked back
    expect(report.flowsChecked).toBe(32 + 24);
    expect(report.flowsEnumerated).toBe(32 + 24);
    expect(report.findings).toEqual([]);
    expect(r.code).toBe(0);
  });
});
