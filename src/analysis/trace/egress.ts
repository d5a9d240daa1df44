// Leaving the node: the route out, WireGuard, and masquerade.
import type { Evidence, Family, WgDevice } from '../../model/types.js';
import type {
  Disposition,
  Flow,
  MasqueradeHop,
  RedirectNeighHop,
  TraceEndpoint,
  WireguardHop,
} from '../../model/trace.js';
import { endpointHost, familyOf, prefixContains } from '../../model/addr.js';
import { routeQuery, type RouteAnswer } from '../routing.js';

import { type TraceContext, type Builder, NF_LOCAL_OUT } from './context.js';
import { short, ruled } from './hops.js';
import { isNodeAddress } from './classify.js';
import { encryptionOf, nodeEncryptionOf, wireguardRedirect } from './encap.js';
import { ipcacheOf, isClusterIdentity, isRemoteNodeIdentity, identityName } from './ipcache.js';
import { configValue } from '../../tools/cilium/config.js';
import {
  deviceAddress,
  netfilterHop,
  drop,
  neighbourOf,
  routeHop,
  routeFailure,
  programsUnknown,
  findProgram,
  wgDevice,
  pickWgPeer,
} from './hops.js';

export function egressFromNode(
  ctx: TraceContext,
  b: Builder,
  flow: Flow,
  src: TraceEndpoint,
  dst: TraceEndpoint,
  ans: RouteAnswer,
  via: 'redirect_neigh' | 'stack',
): Disposition {
  const nh = ans.nexthops;
  if (nh.length > 1) {
    b.warnings.push({
      code: 'multipath',
      message: `${nh.length} next hops (multipath): the kernel picks one per flow by hash; the path below follows the first and the others are listed`,
    });
  }
  const first = nh[0]!;
  const dev = first.dev ?? '?';
  const next = first.gateway ?? flow.dst;
  const neigh = ctx.state.neigh.find((n) => n.dst === next && n.dev === dev);
  const wg = wgDevice(ctx, dev);
  if (via === 'redirect_neigh') {
    const text = `bpf_redirect_neigh out of ${dev} ${first.gateway ? `to next hop ${next}` : `directly to ${next} (on-link)`}: bypasses the host stack and netfilter`;
    const hop: RedirectNeighHop = {
      kind: 'redirect_neigh',
      detail:
        neigh || wg
          ? text
          : `${text}; no neighbour entry for ${next} on ${dev}: the kernel resolves it when the packet is sent`,
      evidence: neigh ? [neigh.source] : [],
      helper: 'bpf_redirect_neigh',
      dev,
      nexthop: next,
      onLink: !first.gateway,
    };
    if (neigh)
      hop.neighbor = neigh.lladdr === undefined ? { state: neigh.state } : { lladdr: neigh.lladdr, state: neigh.state };
    if (nh.length > 1)
      hop.candidates = nh.map((n) => ({
        ...(n.gateway ? { gateway: n.gateway } : {}),
        ...(n.dev ? { dev: n.dev } : {}),
        ...(n.weight ? { weight: n.weight } : {}),
      }));
    const native = ctx.dp.nativeDevices;
    if (native.known && !native.value.includes(dev)) {
      hop.inferred = true;
      hop.because = `the FIB result ${dev} is not one of Cilium's native devices (${native.value.join(', ')}): Cilium still redirects to the FIB's device, but no Cilium program runs on ${dev}'s egress`;
    }
    b.hops.push(hop);
  } else if (neigh?.state.includes('FAILED')) {
    b.warnings.push({
      code: 'neighbour-failed',
      message: `the neighbour ${next} on ${dev} is FAILED: the packet will not leave`,
    });
  }
  const egressProg = findProgram(ctx, dev, 'egress', 'cil_to_netdev');
  if (egressProg) b.hops.push(egressProg);
  const egressUnknown = egressProg ? undefined : programsUnknown(ctx, dev, 'egress');
  if (egressUnknown)
    b.warnings.push({
      code: 'programs-unknown',
      message: `the programs on ${dev} egress are unknown (${egressUnknown})`,
    });
  // issue 15: Cilium's WireGuard takes a pod's packet off the plain path (before any SNAT) when the peer has a key
  const enc = encryptionOf(ctx);
  if (src.kind === 'local-pod' && enc.known && enc.value === 'wireguard' && !wg) {
    const d = wireguardRedirect(ctx, b, flow, 'pod');
    if (d) return d;
  }
  // the host's own packets are encrypted only with node encryption (wireguard.h: HOST_ID unless ENABLE_NODE_ENCRYPTION)
  if (src.kind === 'host' && enc.known && enc.value === 'wireguard' && !wg && egressProg) {
    const ne = nodeEncryptionOf(ctx);
    if (ne === undefined)
      b.warnings.push({
        code: 'node-encryption-unknown',
        message: `Cilium WireGuard is on, and whether it encrypts the node's own packets (encrypt-node) was not read: the path below is the plain one`,
      });
    else if (ne) {
      const d = wireguardRedirect(ctx, b, flow, 'pod');
      if (d) return d;
    }
  }
  if (src.kind === 'local-pod' && enc.known && enc.value === 'ipsec' && dst.kind !== 'external') {
    // IPsec: the xfrm policies decide what is encrypted, with marks netpath does not follow yet
    b.warnings.push({
      code: 'ipsec-not-followed',
      message: `IPsec encryption is on (${enc.evidence.map((e) => e.text).join('; ')}): a packet for ${flow.dst} is encrypted by the xfrm state its policy selects${ctx.state.xfrm.policies ? '' : ' (ip xfrm policy was not read)'}; netpath does not follow that path, so it is not shown as plain traffic`,
    });
    return 'unknown';
  }
  if (src.kind === 'local-pod') {
    const m = masquerade(ctx, flow, dst, dev, egressProg !== undefined);
    if (egressUnknown && !m.inferred) {
      m.inferred = true;
      m.because = `whether cil_to_netdev runs on ${dev} is unknown (${egressUnknown})`;
    }
    b.hops.push(m);
  }
  if (wg) return wireguardHops(ctx, b, flow, dev, wg);
  if (first.gateway && !isNodeAddress(ctx, first.gateway) && dst.kind !== 'remote-node') {
    // with the ipcache read, a next hop that is no node is a router (issue 15); without it, only "no pod-CIDR route"
    const ic = ipcacheOf(ctx);
    const gwEntry = ic.known ? ic.value.lookup(first.gateway) : undefined;
    b.hops.push({
      kind: 'gateway',
      detail: ic.known
        ? `leaves the node towards gateway ${first.gateway} on ${dev}, a router: the ipcache says it is no node (${gwEntry ? `${gwEntry.prefix} ${identityName(gwEntry.identity)}` : 'no entry'})`
        : `leaves the node towards gateway ${first.gateway} on ${dev}, which is not a node that owns a pod CIDR here`,
      ...(ic.known ? { role: 'router' as const } : {}),
      evidence: [...ans.evidence, ...(gwEntry ? [gwEntry.source] : []), ...(neigh ? [neigh.source] : [])],
      gateway: first.gateway,
      dev,
      encrypted: false,
      ...(neigh ? { neighbor: neighbourOf(neigh) } : {}),
    });
  }
  return 'forwarded';
}

export function wireguardHops(
  ctx: TraceContext,
  b: Builder,
  flow: Flow,
  dev: string,
  wg: WgDevice,
  lead?: string,
): Disposition {
  const peer = pickWgPeer(wg, flow.dst);
  if (!peer) {
    b.hops.push(
      drop(
        `no WireGuard peer of ${dev} allows ${flow.dst} (allowed-ips): wireguard drops it`,
        [wg.source],
        'wireguard-no-peer',
      ),
    );
    return 'dropped';
  }
  const hop: WireguardHop = {
    kind: 'wireguard',
    detail: `${lead ? `${lead}; ` : ''}encrypted by ${dev} for peer ${short(peer.peer.publicKey)} (allowed-ips ${peer.prefix})${peer.peer.endpoint ? `, sent as UDP to ${peer.peer.endpoint}` : ', which has no endpoint: the packet cannot be sent'}`,
    evidence: [peer.peer.source],
    dev,
    peer: peer.peer.publicKey,
    allowedIps: peer.prefix,
  };
  if (peer.peer.endpoint) hop.endpoint = peer.peer.endpoint;
  b.hops.push(hop);
  if (!peer.peer.endpoint) return 'dropped';
  const epAddr = endpointHost(peer.peer.endpoint);
  const fam = familyOf(epAddr);
  if (fam === null) return 'forwarded';
  const q: Parameters<typeof routeQuery>[1] = { family: fam, dst: epAddr, iif: 'lo' };
  if (wg.fwmark !== undefined) q.mark = wg.fwmark;
  const ans = routeQuery(ctx.routing, q);
  b.hops.push(
    routeHop(
      ans,
      `route for the encrypted packet to ${epAddr}${wg.fwmark ? ` (fwmark 0x${wg.fwmark.toString(16)})` : ''}`,
      { lookup: 'wireguard-outer', dst: epAddr, ...(wg.fwmark !== undefined ? { fwmark: wg.fwmark } : {}) },
    ),
  );
  if (ans.result !== 'unicast') return routeFailure(b, ans, { ...flow, dst: epAddr });
  b.hops.push(netfilterHop(ctx, NF_LOCAL_OUT));
  const out = ans.nexthops[0]!;
  const p = out.dev ? findProgram(ctx, out.dev, 'egress', 'cil_to_netdev') : undefined;
  if (p) b.hops.push(p);
  const next = out.gateway ?? epAddr;
  const neigh = ctx.state.neigh.find((n) => n.dst === next && n.dev === out.dev);
  b.hops.push({
    kind: 'gateway',
    detail: `the encrypted packet leaves ${out.dev ?? '?'} towards ${out.gateway ? `gateway ${out.gateway}` : `the WireGuard endpoint ${epAddr} (on-link)`}${neigh ? ` (neighbour ${neigh.state.join(',')})` : ''}`,
    evidence: [...ans.evidence, ...(neigh ? [neigh.source] : [])],
    gateway: next,
    ...(out.dev ? { dev: out.dev } : {}),
    encrypted: true,
    ...(neigh ? { neighbor: neighbourOf(neigh) } : {}),
  });
  return 'forwarded';
}

export function masquerade(
  ctx: TraceContext,
  flow: Flow,
  dst: TraceEndpoint,
  dev: string,
  hasToNetdev: boolean,
): MasqueradeHop {
  const m = ctx.dp.masquerade;
  const fam = familyOf(flow.dst) as Family;
  if (!m.known) {
    return {
      kind: 'masquerade',
      detail: `masquerade unknown: ${m.because}`,
      evidence: [],
      applied: 'unknown',
      where: 'unknown',
      why: 'mode-unknown',
      dev,
      inferred: true,
      because: m.because,
    };
  }
  const ev = m.evidence;
  const v = m.value;
  const not = (why: MasqueradeHop['why'], text: string, extra: Partial<MasqueradeHop> = {}): MasqueradeHop => ({
    kind: 'masquerade',
    detail: `not masqueraded: ${text}`,
    reason: text,
    evidence: ev,
    applied: false,
    by: v.mode,
    where: v.mode,
    why,
    dev,
    ...extra,
  });
  if (v.mode === 'disabled') return not('disabled', 'masquerading is disabled');
  if ((fam === 4 && !v.ipv4) || (fam === 6 && !v.ipv6))
    return not('family-disabled', `IPv${fam} masquerading is disabled`);
  // issue 15: an egress gateway policy wins before the exclusion CIDR (nat.h: egress_gw_snat_needed_hook)
  if (v.mode === 'bpf' && fam === 4) {
    const g = egressGateway(ctx, flow, dst, dev, ev);
    if (g) return g;
  }
  const famCidrs = v.exclusionCidrs.filter((c) => familyOf(c.split('/')[0]!) === fam);
  const excl = famCidrs.find((c) => prefixContains(c, flow.dst));
  if (excl) return not('excluded', `${flow.dst} is inside the SNAT exclusion CIDR ${excl}`, { exclusionCidr: excl });
  if (famCidrs.length === 0 && dst.kind !== 'remote-node') {
    return {
      kind: 'masquerade',
      detail: `masquerade unknown: the IPv${fam} SNAT exclusion CIDR is in neither the status nor the config`,
      evidence: ev,
      applied: 'unknown',
      by: v.mode,
      where: v.mode,
      why: 'no-exclusion-cidr',
      dev,
      inferred: true,
      because: 'no exclusion CIDR to compare the destination with',
    };
  }
  const tunnel = ctx.dp.routingMode.known && ctx.dp.routingMode.value === 'tunnel';
  if (v.mode === 'bpf') {
    // issue 15: snat_v4_needs_masquerade asks the ipcache, not the routes
    const ic = ipcacheOf(ctx);
    if (ic.known) {
      const e = ic.value.lookup(flow.dst);
      if (!e)
        return ruled(
          not(
            'no-ipcache-entry',
            `no ipcache entry covers ${flow.dst}: BPF masquerade SNATs only a destination it finds there`,
          ),
          'masq-bpf-ipcache-entry',
        );
      const agent = ipMasqAgent(ctx);
      const cidrs = ctx.state.cilium.ipMasqMap?.[fam === 4 ? 'v4' : 'v6'];
      if (agent.known && agent.value && cidrs) {
        const hit = cidrs.find((c) => prefixContains(c.prefix, flow.dst));
        if (hit)
          return ruled(
            not('ip-masq-agent', `${flow.dst} is inside the ip-masq-agent non-masquerade CIDR ${hit.prefix}`, {
              evidence: [...ev, ...agent.evidence, hit.source],
            }),
            'masq-bpf-ip-masq-agent',
          );
      } else if (agent.known && agent.value)
        return ruled(
          {
            kind: 'masquerade',
            detail: `masquerade unknown: ip-masq-agent is on and its non-masquerade CIDRs (bpf-map/cilium_ipmasq_v${fam}) were not read; Cilium's default list holds the RFC 1918 and other private ranges`,
            evidence: [...ev, ...agent.evidence],
            applied: 'unknown',
            by: 'bpf',
            where: 'bpf',
            why: 'ip-masq-agent-unknown',
            dev,
            inferred: true,
            because: `the ip-masq-agent map (cilium_ipmasq_v${fam}) decides, and it was not read`,
          },
          'masq-bpf-ip-masq-agent',
        );
      if (isRemoteNodeIdentity(e.identity) && !tunnel)
        return ruled(
          not(
            'remote-node',
            `${flow.dst} is a remote node (ipcache ${e.prefix} ${identityName(e.identity)}) and this is native routing`,
            {
              evidence: [...ev, e.source],
            },
          ),
          'masq-bpf-skip-remote-node',
        );
      if (isRemoteNodeIdentity(e.identity) && tunnel) {
        const note = 'in tunnel mode a packet to a remote node is not encapsulated, so it is masqueraded';
        return ruled(snatHop(ctx, dev, fam, [...ev, e.source], hasToNetdev, note), 'masq-bpf-tunnel-remote-node');
      }
    } else if (dst.kind === 'remote-node' && !tunnel) {
      return not('remote-node', `${flow.dst} is a remote node and this is native routing`, {
        inferred: true,
        because: `a node by its pod-CIDR route; the ipcache, which Cilium asks, was not read (${ic.because})`,
      });
    } else {
      return {
        kind: 'masquerade',
        detail: `masquerade unknown: whether ${flow.dst} is a remote node (no SNAT in native routing) or outside the cluster (SNAT) is in the ipcache, which was not read`,
        evidence: ev,
        applied: 'unknown',
        by: 'bpf',
        where: 'bpf',
        why: 'ipcache-unknown',
        dev,
        inferred: true,
        because: ic.because,
      };
    }
  } else if (dst.kind === 'remote-node' && !tunnel) {
    return not(
      'remote-node',
      `${flow.dst} is a remote node and this is native routing (cilium_node_set_v${fam} ACCEPT in CILIUM_POST_nat)`,
    );
  }
  if (v.mode === 'bpf') return snatHop(ctx, dev, fam, ev, hasToNetdev);
  const snat = deviceAddress(ctx, dev, fam);
  const hop: MasqueradeHop = {
    kind: 'masquerade',
    detail: `MASQUERADE in iptables nat/POSTROUTING (CILIUM_POST_nat) out of ${dev}${snat ? ` to ${snat.local}` : ''}`,
    evidence: ev,
    applied: true,
    by: 'iptables',
    where: 'iptables',
    why: 'snat',
    dev,
    inferred: true,
    because: 'from the masquerade mode and exclusion CIDR; the CILIUM_POST_nat rules themselves were not evaluated',
  };
  if (snat) hop.snatTo = snat.local;
  return hop;
}

/** BPF masquerade applies: the SNAT in cil_to_netdev (or why it cannot be shown). */
function snatHop(
  ctx: TraceContext,
  dev: string,
  fam: Family,
  ev: Evidence[],
  hasToNetdev: boolean,
  note?: string,
): MasqueradeHop {
  const v = (ctx.dp.masquerade as { value: { devices: string[] } }).value;
  const not = (why: MasqueradeHop['why'], text: string, extra: Partial<MasqueradeHop> = {}): MasqueradeHop => ({
    kind: 'masquerade',
    detail: `not masqueraded: ${text}`,
    reason: text,
    evidence: ev,
    applied: false,
    by: 'bpf',
    where: 'bpf',
    why,
    dev,
    ...extra,
  });
  if (v.devices.length > 0 && !v.devices.includes(dev))
    return not('other-device', `BPF masquerade runs on ${v.devices.join(', ')}, and the packet leaves through ${dev}`, {
      devices: [...v.devices],
    });
  if (!hasToNetdev) {
    return {
      kind: 'masquerade',
      detail: `BPF masquerade expected on ${dev}, but no cil_to_netdev is attached there`,
      evidence: ev,
      applied: 'unknown',
      by: 'bpf',
      where: 'bpf',
      why: 'no-to-netdev',
      dev,
      inferred: true,
      because: 'cil_to_netdev missing on the egress device',
    };
  }
  const snat = deviceAddress(ctx, dev, fam);
  const hop: MasqueradeHop = {
    kind: 'masquerade',
    detail: `source NAT in cil_to_netdev on ${dev}${snat ? ` to ${snat.local}` : ''} (BPF masquerade)${note ? `: ${note}` : ''}`,
    evidence: [...ev, ...(snat ? [snat.source] : [])],
    applied: true,
    by: 'bpf',
    where: 'bpf',
    why: 'snat',
    dev,
  };
  if (snat) hop.snatTo = snat.local;
  return hop;
}

const TRUE = /^(true|enabled|yes|1)$/i;

/** ip-masq-agent: the `(ip-masq-agent)` mark of the Masquerading line, else enable-ip-masq-agent in the config. */
function ipMasqAgent(ctx: TraceContext): { known: true; value: boolean; evidence: Evidence[] } | { known: false } {
  const m = ctx.state.cilium.status?.masquerading;
  if (m) return { known: true, value: m.ipMasqAgent === true, evidence: [m.source] };
  const c = configValue(ctx.state.cilium.config, 'enable-ip-masq-agent');
  if (c) return { known: true, value: TRUE.test(c.value.trim()), evidence: [c.source] };
  return { known: false };
}

/**
 * Egress gateway (nat.h: egress_gw_snat_needed_hook, before the exclusion CIDR): a policy that selects this source
 * and destination SNATs to its egress IP; a destination of cluster identity is never sent by it. undefined = no
 * policy applies (or egress gateway is off), so the masquerade decision goes on.
 */
function egressGateway(
  ctx: TraceContext,
  flow: Flow,
  dst: TraceEndpoint,
  dev: string,
  ev: Evidence[],
): MasqueradeHop | undefined {
  const c =
    configValue(ctx.state.cilium.config, 'enable-ipv4-egress-gateway') ??
    configValue(ctx.state.cilium.config, 'enable-egress-gateway');
  const list = ctx.state.cilium.egressGateway;
  const on = c ? TRUE.test(c.value.trim()) : list !== undefined && list.length > 0;
  if (!on) return undefined;
  const ic = ipcacheOf(ctx);
  const e = ic.known ? ic.value.lookup(flow.dst) : undefined;
  if (e && isClusterIdentity(e.identity)) return undefined;
  if (!ic.known && (dst.kind === 'remote-pod' || dst.kind === 'remote-node')) return undefined;
  const unknown = (because: string): MasqueradeHop =>
    ruled(
      {
        kind: 'masquerade',
        detail: `masquerade unknown: egress gateway is on and ${because}`,
        evidence: [...ev, ...(c ? [c.source] : [])],
        applied: 'unknown',
        by: 'bpf',
        where: 'bpf',
        why: 'egress-gateway-unknown',
        dev,
        inferred: true,
        because,
      },
      'masq-egress-gateway',
    );
  if (list === undefined) return unknown('its policy map was not read (cilium-dbg bpf egress list)');
  if (!ic.known) return unknown(`whether ${flow.dst} is inside the cluster is in the ipcache, which was not read`);
  const hit = list.find((x) => x.sourceIp === flow.src && prefixContains(x.destCidr, flow.dst));
  if (!hit || hit.gatewayNone === 'excluded') return undefined;
  const local = ctx.state.addrs.some((a) => a.local === hit.gatewayIp);
  const hop: MasqueradeHop = {
    kind: 'masquerade',
    detail: `egress gateway policy ${hit.sourceIp} → ${hit.destCidr}: source NAT to the egress IP ${hit.egressIp}${hit.gatewayIp ? ` on gateway node ${hit.gatewayIp}` : ''}`,
    evidence: [...ev, hit.source],
    applied: true,
    by: 'bpf',
    where: 'bpf',
    why: 'egress-gateway',
    dev,
  };
  if (hit.egressIp !== '0.0.0.0') hop.snatTo = hit.egressIp;
  if (hit.gatewayNone === 'not-found') {
    hop.applied = 'unknown';
    hop.inferred = true;
    hop.because =
      'the policy has no gateway node (not-found): Cilium drops such traffic or lets it out unmasqueraded, depending on the version';
  } else if (!local) {
    hop.inferred = true;
    hop.because = `the gateway is another node (${hit.gatewayIp}): the packet is sent there first and SNATed there; that leg is not followed`;
  }
  return ruled(hop, 'masq-egress-gateway');
}
