import type { CiliumStatus, Evidence, Parsed } from '../../model/types.js';
import { canonIp, canonPrefix } from '../../model/addr.js';
import { cleanText, ev, looksLikeJson, parseJsonText } from '../common.js';
import { ParseError } from '../parse-error.js';
import { cleanPaste } from '../paste.js';
import { statusJsonSchema } from './schema.js';
import { ciliumRule, inVersionRange, parseCiliumVersion, versionRangeText } from '../../model/cilium-rules.js';
import { throwIfToolError } from '../tool-error.js';
import { Warnings } from '../warnings.js';

// `cilium status --verbose` / `cilium-dbg status --verbose` (model/cilium-rules.ts: cilium-dbg-binary). A tabwriter
// prints it, so fields are separated by runs of spaces. `Host Routing:` or `Routing: Network: … Host: …`
// (status-routing-line), `Attach Mode:` and `Device Mode:` (status-attach-device-mode). Pastes often carry a prefix (`# ` in a shell comment, a
// tab from a CI log): it is stripped when a known key follows it.

type Device = { name: string; ips: string[]; directRouting: boolean };

const NAME = /^[A-Za-z0-9_.:@+-]{1,64}$/;

function devices(list: string): Device[] | null {
  const out: Device[] = [];
  for (const part of list.split(',')) {
    const d = part.trim();
    if (d === '') continue;
    const directRouting = /\(Direct Routing\)/.test(d);
    const words = d
      .replace(/\(Direct Routing\)/, ' ')
      .trim()
      .split(/\s+/)
      .filter((w) => w !== '');
    const name = words[0];
    if (name === undefined || !NAME.test(name)) return null;
    const ips = words.slice(1).map((w) => canonIp(w));
    if (ips.some((ip) => ip === null)) return null;
    out.push({ name, ips: ips as string[], directRouting });
  }
  return out;
}

// Keys of the top-level block and of the indented `KubeProxyReplacement Details:` block.
const KEY =
  /^(KubeProxyReplacement|Host Routing|Routing|Attach Mode|Device Mode|Masquerading|Host firewall|Encryption|Cilium|KubeProxyReplacement Details|Status|Socket LB|Socket LB Tracing|Socket LB Coverage|Devices|Mode|Backend Selection|XDP Acceleration|Session Affinity|IPv4 BIG TCP|IPv6 BIG TCP):/;

export function parseCiliumStatus(text: string, probe: string): Parsed<CiliumStatus> {
  throwIfToolError(text, probe, 'cilium-dbg status');
  const clean = cleanText(text);
  if (looksLikeJson(clean)) return statusJson(clean, probe);
  const paste = cleanPaste(clean, probe);
  const warnings = new Warnings(probe).preface(paste.warnings);
  const s: CiliumStatus = {};
  let known = 0;
  let inDetails = false;
  // inside a `NAT46/64 Support:` block (its `- Services:` line is not the Services list below it)
  let nat46Open = false;
  const e = (line: string): Evidence => ev(probe, line);
  const bad = (t: string, what: string) => warnings.add('line-unreadable', `${what}: ${t.slice(0, 120)}`);
  for (const raw of paste.text.split('\n')) {
    if (raw.length > 8192) continue;
    let line = raw.replace(/\t/g, '    ').replace(/\s+$/, '');
    // a paste prefix (`# `, `[timestamp] `) before a known key
    const pre = /^(#\s?|\[[^\]]{1,40}\]\s+)\s*(.*)$/.exec(line);
    if (pre && KEY.test(pre[2]!)) line = pre[2]!;
    const indented = /^\s/.test(line);
    const t = line.trim();
    if (t === '') continue;
    if (!indented && t !== 'KubeProxyReplacement Details:') inDetails = false;
    let m: RegExpExecArray | null;
    if (t === 'KubeProxyReplacement Details:') {
      inDetails = true;
      known++;
      continue;
    }
    if (inDetails && indented) {
      if ((m = /^Socket LB:\s+(Enabled|Disabled)$/.exec(t))) {
        known++;
        s.socketLB = { enabled: m[1] === 'Enabled', source: e(t) };
      } else if ((m = /^Socket LB Coverage:\s+(\S+)$/.exec(t))) {
        if (m[1] === 'Full' || m[1] === 'Hostns-only') {
          known++;
          s.socketLBCoverage = { coverage: m[1], source: e(t) };
        } else bad(t, 'unknown Socket LB Coverage');
      } else if ((m = /^Mode:\s+(SNAT|DSR|Hybrid)\b/.exec(t))) {
        s.kprMode = { mode: m[1]!, source: e(t) };
      } else if ((m = /^Backend Selection:\s+(.+)$/.exec(t))) {
        s.backendSelection = { value: m[1]!.trim(), source: e(t) };
      } else if ((m = /^XDP Acceleration:\s+(\S+)$/.exec(t))) {
        s.xdpAcceleration = { value: m[1]!, source: e(t) };
      } else if ((m = /^DSR Dispatch Mode:\s+(\S.*)$/.exec(t))) {
        s.dsrDispatch = { value: m[1]!, source: e(t) };
      } else if ((m = /^- NodePort:\s+(Enabled|Disabled)\b/.exec(t))) {
        // the agent's EnableNodePort: what compiles bpf_host's NodePort path (ENABLE_NODEPORT) in
        s.nodePortEnabled = { enabled: m[1] === 'Enabled', source: e(t) };
      } else if ((m = /^NAT46\/64 Support:\s*(Enabled|Disabled)?$/.exec(t))) {
        // `Disabled`, a lone `Enabled` (older agents), or nothing with `- Services:` / `- Gateway:` lines below
        if (m[1]) s.nat46x64Services = { enabled: m[1] === 'Enabled', source: e(t) };
        else nat46Open = true;
      } else if (nat46Open && (m = /^- Services:\s+(Enabled|Disabled)$/.exec(t))) {
        s.nat46x64Services = { enabled: m[1] === 'Enabled', source: e(t) };
      }
      if (!/^(NAT46\/64 Support:|- Gateway:|Prefixes:)/.test(t)) nat46Open = false;
      continue;
    }
    if (indented) continue;
    if ((m = /^KubeProxyReplacement:\s+(\S+)(?:\s+\[(.*)\])?\s*$/.exec(t))) {
      const mode = m[1]!;
      if (!/^(True|False|Strict|Partial|Probe|Disabled)$/.test(mode)) {
        bad(t, 'unknown KubeProxyReplacement mode');
        continue;
      }
      const devs = m[2] !== undefined ? devices(m[2]) : [];
      if (devs === null) {
        bad(t, 'KubeProxyReplacement device list not in the `dev ip… (Direct Routing), …` form');
        continue;
      }
      known++;
      s.kubeProxyReplacement = { mode, devices: devs, source: e(t) };
    } else if ((m = /^Host Routing:\s+(BPF|Legacy)$/.exec(t))) {
      known++;
      s.hostRouting = { mode: m[1] as 'BPF' | 'Legacy', source: e(t) };
    } else if ((m = /^Routing:\s+Network:\s+(Native|Tunnel)(?:\s+\[([\w-]+)\])?\s+Host:\s+(BPF|Legacy)$/.exec(t))) {
      known++;
      s.networkRouting = { mode: m[1] as 'Native' | 'Tunnel', source: e(t), ...(m[2] ? { tunnelProtocol: m[2] } : {}) };
      s.hostRouting = { mode: m[3] as 'BPF' | 'Legacy', source: e(t) };
    } else if ((m = /^Attach Mode:\s+(TCX|Legacy TC)$/.exec(t))) {
      known++;
      s.attachMode = { mode: m[1] as 'TCX' | 'Legacy TC', source: e(t) };
    } else if ((m = /^IPv([46]) BIG TCP:\s+(?:Disabled|Enabled\s+\[(\d{1,10})(?:,\s*(\d{1,10}))?\])$/.exec(t))) {
      // `Enabled [max]`, or `[gro, gso]` when they differ (pkg/client FormatStatusResponse)
      known++;
      const on = m[2] !== undefined;
      const big = { enabled: on, source: e(t), ...(on ? { maxGso: Number(m[3] ?? m[2]), maxGro: Number(m[2]) } : {}) };
      if (m[1] === '4') s.bigTcpV4 = big;
      else s.bigTcpV6 = big;
    } else if ((m = /^Device Mode:\s+(veth|netkit|netkit-l2)\b/.exec(t))) {
      known++;
      s.deviceMode = { mode: m[1]!, source: e(t) };
    } else if ((m = /^Masquerading:\s+(.*)$/.exec(t))) {
      const v = masq(m[1]!, e(t));
      if (v) {
        known++;
        s.masquerading = v;
      } else bad(t, 'Masquerading line in no known form');
    } else if ((m = /^Host firewall:\s+(Enabled|Disabled)(?:\s+\[(.*)\])?$/.exec(t))) {
      known++;
      s.hostFirewall = {
        enabled: m[1] === 'Enabled',
        source: e(t),
        ...(m[2]
          ? {
              devices: m[2]
                .split(',')
                .map((x) => x.trim())
                .filter((x) => x !== ''),
            }
          : {}),
      };
    } else if ((m = /^Encryption:\s+(\S+)(?:\s+\[(.*)\])?$/.exec(t))) {
      known++;
      s.encryption = { mode: m[1]!, source: e(t) };
      const wg = m[2] ? /(?:^|,\s*)([A-Za-z0-9_.-]{1,15})\s+\(Pubkey:/.exec(m[2]) : null;
      if (wg) s.encryption.device = wg[1]!;
    } else if ((m = /^Cilium:\s+\S+\s+(\d+\.\d+\.\d+[\w.+-]*)/.exec(t))) {
      known++;
      s.version = m[1]!;
      s.versionSource = e(t);
    }
  }
  if (known === 0)
    throw new ParseError(
      probe,
      'none of the lines of cilium status (KubeProxyReplacement, Host Routing/Routing, Masquerading, …) is here: not cilium status output',
    );
  // the formats read here are those of status-format-known: another agent may print what this does not know
  const formats = ciliumRule('status-format-known').versions;
  const v = s.version ? parseCiliumVersion(s.version) : null;
  if (v && !inVersionRange(v, formats)) {
    warnings.add(
      'version-unknown',
      `cilium ${s.version} is outside the versions whose status format netpath knows (${versionRangeText(formats)}): a field it did not find may be printed differently`,
    );
  }
  if (!s.hostRouting) warnings.add('status-incomplete', 'cilium status has no Host Routing / Routing line');
  return { value: s, warnings: warnings.done() };
}

/**
 * `BPF   [eth0, eth1]   10.0.0.0/8 [IPv4: Enabled, IPv6: Disabled]`, `BPF (ip-masq-agent) …`,
 * v1.18+ `<v4cidr> <v6cidr>`, `IPTables [IPv4: Enabled, IPv6: Disabled]`, `Disabled`.
 */
function masq(v: string, source: Evidence): NonNullable<CiliumStatus['masquerading']> | null {
  const t = v.trim();
  if (t === 'Disabled') return { mode: 'Disabled', source };
  const m =
    /^(BPF|IPTables)(\s+\(ip-masq-agent\))?(?:\s+\[(?!IPv4:)([^\]]*)\])?((?:\s+[0-9a-fA-F.:]+\/\d{1,3})*)\s*(?:\[IPv4:\s*(Enabled|Disabled),\s*IPv6:\s*(Enabled|Disabled)\])?$/.exec(
      t,
    );
  if (!m) return null;
  const out: NonNullable<CiliumStatus['masquerading']> = { mode: m[1] === 'BPF' ? 'BPF' : 'IPTables', source };
  if (m[2]) out.ipMasqAgent = true;
  if (m[3] !== undefined) {
    const devs = m[3]
      .split(',')
      .map((d) => d.trim())
      .filter((d) => d !== '');
    if (devs.some((d) => !NAME.test(d))) return null;
    out.devices = devs;
  }
  const cidrs = (m[4] ?? '')
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '')
    .map((w) => canonPrefix(w));
  if (cidrs.some((c) => c === null)) return null;
  if (cidrs.length) out.cidrs = cidrs as string[];
  if (m[5]) out.ipv4 = m[5] === 'Enabled';
  if (m[6]) out.ipv6 = m[6] === 'Enabled';
  return out;
}

function statusJson(text: string, probe: string): Parsed<CiliumStatus> {
  const r = parseJsonText(text);
  if (!r.ok) throw new ParseError(probe, r.message);
  if (r.value === null || typeof r.value !== 'object' || Array.isArray(r.value))
    throw new ParseError(probe, 'expected a JSON object (cilium-dbg status -o json)');
  const p = statusJsonSchema.safeParse(r.value);
  if (!p.success)
    throw new ParseError(
      probe,
      `not cilium status JSON (${p.error.issues[0]?.path.join('.')}: ${p.error.issues[0]?.message})`,
    );
  const j = p.data;
  const warnings = new Warnings(probe);
  const s: CiliumStatus = {};
  const src = (k: string, v: unknown) => ev(probe, `"${k}": ${JSON.stringify(v)}`);
  const kpr = j['kube-proxy-replacement'];
  if (kpr?.mode !== undefined) {
    const devs: Device[] = [];
    for (const d of kpr.deviceList ?? []) {
      const ips = (d.ip ?? []).map((x) => canonIp(x)).filter((x): x is string => x !== null);
      devs.push({ name: d.name, ips, directRouting: d.name === kpr.directRoutingDevice });
    }
    if (devs.length === 0)
      for (const d of kpr.devices ?? []) devs.push({ name: d, ips: [], directRouting: d === kpr.directRoutingDevice });
    s.kubeProxyReplacement = { mode: kpr.mode, devices: devs, source: src('kube-proxy-replacement.mode', kpr.mode) };
    const sl = kpr.features?.socketLB?.enabled;
    if (sl !== undefined) s.socketLB = { enabled: sl, source: src('features.socketLB.enabled', sl) };
    const ho = kpr.features?.bpfSocketLBHostnsOnly;
    if (ho !== undefined)
      s.socketLBCoverage = { coverage: ho ? 'Hostns-only' : 'Full', source: src('features.bpfSocketLBHostnsOnly', ho) };
    const np = kpr.features?.nodePort;
    if (np?.mode) s.kprMode = { mode: np.mode, source: src('features.nodePort.mode', np.mode) };
    if (np?.algorithm)
      s.backendSelection = { value: np.algorithm, source: src('features.nodePort.algorithm', np.algorithm) };
    if (np?.enabled !== undefined)
      s.nodePortEnabled = { enabled: np.enabled, source: src('features.nodePort.enabled', np.enabled) };
    if (np?.dsrMode) s.dsrDispatch = { value: np.dsrMode, source: src('features.nodePort.dsrMode', np.dsrMode) };
    if (np?.acceleration)
      s.xdpAcceleration = { value: np.acceleration, source: src('features.nodePort.acceleration', np.acceleration) };
    const nat = kpr.features?.nat46X64;
    if (nat?.enabled === false)
      s.nat46x64Services = { enabled: false, source: src('features.nat46X64.enabled', false) };
    else if (nat?.service?.enabled !== undefined)
      s.nat46x64Services = {
        enabled: nat.service.enabled,
        source: src('features.nat46X64.service.enabled', nat.service.enabled),
      };
  }
  const hostMode = (v: string, key: string): void => {
    if (/^bpf$/i.test(v)) s.hostRouting = { mode: 'BPF', source: src(key, v) };
    else if (/^legacy$/i.test(v)) s.hostRouting = { mode: 'Legacy', source: src(key, v) };
    else warnings.add('value-unknown', `${key} = ${JSON.stringify(v).slice(0, 60)} is not BPF or Legacy`);
  };
  const routing = j.routing;
  if (routing?.['intra-host-routing-mode'] !== undefined)
    hostMode(routing['intra-host-routing-mode'], 'routing.intra-host-routing-mode');
  else if (j['host-routing']?.mode !== undefined) hostMode(j['host-routing'].mode, 'host-routing.mode');
  const inter = routing?.['inter-host-routing-mode'];
  if (inter !== undefined) {
    if (/^(native|tunnel)$/i.test(inter)) {
      s.networkRouting = {
        mode: /^native$/i.test(inter) ? 'Native' : 'Tunnel',
        source: src('routing.inter-host-routing-mode', inter),
      };
      if (routing?.['tunnel-protocol']) s.networkRouting.tunnelProtocol = routing['tunnel-protocol'];
    } else warnings.add('value-unknown', `routing.inter-host-routing-mode = ${JSON.stringify(inter).slice(0, 60)}`);
  }
  const am = j['attach-mode'];
  if (am !== undefined) {
    if (/^tcx$/i.test(am)) s.attachMode = { mode: 'TCX', source: src('attach-mode', am) };
    else if (/^tc$/i.test(am)) s.attachMode = { mode: 'Legacy TC', source: src('attach-mode', am) };
    else warnings.add('value-unknown', `attach-mode = ${JSON.stringify(am).slice(0, 60)}`);
  }
  if (j['datapath-mode'] !== undefined)
    s.deviceMode = { mode: j['datapath-mode'], source: src('datapath-mode', j['datapath-mode']) };
  const m = j.masquerading;
  if (m) {
    const mode =
      m.enabled === false
        ? 'Disabled'
        : m.mode && /^bpf$/i.test(m.mode)
          ? 'BPF'
          : m.mode && /^iptables$/i.test(m.mode)
            ? 'IPTables'
            : undefined;
    if (mode === undefined)
      warnings.add(
        'value-unknown',
        `masquerading.mode = ${JSON.stringify(m.mode ?? null)} with enabled=${String(m.enabled)}`,
      );
    else {
      const out: NonNullable<CiliumStatus['masquerading']> = {
        mode,
        source: src('masquerading', { enabled: m.enabled, mode: m.mode }),
      };
      const cidrs = [m['snat-exclusion-cidr-v4'], m['snat-exclusion-cidr-v6'], m['snat-exclusion-cidr']]
        .filter((c): c is string => typeof c === 'string' && c !== '')
        .map((c) => canonPrefix(c))
        .filter((c): c is string => c !== null);
      if (cidrs.length) out.cidrs = [...new Set(cidrs)];
      if (m.enabledProtocols?.ipv4 !== undefined) out.ipv4 = m.enabledProtocols.ipv4;
      if (m.enabledProtocols?.ipv6 !== undefined) out.ipv6 = m.enabledProtocols.ipv6;
      if (m['ip-masq-agent'] === true) out.ipMasqAgent = true;
      s.masquerading = out;
    }
  }
  if (Object.keys(s).length === 0)
    throw new ParseError(probe, 'not cilium status output: no known key of `cilium-dbg status -o json`');
  return { value: s, warnings: warnings.done() };
}
