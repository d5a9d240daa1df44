import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';
import { explainTrace, shellQuote } from '../../src/analysis/explain.js';
import type { Trace } from '../../src/model/trace.js';

const fx = (p: string) => fileURLToPath(new URL(`../../fixtures/snapshots/${p}`, import.meta.url));
const explained = async (snap: string, req: Parameters<typeof runTrace>[1]) =>
  explainTrace((await runTrace(dirSource(fx(snap)), req)).trace);
const commands = (t: Trace, kind: string) =>
  t.hops.filter((h) => h.kind === kind).flatMap((h) => h.explain!.confirm.map((c) => c.command));

/** Shell words of a suggested command: bare safe words or single-quoted strings, and `|` between commands. */
function shellWords(cmd: string): string[] {
  const words: string[] = [];
  const re = /\s*(?:'((?:[^']|'\\'')*)'|([A-Za-z0-9_.:/@%+=,[\]-]+)|(\|))/y;
  let i = 0;
  while (i < cmd.length) {
    re.lastIndex = i;
    const m = re.exec(cmd);
    if (!m) throw new Error(`not a plain shell word at ${i}: ${cmd.slice(i)}`);
    words.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : (m[2] ?? m[3])!);
    i = re.lastIndex;
  }
  return words;
}

describe('--explain on real traces', () => {
  it('pod → remote pod (kind-v4): every hop explained, tied to its evidence, with commands for this flow', async () => {
    const t = await explained('kind-v4/k1', { src: '10.244.1.12', dst: '10.244.2.7', proto: 'tcp', port: 8080 });
    for (const h of t.hops) {
      expect(h.explain!.what.length).toBeGreaterThan(40);
      expect(h.explain!.why.length).toBeGreaterThan(10);
      expect(h.explain!.confirm.length).toBeGreaterThan(0);
    }
    const fib = t.hops.find((h) => h.detail.startsWith('FIB lookup'))!;
    expect(fib.explain!.why).toContain('BPF host routing is on (cilium-status: Host Routing: BPF)');
    expect(fib.explain!.why).toContain('"10.244.2.0/24 via 172.18.0.3 dev eth0"');
    expect(fib.explain!.confirm[0]!.command).toBe(
      'ip route get 10.244.2.7 from 10.244.1.12 iif lxc6d1e0f2a3b4c ipproto tcp dport 8080',
    );
    expect(commands(t, 'route')[0]).toBe(
      'ip -n cni-5f0c1d2e-k1a route get 10.244.2.7 from 10.244.1.12 ipproto tcp dport 8080',
    );
    expect(commands(t, 'bpf')).toContain(
      "tcpdump -ni lxc6d1e0f2a3b4c 'src host 10.244.1.12 and dst host 10.244.2.7 and tcp dst port 8080'",
    );
    expect(commands(t, 'bpf')).toContain('tc filter show dev eth0 egress');
    expect(commands(t, 'redirect_neigh')).toEqual([
      "pwru --filter-track-bpf-helpers --filter-trace-tc 'src host 10.244.1.12 and dst host 10.244.2.7 and tcp dst port 8080'",
      'ip neigh show 172.18.0.3 dev eth0',
      "tcpdump -ni eth0 'src host 10.244.1.12 and dst host 10.244.2.7 and tcp dst port 8080'",
    ]);
    expect(t.hops.find((h) => h.kind === 'redirect_neigh')!.explain!.why).toContain(
      'ip-neigh: 172.18.0.3 dev eth0 lladdr ea:f0:24:80:60:c1 REACHABLE',
    );
  });

  it('pod → ClusterIP (socket-LB): the hops after the rewrite are confirmed with the backend address', async () => {
    const t = await explained('kind-v4-svc/k1', { src: '10.244.1.12', dst: '10.96.0.10', proto: 'udp', port: 53 });
    const lb = t.hops[0]!;
    expect(lb.kind).toBe('socket-lb');
    expect(lb.explain!.why).toContain(
      'bpftool-cgroup: /run/cilium/cgroupv2 950 cgroup_inet4_connect multi cil_sock4_connect',
    );
    expect(lb.explain!.confirm.map((c) => c.command)).toContain(
      "tcpdump -ni lxc6d1e0f2a3b4c 'src host 10.244.1.12 and dst host 10.244.1.57 and udp dst port 53'",
    );
    expect(lb.explain!.confirm[0]!.command).toBe(
      'hubble observe --type trace-sock --from-ip 10.244.1.12 --node-name k1',
    );
    expect(commands(t, 'redirect_peer')[0]).toBe(
      "ip netns exec cni-7a9b3c4d-k1b tcpdump -ni eth0 'src host 10.244.1.12 and dst host 10.244.1.57 and udp dst port 53'",
    );
    expect(commands(t, 'redirect_peer')).toContain(
      'hubble observe --from-ip 10.244.1.12 --to-ip 10.244.1.57 --protocol udp --to-port 53 --node-name k1 --type trace:to-endpoint',
    );
    expect(commands(t, 'deliver')).toContain("ip netns exec cni-7a9b3c4d-k1b ss -lnu 'sport = :53'");
  });

  it('pod → outside without the ipcache: BPF masquerade is explained as undecided, with the reason', async () => {
    // kind-v4 predates the ipcache probe: whether 203.0.113.9 is a node (no SNAT) is not in the snapshot
    const t = await explained('kind-v4/k1', { src: '10.244.1.12', dst: '203.0.113.9', proto: 'tcp', port: 443 });
    const nat = t.hops.find((h) => h.kind === 'masquerade')!;
    expect(nat.explain!.why).toContain('cilium-status: Masquerading: BPF [eth0] 10.244.0.0/16');
    expect(nat.explain!.why).toContain('the ipcache was not read');
    expect(nat.explain!.confirm.map((c) => c.command)).toEqual([
      "tcpdump -ni eth0 'src host 10.244.1.12 and dst host 203.0.113.9 and tcp dst port 443'",
    ]);
  });

  it('WireGuard and no-route hops (v6-wg)', async () => {
    const wg = await explained('v6-wg/node-a', {
      src: '2001:db8:42::a:5',
      dst: '2001:db8:42::c:9',
      proto: 'tcp',
      port: 443,
    });
    expect(commands(wg, 'wireguard')).toEqual([
      'wg show wg-gw',
      "tcpdump -ni wg-gw 'src host 2001:db8:42::a:5 and dst host 2001:db8:42::c:9 and tcp dst port 443'",
      "tcpdump -ni eth0 'udp and dst host 2001:db8:1::1 and dst port 51820'",
    ]);
    expect(wg.hops.find((h) => h.kind === 'bpf')!.explain!.what).toContain('with tcx');
    expect(wg.hops.find((h) => h.kind === 'bpf')!.explain!.why).toMatch(/This hop is inferred: /);
    const nr = await explained('v6-wg/gateway', { src: '2001:db8:1::10', dst: '2001:db8:77::1', proto: 'tcp' });
    expect(commands(nr, 'drop')[0]).toBe('ip route get 2001:db8:77::1 from 2001:db8:1::10 iif eth0 ipproto tcp');
    expect(commands(nr, 'drop')).toContain(
      'hubble observe --from-ip 2001:db8:1::10 --to-ip 2001:db8:77::1 --protocol tcp --node-name gateway --verdict DROPPED',
    );
  });

  it('every suggested command is plain shell words, so a copy-paste runs exactly what is shown', async () => {
    for (const [snap, req] of [
      ['kind-v4/k1', { src: '10.244.1.12', dst: '10.244.2.7', proto: 'tcp', port: 8080 }],
      ['kind-v4/k1', { src: '172.18.0.2', dst: '10.244.1.57', proto: 'tcp' }],
      ['kind-v4-svc/k1', { src: '203.0.113.50', dst: '172.18.0.2', proto: 'tcp', port: 31940 }],
      ['v6-wg/node-a', { src: '2001:db8:42::a:5', dst: '2001:db8:42::c:9', proto: 'icmp' }],
    ] as const) {
      const t = await explained(snap, req);
      for (const c of t.hops.flatMap((h) => h.explain!.confirm))
        expect(() => shellWords(c.command), c.command).not.toThrow();
    }
  });

  it('quotes hostile names instead of letting them become shell syntax', () => {
    for (const name of ['eth0;rm -rf /', "a'b", '$(reboot)', '-i', 'x y', 'lxc`id`', 'n\nm']) {
      const words = shellWords(`tcpdump -ni ${shellQuote(name)} x`);
      expect(words).toEqual(['tcpdump', '-ni', name.replace(/\n/g, '?'), 'x']);
    }
    expect(shellQuote('lxc6d1e0f2a3b4c')).toBe('lxc6d1e0f2a3b4c');
    expect(shellQuote('cni-5f0c1d2e-k1a')).toBe('cni-5f0c1d2e-k1a');
  });
});
