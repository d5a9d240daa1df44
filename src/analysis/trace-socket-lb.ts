// Socket-LB: whether a cgroup hook of Cilium's (cil_sock4_connect, cil_sock4_sendmsg, …) rewrites a Service
// frontend at connect()/sendmsg() before any packet exists, or why it does not (then the per-packet LB decides).
// The cases Cilium's bpf_sock.c decides (rules in model/cilium-rules.ts): the wildcard NodePort entry for a node's
// address or loopback, ExternalIPs only on the node's own addresses, a frontend without backends failing the
// system call, and the recvmsg hook that rewrites a UDP reply back to the frontend.
import type { CgroupAttachment, Evidence } from '../model/types.js';
import type { DropHop, Flow, HopBackend, SocketLbHop, TraceEndpoint } from '../model/trace.js';
import type { FrontendView, ServiceEntry } from '../model/service.js';
import { familyOf, prefixContains } from '../model/addr.js';
import { configValue } from '../tools/cilium/config.js';
import { lookupServices } from './services.js';
import { classify, sourceProblem, type TraceContext } from './trace.js';
import { ruled } from './trace/hops.js';
import { memoFrontends } from './trace/memo.js';

/** The LB fields a socket-lb hop carries, as the Service trace built them. */
export type SocketLbFields = Omit<
  SocketLbHop,
  'kind' | 'detail' | 'layer' | 'program' | 'attachType' | 'cgroup' | 'wildcard' | 'replyXlate'
> & {
  evidence: Evidence[];
};

/**
 * The socket-lb hop when a hook translates the flow; otherwise why none does (display text), and, when the
 * cgroup attachments were not read, what failed (a hook may then translate after all).
 */
export type SocketLbDecision = { hop: SocketLbHop } | { why: string; cgroupUnknown?: string };

type Scope =
  | { ok: true; sock: CgroupAttachment; hostByHook: boolean; evidence: Evidence[]; because?: string }
  | { ok: false; why: string; cgroupUnknown?: string };

const WILDCARD = new Set(['0.0.0.0', '::']);
const isLoopback = (a: string) => (familyOf(a) === 6 ? a === '::1' : prefixContains('127.0.0.0/8', a));

/** Whether a socket-LB hook translates this flow's connect()/sendmsg() at all, whatever the backends. */
function scope(ctx: TraceContext, flow: Flow, src: TraceEndpoint, view: { type: string }): Scope {
  const sock = socketLbProgram(ctx, familyOf(flow.dst) === 6 ? 6 : 4, flow.proto);
  const sl = ctx.dp.socketLB;
  const inScope = src.kind === 'host' || (src.kind === 'local-pod' && sl.known && !sl.value.hostnsOnly);
  // sock4_skip_xlate: an ExternalIP (or a HostPort on a non-loopback address) is translated only when the
  // address is one of this node's own (host identity); elsewhere Cilium will not intercept a public address
  // asked only of those two types: classifying every ClusterIP was a tenth of check's trace time
  const mitm =
    (view.type === 'ExternalIP' || (view.type === 'HostPort' && !isLoopback(flow.dst))) &&
    classify(ctx, flow.dst).kind !== 'host';
  // the host namespace is covered whether socket-LB is Full or Hostns-only: the attached hook decides
  const hostByHook = !sl.known && src.kind === 'host' && sock !== undefined;
  if (
    sock &&
    ((sl.known && sl.value.enabled && inScope) || hostByHook) &&
    (flow.proto === 'tcp' || flow.proto === 'udp') &&
    !mitm &&
    (src.kind === 'host' || src.kind === 'local-pod')
  ) {
    return {
      ok: true,
      sock,
      hostByHook,
      evidence: [sock.source, ...(sl.known ? sl.evidence : [])],
      ...(hostByHook
        ? {
            because: `the socket-LB setting is unknown (${sl.known ? '' : sl.because}), but ${sock.name} is attached at the cgroup root and the host namespace is always in its scope`,
          }
        : {}),
    };
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
          ? `socket-LB translates ${view.type === 'ExternalIP' ? 'an ExternalIP' : 'a HostPort'} frontend only on an address of this node, and ${flow.dst} is not one (MITM protection)`
          : src.kind === 'local-pod' && sl.value.hostnsOnly
            ? 'socket-LB covers the host namespace only (Socket LB Coverage: Hostns-only)'
            : flow.proto !== 'tcp' && flow.proto !== 'udp'
              ? `socket-LB handles TCP and UDP, not ${flow.proto.toUpperCase()}`
              : `the source is ${src.kind}, outside the sockets of this node`;
  return cgroupUnknown ? { ok: false, why, cgroupUnknown } : { ok: false, why };
}

export function socketLbDecision(
  ctx: TraceContext,
  flow: Flow,
  src: TraceEndpoint,
  view: { frontend: string; type: string; address: string },
  lb: SocketLbFields,
  /** the backend as the hop names it (`one of N backends (…)` when the state does not decide) */
  to: string = lb.backend,
): SocketLbDecision {
  const sc = scope(ctx, flow, src, view);
  if (!sc.ok) return sc.cgroupUnknown ? { why: sc.why, cgroupUnknown: sc.cgroupUnknown } : { why: sc.why };
  const { sock } = sc;
  const wildcard = WILDCARD.has(view.address) && flow.dst !== view.address;
  const asked = `${flow.dst.includes(':') ? `[${flow.dst}]` : flow.dst}:${flow.dport ?? '?'}`;
  const reply = flow.proto === 'udp' ? replyXlate(ctx, familyOf(flow.dst) === 6 ? 6 : 4) : undefined;
  const replyText = !reply
    ? ''
    : reply.attached === true
      ? `; the reply's source is rewritten back to ${view.frontend} by ${reply.program} (recvmsg)`
      : reply.attached === false
        ? `; the recvmsg hook that rewrites the reply's source back to ${view.frontend} is not attached: the application sees the backend's address`
        : `; the reply's source is rewritten back to ${view.frontend} by the recvmsg hook, whose attachment is not known`;
  let hop: SocketLbHop = {
    kind: 'socket-lb',
    detail: `${sock.name} (cgroup ${sock.attachType} on ${sock.cgroup}) rewrites ${wildcard ? `${asked}, through the wildcard NodePort entry ${view.frontend},` : view.frontend} to ${to} at connect/sendmsg: no packet ever carries the Service address, and no tc program sees it${replyText}`,
    ...lb,
    layer: 'socket',
    program: sock.name,
    attachType: sock.attachType,
    cgroup: sock.cgroup,
  };
  hop.evidence = [...sc.evidence, ...lb.evidence];
  if (sc.because) {
    hop.inferred = true;
    hop.because = sc.because;
  }
  if (wildcard) {
    hop.wildcard = { connectedTo: asked };
    hop = ruled(hop, 'socket-lb-wildcard-nodeport');
  }
  if (view.type === 'ExternalIP' || view.type === 'HostPort') hop = ruled(hop, 'socket-lb-externalip-own-address');
  if (reply) {
    hop.replyXlate = reply;
    hop = ruled(hop, 'socket-lb-udp-recvmsg-revnat');
  }
  return { hop };
}

/**
 * A frontend without backends, when socket-LB translates the flow: the hook rejects connect()/sendmsg(), the
 * call fails, and no packet is sent. Undefined when socket-LB does not take the flow (a packet is then sent and
 * the per-packet layer decides).
 */
export function socketLbNoBackend(
  ctx: TraceContext,
  flow: Flow,
  src: TraceEndpoint,
  view: { frontend: string; type: string },
  evidence: Evidence[],
  backends: HopBackend[],
): DropHop | undefined {
  const sc = scope(ctx, flow, src, view);
  if (!sc.ok) return undefined;
  // connected sockets (TCP, connected UDP) fail in connect(); an unconnected UDP send fails in sendmsg()
  const call = flow.proto === 'udp' && sc.sock.attachType.includes('sendmsg') ? 'sendmsg' : 'connect';
  const hop: DropHop = {
    kind: 'drop',
    detail: `${view.frontend} has no active backend: ${sc.sock.name} rejects ${call}() and the call fails with EHOSTUNREACH (EPERM on a kernel without bpf_set_retval, before Linux 5.18) — no packet is ever sent`,
    reason: 'Service without backends: the system call fails',
    code: 'EHOSTUNREACH',
    evidence: [...sc.evidence, ...evidence],
    frontend: view.frontend,
    backends,
    syscall: { call, errno: 'EHOSTUNREACH', errnoOtherwise: 'EPERM' },
  };
  if (sc.because) {
    hop.inferred = true;
    hop.because = sc.because;
  }
  return ruled(hop, 'socket-lb-no-backend-connect-fails');
}

/**
 * The wildcard NodePort entry socket-LB matches when the address has no frontend of its own: a port in the
 * NodePort range, to loopback (from the host namespace), to one of this node's addresses or to another node's
 * (sock4_wildcard_lookup_full). Empty when socket-LB does not take the flow or the address is none of those;
 * `maybe` when the address could be another node's but the state cannot tell (Cilium asks its ipcache).
 */
export function socketLbWildcard(
  ctx: TraceContext,
  flow: Flow,
  src: TraceEndpoint,
): { views: FrontendView[]; maybe?: string } {
  if (flow.dport === undefined || flow.proto === 'icmp') return { views: [] };
  const [lo, hi] = nodePortRange(ctx);
  if (flow.dport < lo || flow.dport > hi) return { views: [] };
  const any = familyOf(flow.dst) === 6 ? '::' : '0.0.0.0';
  const { dport } = flow;
  const proto = flow.proto.toUpperCase();
  const views = memoFrontends(ctx, ctx.services, `sock-wildcard|${any}|${dport}|${proto}`, () =>
    lookupServices(
      ctx.services.filter(
        (e: ServiceEntry) => (e.source === 'cilium-bpf' || e.source === 'cilium-dbg') && e.type === 'NodePort',
      ),
      { kind: 'address', address: any, port: dport },
      { kubeProxyReplacement: ctx.dp.kubeProxyReplacement },
    ).frontends.filter((v) => v.proto === proto || v.proto === 'ANY'),
  );
  if (views.length === 0) return { views: [] };
  if (!scope(ctx, flow, src, { type: 'NodePort' }).ok) return { views: [] };
  // loopback only from the host namespace: a pod's 127.0.0.1 is its own
  if (isLoopback(flow.dst)) return src.kind === 'host' ? { views } : { views: [] };
  const dst = classify(ctx, flow.dst);
  if (dst.kind === 'host' || dst.kind === 'remote-node') return { views };
  if (dst.kind === 'external')
    return {
      views: [],
      maybe: `${flow.dst}:${flow.dport} has no frontend of its own, but socket-LB would translate it through the wildcard NodePort entry ${views[0]!.frontend} if ${flow.dst} is another node's address (Cilium asks its ipcache; this state does not show ${flow.dst} as a node)`,
    };
  return { views: [] };
}

function nodePortRange(ctx: TraceContext): [number, number] {
  // node-port-range "30000,32767" (the agent's default when unset)
  const v = configValue(ctx.state.cilium.config, 'node-port-range')?.value;
  const m = v ? /^\s*(\d+)\s*[,-]\s*(\d+)\s*$/.exec(v) : null;
  return m ? [Number(m[1]), Number(m[2])] : [30000, 32767];
}

function replyXlate(ctx: TraceContext, fam: 4 | 6): NonNullable<SocketLbHop['replyXlate']> {
  const hit = ctx.state.cgroup.find(
    (c) => c.attachType === `cgroup_udp${fam}_recvmsg` && c.name.startsWith('cil_sock'),
  );
  if (hit) return { hook: 'recvmsg', attached: true, program: hit.name, attachType: hit.attachType };
  return { hook: 'recvmsg', attached: sourceProblem(ctx, 'bpftool-cgroup') ? 'unknown' : false };
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
