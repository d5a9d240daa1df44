// Paths that start in a local pod, and delivery into a local pod.
import type { Evidence, Family } from '../../model/types.js';
import type { Disposition, Flow, RedirectHop, TraceEndpoint } from '../../model/trace.js';
import { familyOf } from '../../model/addr.js';
import type { Fact } from '../datapath.js';
import { routeQuery } from '../routing.js';
import { ciliumRule, ciliumRuleHoldsAt, parseCiliumVersion, versionRangeText } from '../../model/cilium-rules.js';

import { type TraceContext, type Builder, NF_LOCAL_IN, NF_FORWARD } from './context.js';
import { stackForward } from './from-host.js';
import { egressFromNode } from './egress.js';
import { tunnelFromPod } from './encap.js';
import {
  stackHop,
  deliverHop,
  drop,
  REDIRECT_WHY,
  routeHop,
  routeFailure,
  programsUnknown,
  findProgram,
  nsRouting,
  ruled,
  toHostStack,
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
      // an address of the pod's own namespace (its own address, after socket-LB picked the pod itself as a
      // Service backend): the kernel delivers it over lo and no packet reaches eth0
      if (ans.result === 'local') {
        b.hops.push({
          kind: 'deliver',
          detail: `delivered inside the pod's own namespace ${ns.name} (${flow.dst} is one of its addresses: over lo)`,
          evidence: ans.evidence,
          netns: ns.name,
          target: 'pod-netns',
          address: flow.dst,
        });
        return 'delivered';
      }
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

  if (dst.kind === 'local-pod') {
    const er = endpointRoutesFor(ctx, dst);
    if (hr.known && hr.value === 'legacy' && er.known && er.value) {
      // endpoint routes leave ENABLE_ROUTING undefined: no local endpoint lookup, the kernel routes the packet
      b.hops.push(
        ruled(
          stackHop(
            `legacy host routing with per-endpoint routes: cil_from_container returns the packet to the stack (CTX_ACT_OK)`,
            [...hr.evidence, ...er.evidence],
            NF_FORWARD,
            'legacy-host-routing',
            ctx.dp.legacyReasons,
          ),
          'legacy-endpoint-routes-to-stack',
        ),
      );
      if (er.inferred) Object.assign(b.hops[b.hops.length - 1]!, { inferred: true, because: er.because });
      return stackForward(ctx, b, flow, dst, lxc, src);
    }
    return localDelivery(ctx, b, dst, false);
  }

  if (dst.kind === 'host')
    return toHostStack(
      ctx,
      b,
      flow,
      dst,
      lxc,
      `${dst.ip} is this node: cil_from_container passes the packet to the host stack (CTX_ACT_OK)`,
      [...dst.evidence],
      true,
    );

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
  const skip = skipFib(ctx);
  if (skip) {
    fibHop.because = fibHop.inferred && fibHop.because ? `${fibHop.because}; ${skip.because}` : skip.because;
    fibHop.inferred = true;
    fibHop.evidence.push(...skip.evidence);
    b.hops.push(ruled(fibHop, 'bpf-skip-fib-single-device'));
  } else b.hops.push(fibHop);
  for (const d of ans.divergence) b.warnings.push({ code: 'fib-policy-divergence', message: d });
  if (ans.result === 'local' && skip) {
    b.warnings.push({
      code: 'fib-local-undecided',
      message: `${flow.dst} is local to the kernel, but ${skip.because}: what becomes of the packet is not decided`,
    });
    return 'unknown';
  }
  if (ans.result === 'local') {
    // the address is neither an endpoint nor handled above: Cilium's answer to NOT_FWDED changed between versions
    const v = ctx.dp.ciliumVersion;
    const toStack = v.known ? ciliumRuleHoldsAt('fib-local-to-stack', v.value) : 'unknown';
    if (toStack === 'unknown') {
      const line = ciliumRule('fib-local-to-stack');
      b.warnings.push({
        code: 'fib-local-undecided',
        message: `bpf_fib_lookup says ${flow.dst} is local (NOT_FWDED): Cilium ${versionRangeText(ciliumRule('fib-local-drop').versions)} drops it (DROP_NO_FIB), ${versionRangeText(line.versions)} and a ${line.backport?.line}.x backport pass it to the stack; ${v.known ? `Cilium ${v.value} is on the backport's line and the patch that carries it is not known` : `the Cilium version is unknown (${v.because})`}`,
      });
      return 'unknown';
    }
    if (!toStack) {
      b.hops.push(
        ruled(
          drop(
            `bpf_fib_lookup answers local (BPF_FIB_LKUP_RET_NOT_FWDED) for ${flow.dst}, which is not an endpoint: Cilium ${v.known ? v.value : ''} drops it with DROP_NO_FIB`,
            [...ans.evidence, ...(v.known ? v.evidence : [])],
            'DROP_NO_FIB',
          ),
          'fib-local-drop',
        ),
      );
      return 'dropped';
    }
    b.hops.push(
      ruled(
        {
          kind: 'stack',
          detail: 'the FIB says the destination is local (BPF_FIB_LKUP_RET_NOT_FWDED): passed to the stack',
          evidence: [...ans.evidence, ...(v.known ? v.evidence : [])],
          why: 'fib-local',
          hooks: NF_LOCAL_IN,
        },
        'fib-local-to-stack',
      ),
    );
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

/**
 * Cilium's local delivery into pod `dst`. `fromHostSide`: the packet comes through cilium_host (never redirect_peer);
 * `fromNetdev`: it came in on a native device (on netkit that still means redirect_peer).
 */
/**
 * Whether per-endpoint routes are on, from the config; without the key, from the routing table: Cilium installs
 * `podIP dev lxc…` for every endpoint when they are on, and routes its pod CIDR via cilium_host when they are off.
 */
function endpointRoutesFor(ctx: TraceContext, dst: TraceEndpoint): Fact<boolean> {
  const er = ctx.dp.endpointRoutes;
  if (er.known) return er;
  const fam = familyOf(dst.ip) as Family;
  const ans = routeQuery(ctx.routing, { family: fam, dst: dst.ip });
  const dev = ans.result === 'unicast' ? ans.nexthops[0]?.dev : undefined;
  if (dev === undefined || dst.dev === undefined) return er;
  const perEndpoint = dev === dst.dev;
  return {
    known: true,
    value: perEndpoint,
    evidence: ans.evidence,
    inferred: true,
    because: `${er.because}; the kernel routes ${dst.ip} ${perEndpoint ? `straight to ${dev} (a per-endpoint route), so endpoint routes are taken as on` : `through ${dev}, not ${dst.dev}, so endpoint routes are taken as off`}`,
  };
}

/**
 * Whether Cilium skips bpf_fib_lookup here (ENABLE_SKIP_FIB: BPF host routing, one native device that is also the
 * direct-routing device): the reason, or undefined when the node state shows more than one device or none.
 */
function skipFib(ctx: TraceContext): { because: string; evidence: Evidence[] } | undefined {
  const devs = ctx.dp.nativeDevices;
  const drd = ctx.dp.directRoutingDevice;
  if (!devs.known || devs.value.length !== 1 || !drd.known || drd.value !== devs.value[0]) return undefined;
  const v = ctx.dp.ciliumVersion;
  const mn = v.known ? parseCiliumVersion(v.value) : null;
  const sure = mn !== null && mn[0] === 1 && mn[1] === 13;
  return {
    because: sure
      ? `Cilium 1.13 on a single-device node (${drd.value}) compiles in ENABLE_SKIP_FIB: no bpf_fib_lookup, redirect_neigh straight out of ${drd.value}, whose own route lookup the kernel route above stands for`
      : `on a single-device node (${drd.value}) Cilium may compile in ENABLE_SKIP_FIB and redirect_neigh out of ${drd.value} without this lookup; later lines add a condition (EnforceLXCFibLookup) the node state does not show`,
    evidence: [...devs.evidence, ...(v.known ? v.evidence : [])],
  };
}

export function localDelivery(
  ctx: TraceContext,
  b: Builder,
  dst: TraceEndpoint,
  fromHostSide: boolean,
  fromNetdev = false,
): Disposition {
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
  } else if (hr.value === 'bpf' && !fromHostSide && netkit && fromNetdev) {
    // netkit: only bpf_lxc at the pod's peer runs without an ingress ifindex; a packet from a native device has one
    b.hops.push(
      ruled(
        {
          kind: 'redirect_peer',
          detail: `bpf_redirect_peer into ${dst.netns ?? 'the pod'} through netkit ${dev}: the packet arrived on a device (ingress ifindex > 0), so the netkit exception does not apply`,
          evidence: [...hr.evidence, ...(mode.known ? mode.evidence : []), ...dst.evidence],
          helper: 'bpf_redirect_peer',
          dev,
          ...(dst.netns ? { netns: dst.netns, targetNetns: dst.netns } : {}),
        },
        'netkit-netdev-redirect-peer',
      ),
    );
  } else {
    const why = fromHostSide ? 'host-side' : netkit ? 'netkit' : 'legacy-host-routing';
    const er = endpointRoutesFor(ctx, dst);
    const hop: RedirectHop = {
      ...(why === 'legacy-host-routing' && (!er.known || er.inferred)
        ? { inferred: true, because: er.because ?? '' }
        : {}),
      kind: 'redirect',
      detail: `bpf_redirect to ${dev} (${REDIRECT_WHY[why]}), then across the veth into ${dst.netns ?? 'the pod'}`,
      evidence: [...(hr.evidence ?? []), ...dst.evidence],
      helper: 'bpf_redirect',
      why,
      reason: REDIRECT_WHY[why],
      dev,
      ...(dst.netns ? { targetNetns: dst.netns } : {}),
    };
    b.hops.push(why === 'legacy-host-routing' ? ruled(hop, 'legacy-routing-local-redirect') : hop);
    const p = findProgram(ctx, dev, 'egress', 'cil_to_container');
    if (p) b.hops.push(p);
  }
  b.hops.push(deliverHop(dst));
  return 'delivered';
}

/** Legacy path: the kernel routes the packet that arrived on `inDev`. */
