// Issue 15: what Cilium does to a packet bound for another node — tunnel it (vxlan / geneve), encrypt it (its own
// WireGuard device, IPsec), or send it by an egress gateway — as node facts and the trace steps they select.
import type { Evidence, Family } from '../../model/types.js';
import type { Disposition, EncapHop, Flow, TraceEndpoint, WireguardHop } from '../../model/trace.js';
import { familyOf } from '../../model/addr.js';
import { configValue } from '../../tools/cilium/config.js';
import { parseCiliumVersion, ciliumRuleHolds } from '../../model/cilium-rules.js';
import { routeQuery } from '../routing.js';
import type { Fact } from '../datapath.js';

import { type TraceContext, type Builder, NF_LOCAL_OUT } from './context.js';
import { findProgram, netfilterHop, neighbourOf, routeFailure, routeHop, ruled, wgDevice } from './hops.js';
import { ipcacheOf } from './ipcache.js';
import { wireguardHops as wireguardHopsFor } from './egress.js';

const TRUE = /^(true|enabled|yes|1)$/i;

function cfg(ctx: TraceContext, key: string) {
  return configValue(ctx.state.cilium.config, key);
}

/** Cilium's own encryption: the status line, else `cilium-dbg encrypt status`, else the config keys. */
export function encryptionOf(ctx: TraceContext): Fact<'wireguard' | 'ipsec' | 'disabled'> {
  const mode = (m: string) => (/wireguard/i.test(m) ? 'wireguard' : /ipsec/i.test(m) ? 'ipsec' : 'disabled');
  const st = ctx.state.cilium.status?.encryption;
  if (st) return { known: true, value: mode(st.mode), evidence: [st.source] };
  const es = ctx.state.cilium.encryptStatus;
  if (es) return { known: true, value: mode(es.mode), evidence: [es.source] };
  const wg = cfg(ctx, 'enable-wireguard');
  const ipsec = cfg(ctx, 'enable-ipsec');
  if (wg && TRUE.test(wg.value.trim())) return { known: true, value: 'wireguard', evidence: [wg.source] };
  if (ipsec && TRUE.test(ipsec.value.trim())) return { known: true, value: 'ipsec', evidence: [ipsec.source] };
  if (wg || ipsec)
    return { known: true, value: 'disabled', evidence: [...(wg ? [wg.source] : []), ...(ipsec ? [ipsec.source] : [])] };
  if (ctx.state.cilium.status)
    // the status prints an Encryption line in every version netpath reads; its absence is a cut-down paste
    return { known: false, because: 'the cilium status has no Encryption line and the config names no encryption' };
  return { known: false, because: 'neither cilium-status, cilium-encrypt-status nor cilium-config was read' };
}

/** WireGuard node encryption (encrypt-node): the config key, else `cilium-dbg encrypt status`; undefined = not read. */
export function nodeEncryptionOf(ctx: TraceContext): boolean | undefined {
  const c = cfg(ctx, 'encrypt-node');
  if (c) return TRUE.test(c.value.trim());
  const ne = ctx.state.cilium.encryptStatus?.nodeEncryption;
  return ne === undefined ? undefined : /enabled|true/i.test(ne);
}

/** The tunnel protocol and its UDP port in tunnel mode (defaults: vxlan 8472, geneve 6081; pkg/defaults). */
export function tunnelOf(ctx: TraceContext): Fact<{ protocol: 'vxlan' | 'geneve'; port: number; dev: string }> {
  const ev: Evidence[] = [];
  let proto: 'vxlan' | 'geneve' | undefined;
  const nr = ctx.state.cilium.status?.networkRouting;
  if (nr?.tunnelProtocol && /^(vxlan|geneve)$/i.test(nr.tunnelProtocol)) {
    proto = nr.tunnelProtocol.toLowerCase() as 'vxlan' | 'geneve';
    ev.push(nr.source);
  }
  for (const k of ['tunnel-protocol', 'tunnel']) {
    const v = cfg(ctx, k);
    if (!proto && v && /^(vxlan|geneve)$/i.test(v.value.trim())) {
      proto = v.value.trim().toLowerCase() as 'vxlan' | 'geneve';
      ev.push(v.source);
    }
  }
  let inferred: string | undefined;
  if (!proto) {
    const links = ['vxlan', 'geneve'].filter((p) => ctx.state.links.some((l) => l.name === `cilium_${p}`));
    if (links.length !== 1)
      return {
        known: false,
        because:
          'neither the status nor the config names the tunnel protocol, and no single cilium_vxlan / cilium_geneve device was seen',
      };
    proto = links[0] as 'vxlan' | 'geneve';
    ev.push(ctx.state.links.find((l) => l.name === `cilium_${proto}`)!.source);
    inferred = `the only tunnel device present is cilium_${proto}; the status and config do not name the protocol`;
  }
  const p = cfg(ctx, 'tunnel-port');
  const port =
    p && /^\d+$/.test(p.value.trim()) && Number(p.value) > 0 ? Number(p.value) : proto === 'vxlan' ? 8472 : 6081;
  if (p && Number(p.value) > 0) ev.push(p.source);
  return {
    known: true,
    value: { protocol: proto, port, dev: `cilium_${proto}` },
    evidence: ev,
    ...(inferred ? { inferred: true, because: inferred } : {}),
  };
}

/**
 * Tunnel mode, from a local pod (bpf_lxc: encap_and_redirect_lxc): a destination whose ipcache entry names a tunnel
 * endpoint is encapsulated for that node; anything else leaves by the native path. undefined = not tunnelled here.
 */
export function tunnelFromPod(ctx: TraceContext, b: Builder, flow: Flow, dst: TraceEndpoint): Disposition | undefined {
  const rm = ctx.dp.routingMode;
  if (!rm.known) {
    if (dst.kind !== 'external')
      b.warnings.push({
        code: 'routing-mode-unknown',
        message: `the routing mode is unknown (${rm.because}): in tunnel mode this packet would be encapsulated, the path below is native routing`,
      });
    return undefined;
  }
  if (rm.value !== 'tunnel') return undefined;
  const ic = ipcacheOf(ctx);
  if (!ic.known) {
    if (dst.kind === 'external' && !dst.because?.includes('could also be')) return undefined;
    b.warnings.push({
      code: 'tunnel-endpoint-unknown',
      message: `tunnel mode: whether ${flow.dst} is encapsulated, and for which node, is in the ipcache, which was not read (${ic.because})`,
    });
    return 'unknown';
  }
  const e = ic.value.lookup(flow.dst);
  if (!e?.tunnelEndpoint || e.flags?.includes('skiptunnel')) return undefined;
  const tun = tunnelOf(ctx);
  if (!tun.known) {
    b.warnings.push({ code: 'tunnel-unknown', message: `tunnel mode, but ${tun.because}` });
    return 'unknown';
  }
  const { protocol, port, dev } = tun.value;
  const link = ctx.state.links.find((l) => l.name === dev);
  const hop: EncapHop = {
    kind: 'encap',
    detail: `tunnel mode: cil_from_container sets the tunnel key ${e.tunnelEndpoint} and redirects to ${dev}; the kernel sends it as ${protocol} (UDP ${port}) to that node`,
    // the status line often proves both the routing mode and the protocol: once
    evidence: [...rm.evidence, e.source, ...tun.evidence, ...(link ? [link.source] : [])].filter(
      (x, i, all) => all.findIndex((y) => y.probe === x.probe && y.text === x.text) === i,
    ),
    dev,
    protocol,
    tunnelEndpoint: e.tunnelEndpoint,
    port,
  };
  if (tun.inferred) {
    hop.inferred = true;
    hop.because = tun.because!;
  }
  if (!link) {
    hop.inferred = true;
    hop.because = `no ${dev} device was seen on this node`;
  }
  b.hops.push(ruled(hop, 'tunnel-encap-from-pod'));
  return outerPacket(ctx, b, flow, e.tunnelEndpoint, port, protocol);
}

/** The encapsulated packet: sent by the kernel to the tunnel endpoint, routed like any packet the node sends. */
function outerPacket(
  ctx: TraceContext,
  b: Builder,
  flow: Flow,
  endpoint: string,
  port: number,
  protocol: string,
): Disposition {
  const fam = familyOf(endpoint) as Family;
  const enc = encryptionOf(ctx);
  const ans = routeQuery(ctx.routing, { family: fam, dst: endpoint, iif: 'lo' });
  b.hops.push(
    routeHop(ans, `route for the encapsulated packet to ${endpoint} (${protocol}, UDP ${port})`, {
      lookup: 'tunnel-outer',
      dst: endpoint,
    }),
  );
  if (ans.result !== 'unicast') return routeFailure(b, ans, { ...flow, dst: endpoint });
  b.hops.push(netfilterHop(ctx, NF_LOCAL_OUT));
  const out = ans.nexthops[0]!;
  const p = out.dev ? findProgram(ctx, out.dev, 'egress', 'cil_to_netdev') : undefined;
  if (p) b.hops.push(p);
  // WireGuard in tunnel mode encrypts the overlay packet itself (wireguard.h: ctx_is_overlay → cilium_wg0)
  if (enc.known && enc.value === 'wireguard') {
    const d = wireguardRedirect(ctx, b, { ...flow, dst: endpoint }, 'overlay');
    if (d) return d;
  }
  const next = out.gateway ?? endpoint;
  const neigh = ctx.state.neigh.find((n) => n.dst === next && n.dev === out.dev);
  b.hops.push({
    kind: 'gateway',
    detail: `the encapsulated packet leaves ${out.dev ?? '?'} towards ${out.gateway ? `gateway ${out.gateway}` : `the node ${endpoint} (on-link)`}`,
    evidence: [...ans.evidence, ...(neigh ? [neigh.source] : [])],
    gateway: next,
    ...(out.dev ? { dev: out.dev } : {}),
    encrypted: false,
    ...(neigh ? { neighbor: neighbourOf(neigh) } : {}),
  });
  return 'forwarded';
}

/**
 * Cilium's WireGuard: whether the packet is sent to cilium_wg0 instead of leaving in plain text. 1.14+:
 * cil_to_netdev redirects (wg_maybe_redirect_to_encrypt) when the destination's ipcache entry carries a key and
 * the source is a cluster identity that is not the host; 1.13: the encrypt mark and the rule `fwmark 0xe00/0xf00
 * lookup 201`. `overlay`: the encapsulated packet of tunnel mode, which is always encrypted.
 * undefined = not encrypted (the caller goes on with the plain path).
 */
export function wireguardRedirect(
  ctx: TraceContext,
  b: Builder,
  flow: Flow,
  why: 'pod' | 'overlay',
): Disposition | undefined {
  const ic = ipcacheOf(ctx);
  let evidence: Evidence[] = [];
  if (why === 'pod') {
    if (!ic.known) {
      b.warnings.push({
        code: 'wireguard-unknown',
        message: `Cilium WireGuard is on: whether ${flow.dst} is encrypted depends on its ipcache entry (a key marks a WireGuard peer), which was not read (${ic.because})`,
      });
      return 'unknown';
    }
    const e = ic.value.lookup(flow.dst);
    if (!e?.encryptKey) return undefined;
    evidence = [e.source];
  }
  const enc = encryptionOf(ctx);
  const devName = ctx.state.cilium.status?.encryption?.device ?? 'cilium_wg0';
  const ver = ctx.dp.ciliumVersion.known ? parseCiliumVersion(ctx.dp.ciliumVersion.value) : null;
  const byRule = ver !== null && ciliumRuleHolds('wireguard-ip-rule', ver);
  const rule = byRule ? 'wireguard-ip-rule' : 'wireguard-redirect-to-encrypt';
  const wg = wgDevice(ctx, devName);
  if (!wg) {
    b.warnings.push({
      code: 'wireguard-peers-unknown',
      message: `the packet is sent to ${devName} to be encrypted, but ${devName}'s peers were not read (wg show): the peer and the outer packet cannot be followed`,
    });
    return 'unknown';
  }
  const by = byRule ? 'ip-rule' : 'cil_to_netdev';
  const how = byRule
    ? `the encrypt mark and the rule "fwmark 0xe00/0xf00 lookup 201" route it to ${devName}`
    : `cil_to_netdev redirects it to ${devName}`;
  const lead = `${how} (${why === 'overlay' ? 'the encapsulated packet of tunnel mode' : "the destination's ipcache entry carries a key"})`;
  const n = b.hops.length;
  const d = wireguardHopsFor(ctx, b, flow, devName, wg, lead);
  const hop = b.hops[n];
  if (hop?.kind === 'wireguard') {
    const w: WireguardHop = {
      ...hop,
      evidence: [...(enc.known ? enc.evidence : []), ...evidence, ...hop.evidence],
      redirectedBy: by,
    };
    if (ver === null) {
      w.inferred = true;
      w.because = `the Cilium version is unknown: 1.13 routes it to ${devName} by fwmark, 1.14+ redirects in cil_to_netdev; either way it is encrypted`;
    } else if (byRule) {
      // 1.13: the kernel, not a program, sends it there; the captured rules must agree
      const viaMark = routeQuery(ctx.routing, {
        family: familyOf(flow.dst) as Family,
        dst: flow.dst,
        iif: 'lo',
        mark: 0xe00,
      });
      if (viaMark.nexthops[0]?.dev !== devName) {
        w.inferred = true;
        w.because = `the captured rules do not send mark 0xe00 to ${devName} (${viaMark.summary}): Cilium 1.13 installs "fwmark 0xe00/0xf00 lookup 201"`;
      } else w.evidence = [...w.evidence, ...viaMark.evidence];
    }
    b.hops[n] = ruled(w, rule);
  }
  return d;
}
