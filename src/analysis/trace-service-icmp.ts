// ICMP to a Service address. No load balancer in the path translates it: Cilium's lb4_extract_tuple /
// lb6_extract_tuple return DROP_UNSUPP_SERVICE_PROTO for ICMP, which every caller (bpf_lxc's per-packet LB,
// nodeport_lb4/6 in bpf_host) treats as "skip the Service lookup", and kube-proxy's DNAT rules match TCP, UDP and
// SCTP only. So the packet is routed like any other packet to that address: out of the default route, or — where
// the address is local, as on kube-ipvs0 — to the host, whose kernel answers the echo.
import type { Flow, Hop, Trace } from '../model/trace.js';
import type { Warning } from '../model/types.js';
import { configValue } from '../tools/cilium/config.js';
import { ciliumRule, ciliumRuleHolds, parseCiliumVersion, versionRangeText } from '../model/cilium-rules.js';
import { traceAddress, type TraceContext } from './trace.js';
import { ruled } from './trace/hops.js';

const TRUE = /^(true|enabled|yes|1)$/i;

/** The programs that would run the Service lookup on this packet, had it been TCP/UDP/SCTP. */
const LB_PROGRAMS = new Set(['cil_from_container', 'cil_from_netdev', 'cil_xdp_entry']);

export function icmpToService(
  ctx: TraceContext,
  flow: Flow,
  view: { frontend: string; name?: string },
  /** the source whose entry owns the frontend: a Cilium one, or kube-proxy's */
  source: string,
  earlier: Warning[],
): Trace {
  const t = traceAddress(ctx, flow);
  const warnings: Warning[] = [...earlier];
  const layer = source === 'cilium-bpf' || source === 'cilium-dbg' ? 'cilium' : 'kube-proxy';
  let hops: Hop[] = t.hops;
  let disposition = t.disposition;
  if (layer === 'cilium') {
    warnings.push({
      code: 'icmp-not-load-balanced',
      message: `${flow.dst} is the Service frontend ${view.frontend}, but Cilium's load balancer takes TCP, UDP and SCTP only: for ICMP the Service lookup is skipped and the packet is routed like any packet to ${flow.dst}`,
    });
    // the rule decides at the program that skips the lookup; with none in the path (host-originated), at the start
    const at = hops.findIndex((h) => h.kind === 'bpf' && LB_PROGRAMS.has(h.program));
    // a release the rule was not read for: the hop says so rather than vouching for it
    const st = ctx.state.cilium.status;
    const ver = st?.version ? parseCiliumVersion(st.version) : null;
    const unread =
      ver && !ciliumRuleHolds('lb-icmp-skips-service-lookup', ver)
        ? `Cilium ${st!.version} is outside ${versionRangeText(ciliumRule('lb-icmp-skips-service-lookup').versions)}, the releases whose source this rule was read from`
        : undefined;
    hops = hops.map((h, i) => {
      if (i !== Math.max(0, at)) return h;
      const r = ruled(h, 'lb-icmp-skips-service-lookup');
      return unread ? { ...r, inferred: true, because: unread } : r;
    });
    // an echo responder for VIPs was proposed upstream but is in no release this table covers; a node whose
    // config sets it runs a build that may answer the echo itself
    const responder = configValue(ctx.state.cilium.config, 'bpf-lb-reply-icmp-echo-virtual-ips');
    if (responder && TRUE.test(responder.value.trim())) {
      disposition = 'unknown';
      warnings.push({
        code: 'icmp-echo-responder',
        message: `the agent config sets bpf-lb-reply-icmp-echo-virtual-ips=${responder.value.trim()}, an option no Cilium release 1.13–1.19 has: a build carrying it may answer the echo for ${flow.dst} itself, which the node state cannot confirm`,
      });
    }
  } else {
    warnings.push({
      code: 'icmp-not-load-balanced',
      message: `${flow.dst} is the Service frontend ${view.frontend}, but kube-proxy's DNAT rules match TCP, UDP and SCTP only: the ICMP packet is routed like any packet to ${flow.dst}${source === 'kube-proxy-nftables' ? " (kube-proxy's nftables mode rejects it in cluster-ips-check, which this trace does not evaluate)" : ''}`,
    });
  }
  const dst = { ...t.dst, ...(view.name ? { service: view.name } : {}) };
  return { ...t, dst, hops, disposition, warnings: [...t.warnings, ...warnings] };
}
