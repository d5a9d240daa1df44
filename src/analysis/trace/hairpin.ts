// A pod reaching itself through its own Service, translated per packet (issue 19): the packet leaves the pod for
// the frontend, cil_from_container picks the pod itself as the backend and hands the packet back to it.
import { familyOf } from '../../model/addr.js';
import { type CiliumRuleId, ciliumRule, ciliumRuleHoldsAt, versionRangeText } from '../../model/cilium-rules.js';
import type { Evidence } from '../../model/types.js';
import type { Disposition, Flow, Hop, TraceEndpoint } from '../../model/trace.js';
import type { Warning } from '../../model/types.js';
import type { Builder, TraceContext } from './context.js';
import { fromLocalPod } from './from-pod.js';

/** Cilium's default service loopback addresses (agent options ipv4-/ipv6-service-loopback-address). */
const DEFAULT_LOOPBACK4 = '169.254.42.1';
const DEFAULT_LOOPBACK6 = 'fe80::1';

/**
 * The path of `flow` (still addressed to the frontend) from pod `src` back into `src`: the pod's own routing
 * towards the frontend, cil_from_container, then local delivery to the pod as to any local backend.
 */
export function hairpinPath(
  ctx: TraceContext,
  flow: Flow,
  src: TraceEndpoint,
): { hops: Hop[]; disposition: Disposition; warnings: Warning[] } {
  const b: Builder = { hops: [], warnings: [] };
  const disposition = fromLocalPod(ctx, b, flow, src, src);
  return { hops: b.hops, disposition, warnings: b.warnings };
}

/** The source address lb4_local writes on a hairpin packet, from the agent's configuration when it was read. */
export function serviceLoopback4(ctx: TraceContext): { address: string; evidence: Evidence[]; because?: string } {
  return loopbackAddress(ctx, 'ipv4-service-loopback-address', DEFAULT_LOOPBACK4);
}

function loopbackAddress(
  ctx: TraceContext,
  key: string,
  fallback: string,
): { address: string; evidence: Evidence[]; because?: string } {
  const c = ctx.state.cilium.config[key];
  if (c) return { address: c.value, evidence: [c.source] };
  return {
    address: fallback,
    evidence: [],
    because: `${key} is not in the captured agent configuration: Cilium's default ${fallback} is assumed`,
  };
}

/**
 * What the per-packet LB does to the source of an IPv6 hairpin packet, by release (cilium/cilium#39594, 1.19):
 * SNAT to the IPv6 service loopback address, nothing (before 1.19), or unknown when the version is not known.
 */
export type Loopback6 =
  | { snat: true; address: string; evidence: Evidence[]; because?: string }
  | { snat: false; evidence: Evidence[] }
  | { snat: 'unknown'; because: string };

export function serviceLoopback6(ctx: TraceContext): Loopback6 {
  const v = ctx.dp.ciliumVersion;
  const holds = v.known ? ciliumRuleHoldsAt('lb6-loopback-snat', v.value) : 'unknown';
  if (holds === true) {
    const a = loopbackAddress(ctx, 'ipv6-service-loopback-address', DEFAULT_LOOPBACK6);
    return { snat: true, ...a, evidence: [...(v.known ? v.evidence : []), ...a.evidence] };
  }
  if (holds === false && v.known) return { snat: false, evidence: v.evidence };
  const since = versionRangeText(ciliumRule('lb6-loopback-snat').versions);
  return {
    snat: 'unknown',
    because: `the Cilium version is ${v.known ? `not readable (${v.value})` : `unknown (${v.because})`}: Cilium ${since} rewrites the source of an IPv6 hairpin packet to its IPv6 service loopback address, older releases leave it the pod's own address and the connection does not complete`,
  };
}

/** What the tc-lb hop of a per-packet hairpin says and decides, for either family. */
export interface HairpinLb {
  detail: string;
  evidence: Evidence[];
  /** set when the hop is inferred (an assumed default address, an unknown version) */
  because?: string;
  rule?: CiliumRuleId;
  /** replaces the delivered path's disposition when the source says no more than that */
  disposition?: Disposition;
  warning?: Warning;
}

export function hairpinLb(ctx: TraceContext, frontend: string, to: string, why: string, pod: string): HairpinLb {
  const head = `per-packet load balancing in cil_from_container (${why}): ${frontend} → ${to}, the client itself`;
  // IPv4 needs it because the pod would drop a packet from its own address as a martian; IPv6 has no such check,
  // but without it the pod's answer would stay inside the pod (over lo) and never be reverse-translated
  const why4 = 'a packet from its own address would be dropped as a martian';
  const why6 = 'from its own address the pod would answer itself over lo, past the reverse translation';
  const snat = (address: string, evidence: Evidence[], rule: CiliumRuleId, because?: string): HairpinLb => ({
    detail: `${head}: the source is rewritten to the service loopback address ${address} (${familyOf(pod) === 4 ? why4 : why6}) and the packet is handed back to the pod; the reply to ${address} is reverse-translated in cil_from_container`,
    evidence,
    rule,
    ...(because ? { because } : {}),
  });
  if (familyOf(pod) === 4) {
    const l = serviceLoopback4(ctx);
    return snat(l.address, l.evidence, 'lb-loopback-snat', l.because);
  }
  const l = serviceLoopback6(ctx);
  if (l.snat === true) return snat(l.address, l.evidence, 'lb6-loopback-snat', l.because);
  if (l.snat === false) {
    const line = versionRangeText(ciliumRule('lb6-no-loopback-snat').versions);
    return {
      detail: `${head}: Cilium ${line} has no IPv6 service loopback, so the source stays ${pod} and the packet is handed back to the pod from its own address`,
      evidence: l.evidence,
      rule: 'lb6-no-loopback-snat',
      warning: {
        code: 'hairpin-no-reply',
        message: `${pod} reaching itself through ${frontend}: the packet arrives from the pod's own address, so the pod answers itself over lo; that answer never passes cil_from_container and is not reverse-translated, so the connection to ${frontend} does not complete (Cilium ${line}: no IPv6 service loopback; cilium/cilium#26733)`,
      },
    };
  }
  return {
    detail: `${head}: whether the source is rewritten to an IPv6 service loopback address depends on the Cilium version`,
    evidence: [],
    because: l.because,
    disposition: 'unknown',
    warning: { code: 'hairpin-undecided', message: `${pod} reaching itself through ${frontend}: ${l.because}` },
  };
}
