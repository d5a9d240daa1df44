import type { BpfHook, CiliumStatus, Evidence, NodeState, Warning } from '../model/types.js';
import { canonPrefix, familyOf } from '../model/addr.js';
import { configValue } from '../tools/cilium/config.js';
import { kernelVersion } from '../tools/uname/index.js';

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
  kubeProxyReplacement: Fact<boolean>;
  hostRouting: Fact<'bpf' | 'legacy'>;
  /** why legacy host routing, when it is, as far as the state shows */
  legacyReasons: string[];
  attachMode: Fact<'tc' | 'tcx'>;
  deviceMode: Fact<'veth' | 'netkit' | 'netkit-l2'>;
  socketLB: Fact<{ enabled: boolean; hostnsOnly: boolean }>;
  masquerade: Fact<{ mode: 'bpf' | 'iptables' | 'disabled'; ipv4: boolean; ipv6: boolean; exclusionCidrs: string[]; devices: string[] }>;
  nativeRoutingCidr: { v4: Fact<string>; v6: Fact<string> };
  kernel: Fact<string>;
  nativeDevices: Fact<string[]>;
  directRoutingDevice: Fact<string>;
  programs: CiliumProgramAttachment[];
  warnings: Warning[];
}

// Kernel program names are cut to 15 characters (BPF_OBJ_NAME_LEN - 1).
const FULL_NAMES = [
  'cil_from_container', 'cil_to_container', 'cil_from_netdev', 'cil_to_netdev', 'cil_from_host', 'cil_to_host',
  'cil_from_overlay', 'cil_to_overlay', 'cil_from_wireguard', 'cil_to_wireguard', 'cil_xdp_entry', 'cil_from_network',
  'cil_sock4_connect', 'cil_sock6_connect', 'cil_sock4_sendmsg', 'cil_sock6_sendmsg', 'cil_sock4_recvmsg', 'cil_sock6_recvmsg',
  'cil_sock4_getpeername', 'cil_sock6_getpeername', 'cil_sock4_post_bind', 'cil_sock6_post_bind', 'cil_sock4_pre_bind',
  'cil_sock6_pre_bind', 'cil_sock_release',
];

export function fullProgramName(name: string): string | undefined {
  if (!name.startsWith('cil_')) return undefined;
  if (FULL_NAMES.includes(name)) return name;
  const hits = FULL_NAMES.filter((f) => f.length > 15 && f.slice(0, 15) === name);
  return hits.length === 1 ? hits[0] : name;
}

const unknown = (because: string): { known: false; because: string } => ({ known: false, because });
const known = <T>(value: T, evidence: Evidence[], extra: { inferred?: boolean; because?: string } = {}): Fact<T> => ({ known: true, value, evidence, ...extra });

export function deriveDatapath(state: NodeState): Datapath {
  const warnings: Warning[] = [];
  const st: CiliumStatus | undefined = state.cilium.status;
  const cfg = state.cilium.config;
  const hasCfg = Object.keys(cfg).length > 0;
  const none = !st && !hasCfg ? 'no cilium-status and no cilium-config in the node state' : undefined;
  const c = (k: string) => configValue(cfg, k);
  const bool = (k: string) => {
    const v = c(k);
    return v === undefined ? undefined : { value: /^(true|enabled|strict)$/i.test(v.value.trim()), source: v.source };
  };

  // version: status line, else unknown
  const ciliumVersion: Fact<string> = st?.version ? known(st.version, []) : unknown('the cilium status has no version line');

  // routing mode
  let routingMode: Fact<'native' | 'tunnel'>;
  if (st?.networkRouting) routingMode = known(st.networkRouting.mode === 'Native' ? 'native' : 'tunnel', [st.networkRouting.source]);
  else if (c('routing-mode')) routingMode = known(c('routing-mode')!.value === 'native' ? 'native' : 'tunnel', [c('routing-mode')!.source]);
  else if (c('tunnel')) routingMode = known(c('tunnel')!.value === 'disabled' ? 'native' : 'tunnel', [c('tunnel')!.source]);
  else routingMode = unknown(none ?? 'neither the status nor the config names the routing mode');

  // kube-proxy replacement
  let kubeProxyReplacement: Fact<boolean>;
  if (st?.kubeProxyReplacement) kubeProxyReplacement = known(/^(true|strict)$/i.test(st.kubeProxyReplacement.mode), [st.kubeProxyReplacement.source]);
  else if (c('kube-proxy-replacement')) kubeProxyReplacement = known(/^(true|strict)$/i.test(c('kube-proxy-replacement')!.value), [c('kube-proxy-replacement')!.source]);
  else kubeProxyReplacement = unknown(none ?? 'the KubeProxyReplacement setting is not in the status or config');

  // masquerade
  let masquerade: Datapath['masquerade'];
  if (st?.masquerading) {
    const m = st.masquerading;
    masquerade = known(
      {
        mode: m.mode === 'BPF' ? 'bpf' : m.mode === 'IPTables' ? 'iptables' : 'disabled',
        ipv4: m.ipv4 ?? m.mode !== 'Disabled',
        ipv6: m.ipv6 ?? false,
        exclusionCidrs: m.cidrs ?? [],
        devices: m.devices ?? [],
      },
      [m.source],
    );
    const cfgBpf = bool('enable-bpf-masquerade');
    if (cfgBpf && cfgBpf.value !== (m.mode === 'BPF') && m.mode !== 'Disabled')
      warnings.push({ code: 'status-config-disagree', message: `cilium-config says enable-bpf-masquerade=${cfgBpf.value} but the status says Masquerading: ${m.mode}; the status (what the agent runs) wins`, source: 'cilium-status' });
  } else if (hasCfg && (c('enable-ipv4-masquerade') || c('enable-bpf-masquerade'))) {
    const v4 = bool('enable-ipv4-masquerade')?.value ?? true;
    const v6 = bool('enable-ipv6-masquerade')?.value ?? false;
    const bpf = bool('enable-bpf-masquerade')?.value ?? false;
    const excl = [c('ipv4-native-routing-cidr')?.value, c('ipv6-native-routing-cidr')?.value].map((x) => (x ? canonPrefix(x) : null)).filter((x): x is string => x !== null);
    const ev = ['enable-ipv4-masquerade', 'enable-ipv6-masquerade', 'enable-bpf-masquerade', 'ipv4-native-routing-cidr', 'ipv6-native-routing-cidr'].map((k) => c(k)?.source).filter((x): x is Evidence => x !== undefined);
    masquerade = known({ mode: !v4 && !v6 ? 'disabled' : bpf ? 'bpf' : 'iptables', ipv4: v4, ipv6: v6, exclusionCidrs: excl, devices: [] }, ev, {
      inferred: true,
      because: 'from cilium-config (no cilium-status in the snapshot): the agent may have fallen back',
    });
  } else masquerade = unknown(none ?? 'masquerading is not in the status or config');

  // native-routing CIDRs
  const cidr = (fam: 4 | 6): Fact<string> => {
    const v = c(fam === 4 ? 'ipv4-native-routing-cidr' : 'ipv6-native-routing-cidr');
    if (v) {
      const p = canonPrefix(v.value.trim());
      if (p && familyOf(p.split('/')[0]!) === fam) return known(p, [v.source]);
    }
    const fromMasq = st?.masquerading?.cidrs?.find((x) => familyOf(x.split('/')[0]!) === fam);
    if (fromMasq) return known(fromMasq, [st!.masquerading!.source], { inferred: true, because: 'the SNAT exclusion CIDR of the Masquerading line (the native-routing CIDR when one is set, else the node pod CIDR)' });
    return unknown(none ?? `no ipv${fam}-native-routing-cidr in the config and no IPv${fam} exclusion CIDR in the status`);
  };

  // host routing
  let hostRouting: Fact<'bpf' | 'legacy'>;
  if (st?.hostRouting) hostRouting = known(st.hostRouting.mode === 'BPF' ? 'bpf' : 'legacy', [st.hostRouting.source]);
  else if (bool('enable-host-legacy-routing')?.value === true)
    hostRouting = known('legacy', [c('enable-host-legacy-routing')!.source], { inferred: true, because: 'from cilium-config (no cilium-status)' });
  else hostRouting = unknown(none ?? 'the status has no Host Routing line; the config alone cannot tell (the agent falls back to legacy on its own)');
  const legacyReasons: string[] = [];
  if (hostRouting.known && hostRouting.value === 'legacy') {
    if (masquerade.known && masquerade.value.mode === 'iptables') legacyReasons.push('iptables masquerading (BPF masquerade is off)');
    if (kubeProxyReplacement.known && !kubeProxyReplacement.value) legacyReasons.push('kube-proxy replacement is not enabled');
    if (bool('enable-host-legacy-routing')?.value) legacyReasons.push('enable-host-legacy-routing=true');
    if (st?.encryption && /IPsec/i.test(st.encryption.mode)) legacyReasons.push('IPsec (forces legacy host routing before Cilium 1.19)');
    const kv = state.node.kernel ? kernelVersion(state.node.kernel) : null;
    if (kv && (kv[0] < 5 || (kv[0] === 5 && kv[1] < 10))) legacyReasons.push(`kernel ${state.node.kernel} lacks bpf_redirect_peer/neigh (5.10)`);
  }

  const attachMode: Fact<'tc' | 'tcx'> = st?.attachMode
    ? known(st.attachMode.mode === 'TCX' ? 'tcx' : 'tc', [st.attachMode.source])
    : unknown(st ? 'the status has no Attach Mode line (before Cilium 1.16 only legacy tc existed)' : (none ?? 'no cilium-status'));
  let deviceMode: Fact<'veth' | 'netkit' | 'netkit-l2'>;
  if (st?.deviceMode) {
    const v = st.deviceMode.mode.replace(/\[.*$/, '').trim();
    deviceMode = known(v === 'netkit' || v === 'netkit-l2' ? v : 'veth', [st.deviceMode.source]);
  } else if (state.links.some((l) => l.kind === 'netkit')) deviceMode = known('netkit', [state.links.find((l) => l.kind === 'netkit')!.source], { inferred: true, because: 'netkit devices exist on the node' });
  else if (st) deviceMode = known('veth', st.kubeProxyReplacement ? [st.kubeProxyReplacement.source] : [], { inferred: true, because: 'no Device Mode line: Cilium before 1.16 always uses veth' });
  else deviceMode = unknown(none ?? 'no cilium-status');

  let socketLB: Datapath['socketLB'];
  if (st?.socketLB) {
    const hostnsOnly = st.socketLBCoverage?.coverage === 'Hostns-only';
    socketLB = known({ enabled: st.socketLB.enabled, hostnsOnly }, [st.socketLB.source, ...(st.socketLBCoverage ? [st.socketLBCoverage.source] : [])]);
  } else if (c('bpf-lb-sock')) {
    socketLB = known({ enabled: bool('bpf-lb-sock')!.value, hostnsOnly: bool('bpf-lb-sock-hostns-only')?.value ?? false }, [c('bpf-lb-sock')!.source], { inferred: true, because: 'from cilium-config' });
  } else socketLB = unknown(none ?? 'the Socket LB line is not in the status');

  const kernel: Fact<string> = state.node.kernel ? known(state.node.kernel, []) : unknown('no uname in the node state');
  const kprDevs = st?.kubeProxyReplacement?.devices ?? [];
  const nativeDevices: Fact<string[]> = kprDevs.length
    ? known(kprDevs.map((d) => d.name), [st!.kubeProxyReplacement!.source])
    : st?.masquerading?.devices?.length
      ? known(st.masquerading.devices, [st.masquerading.source])
      : unknown('the status lists no devices');
  const dr = kprDevs.find((d) => d.directRouting);
  const directRoutingDevice: Fact<string> = dr ? known(dr.name, [st!.kubeProxyReplacement!.source]) : unknown('the status marks no (Direct Routing) device');

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
    programs: ciliumPrograms(state),
    warnings,
  };
}

/** Every Cilium program the kernel state shows attached, from tc, bpftool net and bpftool link. */
export function ciliumPrograms(state: NodeState): CiliumProgramAttachment[] {
  const out: CiliumProgramAttachment[] = [];
  const progName = new Map(state.bpfProgs.map((p) => [p.id, p]));
  const nameOf = (id: number | undefined, fallback: string | undefined) => {
    const p = id !== undefined ? progName.get(id) : undefined;
    return fullProgramName(p?.name ?? '') ?? fullProgramName(fallback ?? '');
  };
  const seen = new Set<string>();
  const add = (a: CiliumProgramAttachment) => {
    const k = `${a.dev}|${a.hook}|${a.program}|${a.progId ?? ''}`;
    if (seen.has(k)) {
      const prev = out.find((x) => `${x.dev}|${x.hook}|${x.program}|${x.progId ?? ''}` === k)!;
      prev.evidence.push(...a.evidence.filter((e) => !prev.evidence.some((p) => p.text === e.text)));
      return;
    }
    seen.add(k);
    out.push(a);
  };
  for (const f of state.tc) {
    if (f.kind !== 'bpf') continue;
    const program = nameOf(f.progId, f.progName) ?? fullProgramName((f.bpfName ?? '').replace(/-[^-]+$/, ''));
    if (!program) continue;
    const a: CiliumProgramAttachment = { dev: f.dev, hook: f.direction === 'ingress' ? 'tc-ingress' : 'tc-egress', program, evidence: [f.source] };
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
  // tcx/netkit links that `bpftool net` did not show (bpftool 7.1 cannot list tcx)
  const shown = new Set(state.bpfNet.map((n) => n.progId));
  for (const l of state.bpfLinks) {
    if (l.type !== 'tcx' && l.type !== 'netkit') continue;
    if (l.progId === undefined || shown.has(l.progId)) continue;
    const p = progName.get(l.progId);
    const program = fullProgramName(p?.name ?? '');
    if (!program) continue;
    const dir = l.attachType?.includes('egress') || l.attachType?.includes('primary') ? 'egress' : l.attachType ? 'ingress' : guessDir(program);
    const hook: BpfHook = l.type === 'tcx' ? (dir === 'egress' ? 'tcx-egress' : 'tcx-ingress') : dir === 'egress' ? 'netkit-primary' : 'netkit-peer';
    const a: CiliumProgramAttachment = {
      dev: '?',
      hook,
      program,
      progId: l.progId,
      evidence: [l.source, ...(p ? [p.source] : [])],
      inferred: true,
      because: `a ${l.type} link runs ${program} (prog ${l.progId}), but this bpftool cannot name its device${l.attachType ? '' : ' or direction'}`,
    };
    add(a);
  }
  return out;
}

// Cilium's program names say which way they face: from_container/from_netdev/to_host are ingress.
function guessDir(program: string): 'ingress' | 'egress' {
  return /cil_(from_container|from_netdev|to_host|from_overlay|from_wireguard)/.test(program) ? 'ingress' : 'egress';
}
