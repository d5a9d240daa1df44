import type { Rule } from '../../model/types.js';
import type { FibImpl } from './lookup.js';
import { matchRule, parseAddr, tname, u32, type CompiledRule } from './rules.js';
import type { Fib, RouteQuery } from './types.js';

// ---------------------------------------------------------------------------------------------
// bpf_fib_lookup() versus the kernel's own routing of the packet.
//
// Checked: torvalds/linux net/core/filter.c bpf_ipv4_fib_lookup / bpf_ipv6_fib_lookup (5.x–6.x,
// BPF_FIB_LOOKUP_MARK added in 6.10) and cilium/cilium bpf/lib/fib.h (main, 2024–2025):
// - the helper builds its own flow: iif = params->ifindex (oif 0) unless BPF_FIB_LOOKUP_OUTPUT
//   (then iif = 1, oif = ifindex); mark = 0 unless BPF_FIB_LOOKUP_MARK; uid = sock_net_uid(net,
//   NULL), i.e. 0; tos, l4_protocol, sport, dport come from params.
// - Cilium's fib_lookup_v4/v6 zero the params, then set only family, ifindex (the device the
//   program runs on: the pod's lxc for pod egress), src and dst; flags 0, or DIRECT|TBID with an
//   endpoint route table. So tos, ipproto and ports are 0 and the mark is not passed.
// - BPF_FIB_LOOKUP_DIRECT skips the policy rules and looks in one table (main, the VRF's table,
//   or params->tbid with TBID). SKIP_NEIGH only changes neighbour resolution, not the route.
// ---------------------------------------------------------------------------------------------

export interface BpfFibOptions {
  /** device whose ifindex the program passes (Cilium: the lxc device for pod egress); default q.iif */
  ifindexDev?: string;
  /** BPF_FIB_LOOKUP_OUTPUT */
  output?: boolean;
  /** BPF_FIB_LOOKUP_MARK (Linux 6.10+); Cilium does not pass it */
  passMark?: boolean;
  /** BPF_FIB_LOOKUP_DIRECT (with TBID: the table); Cilium uses it with an endpoint route table */
  direct?: boolean;
  tbid?: number;
  /** whether the program fills tos/l4_protocol/ports from the packet; Cilium does not */
  fillsL4?: boolean;
}

/** The flow bpf_fib_lookup() hands to the FIB for this packet. */
export function bpfFibQuery(q: RouteQuery, opts: BpfFibOptions = {}): RouteQuery {
  const dev = opts.ifindexDev ?? q.iif;
  const b: RouteQuery = { family: q.family, dst: q.dst, mark: opts.passMark ? (q.mark ?? 0) : 0, uid: 0 };
  if (q.src !== undefined) b.src = q.src;
  if (opts.output) {
    if (dev !== undefined) b.oif = dev;
  } else if (dev !== undefined) b.iif = dev;
  if (opts.fillsL4) {
    if (q.tos !== undefined) b.tos = q.tos;
    if (q.ipproto !== undefined) b.ipproto = q.ipproto;
    if (q.sport !== undefined) b.sport = q.sport;
    if (q.dport !== undefined) b.dport = q.dport;
  }
  return b;
}

export interface Divergence {
  rule: Rule;
  why: string;
}

/**
 * Rules that could make the kernel's policy routing of the real packet (flow q) differ from the
 * bpf_fib_lookup() Cilium makes for it. A field of q left undefined is "unknown": a rule that
 * selects on it is reported as a possible divergence.
 */
export function fibLookupDivergence(fib: Fib, q: RouteQuery, opts: BpfFibOptions = {}): Divergence[] {
  const impl = fib as FibImpl;
  const b = bpfFibQuery(q, opts);
  const out: Divergence[] = [];
  const rules = impl.rules(q.family);
  if (opts.direct) {
    const t = opts.tbid ?? 254;
    for (const r of rules) {
      if (r.source.probe === 'kernel-default') continue;
      out.push({
        rule: r,
        why: `BPF_FIB_LOOKUP_DIRECT looks only in table ${tname(t)}: this rule is never consulted by the BPF lookup, the kernel evaluates it`,
      });
    }
    return out;
  }
  const dst = new Uint32Array(q.family === 4 ? 1 : 4);
  if (!parseAddr(q.family, q.dst, dst)) return out;
  let src: Uint32Array | null = null;
  if (q.src !== undefined) {
    src = new Uint32Array(q.family === 4 ? 1 : 4);
    if (!parseAddr(q.family, q.src, src)) src = null;
  }
  const compiled = impl.compiledRules(q.family);
  for (const c of compiled) {
    const r = c.rule;
    const why: string[] = [];
    if (c.mask !== 0) {
      if (q.mark === undefined && !opts.passMark)
        why.push(
          `selects on fwmark ${fmtMark(c)}; the packet's mark is unknown and bpf_fib_lookup uses mark 0 (no BPF_FIB_LOOKUP_MARK)`,
        );
    }
    if (r.uidrange && q.uid === undefined)
      why.push(`selects on uid ${r.uidrange.join('-')}; bpf_fib_lookup uses uid 0, a local socket's uid may differ`);
    if (!opts.fillsL4) {
      if (r.tos && q.tos === undefined) why.push(`selects on tos ${r.tos}; Cilium passes tos 0`);
      if (r.ipproto && q.ipproto === undefined)
        why.push(`selects on ipproto ${r.ipproto}; Cilium passes l4_protocol 0`);
      if (r.sport && q.sport === undefined) why.push(`selects on sport ${r.sport.join('-')}; Cilium passes port 0`);
      if (r.dport && q.dport === undefined) why.push(`selects on dport ${r.dport.join('-')}; Cilium passes port 0`);
    }
    const mk = matchRule(c, q, dst, src);
    const mb = matchRule(c, b, dst, src);
    if (mk !== mb) {
      const fields: string[] = [];
      if (c.mask !== 0 && (q.mark ?? 0) !== (b.mark ?? 0))
        fields.push(`mark (packet 0x${u32(q.mark ?? 0).toString(16)}, BPF 0x${u32(b.mark ?? 0).toString(16)})`);
      if (r.iif !== undefined && (q.iif ?? 'lo') !== (b.iif ?? 'lo'))
        fields.push(`iif (packet ${q.iif ?? 'lo'}, BPF ${b.iif ?? 'lo'})`);
      if (r.oif !== undefined && q.oif !== b.oif)
        fields.push(`oif (packet ${q.oif ?? 'none'}, BPF ${b.oif ?? 'none'})`);
      if (r.uidrange && (q.uid ?? 0) !== 0) fields.push(`uid (packet ${q.uid}, BPF 0)`);
      if (r.tos && (q.tos ?? 0) !== (b.tos ?? 0)) fields.push('tos');
      if (r.ipproto && (q.ipproto ?? 0) !== (b.ipproto ?? 0)) fields.push('ipproto');
      if (r.sport && (q.sport ?? 0) !== (b.sport ?? 0)) fields.push('sport');
      if (r.dport && (q.dport ?? 0) !== (b.dport ?? 0)) fields.push('dport');
      why.unshift(
        `${mk ? 'matches the packet but not the BPF lookup' : 'matches the BPF lookup but not the packet'}: ${fields.join(', ') || 'flow fields differ'}`,
      );
    }
    if (why.length > 0) out.push({ rule: r, why: why.join('; ') });
  }
  return out;
}

function fmtMark(c: CompiledRule): string {
  return `0x${c.mark.toString(16)}/0x${c.mask.toString(16)}`;
}
