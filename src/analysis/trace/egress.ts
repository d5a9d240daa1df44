// Leaving the node: the route out, WireGuard, and masquerade.
import type { Family, WgDevice } from '../../model/types.js';
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
import { short } from './hops.js';
import { isNodeAddress } from './classify.js';
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
    b.hops.push({
      kind: 'gateway',
      detail: `leaves the node towards gateway ${first.gateway} on ${dev}, which is not a node that owns a pod CIDR here`,
      evidence: [...ans.evidence, ...(neigh ? [neigh.source] : [])],
      gateway: first.gateway,
      dev,
      encrypted: false,
      ...(neigh ? { neighbor: neighbourOf(neigh) } : {}),
    });
  }
  return 'forwarded';
}

export function wireguardHops(ctx: TraceContext, b: Builder, flow: Flow, dev: string, wg: WgDevice): Disposition {
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
    detail: `encrypted by ${dev} for peer ${short(peer.peer.publicKey)} (allowed-ips ${peer.prefix})${peer.peer.endpoint ? `, sent as UDP to ${peer.peer.endpoint}` : ', which has no endpoint: the packet cannot be sent'}`,
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
  if (dst.kind === 'remote-node') return not('remote-node', `${flow.dst} is a remote node and this is native routing`);
  if (v.mode === 'bpf') {
    if (v.devices.length > 0 && !v.devices.includes(dev))
      return not(
        'other-device',
        `BPF masquerade runs on ${v.devices.join(', ')}, and the packet leaves through ${dev}`,
        {
          devices: [...v.devices],
        },
      );
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
      detail: `source NAT in cil_to_netdev on ${dev}${snat ? ` to ${snat.local}` : ''} (BPF masquerade)`,
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
