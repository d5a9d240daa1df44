// A Service whose chosen backend is of the other family than its frontend (NAT46/64). Cilium translates it in
// nodeport_lb4 for traffic from outside (lb4_to_lb6: source and destination become IPv4-mapped IPv6 addresses,
// then nodeport_lb6 load-balances the IPv6 packet), and only where NAT46/64 for Services is compiled in; socket-LB
// leaves such a Service alone (sock4_skip_xlate). Everything the node state cannot decide is said to be unknown.
import type { Evidence, Warning } from '../model/types.js';
import type { Disposition, Flow, Hop, TcLbHop, TraceEndpoint } from '../model/trace.js';
import { familyOf, joinHostPort } from '../model/addr.js';
import { configValue } from '../tools/cilium/config.js';
import { traceAddress, type TraceContext } from './trace.js';
import { ruled } from './trace/hops.js';

type LbBase = Omit<TcLbHop, 'kind' | 'detail' | 'layer' | 'at' | 'noSocketLb' | 'program' | 'dev'> & {
  evidence: Evidence[];
};

const TRUE = /^(true|enabled|yes|1)$/i;
const FALSE = /^(false|disabled|no|0)$/i;

/** Whether NAT46/64 for Services is on: the status line, else the agent flag bpf-lb-nat46x64. */
function natState(ctx: TraceContext): { enabled: boolean; evidence: Evidence[] } | { because: string } {
  const st = ctx.state.cilium.status?.nat46x64Services;
  if (st) return { enabled: st.enabled, evidence: [st.source] };
  const cfg = configValue(ctx.state.cilium.config, 'bpf-lb-nat46x64');
  if (cfg && TRUE.test(cfg.value.trim())) return { enabled: true, evidence: [cfg.source] };
  if (cfg && FALSE.test(cfg.value.trim())) return { enabled: false, evidence: [cfg.source] };
  return { because: 'the status has no NAT46/64 Support line and the config no bpf-lb-nat46x64 key' };
}

export function natAcrossFamilies(
  ctx: TraceContext,
  flow: Flow,
  src: TraceEndpoint,
  frontend: string,
  chosen: { address: string; port: number },
  lb: LbBase,
): { hops: Hop[]; disposition: Disposition; warnings: Warning[] } {
  const to = familyOf(chosen.address) === 6 ? 'IPv6' : 'IPv4';
  const from = to === 'IPv6' ? 'IPv4' : 'IPv6';
  const backend = joinHostPort(chosen.address, chosen.port);
  if (src.kind === 'host' || src.kind === 'local-pod') {
    const at = src.kind === 'host' ? 'bpf_host' : 'cil_from_container';
    const hop: TcLbHop = ruled(
      {
        kind: 'tc-lb',
        detail: `${frontend} (${from}) has ${to} backends: socket-LB leaves it to the per-packet load balancer, which would translate between families (NAT46/64) on the way to ${backend}`,
        ...lb,
        layer: 'tc',
        at,
        noSocketLb: `socket-LB does not translate a Service whose backends are of the other family (sock4_skip_xlate / sock6_skip_xlate)`,
        inferred: true,
        because: `whether ${src.kind === 'host' ? 'the host datapath' : "the pod's cil_from_container"} translates this flow between families is not decided from the node state (netpath follows Cilium's NAT46/64 for traffic from outside only)`,
      },
      'socket-lb-skips-nat46x64',
    );
    return { hops: [hop], disposition: 'unknown', warnings: [] };
  }
  // from outside: the packet's way to cil_from_netdev, as traced to the frontend itself
  const inbound = traceAddress(ctx, flow).hops;
  const at = inbound.findIndex((h) => h.kind === 'bpf' && h.program === 'cil_from_netdev');
  const before = at >= 0 ? inbound.slice(0, at + 1) : [];
  const nat = natState(ctx);
  if ('because' in nat) {
    const hop: TcLbHop = ruled(
      {
        kind: 'tc-lb',
        detail: `${frontend} (${from}) has ${to} backends: cil_from_netdev translates it between families only with NAT46/64 for Services compiled in, which is not known here`,
        ...lb,
        layer: 'tc',
        at: 'cil_from_netdev',
        inferred: true,
        because: nat.because,
      },
      'lb-nat46x64-nodeport',
    );
    return { hops: [...before, hop], disposition: 'unknown', warnings: [] };
  }
  if (!nat.enabled) {
    const hop = ruled(
      {
        kind: 'drop' as const,
        detail: `${frontend} (${from}) has ${to} backends and NAT46/64 for Services is disabled: cil_from_netdev drops the packet (DROP_NAT_46X64_DISABLED)`,
        reason: 'NAT46/64 disabled',
        code: 'DROP_NAT_46X64_DISABLED',
        evidence: [...nat.evidence, ...lb.evidence],
        frontend,
        backends: lb.backends,
        backend,
      },
      'lb-nat46x64-nodeport',
    );
    return { hops: [...before, hop], disposition: 'dropped', warnings: [] };
  }
  if (to === 'IPv4') {
    // lb6_to_lb4: what the IPv6 client's source becomes in IPv4 is not modelled
    const hop: TcLbHop = ruled(
      {
        kind: 'tc-lb',
        detail: `NAT64 in cil_from_netdev: ${frontend} → ${backend}; the IPv4 source the client's IPv6 address becomes is not modelled here`,
        ...lb,
        evidence: [...nat.evidence, ...lb.evidence],
        layer: 'tc',
        at: 'cil_from_netdev',
      },
      'lb-nat46x64-nodeport',
    );
    return { hops: [...before, hop], disposition: 'unknown', warnings: [] };
  }
  const mapped = `::ffff:${flow.src}`;
  const hop: TcLbHop = ruled(
    {
      kind: 'tc-lb',
      detail: `NAT46 in cil_from_netdev: the IPv4 packet becomes IPv6 (${mapped} → ::ffff:${flow.dst}, lb4_to_lb6) and is load-balanced again as IPv6 (nodeport_lb6): ${frontend} → ${backend}`,
      ...lb,
      evidence: [...nat.evidence, ...lb.evidence],
      layer: 'tc',
      at: 'cil_from_netdev',
    },
    'lb-nat46x64-nodeport',
  );
  const v6 = traceAddress(ctx, { ...flow, src: mapped, dst: chosen.address, dport: chosen.port });
  const v6at = v6.hops.findIndex((h) => h.kind === 'bpf' && h.program === 'cil_from_netdev');
  const warnings: Warning[] = [...v6.warnings];
  if (v6.dst.kind !== 'local-pod')
    warnings.push({
      code: 'nat46-snat-not-shown',
      message: `after NAT46 the IPv6 packet to ${backend} is handled as any NodePort flow to a remote backend (SNAT to this node's IPv6 address, or DSR, by the NodePort mode); that step is not shown, so the source above is the one before it`,
    });
  return { hops: [...before, hop, ...v6.hops.slice(v6at + 1)], disposition: v6.disposition, warnings };
}
