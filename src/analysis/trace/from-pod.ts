// Paths that start in a local pod, and delivery into a local pod.
import type { Family } from '../../model/types.js';
import type { Disposition, Flow, TraceEndpoint } from '../../model/trace.js';
import { familyOf } from '../../model/addr.js';
import { routeQuery } from '../routing.js';

import { type TraceContext, type Builder, NF_LOCAL_IN, NF_FORWARD } from './context.js';
import { stackForward } from './from-host.js';
import { egressFromNode } from './egress.js';
import { tunnelFromPod } from './encap.js';
import {
  netfilterHop,
  stackHop,
  deliverHop,
  drop,
  REDIRECT_WHY,
  routeHop,
  routeFailure,
  programsUnknown,
  findProgram,
  nsRouting,
} from './hops.js';

export function fromLocalPod(
  ctx: TraceContext,
  b: Builder,
  flow: Flow,
  src: TraceEndpoint,
  dst: TraceEndpoint,
): Disposition {
  const fam = familyOf(flow.dst) as Family;
  // 1. the pod's own routing table decides whether the packet leaves through eth0 at all
  if (src.netns !== undefined) {
    const ns = ctx.state.netns.find((n) => n.name === src.netns)!;
    if (ns.routes.length === 0) {
      b.warnings.push({
        code: 'pod-routes-missing',
        message: `no routes were read for netns ${ns.name}: the pod's own routing is not checked`,
        source: `netns/${ns.name}/ip-route${fam}`,
      });
    } else {
      const r = nsRouting(ctx, ns.name);
      const ans = routeQuery(r, { family: fam, dst: flow.dst, src: flow.src, iif: 'lo' });
      const hop = routeHop(ans, `route in pod netns ${ns.name}`, { lookup: 'pod-netns', dst: flow.dst, iif: 'lo' });
      hop.netns = ns.name;
      b.hops.push(hop);
      if (ans.result !== 'unicast') return routeFailure(b, ans, flow);
      if (ans.result === 'unicast' && ans.nexthops[0]?.dev === 'lo') {
        b.hops.push({
          kind: 'deliver',
          detail: `delivered inside the pod's own namespace ${ns.name}`,
          evidence: ans.evidence,
          netns: ns.name,
          target: 'pod-netns',
          address: flow.dst,
        });
        return 'delivered';
      }
    }
  } else {
    b.warnings.push({
      code: 'pod-routes-missing',
      message: `the network namespace of ${src.ip} was not read: the pod's own routing is not checked`,
    });
  }
  const lxc = src.dev;
  if (lxc === undefined) {
    b.warnings.push({
      code: 'pod-device-unknown',
      message: `the host-side device of ${src.ip} is unknown: ${src.because ?? ''}`,
    });
    return 'unknown';
  }
  // 2. the program Cilium attaches to the lxc device (its ingress = what the pod sends)
  const prog = findProgram(ctx, lxc, 'ingress', 'cil_from_container');
  const unknownProgs = prog ? undefined : programsUnknown(ctx, lxc, 'ingress');
  if (unknownProgs) {
    b.warnings.push({
      code: 'programs-unknown',
      message: `the programs on ${lxc} ingress are unknown (${unknownProgs}): whether cil_from_container takes the packet cannot be decided`,
    });
    return 'unknown';
  }
  if (!prog) {
    b.warnings.push({
      code: 'no-cilium-program',
      message: `no Cilium program seen on ${lxc} ingress: the packet enters the host stack unprocessed by Cilium`,
    });
    b.hops.push(
      stackHop(`${lxc} has no cil_from_container: the packet enters the host stack`, [], NF_FORWARD, 'no-program'),
    );
    return stackForward(ctx, b, flow, dst, lxc, src);
  }
  b.hops.push(prog);
  const hr = ctx.dp.hostRouting;

  if (dst.kind === 'local-pod') return localDelivery(ctx, b, dst, false);

  if (dst.kind === 'host') {
    b.hops.push({
      kind: 'stack',
      detail: `${dst.ip} is this node: cil_from_container passes the packet to the host stack (CTX_ACT_OK)`,
      evidence: [...dst.evidence],
      why: 'to-host',
      hooks: NF_LOCAL_IN,
    });
    const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, src: flow.src, iif: lxc });
    b.hops.push(routeHop(ans, 'kernel route lookup', { lookup: 'input', dst: flow.dst, iif: lxc }));
    if (ans.result !== 'local') return routeFailure(b, ans, flow);
    b.hops.push(netfilterHop(ctx, NF_LOCAL_IN));
    b.hops.push({
      kind: 'deliver',
      detail: `delivered to a local socket on ${dst.ip} (${dst.dev ?? 'this node'})`,
      evidence: dst.evidence,
      target: 'local-socket',
      address: dst.ip,
      ...(dst.dev ? { addressDev: dst.dev } : {}),
    });
    return 'delivered';
  }

  // issue 15: in tunnel mode cil_from_container encapsulates for the destination's node before any FIB lookup
  const tunnelled = tunnelFromPod(ctx, b, flow, dst);
  if (tunnelled) return tunnelled;

  if (!hr.known) {
    b.warnings.push({
      code: 'host-routing-unknown',
      message: `host routing mode unknown (${hr.because}): the path below assumes neither; it shows the kernel route`,
    });
    return stackForward(ctx, b, flow, dst, lxc, src, true);
  }
  if (hr.value === 'legacy') {
    b.hops.push(
      stackHop(
        `legacy host routing: cil_from_container returns the packet to the stack (CTX_ACT_OK)`,
        hr.evidence,
        NF_FORWARD,
        'legacy-host-routing',
        ctx.dp.legacyReasons,
      ),
    );
    return stackForward(ctx, b, flow, dst, lxc, src);
  }
  // BPF host routing: fib_redirect() → bpf_fib_lookup(ifindex = lxc) → bpf_redirect_neigh
  const ans = routeQuery(ctx.routing, { family: fam, dst: flow.dst, src: flow.src, iif: lxc, bpfFib: true });
  const fibHop = routeHop(ans, `FIB lookup in cil_from_container (bpf_fib_lookup, ifindex ${lxc})`, {
    lookup: 'bpf_fib_lookup',
    dst: flow.dst,
    iif: lxc,
  });
  fibHop.evidence.unshift(...hr.evidence);
  b.hops.push(fibHop);
  for (const d of ans.divergence) b.warnings.push({ code: 'fib-policy-divergence', message: d });
  if (ans.result === 'local') {
    b.hops.push({
      kind: 'stack',
      detail: 'the FIB says the destination is local (BPF_FIB_LKUP_RET_NOT_FWDED): passed to the stack',
      evidence: ans.evidence,
      why: 'fib-local',
      hooks: NF_LOCAL_IN,
    });
    b.hops.push({
      kind: 'deliver',
      detail: `delivered to a local socket on ${flow.dst}`,
      evidence: [],
      target: 'local-socket',
      address: flow.dst,
    });
    return 'delivered';
  }
  if (ans.result === 'unknown') return routeFailure(b, ans, flow);
  if (ans.result !== 'unicast') {
    b.hops.push(
      drop(`bpf_fib_lookup returns ${ans.result}: Cilium drops with DROP_NO_FIB`, ans.evidence, 'DROP_NO_FIB'),
    );
    return ans.result === 'no-route' || ans.result === 'unreachable' ? 'no-route' : 'dropped';
  }
  return egressFromNode(ctx, b, flow, src, dst, ans, 'redirect_neigh');
}

export function localDelivery(ctx: TraceContext, b: Builder, dst: TraceEndpoint, fromHostSide: boolean): Disposition {
  if (dst.dev === undefined) {
    b.warnings.push({
      code: 'pod-device-unknown',
      message: `the host-side device of ${dst.ip} is unknown: ${dst.because ?? ''}`,
    });
    return 'unknown';
  }
  const hr = ctx.dp.hostRouting;
  const dev = dst.dev ?? '?';
  const mode = ctx.dp.deviceMode;
  const netkit = mode.known && mode.value !== 'veth';
  if (!hr.known) {
    b.hops.push({
      kind: 'redirect',
      detail: `local delivery to ${dst.ip} on ${dev}: bpf_redirect_peer with BPF host routing, bpf_redirect otherwise — host routing unknown`,
      evidence: dst.evidence,
      helper: 'bpf_redirect',
      why: 'host-routing-unknown',
      dev,
      ...(dst.netns ? { targetNetns: dst.netns } : {}),
      inferred: true,
      because: hr.because,
    });
  } else if (hr.value === 'bpf' && !fromHostSide && !netkit) {
    b.hops.push({
      kind: 'redirect_peer',
      detail: `bpf_redirect_peer into ${dst.netns ?? 'the pod'} through ${dev}: skips the host stack, netfilter and ${dev}'s own tc hooks`,
      evidence: [...hr.evidence, ...dst.evidence],
      helper: 'bpf_redirect_peer',
      dev,
      ...(dst.netns ? { netns: dst.netns, targetNetns: dst.netns } : {}),
    });
  } else {
    const why = fromHostSide ? 'host-side' : netkit ? 'netkit' : 'legacy-host-routing';
    b.hops.push({
      kind: 'redirect',
      detail: `bpf_redirect to ${dev} (${REDIRECT_WHY[why]}), then across the veth into ${dst.netns ?? 'the pod'}`,
      evidence: [...(hr.evidence ?? []), ...dst.evidence],
      helper: 'bpf_redirect',
      why,
      reason: REDIRECT_WHY[why],
      dev,
      ...(dst.netns ? { targetNetns: dst.netns } : {}),
    });
    const p = findProgram(ctx, dev, 'egress', 'cil_to_container');
    if (p) b.hops.push(p);
  }
  b.hops.push(deliverHop(dst));
  return 'delivered';
}

/** Legacy path: the kernel routes the packet that arrived on `inDev`. */
