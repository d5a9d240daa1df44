import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { nodeJsonSchema, type NodeReport } from '../../src/render/node.js';

/** Every node snapshot bundled with netpath (a directory holding ip-link or ip-addr output). */
function bundledNodes(dir = 'fixtures/snapshots'): string[] {
  const own = readdirSync(dir).some((n) => /^ip-(link|addr)\.(json|txt)$/.test(n));
  if (own) return [dir];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'netns')
    .flatMap((e) => bundledNodes(join(dir, e.name)));
}

const NODES = bundledNodes();
const LABELS = [
  'Cilium version',
  'kernel',
  'routing mode',
  'host routing',
  'kube-proxy replacement',
  'socket LB',
  'attach mode',
  'device mode',
  'masquerade',
  'encryption',
  'native-routing CIDR v4',
  'native-routing CIDR v6',
  'devices',
  'direct-routing device',
  'endpoint routes',
];

async function report(dir: string): Promise<NodeReport> {
  const r = await runCli(['node', '-s', dir, '-o', 'json']);
  expect(r.code, r.err).toBe(0);
  return nodeJsonSchema.parse(JSON.parse(r.out));
}

describe('netpath node', () => {
  it('finds every bundled snapshot', () => {
    expect(NODES.length).toBeGreaterThanOrEqual(18);
  });

  it.each(NODES)('%s: text, json (the schema) and yaml (the same object)', async (dir) => {
    const text = await runCli(['node', '-s', dir]);
    expect(text.code, text.err).toBe(0);
    const lines = text.out.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^node \\S+ — ${dir.replace(/[.]/g, '\\.')}$`));
    for (const l of LABELS) expect(lines.some((x) => x.startsWith(`  ${l} `))).toBe(true);

    const rep = await report(dir);
    for (const [name, f] of Object.entries(rep.facts)) {
      // a fact is either read off a probe line (evidence) or says how it was reached, never neither
      if (f.known) expect(f.evidence.length > 0 || (f.inferred && f.because), `${dir} ${name}`).toBeTruthy();
      else expect(f.because.length, `${dir} ${name}`).toBeGreaterThan(10);
    }
    // a missing probe is one read and found missing or unreadable, or one the manifest says was not captured
    for (const m of rep.missingProbes) {
      const read = rep.probes.find((p) => p.probe === m.probe);
      if (read) expect(read.status).toBe(m.status);
      else expect(m.why.length, `${dir} ${m.probe}`).toBeGreaterThan(5);
    }

    const yaml = await runCli(['node', '-s', dir, '-o', 'yaml']);
    expect(parseYaml(yaml.out)).toEqual(JSON.parse(JSON.stringify(rep)));
  });

  it('kind-v4 k1: BPF host routing, kube-proxy replacement and socket LB, each with its status line', async () => {
    const r = await report('fixtures/snapshots/kind-v4/k1');
    expect(r.node).toBe('k1');
    expect(r.facts.routingMode).toEqual({
      known: true,
      value: 'native',
      evidence: [{ probe: 'cilium-config', text: 'tunnel: disabled' }],
    });
    expect(r.facts.hostRouting).toMatchObject({ known: true, value: 'bpf' });
    expect(r.facts.kubeProxyReplacement).toMatchObject({ known: true, value: true });
    expect(r.facts.socketLB).toMatchObject({ known: true, value: { enabled: true, hostnsOnly: false } });
    expect(r.facts.attachMode).toMatchObject({ known: true, value: 'tc', inferred: true });
    expect(r.facts.kernel).toEqual({
      known: true,
      value: '6.18.44-fc-v669',
      evidence: [{ probe: 'uname', text: '6.18.44-fc-v669' }],
    });
    expect(r.facts.nativeRoutingCidrV6).toMatchObject({ known: false });
    // the snapshot predates the ipcache, encryption, egress-gateway, xfrm and per-device sysctl probes: each is
    // named as missing
    expect(r.missingProbes.map((p: { probe: string }) => p.probe).sort()).toEqual(
      [
        'bpf-map/cilium_ipcache',
        'bpf-map/cilium_ipcache_v2',
        'bpf-map/cilium_ipmasq_v4',
        'bpf-map/cilium_ipmasq_v6',
        'cilium-egress-list',
        'cilium-encrypt-status',
        'cilium-ipcache',
        'wg',
        'ip-xfrm-policy',
        'ip-xfrm-state',
        'sysctl-conf4',
      ].sort(),
    );
    for (const p of r.missingProbes)
      expect(p).toMatchObject({ status: 'missing', why: 'not in fixtures/snapshots/kind-v4/k1' });
  });

  it('a kube-proxy node before the migration: legacy host routing, and why', async () => {
    const r = await report('fixtures/snapshots/migrate-iptables/before');
    expect(r.facts.hostRouting).toMatchObject({ known: true, value: 'legacy' });
    expect(r.legacyHostRoutingReasons).toContain('kube-proxy replacement is not true/strict');
    const text = await runCli(['node', '-s', 'fixtures/snapshots/migrate-iptables/before']);
    expect(text.out).toMatch(/why legacy host routing:\n {2}- /);
  });

  it('a node without Cilium: every Cilium fact unknown and why, the agent probes listed as missing', async () => {
    const r = await report('fixtures/snapshots/conntrack/np-ct-node');
    expect(r.facts.ciliumVersion).toEqual({
      known: false,
      because: 'neither cilium-status nor cilium-config was read',
    });
    const why = Object.fromEntries(r.missingProbes.map((m) => [m.probe, m.why]));
    // read for the node state, and (the Service layers) only named by the capture's manifest
    for (const id of ['cilium-status', 'cilium-config', 'cilium-endpoints', 'cilium-service-list', 'cilium-lb-list'])
      expect(why[id], id).toBe('cilium: not installed');
    expect(why.wg).toBe('not in fixtures/snapshots/conntrack/np-ct-node');
    expect(why['bpf-map/cilium_lb4_services_v2']).toMatch(/No such file or directory/);
    const text = await runCli(['node', '-s', 'fixtures/snapshots/conntrack/np-ct-node']);
    expect(text.out).toMatch(/^ {2}routing mode +unknown — neither cilium-status nor cilium-config was read/m);
    // the capture's 12, and the ipcache, encryption, egress-gateway and xfrm probes added after it
    expect(text.out).toMatch(/missing probes \(23\):\n {2}bpf-map\/cilium_ipcache /);
    expect(text.out).toMatch(/^ {2}bpf-map\/cilium_lb4_backends_v3 +bpftool: .*No such file or directory$/m);
  });

  it('-q prints one line; an empty snapshot is exit 3; a wrong format is exit 2', async () => {
    const q = await runCli(['node', '-s', 'fixtures/snapshots/v6-wg/node-a', '-q']);
    expect(q.out).toBe('node-a: Cilium 1.19.0, native routing, host routing bpf, kube-proxy replacement on\n');
    const empty = mkdtempSync(join(tmpdir(), 'np-node-'));
    try {
      const r = await runCli(['node', '-s', empty]);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(/nothing to report about this node/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const bad = await runCli(['node', '-s', 'fixtures/snapshots/kind-v4/k1', '-o', 'table']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/text\|json\|yaml/);
  });

  it.skipIf(!existsSync('dist/cli.js'))('runs from the built CLI, and help lists it', () => {
    const r = spawnSync(process.execPath, ['bin/netpath.js', 'node', '-s', 'fixtures/snapshots/kind-v4/k2', '--json'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(nodeJsonSchema.parse(JSON.parse(r.stdout)).node).toBe('k2');
    const help = spawnSync(process.execPath, ['bin/netpath.js', '--help'], { encoding: 'utf8' });
    expect(help.stdout).toMatch(/^ {2}node \[options\] +what netpath concluded about a node/m);
  });
});
