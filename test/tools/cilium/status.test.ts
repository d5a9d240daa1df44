import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseCiliumStatus } from '../../../src/tools/cilium/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const fx = (f: string) =>
  readFileSync(fileURLToPath(new URL(`../../../fixtures/tools/cilium/status/${f}`, import.meta.url)), 'utf8');
const parse = (f: string) => parseCiliumStatus(fx(f), 'cilium-status');

describe('parseCiliumStatus: real outputs by version', () => {
  it('1.13.4: KPR Disabled, Host Routing Legacy, IPTables, verbose details', () => {
    const { value: s, warnings } = parse('v1.13.4-verbose-kpr-disabled.txt');
    // the capture starts with kubectl's `Defaulted container` notice: skipped and said once
    expect(warnings.map((w) => [w.code, w.message])).toEqual([
      ['paste-skipped', '1 kubectl notice line(s) (`Defaulted container …`) skipped'],
    ]);
    expect(s.version).toBe('1.13.4');
    expect(s.kubeProxyReplacement).toMatchObject({ mode: 'Disabled', devices: [] });
    expect(s.hostRouting).toMatchObject({
      mode: 'Legacy',
      source: { probe: 'cilium-status', text: 'Host Routing:           Legacy' },
    });
    expect(s.masquerading).toMatchObject({ mode: 'IPTables', ipv4: true, ipv6: false });
    expect(s.masquerading!.cidrs).toBeUndefined();
    expect(s.socketLB).toMatchObject({ enabled: false });
    expect(s.socketLBCoverage).toMatchObject({ coverage: 'Full' });
    expect(s.attachMode).toBeUndefined();
    expect(s.networkRouting).toBeUndefined();
    // `Encryption:` after the BPF Maps table, separated by a long run of spaces
    expect(s.encryption).toMatchObject({ mode: 'Disabled' });
  });

  it('1.14.2: KPR False still lists devices; Masquerading Disabled; WireGuard device from the Encryption line', () => {
    const { value: s } = parse('v1.14.2-kpr-false-wireguard-masq-disabled.txt');
    expect(s.kubeProxyReplacement!.devices).toEqual([
      { name: 'eth0', ips: ['10.0.21.109'], directRouting: true },
      { name: 'eth1', ips: ['10.0.27.0'], directRouting: false },
    ]);
    expect(s.masquerading).toMatchObject({ mode: 'Disabled' });
    expect(s.encryption).toMatchObject({ mode: 'Wireguard', device: 'cilium_wg0' });
  });

  it('1.14.5: BPF host routing, BPF masquerade on two devices, a KPR device without an address', () => {
    const { value: s } = parse('v1.14.5-bpf-host-routing-wireguard.txt');
    expect(s.hostRouting!.mode).toBe('BPF');
    expect(s.kubeProxyReplacement!.devices[1]).toEqual({ name: 'cilium_wg0', ips: [], directRouting: false });
    expect(s.masquerading).toMatchObject({
      mode: 'BPF',
      devices: ['enp1s0', 'cilium_wg0'],
      cidrs: ['10.244.1.0/24'],
      ipv4: true,
      ipv6: false,
    });
  });

  it('1.15 (cilium-dbg, `Host Routing:`), pasted behind `# `', () => {
    const bpf = parse('v1.15-grep-host-routing-bpf.txt').value;
    expect(bpf.hostRouting!.mode).toBe('BPF');
    expect(bpf.hostRouting!.source.text).toBe('Host Routing:            BPF');
    expect(bpf.masquerading).toMatchObject({ mode: 'BPF', devices: ['eth0'], cidrs: ['172.16.0.0/16'] });
    const legacy = parse('v1.15-grep-host-routing-legacy.txt').value;
    expect(legacy.hostRouting!.mode).toBe('Legacy');
    expect(legacy.masquerading!.mode).toBe('IPTables');
  });

  it('1.16.5: Routing line (Native/Legacy), Attach Mode TCX, Device Mode veth', () => {
    const { value: s } = parse('v1.16.5-legacy-iptables-tcx.txt');
    expect(s.networkRouting).toMatchObject({ mode: 'Native' });
    expect(s.networkRouting!.tunnelProtocol).toBeUndefined();
    expect(s.hostRouting!.mode).toBe('Legacy');
    expect(s.attachMode!.mode).toBe('TCX');
    expect(s.deviceMode!.mode).toBe('veth');
    expect(s.kubeProxyReplacement!.devices).toEqual([
      { name: 'eth0', ips: ['10.10.0.83', 'fe80::be24:11ff:fe20:cc1f'], directRouting: true },
    ]);
  });

  it('1.17.4: Legacy TC, two devices, the direct-routing one first', () => {
    const { value: s } = parse('v1.17.4-legacy-tc-eks.txt');
    expect(s.attachMode!.mode).toBe('Legacy TC');
    expect(s.kubeProxyReplacement!.devices.map((d) => [d.name, d.directRouting])).toEqual([
      ['ens5', true],
      ['ens6', false],
    ]);
    expect(s.version).toBe('1.17.4');
  });

  it('1.18.0 (debuginfo): tunnel vxlan, indented KPR details', () => {
    const { value: s } = parse('v1.18.0-debuginfo-verbose-tunnel.txt');
    expect(s.networkRouting).toMatchObject({ mode: 'Tunnel', tunnelProtocol: 'vxlan' });
    expect(s.attachMode!.mode).toBe('Legacy TC');
    expect(s.socketLB!.enabled).toBe(true);
    expect(s.socketLBCoverage!.coverage).toBe('Full');
    expect(s.kprMode!.mode).toBe('SNAT');
    expect(s.backendSelection!.value).toBe('Random');
    expect(s.xdpAcceleration!.value).toBe('Disabled');
  });

  it('1.18.4: netkit, BPF host routing, v1.18 Masquerading spacing', () => {
    const { value: s } = parse('v1.18.4-netkit-bpf.txt');
    expect(s.deviceMode!.mode).toBe('netkit');
    expect(s.hostRouting!.mode).toBe('BPF');
    expect(s.masquerading).toMatchObject({
      mode: 'BPF',
      devices: ['eth0'],
      cidrs: ['10.100.0.0/16'],
      ipv4: true,
      ipv6: false,
    });
  });

  it('1.19.0 / 1.19.3', () => {
    const a = parse('v1.19.0-kpr-false-legacy-tc.txt').value;
    expect(a.kubeProxyReplacement).toMatchObject({ mode: 'False', devices: [] });
    expect(a.attachMode!.mode).toBe('Legacy TC');
    const b = parse('v1.19.3-tunnel-legacy-tcx.txt').value;
    expect(b.version).toBe('1.19.3');
    expect(b.attachMode!.mode).toBe('TCX');
    expect(b.networkRouting!.tunnelProtocol).toBe('vxlan');
  });

  it('status -o json (from the documented keys)', () => {
    const { value: s } = parse('status-json.from-format.json');
    expect(s.kubeProxyReplacement!.devices).toEqual([
      { name: 'eth0', ips: ['192.0.2.10', '2001:db8:1::10'], directRouting: true },
    ]);
    expect(s.hostRouting!.mode).toBe('BPF');
    expect(s.networkRouting!.mode).toBe('Native');
    expect(s.attachMode!.mode).toBe('TCX');
    expect(s.socketLBCoverage!.coverage).toBe('Hostns-only');
    expect(s.masquerading).toMatchObject({ mode: 'BPF', cidrs: ['10.244.0.0/16'], ipv4: true, ipv6: false });
    expect(s.hostRouting!.source.text).toBe('"routing.intra-host-routing-mode": "BPF"');
  });
});

describe('parseCiliumStatus: hostile and odd input', () => {
  it('text with none of the known lines is a ParseError', () => {
    expect(() => parseCiliumStatus('hello\nworld\n', 'p')).toThrow(ParseError);
    expect(() => parseCiliumStatus('', 'p')).toThrow(/not cilium status output/);
    expect(() => parseCiliumStatus('\u0000\u0001\u00ff'.repeat(1000), 'p')).toThrow(ParseError);
  });

  it('an unknown mode or a broken device list is a warning, never a half-read value', () => {
    const r = parseCiliumStatus(
      'KubeProxyReplacement:   Maybe   [eth0]\nMasquerading:   BPF   [eth0]   not-a-cidr\nHost Routing:   BPF\n',
      'p',
    );
    expect(r.value.kubeProxyReplacement).toBeUndefined();
    expect(r.value.masquerading).toBeUndefined();
    expect(r.value.hostRouting!.mode).toBe('BPF');
    expect(r.warnings.map((w) => w.code)).toEqual(['line-unreadable', 'line-unreadable']);
  });

  it('Mode:/Socket LB: outside the details block are not read', () => {
    const r = parseCiliumStatus('Host Routing:   Legacy\nMode:   DSR\nSocket LB:   Enabled\n', 'p');
    expect(r.value.kprMode).toBeUndefined();
    expect(r.value.socketLB).toBeUndefined();
  });

  it('ANSI colour and CRLF are stripped', () => {
    const r = parseCiliumStatus('\u001b[32mHost Routing:\u001b[0m           BPF\r\n', 'p');
    expect(r.value.hostRouting!.mode).toBe('BPF');
  });

  it('JSON: not an object, invalid, or no known key', () => {
    expect(() => parseCiliumStatus('[1,2]', 'p')).toThrow(ParseError);
    expect(() => parseCiliumStatus('{"routing": ', 'p')).toThrow(ParseError);
    expect(() => parseCiliumStatus('{"__proto__": {"x": 1}}', 'p')).toThrow(/no known key/);
    expect(() => parseCiliumStatus('{"attach-mode": 7}', 'p')).toThrow(ParseError);
  });

  it('a huge line is skipped, not matched', () => {
    const r = parseCiliumStatus(`Host Routing:   BPF\nMasquerading:   BPF   [${'a,'.repeat(10000)}]\n`, 'p');
    expect(r.value.masquerading).toBeUndefined();
  });
});

describe('parseCiliumStatus: other Masquerading forms (lines from public AKS / homelab notes)', () => {
  it('BPF (ip-masq-agent) and a v4 + v6 exclusion pair (1.18+)', () => {
    const a = parseCiliumStatus(
      'Masquerading:            BPF (ip-masq-agent)   [eth0]   10.244.0.0/16  [IPv4: Enabled, IPv6: Disabled]\n',
      'p',
    ).value;
    expect(a.masquerading).toMatchObject({
      mode: 'BPF',
      ipMasqAgent: true,
      devices: ['eth0'],
      cidrs: ['10.244.0.0/16'],
      ipv4: true,
      ipv6: false,
    });
    const b = parseCiliumStatus(
      'Masquerading:            BPF   [dummy0, ens18, ens19.30]   10.101.0.0/16 fd00:101::/48 [IPv4: Disabled, IPv6: Enabled]\n',
      'p',
    ).value;
    expect(b.masquerading).toMatchObject({
      mode: 'BPF',
      devices: ['dummy0', 'ens18', 'ens19.30'],
      cidrs: ['10.101.0.0/16', 'fd00:101::/48'],
      ipv4: false,
      ipv6: true,
    });
  });
});

describe('cilium parsers never throw anything but ParseError', () => {
  it('random text and random JSON', async () => {
    const fc = (await import('fast-check')).default;
    const { parseCiliumConfig, parseCiliumEndpoints } = await import('../../../src/tools/cilium/index.js');
    const ok = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
      }
    };
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.string().map((s) => `Masquerading: ${s}\nKubeProxyReplacement: True [${s}]\nMode: ${s}`),
        ),
        (t) => {
          ok(() => parseCiliumStatus(t, 'p'));
          ok(() => parseCiliumEndpoints(t, 'p'));
          ok(() => parseCiliumConfig(t, 'p'));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('parseCiliumStatus: BPF NodePort (the Services list of KubeProxyReplacement Details)', () => {
  it('reads `- NodePort: Enabled|Disabled`, which decides whether bpf_host has nodeport_lb4', () => {
    expect(parse('v1.13.4-verbose-kpr-disabled.txt').value.nodePortEnabled).toMatchObject({ enabled: false });
    const on = parse('v1.18.0-debuginfo-verbose-tunnel.txt').value.nodePortEnabled!;
    expect(on.enabled).toBe(true);
    expect(on.source.text).toMatch(/^- NodePort:\s+Enabled \(Range: 30000-32767\)/);
  });
});
