import type { BpfHook, CiliumStatus, Evidence, NodeState, Warning } from '../model/types.js';
import { canonPrefix, familyOf } from '../model/addr.js';
import { configValue } from '../tools/cilium/config.js';
import { kernelVersion } from '../tools/uname/index.js';
import {
  ciliumRule,
  ciliumRuleHolds,
  parseCiliumVersion,
  versionRangeText,
  type CiliumMinor,
  type CiliumRuleId,
} from '../model/cilium-rules.js';

export type Fact<T> =
  | { known: true; value: T; evidence: Evidence[]; inferred?: boolean; because?: string }
  | { known: false; because: string };

export interface CiliumProgramAttachment {
  /** device name, or '?' when the probe that saw it could not name the device */
  dev: string;
  hook: BpfHook;
  /** full Cilium program name, recovered from the kernel's 15-character name */
  program: string;
  progId?: number;
  evidence: Evidence[];
  inferred?: boolean;
  because?: string;
}

/** What Cilium does on this node, each fact with the probe lines that prove it, or why it is unknown. */
export interface Datapath {
  ciliumVersion: Fact<string>;
  routingMode: Fact<'native' | 'tunnel'>;
  /** true/Strict → true; False/Disabled/Partial/Probe → false (the raw mode is in the evidence) */
  kubeProxyReplacement: Fact<boolean>;
  hostRouting: Fact<'bpf' | 'legacy'>;
  /** why legacy host routing, when it is: the version-specific fallback reasons the state shows */
  legacyReasons: string[];
  attachMode: Fact<'tc' | 'tcx'>;
  deviceMode: Fact<'veth' | 'netkit' | 'netkit-l2'>;
  socketLB: Fact<{ enabled: boolean; hostnsOnly: boolean }>;
  masquerade: Fact<{
    mode: 'bpf' | 'iptables' | 'disabled';
    ipv4: boolean;
    ipv6: boolean;
    exclusionCidrs: string[];
    devices: string[];
  }>;
  nativeRoutingCidr: { v4: Fact<string>; v6: Fact<string> };
  kernel: Fact<string>;
  nativeDevices: Fact<string[]>;
  directRoutingDevice: Fact<string>;
  endpointRoutes: Fact<boolean>;
  /** cilium_wg0, or a WireGuard device seen in `wg` / `ip link` kind wireguard */
  wireguard: Fact<{ device: string }>;
  programs: CiliumProgramAttachment[];
  warnings: Warning[];
}

// Kernel program names are cut to 15 characters (BPF_OBJ_NAME_LEN - 1); docs/cilium-datapath.md §3.1.
const FULL_NAMES = [
  'cil_from_container',
  'cil_to_container',
  'cil_from_netdev',
  'cil_to_netdev',
  'cil_from_host',
  'cil_to_host',
  'cil_from_overlay',
  'cil_to_overlay',
  'cil_from_wireguard',
  'cil_to_wireguard',
  'cil_xdp_entry',
  'cil_from_network',
  'cil_sock4_connect',
  'cil_sock6_connect',
  'cil_sock4_sendmsg',
  'cil_sock6_sendmsg',
  'cil_sock4_recvmsg',
  'cil_sock6_recvmsg',
  'cil_sock4_getpeername',
  'cil_sock6_getpeername',
  'cil_sock4_post_bind',
  'cil_sock6_post_bind',
  'cil_sock4_pre_bind',
  'cil_sock6_pre_bind',
  'cil_sock_release',
  'cil_lxc_policy',
  'cil_lxc_policy_egress',
  'cil_host_policy',
];

/** The full Cilium name of a kernel program name (`cil_from_contai` → `cil_from_container`); undefined if not Cilium's. */
export function fullProgramName(name: string): string | undefined {
  if (!name.startsWith('cil_')) return undefined;
  if (FULL_NAMES.includes(name)) return name;
  const hits = name.length === 15 ? FULL_NAMES.filter((f) => f.length > 15 && f.slice(0, 15) === name) : [];
  return hits.length === 1 ? hits[0] : name;
}

type Src = { value: string; source: Evidence };
const unknown = (because: string): { known: false; because: string } => ({ known: false, because });
const known = <T>(value: T, evidence: Evidence[], extra: { inferred?: boolean; because?: string } = {}): Fact<T> => ({
  known: true,
  value,
  evidence,
  ...(extra.inferred ? { inferred: true } : {}),
  ...(extra.because ? { because: extra.because } : {}),
});
const TRUE = /^(true|enabled|strict|yes|1)$/i;
const FALSE = /^(false|disabled|no|0)$/i;

/** Where a Cilium version rule starts, or its range, as prose puts it (`1.16`, `1.13–1.14`). */
const since = (id: CiliumRuleId) => ciliumRule(id).versions.from;
const during = (id: CiliumRuleId) => versionRangeText(ciliumRule(id).versions);

/** What every datapath fact is read from: the node state, its status and config, and how a disagreement is said. */
interface Sources {
  state: NodeState;
  st: CiliumStatus | undefined;
  hasCfg: boolean;
  /** why nothing is known, when the snapshot has neither status nor config */
  none: string | undefined;
  c: (k: string) => Src | undefined;
  bool: (k: string) => { value: boolean; source: Evidence } | undefined;
  disagree: (what: string, cfgText: string, statusText: string, why?: string) => void;
}

/** The status and config of a node as Sources; disagreements between them are added to `warnings`. */
function sourcesOf(state: NodeState, warnings: Warning[]): Sources {
  const st: CiliumStatus | undefined = state.cilium.status;
  const cfg = state.cilium.config;
  const hasCfg = Object.keys(cfg).length > 0;
  const none = !st && !hasCfg ? 'neither cilium-status nor cilium-config was read' : undefined;
  const c = (k: string): Src | undefined => configValue(cfg, k);
  const bool = (k: string): { value: boolean; source: Evidence } | undefined => {
    const v = c(k);
    if (v === undefined) return undefined;
    const t = v.value.trim();
    if (TRUE.test(t)) return { value: true, source: v.source };
    if (FALSE.test(t)) return { value: false, source: v.source };
    return undefined;
  };
  const disagree = (_what: string, cfgText: string, statusText: string, why?: string) =>
    warnings.push({
      code: 'status-config-disagree',
      message: `cilium-config says ${cfgText} but cilium status says ${statusText}; the status (what the agent runs) wins${why ? ` (${why})` : ''}`,
      source: 'cilium-status',
    });
  return { state, st, hasCfg, none, c, bool, disagree };
}

export function deriveDatapath(state: NodeState): Datapath {
  const warnings: Warning[] = [];
  const src = sourcesOf(state, warnings);
  const { st, hasCfg, none, bool } = src;

  // version
  const ciliumVersion: Fact<string> = st?.version
    ? known(st.version, st.versionSource ? [st.versionSource] : [])
    : unknown(
        st
          ? 'the cilium status has no `Cilium:` version line'
          : (none ?? 'no cilium-status was read (the config does not carry the version)'),
      );
  const ver = st?.version ? parseCiliumVersion(st.version) : null;

  const routingMode = routingModeOf(src);
  const kubeProxyReplacement = kubeProxyReplacementOf(src);
  const masquerade = masqueradeOf(src);

  // native-routing CIDRs, read where nrc is built below (their warnings follow the others, as before)
  const cidr = (fam: 4 | 6): Fact<string> => nativeRoutingCidrOf(src, warnings, fam);

  // endpoint routes
  const er = bool('enable-endpoint-routes');
  const endpointRoutes: Fact<boolean> = er
    ? known(er.value, [er.source])
    : unknown(
        hasCfg
          ? 'the config has no enable-endpoint-routes key (the status does not show it)'
          : 'no cilium-config was read (the status does not show endpoint routes)',
      );

  const wireguard = wireguardOf(src);

  // host routing
  const { hostRouting, legacyReasons } = hostRoutingOf(
    src,
    ver,
    kubeProxyReplacement,
    masquerade,
    endpointRoutes,
    wireguard,
  );

  const attachMode = attachModeOf(src, ver);

  const deviceMode = deviceModeOf(src, ver);

  const socketLB = socketLBOf(src, kubeProxyReplacement);

  const kernel: Fact<string> = state.node.kernel ? known(state.node.kernel, []) : unknown('no uname was read');
  const kprDevs = st?.kubeProxyReplacement?.devices ?? [];
  const nativeDevices: Fact<string[]> = kprDevs.length
    ? known(
        kprDevs.map((d) => d.name),
        [st!.kubeProxyReplacement!.source],
      )
    : st?.masquerading?.devices?.length
      ? known([...st.masquerading.devices], [st.masquerading.source])
      : unknown(
          st
            ? 'the status lists no devices (KubeProxyReplacement prints them only when it is not False/Disabled)'
            : (none ?? 'no cilium-status'),
        );
  const dr = kprDevs.find((d) => d.directRouting);
  const directRoutingDevice: Fact<string> = dr
    ? known(dr.name, [st!.kubeProxyReplacement!.source])
    : unknown(st ? 'the status marks no (Direct Routing) device' : (none ?? 'no cilium-status'));

  // `Masquerading: IPTables [...]` prints no CIDR: the exclusion CIDR is then the native-routing CIDR
  const nrc = { v4: cidr(4), v6: cidr(6) };
  if (masquerade.known && masquerade.value.mode !== 'disabled' && masquerade.value.exclusionCidrs.length === 0) {
    for (const f of [nrc.v4, nrc.v6]) {
      if (f.known && !f.inferred) {
        masquerade.value.exclusionCidrs.push(f.value);
        masquerade.evidence.push(...f.evidence);
      }
    }
  }

  return {
    ciliumVersion,
    routingMode,
    kubeProxyReplacement,
    hostRouting,
    legacyReasons,
    attachMode,
    deviceMode,
    socketLB,
    masquerade,
    nativeRoutingCidr: nrc,
    kernel,
    nativeDevices,
    directRoutingDevice,
    endpointRoutes,
    wireguard,
    programs: ciliumPrograms(state, nativeDevices),
    warnings,
  };
}

/** The native-routing CIDR of a family: the config key, else the Masquerading line's exclusion CIDR (inferred). */
function nativeRoutingCidrOf(s: Sources, warnings: Warning[], fam: 4 | 6): Fact<string> {
  const { st, none, c } = s;
  const v = c(fam === 4 ? 'ipv4-native-routing-cidr' : 'ipv6-native-routing-cidr');
  if (v && v.value.trim() !== '') {
    const p = canonPrefix(v.value.trim());
    if (p && familyOf(p.split('/')[0]!) === fam) return known(p, [v.source]);
    warnings.push({
      code: 'value-unreadable',
      message: `${v.source.text}: not an IPv${fam} prefix`,
      source: v.source.probe,
    });
  }
  const fromMasq = st?.masquerading?.cidrs?.find((x) => familyOf(x.split('/')[0]!) === fam);
  if (fromMasq)
    return known(fromMasq, [st!.masquerading!.source], {
      inferred: true,
      because:
        'the SNAT exclusion CIDR of the Masquerading line: the native-routing CIDR when one is set, else the node pod CIDR',
    });
  return unknown(
    none ?? `no ipv${fam}-native-routing-cidr in the config and no IPv${fam} exclusion CIDR on the Masquerading line`,
  );
}

/** Native routing or a tunnel: the status line, else routing-mode / tunnel in the config. */
function routingModeOf(s: Sources): Fact<'native' | 'tunnel'> {
  const { st, none, c, disagree } = s;
  let routingMode: Fact<'native' | 'tunnel'>;
  const cfgRouting = (): { mode: 'native' | 'tunnel'; source: Evidence } | undefined => {
    const rm = c('routing-mode');
    if (rm && /^(native|tunnel)$/i.test(rm.value.trim()))
      return { mode: rm.value.trim().toLowerCase() as 'native' | 'tunnel', source: rm.source };
    // config-tunnel-key: `tunnel: disabled|vxlan|geneve`, read by the agent only up to the rule's last version
    const tn = c('tunnel');
    if (tn && tn.value.trim() !== '' && !tunnelKeyIgnored())
      return { mode: /^disabled$/i.test(tn.value.trim()) ? 'native' : 'tunnel', source: tn.source };
    return undefined;
  };
  const ver = st?.version ? parseCiliumVersion(st.version) : null;
  const tunnelKeyIgnored = () => ver !== null && !ciliumRuleHolds('config-tunnel-key', ver);
  const cr = cfgRouting();
  if (st?.networkRouting) {
    const mode = st.networkRouting.mode === 'Native' ? 'native' : 'tunnel';
    routingMode = known(mode, [st.networkRouting.source]);
    if (cr && cr.mode !== mode) disagree('routing', `${cr.source.text}`, st.networkRouting.source.text);
  } else if (cr)
    routingMode = known(
      cr.mode,
      [cr.source],
      st ? {} : { inferred: true, because: 'from cilium-config (no cilium-status was read)' },
    );
  else
    routingMode = unknown(
      none ??
        (st
          ? `the status has no \`Routing:\` line (before Cilium ${since('status-routing-line')}) and the config names no routing-mode${tunnelKeyIgnored() ? ` (its \`tunnel\` key is ignored: Cilium ${st.version} no longer reads it, ${during('config-tunnel-key')} only)` : '/tunnel'}`
          : 'the config names no routing-mode or tunnel'),
    );
  return routingMode;
}

/** Whether Cilium replaces kube-proxy: the status line, else kube-proxy-replacement in the config. */
function kubeProxyReplacementOf(s: Sources): Fact<boolean> {
  const { st, none, c, disagree } = s;
  let kubeProxyReplacement: Fact<boolean>;
  const cfgKpr = c('kube-proxy-replacement');
  const kprOn = (v: string) => /^(true|strict)$/i.test(v.trim());
  if (st?.kubeProxyReplacement) {
    const on = kprOn(st.kubeProxyReplacement.mode);
    kubeProxyReplacement = known(on, [st.kubeProxyReplacement.source]);
    if (
      cfgKpr &&
      /^(true|false|strict|disabled|partial|probe)$/i.test(cfgKpr.value.trim()) &&
      kprOn(cfgKpr.value) !== on
    )
      disagree('kpr', cfgKpr.source.text, st.kubeProxyReplacement.source.text);
  } else if (cfgKpr && cfgKpr.value.trim() !== '')
    kubeProxyReplacement = known(
      kprOn(cfgKpr.value),
      [cfgKpr.source],
      st ? {} : { inferred: true, because: 'from cilium-config (no cilium-status was read)' },
    );
  else kubeProxyReplacement = unknown(none ?? 'neither the status nor the config has a KubeProxyReplacement setting');
  return kubeProxyReplacement;
}

/** Masquerading: BPF or iptables, for which families, and the CIDRs it leaves alone. */
function masqueradeOf(s: Sources): Datapath['masquerade'] {
  const { st, hasCfg, none, c, bool, disagree } = s;
  let masquerade: Datapath['masquerade'];
  const cfgBpfMasq = bool('enable-bpf-masquerade');
  if (st?.masquerading) {
    const m = st.masquerading;
    const mode = m.mode === 'BPF' ? 'bpf' : m.mode === 'IPTables' ? 'iptables' : 'disabled';
    const ev4 = bool('enable-ipv4-masquerade');
    const ev6 = bool('enable-ipv6-masquerade');
    masquerade = known(
      {
        mode,
        ipv4: mode === 'disabled' ? false : (m.ipv4 ?? ev4?.value ?? true),
        ipv6: mode === 'disabled' ? false : (m.ipv6 ?? ev6?.value ?? false),
        exclusionCidrs: [...(m.cidrs ?? [])],
        devices: [...(m.devices ?? [])],
      },
      [m.source],
    );
    if (cfgBpfMasq && mode !== 'disabled' && cfgBpfMasq.value !== (mode === 'bpf'))
      disagree(
        'masq',
        cfgBpfMasq.source.text,
        m.source.text,
        mode === 'iptables'
          ? `BPF masquerade needs BPF NodePort (kube-proxy replacement) in ${during('bpf-masquerade-needs-nodeport')}, else the agent falls back to iptables`
          : undefined,
      );
  } else if (hasCfg && (c('enable-ipv4-masquerade') || c('enable-ipv6-masquerade') || c('enable-bpf-masquerade'))) {
    // agent defaults: enable-ipv4/ipv6-masquerade true, enable-bpf-masquerade false (docs/cilium-datapath.md §6)
    const v4 = bool('enable-ipv4-masquerade')?.value ?? true;
    const v6 = (bool('enable-ipv6-masquerade')?.value ?? true) && bool('enable-ipv6')?.value === true;
    const bpf = cfgBpfMasq?.value ?? false;
    const excl = [c('ipv4-native-routing-cidr')?.value, c('ipv6-native-routing-cidr')?.value]
      .map((x) => (x ? canonPrefix(x.trim()) : null))
      .filter((x): x is string => x !== null);
    const evs = [
      'enable-ipv4-masquerade',
      'enable-ipv6-masquerade',
      'enable-bpf-masquerade',
      'ipv4-native-routing-cidr',
      'ipv6-native-routing-cidr',
    ]
      .map((k) => c(k)?.source)
      .filter((x): x is Evidence => x !== undefined);
    masquerade = known(
      {
        mode: !v4 && !v6 ? 'disabled' : bpf ? 'bpf' : 'iptables',
        ipv4: v4,
        ipv6: v6,
        exclusionCidrs: excl,
        devices: [],
      },
      evs,
      {
        inferred: true,
        because: 'from cilium-config (no cilium-status was read): the agent may have fallen back to iptables',
      },
    );
  } else masquerade = unknown(none ?? 'masquerading is in neither the status nor the config');
  return masquerade;
}

/** WireGuard encryption and its device. */
function wireguardOf(s: Sources): Fact<{ device: string }> {
  const { st, none, bool, disagree, state } = s;
  let wireguard: Fact<{ device: string }>;
  const wgLink = state.links.find((l) => l.name === 'cilium_wg0') ?? state.links.find((l) => l.kind === 'wireguard');
  const wgDev = state.wg.find((d) => d.name === 'cilium_wg0') ?? state.wg[0];
  const ewg = bool('enable-wireguard');
  if (st?.encryption && /^wireguard$/i.test(st.encryption.mode)) {
    wireguard = known(
      { device: st.encryption.device ?? 'cilium_wg0' },
      [st.encryption.source],
      st.encryption.device
        ? {}
        : { inferred: true, because: 'the Encryption line names no device; Cilium creates cilium_wg0' },
    );
  } else if (st?.encryption && !/^wireguard$/i.test(st.encryption.mode)) {
    wireguard = unknown(`the status says Encryption: ${st.encryption.mode}, not WireGuard`);
    if (ewg?.value === true) disagree('wg', ewg.source.text, st.encryption.source.text);
  } else if (wgDev)
    wireguard = known({ device: wgDev.name }, [wgDev.source], {
      inferred: true,
      because: `\`wg\` shows the WireGuard device ${wgDev.name}`,
    });
  else if (wgLink)
    wireguard = known({ device: wgLink.name }, [wgLink.source], {
      inferred: true,
      because: `ip link shows ${wgLink.name}${wgLink.kind ? ` (kind ${wgLink.kind})` : ''}`,
    });
  else if (ewg)
    wireguard = ewg.value
      ? known({ device: 'cilium_wg0' }, [ewg.source], {
          inferred: true,
          because: 'enable-wireguard=true in the config; no device seen',
        })
      : unknown('enable-wireguard=false in the config');
  else wireguard = unknown(none ?? 'no Encryption line, no WireGuard device and no enable-wireguard key');
  return wireguard;
}

/** BPF or legacy host routing and, when legacy, the reasons the state shows. */
function hostRoutingOf(
  s: Sources,
  ver: CiliumMinor | null,
  kubeProxyReplacement: Fact<boolean>,
  masquerade: Datapath['masquerade'],
  endpointRoutes: Datapath['endpointRoutes'],
  wireguard: Fact<{ device: string }>,
): { hostRouting: Fact<'bpf' | 'legacy'>; legacyReasons: string[] } {
  const { st, none, bool, disagree, state } = s;
  const ehl = bool('enable-host-legacy-routing');
  let hostRouting: Fact<'bpf' | 'legacy'>;
  if (st?.hostRouting) {
    hostRouting = known(st.hostRouting.mode === 'BPF' ? 'bpf' : 'legacy', [st.hostRouting.source]);
    if (ehl?.value === true && st.hostRouting.mode === 'BPF')
      disagree('hr', ehl.source.text, st.hostRouting.source.text);
  } else if (ehl?.value === true)
    hostRouting = known('legacy', [ehl.source], {
      inferred: true,
      because: 'enable-host-legacy-routing=true in cilium-config (no host-routing line in a status)',
    });
  else if (!st && masquerade.known && masquerade.value.mode === 'iptables' && masquerade.evidence.length)
    hostRouting = known('legacy', masquerade.evidence, {
      inferred: true,
      because:
        'iptables masquerading in cilium-config forces legacy host routing in every version (no cilium-status was read)',
    });
  else if (!st && kubeProxyReplacement.known && !kubeProxyReplacement.value)
    hostRouting = known('legacy', kubeProxyReplacement.evidence, {
      inferred: true,
      because:
        'kube-proxy replacement off in cilium-config forces legacy host routing in every version (no cilium-status was read)',
    });
  else
    hostRouting = unknown(
      none ??
        (st
          ? 'the status has no Host Routing / Routing line'
          : 'no cilium-status: the config alone cannot prove BPF host routing (the agent falls back to legacy on its own)'),
    );

  const legacyReasons =
    hostRouting.known && hostRouting.value === 'legacy'
      ? legacyWhy(state, st, ver, { masquerade, kubeProxyReplacement, endpointRoutes, wireguard, ehl })
      : [];
  return { hostRouting, legacyReasons };
}

/** How the programs attach: tc or tcx. */
function attachModeOf(s: Sources, ver: CiliumMinor | null): Fact<'tc' | 'tcx'> {
  const { st, none, bool, disagree } = s;
  const tcx = bool('enable-tcx');
  let attachMode: Fact<'tc' | 'tcx'>;
  if (st?.attachMode) {
    const mode = st.attachMode.mode === 'TCX' ? 'tcx' : 'tc';
    attachMode = known(mode, [st.attachMode.source]);
    if (tcx?.value === true && mode === 'tc')
      disagree(
        'tcx',
        tcx.source.text,
        st.attachMode.source.text,
        'tcx needs Linux 6.6+; the agent falls back to legacy tc without it',
      );
  } else if (st && ver && !ciliumRuleHolds('tcx-attach', ver))
    attachMode = known('tc', [], {
      inferred: true,
      because: `Cilium ${st.version} predates tcx support (${since('tcx-attach')}): legacy tc only`,
    });
  else
    attachMode = unknown(
      st
        ? `the status has no Attach Mode line (Cilium before ${since('tcx-attach')} attaches with legacy tc only)`
        : (none ?? 'no cilium-status: enable-tcx alone does not say whether the kernel has tcx'),
    );
  return attachMode;
}

/** The pod device: veth, netkit or netkit-l2. */
function deviceModeOf(s: Sources, ver: CiliumMinor | null): Fact<'veth' | 'netkit' | 'netkit-l2'> {
  const { st, none, c, disagree, state } = s;
  let deviceMode: Fact<'veth' | 'netkit' | 'netkit-l2'>;
  const dm = c('datapath-mode');
  if (st?.deviceMode) {
    const v = st.deviceMode.mode;
    deviceMode = known(v === 'netkit' || v === 'netkit-l2' ? v : 'veth', [st.deviceMode.source]);
    if (dm && /^(veth|netkit|netkit-l2)$/.test(dm.value.trim()) && dm.value.trim() !== v)
      disagree('dm', dm.source.text, st.deviceMode.source.text);
  } else if (state.links.some((l) => l.kind === 'netkit'))
    deviceMode = known('netkit', [state.links.find((l) => l.kind === 'netkit')!.source], {
      inferred: true,
      because: 'netkit devices exist on the node (L3 or L2 mode is not visible here)',
    });
  else if (st && ver && !ciliumRuleHolds('netkit-device', ver))
    deviceMode = known('veth', [], {
      inferred: true,
      because: `Cilium ${st.version} predates netkit (${since('netkit-device')}): veth only`,
    });
  else if (dm && /^(veth|netkit|netkit-l2)$/.test(dm.value.trim()))
    deviceMode = known(dm.value.trim() as 'veth' | 'netkit' | 'netkit-l2', [dm.source], {
      inferred: true,
      because: 'from cilium-config datapath-mode (no Device Mode line in a status)',
    });
  else deviceMode = unknown(none ?? 'no Device Mode line and no datapath-mode key');
  return deviceMode;
}

/** Socket-level load balancing and its scope. */
function socketLBOf(s: Sources, kubeProxyReplacement: Fact<boolean>): Datapath['socketLB'] {
  const { st, none, bool, disagree } = s;
  let socketLB: Datapath['socketLB'];
  const sock = bool('bpf-lb-sock');
  const hostns = bool('bpf-lb-sock-hostns-only');
  if (st?.socketLB) {
    const hostnsOnly = st.socketLBCoverage?.coverage === 'Hostns-only';
    socketLB = known(
      { enabled: st.socketLB.enabled, hostnsOnly },
      [st.socketLB.source, ...(st.socketLBCoverage ? [st.socketLBCoverage.source] : [])],
      st.socketLBCoverage
        ? {}
        : { inferred: true, because: 'no Socket LB Coverage line (before it was added): assumed Full' },
    );
    if (sock && sock.value !== st.socketLB.enabled)
      disagree(
        'sock',
        sock.source.text,
        st.socketLB.source.text,
        sock.value === false && kubeProxyReplacement.known && kubeProxyReplacement.value
          ? 'kube-proxy replacement turns socket LB on whatever bpf-lb-sock says'
          : undefined,
      );
    if (hostns && st.socketLBCoverage && hostns.value !== hostnsOnly)
      disagree('hostns', hostns.source.text, st.socketLBCoverage.source.text);
  } else if (sock) {
    const kprEv = kubeProxyReplacement.known && kubeProxyReplacement.value ? kubeProxyReplacement.evidence : null;
    const forced = !sock.value && kprEv !== null;
    socketLB = known(
      { enabled: sock.value || forced, hostnsOnly: hostns?.value ?? false },
      [sock.source, ...(hostns ? [hostns.source] : []), ...(forced && kprEv ? kprEv : [])],
      {
        inferred: true,
        because: `from cilium-config (no Socket LB line in a status)${forced ? '; kube-proxy replacement turns socket LB on whatever bpf-lb-sock says' : ''}`,
      },
    );
  } else if (kubeProxyReplacement.known && kubeProxyReplacement.value)
    socketLB = known(
      { enabled: true, hostnsOnly: hostns?.value ?? false },
      [...kubeProxyReplacement.evidence, ...(hostns ? [hostns.source] : [])],
      {
        inferred: true,
        because:
          'kube-proxy replacement is on, and it turns socket LB on; no Socket LB line (status without --verbose)',
      },
    );
  else socketLB = unknown(none ?? 'no Socket LB line (run `cilium-dbg status --verbose`) and no bpf-lb-sock key');
  return socketLB;
}

/** The fallback reasons (docs/cilium-datapath.md §4.1) that the state shows, qualified when the version is unknown. */
function legacyWhy(
  state: NodeState,
  st: CiliumStatus | undefined,
  ver: CiliumMinor | null,
  f: {
    masquerade: Datapath['masquerade'];
    kubeProxyReplacement: Fact<boolean>;
    endpointRoutes: Fact<boolean>;
    wireguard: Fact<{ device: string }>;
    ehl: { value: boolean } | undefined;
  },
): string[] {
  const out: string[] = [];
  // a version outside 1.x is one the table cannot place: treated as unknown
  const placed = ver && ver[0] === 1 ? ver : null;
  // applies when the version is in the rule's range; unknown version: say which versions it applies to
  const inRange = (id: CiliumRuleId, reason: string) => {
    if (placed === null)
      out.push(`${reason} (forces legacy host routing in Cilium ${during(id)}; the version is unknown)`);
    else if (ciliumRuleHolds(id, placed)) out.push(reason);
  };
  if (f.ehl?.value === true) out.push('enable-host-legacy-routing=true');
  if (f.masquerade.known && f.masquerade.value.mode === 'iptables')
    out.push('iptables masquerading (BPF masquerade is off)');
  if (f.kubeProxyReplacement.known && !f.kubeProxyReplacement.value)
    out.push('kube-proxy replacement is not true/strict');
  if (st?.encryption && /ipsec/i.test(st.encryption.mode)) inRange('legacy-routing-ipsec', 'IPsec encryption');
  if (f.endpointRoutes.known && f.endpointRoutes.value)
    inRange('legacy-routing-endpoint-routes', 'per-endpoint routes (enable-endpoint-routes=true)');
  if (f.wireguard.known) inRange('legacy-routing-wireguard', `WireGuard (${f.wireguard.value.device})`);
  const kv = state.node.kernel ? kernelVersion(state.node.kernel) : null;
  if (kv && (kv[0] < 5 || (kv[0] === 5 && kv[1] < 10)))
    inRange(
      'legacy-routing-kernel-helpers',
      `kernel ${state.node.kernel} lacks bpf_redirect_peer/bpf_redirect_neigh (5.10)`,
    );
  return out;
}

// Where Cilium attaches each program (docs/cilium-datapath.md §3.1): proves a device only when one candidate is left.
function candidates(state: NodeState, program: string, native: Fact<string[]>): string[] | null {
  const exists = (n: string) => state.links.some((l) => l.name === n);
  if (/^cil_(from|to)_netdev$|^cil_xdp_entry$/.test(program)) return native.known ? native.value : null;
  if (program === 'cil_from_host') return ['cilium_host'].filter(exists);
  if (program === 'cil_to_host') return ['cilium_host', 'cilium_net'].filter(exists);
  if (/^cil_(from|to)_wireguard$/.test(program)) return ['cilium_wg0'].filter(exists);
  if (/^cil_(from|to)_container$/.test(program))
    return state.links
      .filter((l) => /^lxc/.test(l.name) && (l.kind === 'veth' || l.kind === 'netkit'))
      .map((l) => l.name);
  return null;
}

/** Every Cilium program the kernel state shows attached, from tc, bpftool net and bpftool link. */
export function ciliumPrograms(
  state: NodeState,
  native: Fact<string[]> = unknown('not given'),
): CiliumProgramAttachment[] {
  const out: CiliumProgramAttachment[] = [];
  const progById = new Map(state.bpfProgs.map((p) => [p.id, p]));
  const nameOf = (id: number | undefined, fallback: string | undefined) => {
    const p = id !== undefined ? progById.get(id) : undefined;
    return fullProgramName(p?.name ?? '') ?? fullProgramName(fallback ?? '');
  };
  const keyOf = (a: CiliumProgramAttachment) => `${a.dev}|${a.hook}|${a.program}|${a.progId ?? ''}`;
  const add = (a: CiliumProgramAttachment) => {
    const prev = out.find((x) => keyOf(x) === keyOf(a));
    if (prev) {
      prev.evidence.push(
        ...a.evidence.filter((e) => !prev.evidence.some((p) => p.probe === e.probe && p.text === e.text)),
      );
      return;
    }
    out.push(a);
  };
  for (const f of state.tc) {
    if (f.kind !== 'bpf') continue;
    // cls_bpf name is `<prog>-<dev>` for Cilium's legacy tc filters
    const program = nameOf(f.progId, f.progName) ?? fullProgramName((f.bpfName ?? '').replace(/-[^-]+$/, ''));
    if (!program) continue;
    const a: CiliumProgramAttachment = {
      dev: f.dev,
      hook: f.direction === 'ingress' ? 'tc-ingress' : 'tc-egress',
      program,
      evidence: [f.source],
    };
    if (f.progId !== undefined) a.progId = f.progId;
    add(a);
  }
  for (const n of state.bpfNet) {
    const program = nameOf(n.progId, n.name) ?? fullProgramName(n.name.replace(/-[^-]+$/, ''));
    if (!program) continue;
    const a: CiliumProgramAttachment = { dev: n.dev, hook: n.hook, program, evidence: [n.source] };
    if (n.progId !== undefined) a.progId = n.progId;
    add(a);
  }
  // tcx/netkit/xdp links that `bpftool net` did not show (Debian's bpftool 7.1 cannot list tcx)
  const shown = new Set(out.map((a) => a.progId).filter((x) => x !== undefined));
  const pending: {
    l: NodeState['bpfLinks'][number];
    program: string;
    hook: BpfHook;
    p: NodeState['bpfProgs'][number] | undefined;
    dirKnown: boolean;
  }[] = [];
  for (const l of state.bpfLinks) {
    if (l.progId === undefined || shown.has(l.progId)) continue;
    const p = progById.get(l.progId);
    const program = fullProgramName(p?.name ?? '');
    if (!program) continue;
    const at = l.attachType ?? '';
    const isTcx = l.type === 'tcx' || /^tcx_/.test(at);
    const isNetkit = l.type === 'netkit' || /^netkit_/.test(at);
    const isXdp = l.type === 'xdp' || at === 'xdp';
    if (!isTcx && !isNetkit && !isXdp) continue;
    const dirKnown = /ingress|egress|peer|primary|xdp/.test(at) || isXdp;
    const dir = /egress|primary/.test(at) ? 'egress' : /ingress|peer/.test(at) ? 'ingress' : guessDir(program);
    const hook: BpfHook = isXdp
      ? 'xdp'
      : isNetkit
        ? dir === 'egress'
          ? 'netkit-primary'
          : 'netkit-peer'
        : dir === 'egress'
          ? 'tcx-egress'
          : 'tcx-ingress';
    pending.push({ l, program, hook, p, dirKnown });
  }
  for (const { l, program, hook, p, dirKnown } of pending) {
    const evidence = [l.source, ...(p ? [p.source] : [])];
    const a: CiliumProgramAttachment = { dev: '?', hook, program, progId: l.progId!, evidence };
    const byIndex = l.ifindex !== undefined ? state.links.filter((x) => x.ifindex === l.ifindex) : [];
    if (l.dev) a.dev = l.dev;
    else if (byIndex.length === 1) {
      a.dev = byIndex[0]!.name;
      a.evidence.push(byIndex[0]!.source);
      a.inferred = true;
      a.because = `this bpftool cannot name its device; link ifindex ${l.ifindex} is ${a.dev} in the node namespace`;
    } else {
      const cand = candidates(state, program, native);
      const same = pending.filter((x) => x.program === program && x.hook === hook && !x.l.dev).length;
      const limitation = `a ${l.type} link runs ${program} (prog ${l.progId}), but this bpftool cannot name its device${dirKnown ? '' : ' or direction'}`;
      a.inferred = true;
      if (cand && cand.length === 1 && same === 1) {
        a.dev = cand[0]!;
        a.because = `${limitation}; ${a.dev} is the only device Cilium attaches ${program} to on this node`;
      } else a.because = limitation;
      if (!dirKnown) a.because += `; ${hook} assumed from the program name`;
    }
    add(a);
  }
  return out;
}

// Cilium's program names say which way they face: from_container/from_netdev/to_host/from_overlay/from_wireguard are ingress.
function guessDir(program: string): 'ingress' | 'egress' {
  return /cil_(from_container|from_netdev|to_host|from_overlay|from_wireguard|from_network)$/.test(program)
    ? 'ingress'
    : 'egress';
}
