import type { CiliumStatus, Evidence, Parsed, Warning } from '../../model/types.js';
import { canonPrefix } from '../../model/addr.js';
import { cleanText, ev, looksLikeJson, parseJsonText, warn } from '../common.js';
import { ParseError } from '../parse-error.js';

// `cilium status --verbose` (≤1.14) / `cilium-dbg status --verbose` (1.15+). A tabwriter prints it,
// so fields are separated by runs of spaces; the lines that matter changed by version:
// `Host Routing:` ≤1.15, `Routing: Network: … Host: …` 1.16+, `Attach Mode:`/`Device Mode:` 1.16+.

function devices(list: string): { name: string; ips: string[]; directRouting: boolean }[] {
  return list
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '')
    .map((d) => {
      const directRouting = /\(Direct Routing\)/.test(d);
      const words = d.replace(/\(Direct Routing\)/, '').trim().split(/\s+/);
      return { name: words[0]!, ips: words.slice(1), directRouting };
    });
}

export function parseCiliumStatus(text: string, probe: string): Parsed<CiliumStatus> {
  const clean = cleanText(text);
  if (looksLikeJson(clean)) return statusJson(clean, probe);
  const warnings: Warning[] = [];
  const s: CiliumStatus = {};
  let known = 0;
  const e = (line: string): Evidence => ev(probe, line.trim());
  for (const raw of clean.split('\n')) {
    const line = raw.replace(/\t/g, '   ');
    const t = line.trim();
    let m: RegExpExecArray | null;
    if ((m = /^KubeProxyReplacement:\s+(\S+)(?:\s+\[(.*)\])?/.exec(t))) {
      known++;
      s.kubeProxyReplacement = { mode: m[1]!, devices: m[2] ? devices(m[2]) : [], source: e(t) };
    } else if ((m = /^Host Routing:\s+(BPF|Legacy)/.exec(t))) {
      known++;
      s.hostRouting = { mode: m[1] as 'BPF' | 'Legacy', source: e(t) };
    } else if ((m = /^Routing:\s+Network:\s+(Native|Tunnel)(?:\s+\[(\w+)\])?\s+Host:\s+(BPF|Legacy)/.exec(t))) {
      known++;
      s.networkRouting = { mode: m[1] as 'Native' | 'Tunnel', source: e(t), ...(m[2] ? { tunnelProtocol: m[2] } : {}) };
      s.hostRouting = { mode: m[3] as 'BPF' | 'Legacy', source: e(t) };
    } else if ((m = /^Attach Mode:\s+(TCX|Legacy TC)/.exec(t))) {
      known++;
      s.attachMode = { mode: m[1] as 'TCX' | 'Legacy TC', source: e(t) };
    } else if ((m = /^Device Mode:\s+(\S+)/.exec(t))) {
      known++;
      s.deviceMode = { mode: m[1]!, source: e(t) };
    } else if ((m = /^Masquerading:\s+(.*)$/.exec(t))) {
      known++;
      s.masquerading = masq(m[1]!, e(t));
    } else if ((m = /^Host firewall:\s+(Enabled|Disabled)(?:\s+\[(.*)\])?/.exec(t))) {
      known++;
      s.hostFirewall = { enabled: m[1] === 'Enabled', source: e(t), ...(m[2] ? { devices: m[2].split(',').map((x) => x.trim()) } : {}) };
    } else if ((m = /^Encryption:\s+(\S+)/.exec(t))) {
      known++;
      s.encryption = { mode: m[1]!, source: e(t) };
    } else if ((m = /^Cilium:\s+\S+\s+(\d+\.\d+\.\d+\S*)/.exec(t)) || (m = /^Cilium version:\s+(\d+\.\d+\.\d+\S*)/.exec(t))) {
      s.version = m[1]!;
    } else if ((m = /^Socket LB:\s+(Enabled|Disabled)/.exec(t))) {
      known++;
      s.socketLB = { enabled: m[1] === 'Enabled', source: e(t) };
    } else if ((m = /^Socket LB Coverage:\s+(Full|Hostns-only)/.exec(t))) {
      known++;
      s.socketLBCoverage = { coverage: m[1] as 'Full' | 'Hostns-only', source: e(t) };
    } else if ((m = /^Mode:\s+(SNAT|DSR|Hybrid)/.exec(t))) {
      s.kprMode = { mode: m[1]!, source: e(t) };
    } else if ((m = /^Backend Selection:\s+(.*)$/.exec(t))) {
      s.backendSelection = { value: m[1]!.trim(), source: e(t) };
    } else if ((m = /^XDP Acceleration:\s+(\S+)/.exec(t))) {
      s.xdpAcceleration = { value: m[1]!, source: e(t) };
    }
  }
  if (known === 0) throw new ParseError(probe, 'none of the lines of `cilium-dbg status --verbose` (KubeProxyReplacement, Host Routing/Routing, Masquerading, …) is here');
  if (!s.hostRouting) warnings.push(warn('status-incomplete', 'cilium status has no Host Routing / Routing line', probe));
  return { value: s, warnings };
}

function masq(v: string, source: Evidence): NonNullable<CiliumStatus['masquerading']> {
  if (/^Disabled/.test(v)) return { mode: 'Disabled', source };
  const mode = /^BPF/.test(v) ? 'BPF' : /^IPTables/i.test(v) ? 'IPTables' : 'Disabled';
  const out: NonNullable<CiliumStatus['masquerading']> = { mode, source };
  if (/ip-masq-agent/.test(v)) out.ipMasqAgent = true;
  const devs = /^BPF(?:\s+\(ip-masq-agent\))?\s+\[([^\]]*)\]/.exec(v);
  if (devs) out.devices = devs[1]!.split(',').map((d) => d.trim()).filter((d) => d !== '');
  const cidrs = v
    .replace(/\[[^\]]*\]/g, ' ')
    .split(/\s+/)
    .map((w) => canonPrefix(w))
    .filter((c): c is string => c !== null && w(c));
  if (cidrs.length) out.cidrs = cidrs;
  const v4 = /IPv4:\s*(Enabled|Disabled)/.exec(v);
  const v6 = /IPv6:\s*(Enabled|Disabled)/.exec(v);
  if (v4) out.ipv4 = v4[1] === 'Enabled';
  if (v6) out.ipv6 = v6[1] === 'Enabled';
  return out;
}

function w(c: string): boolean {
  return c.includes('/') && !c.endsWith('/32') && !c.endsWith('/128');
}

function statusJson(text: string, probe: string): Parsed<CiliumStatus> {
  const r = parseJsonText(text);
  if (!r.ok || r.value === null || typeof r.value !== 'object' || Array.isArray(r.value)) throw new ParseError(probe, r.ok ? 'expected a JSON object (cilium-dbg status -o json)' : r.message);
  const j = r.value as Record<string, any>;
  const s: CiliumStatus = {};
  const src = (k: string, v: unknown) => ev(probe, `"${k}": ${JSON.stringify(v)}`);
  const kpr = j['kube-proxy-replacement'];
  if (kpr && typeof kpr.mode === 'string') {
    const list = Array.isArray(kpr.deviceList) ? kpr.deviceList : [];
    s.kubeProxyReplacement = {
      mode: kpr.mode,
      devices: list.filter((d: any) => typeof d?.name === 'string').map((d: any) => ({ name: d.name, ips: Array.isArray(d.ip) ? d.ip.filter((x: unknown) => typeof x === 'string') : [], directRouting: d.name === kpr.directRoutingDevice })),
      source: src('kube-proxy-replacement.mode', kpr.mode),
    };
    const sl = kpr.features?.socketLB;
    if (sl && typeof sl.enabled === 'boolean') s.socketLB = { enabled: sl.enabled, source: src('features.socketLB.enabled', sl.enabled) };
    if (typeof kpr.features?.bpfSocketLBHostnsOnly === 'boolean')
      s.socketLBCoverage = { coverage: kpr.features.bpfSocketLBHostnsOnly ? 'Hostns-only' : 'Full', source: src('features.bpfSocketLBHostnsOnly', kpr.features.bpfSocketLBHostnsOnly) };
  }
  const routing = j.routing;
  if (routing && typeof routing['intra-host-routing-mode'] === 'string') {
    s.hostRouting = { mode: routing['intra-host-routing-mode'] === 'BPF' ? 'BPF' : 'Legacy', source: src('routing.intra-host-routing-mode', routing['intra-host-routing-mode']) };
    if (typeof routing['inter-host-routing-mode'] === 'string')
      s.networkRouting = { mode: routing['inter-host-routing-mode'] === 'Tunnel' ? 'Tunnel' : 'Native', source: src('routing.inter-host-routing-mode', routing['inter-host-routing-mode']) };
  } else if (typeof j['host-routing']?.mode === 'string') {
    s.hostRouting = { mode: j['host-routing'].mode === 'BPF' ? 'BPF' : 'Legacy', source: src('host-routing.mode', j['host-routing'].mode) };
  }
  if (typeof j['attach-mode'] === 'string') s.attachMode = { mode: j['attach-mode'] === 'tcx' ? 'TCX' : 'Legacy TC', source: src('attach-mode', j['attach-mode']) };
  if (typeof j['datapath-mode'] === 'string') s.deviceMode = { mode: j['datapath-mode'], source: src('datapath-mode', j['datapath-mode']) };
  const m = j.masquerading;
  if (m && typeof m === 'object') {
    const mode = m.enabled === false ? 'Disabled' : m.mode === 'BPF' ? 'BPF' : 'IPTables';
    const out: NonNullable<CiliumStatus['masquerading']> = { mode, source: src('masquerading', { enabled: m.enabled, mode: m.mode }) };
    const cidrs = [m['snat-exclusion-cidr-v4'], m['snat-exclusion-cidr-v6'], m['snat-exclusion-cidr']].filter((c) => typeof c === 'string' && c !== '').map((c) => canonPrefix(c)).filter((c): c is string => c !== null);
    if (cidrs.length) out.cidrs = [...new Set(cidrs)];
    if (typeof m.enabledProtocols?.ipv4 === 'boolean') out.ipv4 = m.enabledProtocols.ipv4;
    if (typeof m.enabledProtocols?.ipv6 === 'boolean') out.ipv6 = m.enabledProtocols.ipv6;
    if (m['ip-masq-agent'] === true) out.ipMasqAgent = true;
    s.masquerading = out;
  }
  if (Object.keys(s).length === 0) throw new ParseError(probe, 'no known key of `cilium-dbg status -o json`');
  return { value: s, warnings: [] };
}
