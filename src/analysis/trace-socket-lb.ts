// Socket-LB: whether a cgroup hook of Cilium's (cil_sock4_connect, cil_sock4_sendmsg, …) rewrites a Service
// frontend at connect()/sendmsg() before any packet exists, or why it does not (then the per-packet LB decides).
import type { Evidence } from '../model/types.js';
import type { Flow, SocketLbHop, TraceEndpoint } from '../model/trace.js';
import { familyOf } from '../model/addr.js';
import { sourceProblem, type TraceContext } from './trace.js';

/** The LB fields a socket-lb hop carries, as the Service trace built them. */
export type SocketLbFields = Omit<SocketLbHop, 'kind' | 'detail' | 'layer' | 'program' | 'attachType' | 'cgroup'> & {
  evidence: Evidence[];
};

/**
 * The socket-lb hop when a hook translates the flow; otherwise why none does (display text), and, when the
 * cgroup attachments were not read, what failed (a hook may then translate after all).
 */
export type SocketLbDecision = { hop: SocketLbHop } | { why: string; cgroupUnknown?: string };

export function socketLbDecision(
  ctx: TraceContext,
  flow: Flow,
  src: TraceEndpoint,
  view: { frontend: string; type: string },
  lb: SocketLbFields,
): SocketLbDecision {
  const sock = socketLbProgram(ctx, familyOf(flow.dst) === 6 ? 6 : 4, flow.proto);
  const sl = ctx.dp.socketLB;
  const inScope = src.kind === 'host' || (src.kind === 'local-pod' && sl.known && !sl.value.hostnsOnly);
  const mitm = view.type === 'ExternalIP';
  // the host namespace is covered whether socket-LB is Full or Hostns-only: the attached hook decides
  const hostByHook = !sl.known && src.kind === 'host' && sock !== undefined;
  if (
    sock &&
    ((sl.known && sl.value.enabled && inScope) || hostByHook) &&
    (flow.proto === 'tcp' || flow.proto === 'udp') &&
    !mitm &&
    (src.kind === 'host' || src.kind === 'local-pod')
  ) {
    const hop: SocketLbHop = {
      kind: 'socket-lb',
      detail: `${sock.name} (cgroup ${sock.attachType} on ${sock.cgroup}) rewrites ${view.frontend} to ${lb.backend} at connect/sendmsg: no packet ever carries the Service address, and no tc program sees it`,
      ...lb,
      layer: 'socket',
      program: sock.name,
      attachType: sock.attachType,
      cgroup: sock.cgroup,
    };
    hop.evidence = [sock.source, ...(sl.known ? sl.evidence : []), ...lb.evidence];
    if (hostByHook) {
      hop.inferred = true;
      hop.because = `the socket-LB setting is unknown (${sl.known ? '' : sl.because}), but ${sock.name} is attached at the cgroup root and the host namespace is always in its scope`;
    }
    return { hop };
  }
  // without bpftool cgroup, "no hook" is not known: the rewrite may happen at connect() instead
  const cgroupUnknown = sock ? undefined : sourceProblem(ctx, 'bpftool-cgroup');
  const why = !sock
    ? cgroupUnknown
      ? `socket-LB hooks unknown: ${cgroupUnknown}`
      : 'no socket-LB cgroup hook is attached'
    : !sl.known
      ? `socket-LB state unknown (${sl.because})`
      : !sl.value.enabled
        ? 'socket-LB is disabled'
        : mitm
          ? 'socket-LB skips ExternalIP frontends (MITM protection)'
          : src.kind === 'local-pod' && sl.value.hostnsOnly
            ? 'socket-LB covers the host namespace only (Socket LB Coverage: Hostns-only)'
            : flow.proto !== 'tcp' && flow.proto !== 'udp'
              ? `socket-LB handles TCP and UDP, not ${flow.proto.toUpperCase()}`
              : `the source is ${src.kind}, outside the sockets of this node`;
  return cgroupUnknown ? { why, cgroupUnknown } : { why };
}

function socketLbProgram(ctx: TraceContext, fam: 4 | 6, proto: Flow['proto']) {
  // connected sockets (TCP, and UDP after connect()) are rewritten in connect; unconnected UDP in sendmsg
  const want =
    proto === 'udp' ? [`cgroup_inet${fam}_connect`, `cgroup_udp${fam}_sendmsg`] : [`cgroup_inet${fam}_connect`];
  for (const w of want) {
    const hit = ctx.state.cgroup.find((c) => c.attachType === w && c.name.startsWith('cil_sock'));
    if (hit) return hit;
  }
  return undefined;
}
