import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deriveDatapath, fullProgramName } from '../../src/analysis/datapath.js';
import {
  bpfLink,
  bpfNet,
  link,
  nodeState,
  prog,
  tcFilter,
  wgDevice,
  withConfig,
  withStatus,
} from '../helpers/state.js';

const dp = (file: string) => deriveDatapath(withStatus(nodeState(), file));

describe('deriveDatapath from real status outputs, one per version', () => {
  it('1.13.4: legacy (iptables masquerade, KPR Disabled), tc, socket LB off', () => {
    const d = dp('v1.13.4-verbose-kpr-disabled.txt');
    expect(d.ciliumVersion).toMatchObject({
      known: true,
      value: '1.13.4',
      evidence: [{ text: 'Cilium:                 Ok   1.13.4 (v1.13.4-4061cdfc)' }],
    });
    expect(d.hostRouting).toMatchObject({ known: true, value: 'legacy' });
    expect(d.legacyReasons).toEqual([
      'iptables masquerading (BPF masquerade is off)',
      'kube-proxy replacement is not true/strict',
    ]);
    expect(d.kubeProxyReplacement).toMatchObject({
      known: true,
      value: false,
      evidence: [{ text: 'KubeProxyReplacement:   Disabled' }],
    });
    expect(d.attachMode).toMatchObject({ known: true, value: 'tc', inferred: true });
    expect(d.masquerade).toMatchObject({
      known: true,
      value: { mode: 'iptables', ipv4: true, ipv6: false, exclusionCidrs: [], devices: [] },
    });
    expect(d.socketLB).toMatchObject({ known: true, value: { enabled: false, hostnsOnly: false } });
    expect(d.socketLB.known && d.socketLB.inferred).toBeFalsy();
    expect(d.deviceMode).toMatchObject({ known: true, value: 'veth', inferred: true });
    expect(d.nativeDevices.known).toBe(false);
  });

  it('1.14.2: KPR False, masquerade disabled, WireGuard cilium_wg0', () => {
    const d = dp('v1.14.2-kpr-false-wireguard-masq-disabled.txt');
    expect(d.kubeProxyReplacement).toMatchObject({ known: true, value: false });
    expect(d.hostRouting).toMatchObject({ value: 'legacy' });
    expect(d.legacyReasons).toEqual(['kube-proxy replacement is not true/strict']);
    expect(d.masquerade).toMatchObject({ value: { mode: 'disabled', ipv4: false, ipv6: false } });
    expect(d.wireguard).toMatchObject({ known: true, value: { device: 'cilium_wg0' } });
    expect(d.nativeDevices).toMatchObject({ known: true, value: ['eth0', 'eth1'] });
    expect(d.directRoutingDevice).toMatchObject({ known: true, value: 'eth0' });
    expect(d.attachMode).toMatchObject({ value: 'tc', inferred: true });
    expect(d.socketLB.known).toBe(false);
  });

  it('1.14.5: BPF host routing, BPF masquerade with its exclusion CIDR, KPR True', () => {
    const d = dp('v1.14.5-bpf-host-routing-wireguard.txt');
    expect(d.hostRouting).toMatchObject({ value: 'bpf' });
    expect(d.legacyReasons).toEqual([]);
    expect(d.kubeProxyReplacement).toMatchObject({ value: true });
    expect(d.masquerade).toMatchObject({
      value: { mode: 'bpf', exclusionCidrs: ['10.244.1.0/24'], devices: ['enp1s0', 'cilium_wg0'] },
    });
    expect(d.nativeRoutingCidr.v4).toMatchObject({ known: true, value: '10.244.1.0/24', inferred: true });
    // no Socket LB line, but KPR true turns socket LB on
    expect(d.socketLB).toMatchObject({ known: true, value: { enabled: true, hostnsOnly: false }, inferred: true });
  });

  it('1.15: host routing from `Host Routing:`; no version line, so KPR and attach mode are unknown', () => {
    const d = dp('v1.15-grep-host-routing-bpf.txt');
    expect(d.hostRouting).toMatchObject({ value: 'bpf' });
    expect(d.masquerade).toMatchObject({ value: { mode: 'bpf', exclusionCidrs: ['172.16.0.0/16'] } });
    expect(d.kubeProxyReplacement).toMatchObject({ known: false });
    expect(d.attachMode).toMatchObject({ known: false, because: expect.stringMatching(/no Attach Mode line/) });
    expect(d.ciliumVersion).toMatchObject({
      known: false,
      because: expect.stringMatching(/no `Cilium:` version line/),
    });
    const l = dp('v1.15-grep-host-routing-legacy.txt');
    expect(l.legacyReasons).toEqual(['iptables masquerading (BPF masquerade is off)']);
  });

  it('1.16.5: legacy despite KPR True (iptables), TCX', () => {
    const d = dp('v1.16.5-legacy-iptables-tcx.txt');
    expect(d.hostRouting).toMatchObject({ value: 'legacy' });
    expect(d.legacyReasons).toEqual(['iptables masquerading (BPF masquerade is off)']);
    expect(d.attachMode).toMatchObject({
      known: true,
      value: 'tcx',
      evidence: [{ text: 'Attach Mode:             TCX' }],
    });
    expect(d.attachMode.known && d.attachMode.inferred).toBeFalsy();
    expect(d.routingMode).toMatchObject({ value: 'native' });
    expect(d.kubeProxyReplacement).toMatchObject({ value: true });
  });

  it('1.17.4: Legacy TC, two native devices', () => {
    const d = dp('v1.17.4-legacy-tc-eks.txt');
    expect(d.attachMode).toMatchObject({ value: 'tc' });
    expect(d.nativeDevices).toMatchObject({ value: ['ens5', 'ens6'] });
    expect(d.directRoutingDevice).toMatchObject({ value: 'ens5' });
    expect(d.hostRouting).toMatchObject({ value: 'legacy' });
  });

  it('1.18.0: tunnel, socket LB coverage Full from the details block', () => {
    const d = dp('v1.18.0-debuginfo-verbose-tunnel.txt');
    expect(d.routingMode).toMatchObject({ value: 'tunnel' });
    expect(d.socketLB).toMatchObject({
      value: { enabled: true, hostnsOnly: false },
      evidence: [{ text: 'Socket LB:            Enabled' }, { text: 'Socket LB Coverage:   Full' }],
    });
    expect(d.attachMode).toMatchObject({ value: 'tc' });
  });

  it('1.18.4: netkit, BPF host routing, TCX', () => {
    const d = dp('v1.18.4-netkit-bpf.txt');
    expect(d.deviceMode).toMatchObject({ known: true, value: 'netkit' });
    expect(d.hostRouting).toMatchObject({ value: 'bpf' });
    expect(d.attachMode).toMatchObject({ value: 'tcx' });
    expect(d.masquerade).toMatchObject({ value: { mode: 'bpf', exclusionCidrs: ['10.100.0.0/16'] } });
  });

  it('1.19.0 / 1.19.3: KPR False, legacy; IPsec would no longer be a reason', () => {
    const a = dp('v1.19.0-kpr-false-legacy-tc.txt');
    expect(a.kubeProxyReplacement).toMatchObject({ value: false });
    expect(a.legacyReasons).toEqual([
      'iptables masquerading (BPF masquerade is off)',
      'kube-proxy replacement is not true/strict',
    ]);
    const b = dp('v1.19.3-tunnel-legacy-tcx.txt');
    expect(b.attachMode).toMatchObject({ value: 'tcx' });
    expect(b.routingMode).toMatchObject({ value: 'tunnel' });
  });
});

describe('legacy reasons depend on the version', () => {
  const legacy = (version: string) =>
    `KubeProxyReplacement:    True   [eth0   192.0.2.10 (Direct Routing)]\nCilium:                  Ok   ${version} (v${version}-0)\nHost Routing:            Legacy\nMasquerading:            BPF   [eth0]   10.244.0.0/16 [IPv4: Enabled, IPv6: Disabled]\nEncryption:              IPsec\n`;
  it('IPsec counts up to 1.18, not in 1.19; kernel < 5.10 up to 1.17; endpoint routes and WireGuard only in 1.13', () => {
    const mk = (v: string) => {
      const s = withConfig(withStatus(nodeState({ node: { name: null, kernel: '5.4.0-150-generic' } }), legacy(v)), {
        'enable-endpoint-routes': 'true',
      });
      return deriveDatapath(s).legacyReasons;
    };
    expect(mk('1.13.4')).toEqual([
      'IPsec encryption',
      'per-endpoint routes (enable-endpoint-routes=true)',
      'kernel 5.4.0-150-generic lacks bpf_redirect_peer/bpf_redirect_neigh (5.10)',
    ]);
    expect(mk('1.17.4')).toEqual([
      'IPsec encryption',
      'kernel 5.4.0-150-generic lacks bpf_redirect_peer/bpf_redirect_neigh (5.10)',
    ]);
    expect(mk('1.18.4')).toEqual(['IPsec encryption']);
    expect(mk('1.19.3')).toEqual([]);
  });

  it('an unknown version names the versions a reason applies to', () => {
    const s = withStatus(nodeState(), 'Host Routing:   Legacy\nEncryption:   IPsec\n');
    expect(deriveDatapath(s).legacyReasons).toEqual([
      'IPsec encryption (forces legacy host routing in Cilium 1.13–1.18; the version is unknown)',
    ]);
  });
});

describe('status and config disagree: the status wins, with a warning', () => {
  it('1.18.0 debuginfo: enable-tcx=true but Legacy TC; bpf-lb-sock=false but Socket LB Enabled (KPR)', () => {
    const s = withConfig(withStatus(nodeState(), 'v1.18.0-debuginfo-verbose-tunnel.txt'), {
      'enable-tcx': 'true',
      'bpf-lb-sock': 'false',
      'kube-proxy-replacement': 'true',
      'routing-mode': 'tunnel',
      'enable-bpf-masquerade': 'false',
    });
    const d = deriveDatapath(s);
    expect(d.attachMode).toMatchObject({ value: 'tc' });
    expect(d.socketLB).toMatchObject({ value: { enabled: true } });
    expect(d.warnings.map((w) => w.message)).toEqual([
      'cilium-config says enable-tcx: true but cilium status says Attach Mode:            Legacy TC; the status (what the agent runs) wins (tcx needs Linux 6.6+; the agent falls back to legacy tc without it)',
      'cilium-config says bpf-lb-sock: false but cilium status says Socket LB:            Enabled; the status (what the agent runs) wins (kube-proxy replacement turns socket LB on whatever bpf-lb-sock says)',
    ]);
    expect(d.warnings.every((w) => w.code === 'status-config-disagree')).toBe(true);
  });

  it('enable-bpf-masquerade=true but the status says IPTables', () => {
    const s = withConfig(withStatus(nodeState(), 'v1.16.5-legacy-iptables-tcx.txt'), {
      'enable-bpf-masquerade': 'true',
      'ipv4-native-routing-cidr': '10.69.0.0/16',
    });
    const d = deriveDatapath(s);
    expect(d.masquerade).toMatchObject({ value: { mode: 'iptables', exclusionCidrs: ['10.69.0.0/16'] } });
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]!.message).toMatch(
      /enable-bpf-masquerade: true but cilium status says Masquerading: +IPTables/,
    );
  });
});

describe('facts from the config alone, and unknowns with reasons', () => {
  it('nothing at all', () => {
    const d = deriveDatapath(nodeState());
    for (const f of [
      d.routingMode,
      d.kubeProxyReplacement,
      d.hostRouting,
      d.masquerade,
      d.socketLB,
      d.attachMode,
      d.deviceMode,
      d.nativeRoutingCidr.v4,
      d.wireguard,
    ])
      expect(f).toEqual({ known: false, because: 'neither cilium-status nor cilium-config was read' });
    expect(d.kernel).toEqual({ known: false, because: 'no uname was read' });
    expect(d.endpointRoutes).toMatchObject({ known: false });
    expect(d.legacyReasons).toEqual([]);
    expect(d.programs).toEqual([]);
  });

  it('config only (1.13 ConfigMap): tunnel=disabled → native; iptables masquerade → legacy, inferred', () => {
    const s = withConfig(nodeState(), {
      tunnel: 'disabled',
      'kube-proxy-replacement': 'strict',
      'enable-ipv4-masquerade': 'true',
      'enable-bpf-masquerade': 'false',
      'ipv4-native-routing-cidr': '192.168.0.0/16',
      'enable-endpoint-routes': 'false',
    });
    const d = deriveDatapath(s);
    expect(d.routingMode).toMatchObject({ value: 'native', inferred: true });
    expect(d.kubeProxyReplacement).toMatchObject({ value: true, inferred: true });
    expect(d.masquerade).toMatchObject({
      value: { mode: 'iptables', exclusionCidrs: ['192.168.0.0/16'] },
      inferred: true,
    });
    expect(d.hostRouting).toMatchObject({
      value: 'legacy',
      inferred: true,
      because: expect.stringMatching(/iptables masquerading/),
    });
    expect(d.endpointRoutes).toMatchObject({ known: true, value: false });
    expect(d.attachMode).toMatchObject({ known: false });
    expect(d.ciliumVersion).toMatchObject({ known: false });
  });

  it('the `tunnel` key counts up to 1.14 and is ignored from 1.15 (config-tunnel-key)', () => {
    const v114 = deriveDatapath(
      withConfig(withStatus(nodeState(), 'v1.14.2-kpr-false-wireguard-masq-disabled.txt'), { tunnel: 'disabled' }),
    );
    expect(v114.routingMode).toMatchObject({ known: true, value: 'native' });
    // a real 1.15.1 status (no Routing line yet) with a stale `tunnel` key the agent no longer reads
    const v115 = readFileSync(
      fileURLToPath(
        new URL('../../fixtures/corpus/cilium-status/issue32065-markdown-bold-v1.15.1.txt', import.meta.url),
      ),
      'utf8',
    );
    const d = deriveDatapath(withConfig(withStatus(nodeState(), v115), { tunnel: 'disabled' }));
    expect(d.routingMode).toMatchObject({
      known: false,
      because: expect.stringMatching(/`tunnel` key is ignored: Cilium 1\.15\.1 no longer reads it, ≤ 1\.14 only/),
    });
  });

  it('config with BPF masquerade: host routing stays unknown (the agent can still fall back)', () => {
    const d = deriveDatapath(
      withConfig(nodeState(), {
        'routing-mode': 'native',
        'kube-proxy-replacement': 'true',
        'enable-bpf-masquerade': 'true',
      }),
    );
    expect(d.hostRouting).toMatchObject({
      known: false,
      because: expect.stringMatching(/cannot prove BPF host routing/),
    });
  });

  it('WireGuard from `wg` or ip link when the status has no Encryption line', () => {
    const d = deriveDatapath(nodeState({ wg: [wgDevice('cilium_wg0')] }));
    expect(d.wireguard).toMatchObject({ known: true, value: { device: 'cilium_wg0' }, inferred: true });
    const e = deriveDatapath(nodeState({ links: [link('wg-a', 7, 'wireguard')] }));
    expect(e.wireguard).toMatchObject({ value: { device: 'wg-a' } });
  });
});

describe('programs', () => {
  it('15-character kernel names map back to Cilium names', () => {
    expect(fullProgramName('cil_from_contai')).toBe('cil_from_container');
    expect(fullProgramName('cil_sock4_getpe')).toBe('cil_sock4_getpeername');
    expect(fullProgramName('cil_from_netdev')).toBe('cil_from_netdev');
    expect(fullProgramName('cil_lxc_policy_')).toBe('cil_lxc_policy_egress');
    expect(fullProgramName('my_prog')).toBeUndefined();
  });

  it('legacy tc filters and bpftool net entries, merged when they are the same attachment', () => {
    const s = nodeState({
      bpfProgs: [prog(11, 'cil_from_contai'), prog(12, 'cil_from_netdev')],
      tc: [tcFilter('lxc1', 'ingress', 11, 'cil_from_contai', 'cil_from_container-lxc1')],
      bpfNet: [
        bpfNet('lxc1', 5, 'tc-ingress', 'cil_from_container-lxc1', 11),
        bpfNet('eth0', 2, 'tc-ingress', 'cil_from_netdev-eth0', 12),
      ],
    });
    const p = deriveDatapath(s).programs;
    expect(p.map((x) => [x.dev, x.hook, x.program, x.progId])).toEqual([
      ['lxc1', 'tc-ingress', 'cil_from_container', 11],
      ['eth0', 'tc-ingress', 'cil_from_netdev', 12],
    ]);
    expect(p[0]!.evidence.map((e) => e.probe)).toEqual(['tc-filter/lxc1.ingress', 'bpftool-net']);
  });

  it('tcx links with a device name (newer bpftool)', () => {
    const s = nodeState({
      bpfProgs: [prog(21, 'cil_to_netdev')],
      bpfLinks: [bpfLink(3, 21, 'tcx', 'tcx_egress', { ifindex: 2, dev: 'eth0' })],
    });
    expect(deriveDatapath(s).programs).toEqual([
      expect.objectContaining({ dev: 'eth0', hook: 'tcx-egress', program: 'cil_to_netdev', progId: 21 }),
    ]);
    expect(deriveDatapath(s).programs[0]!.inferred).toBeUndefined();
  });

  it('tcx links without a device (bpftool 7.1): dev ? and why; two lxc devices cannot be told apart', () => {
    const s = nodeState({
      links: [link('lxc1', 5, 'veth'), link('lxc2', 6, 'veth')],
      bpfProgs: [prog(31, 'cil_from_contai'), prog(32, 'cil_from_contai')],
      bpfLinks: [bpfLink(4, 31, 'tcx', 'tcx_ingress'), bpfLink(5, 32, 'tcx')],
    });
    const p = deriveDatapath(s).programs;
    expect(p).toHaveLength(2);
    expect(p[0]).toMatchObject({
      dev: '?',
      hook: 'tcx-ingress',
      program: 'cil_from_container',
      progId: 31,
      inferred: true,
      because: 'a tcx link runs cil_from_container (prog 31), but this bpftool cannot name its device',
    });
    expect(p[1]).toMatchObject({
      dev: '?',
      hook: 'tcx-ingress',
      inferred: true,
      because: expect.stringMatching(/cannot name its device or direction; tcx-ingress assumed from the program name$/),
    });
  });

  it('tcx link without a device, proven by the only candidate device', () => {
    const s = withStatus(
      nodeState({
        links: [link('eth0', 2), link('cilium_host', 3, 'veth')],
        bpfProgs: [prog(41, 'cil_from_netdev'), prog(42, 'cil_from_host')],
        bpfLinks: [bpfLink(6, 41, 'tcx', 'tcx_ingress'), bpfLink(7, 42, 'tcx', 'tcx_egress')],
      }),
      'KubeProxyReplacement:    True   [eth0   192.0.2.10 (Direct Routing)]\n',
    );
    const p = deriveDatapath(s).programs;
    expect(p.map((x) => [x.dev, x.hook, x.program])).toEqual([
      ['eth0', 'tcx-ingress', 'cil_from_netdev'],
      ['cilium_host', 'tcx-egress', 'cil_from_host'],
    ]);
    expect(p[0]).toMatchObject({
      inferred: true,
      because: expect.stringMatching(
        /cannot name its device; eth0 is the only device Cilium attaches cil_from_netdev to on this node/,
      ),
    });
  });

  it('a tcx link with an ifindex but no name resolves through ip link', () => {
    const s = nodeState({
      links: [link('eth0', 2), link('lxc9', 9, 'veth')],
      bpfProgs: [prog(51, 'cil_to_containe')],
      bpfLinks: [bpfLink(8, 51, 'tcx', 'tcx_egress', { ifindex: 9 })],
    });
    expect(deriveDatapath(s).programs[0]).toMatchObject({
      dev: 'lxc9',
      program: 'cil_to_container',
      hook: 'tcx-egress',
      inferred: true,
      because: expect.stringMatching(/ifindex 9 is lxc9/),
    });
  });

  it('programs that are not Cilium are ignored', () => {
    const s = nodeState({
      bpfProgs: [prog(61, 'my_filter')],
      bpfLinks: [bpfLink(9, 61, 'tcx', 'tcx_ingress')],
      tc: [tcFilter('eth0', 'ingress', 61, 'my_filter')],
    });
    expect(deriveDatapath(s).programs).toEqual([]);
  });
});
