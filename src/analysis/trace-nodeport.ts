// A Service flow that arrives from outside the node (NodePort, LoadBalancer, ExternalIP, or a ClusterIP reached from
// outside): what bpf_host's cil_from_netdev (or XDP) does with it, and NodePort's SNAT or DSR to a remote backend.
import type { Backend, FrontendView, ServiceEntry } from '../model/service.js';
import type { DropHop, Flow, Hop, LbHop, MasqueradeHop, TcLbHop } from '../model/trace.js';
import { hopDev } from '../model/trace.js';
import { classify, type TraceContext } from './trace.js';

const hostPort = (a: string, p: number) => `${a.includes(':') ? `[${a}]` : a}:${p}`;

type LbFields = Omit<TcLbHop, 'kind' | 'detail' | 'layer' | 'at'>;

export interface FromOutsideArgs {
  flow: Flow;
  view: FrontendView;
  layer: FrontendView['bySource'][number];
  cilium: FrontendView['bySource'][number] | undefined;
  entry: ServiceEntry | undefined;
  lb: LbFields & Pick<LbHop, 'evidence'>;
  paths: TcLbHop['paths'];
  chosen: Pick<Backend, 'address' | 'port'>;
  /** the path to the chosen backend, edited in place: the load-balancing hops go in */
  hops: Hop[];
}

/**
 * From outside, with Cilium's maps programming the frontend: DROP_IS_CLUSTER_IP for a non-routable ClusterIP, else
 * the NodePort load balancing in cil_from_netdev (or XDP) inserted into `hops`.
 */
export function nodePortFromOutside(ctx: TraceContext, a: FromOutsideArgs): { dropped?: DropHop } {
  const { flow, view, layer, cilium, entry, lb, paths, chosen, hops } = a;
  if (
    view.bySource.some((b) => b.source === 'cilium-bpf') &&
    view.type === 'ClusterIP' &&
    !(layer === cilium && isRoutable(ctx, view.frontend))
  ) {
    return {
      dropped: {
        kind: 'drop',
        detail: `${view.frontend} is a ClusterIP that is not reachable from outside the node: cil_from_netdev drops it (DROP_IS_CLUSTER_IP) unless bpf-lb-external-clusterip is set`,
        evidence: lb.evidence,
        reason: 'DROP_IS_CLUSTER_IP',
        code: 'DROP_IS_CLUSTER_IP',
        frontend: lb.frontend,
        backends: lb.backends,
        backend: lb.backend,
        paths,
      },
    };
  }
  const at = hops.findIndex((h) => h.kind === 'bpf' && h.program === 'cil_from_netdev');
  const inDev = hops[0] ? hopDev(hops[0]) : undefined;
  const xdp = inDev ? ctx.dp.programs.find((p) => p.dev === inDev && p.hook === 'xdp') : undefined;
  const np: TcLbHop = {
    kind: 'tc-lb',
    detail: `NodePort/LB load balancing in ${xdp ? `XDP (${xdp.program} on ${inDev}, before the stack and tc)` : 'cil_from_netdev'}: ${view.frontend} → ${hostPort(chosen.address, chosen.port)}`,
    ...lb,
    layer: xdp ? 'xdp' : 'tc',
    at: xdp ? 'xdp' : 'cil_from_netdev',
    ...(xdp ? { program: xdp.program, dev: xdp.dev } : {}),
  };
  const added: Hop[] = [np];
  if (xdp)
    added.unshift({
      kind: 'bpf',
      detail: `${xdp.program} on ${inDev} xdp`,
      evidence: xdp.evidence,
      dev: xdp.dev,
      hook: 'xdp',
      program: xdp.program,
      attachMode: 'xdp',
      direction: 'ingress',
      ...(xdp.progId !== undefined ? { progId: xdp.progId } : {}),
    });
  if (classify(ctx, chosen.address).kind !== 'local-pod') added.push(nodePortNat(ctx, entry, flow));
  hops.splice(xdp ? Math.max(0, at) : at + 1, 0, ...added);
  return {};
}

/** NodePort to a remote backend: SNAT to this node (replies come back here) or DSR (the backend answers the client). */
function nodePortNat(ctx: TraceContext, entry: ServiceEntry | undefined, flow: Flow): MasqueradeHop {
  const st = ctx.state.cilium.status?.kprMode;
  const mode = entry?.flags.dsr ? 'DSR' : st?.mode;
  const ev = st ? [st.source] : [];
  if (mode === 'DSR' || (mode === 'Hybrid' && flow.proto === 'tcp')) {
    const reason = `${mode === 'Hybrid' ? 'hybrid mode uses DSR for TCP' : 'DSR'} — the backend sees the client ${flow.src} and replies to it directly, not through this node`;
    return {
      kind: 'masquerade',
      detail: `not source-NATed: ${reason}`,
      reason,
      evidence: ev,
      applied: false,
      by: 'bpf-nodeport',
      where: 'bpf-nodeport',
      why: 'nodeport-dsr',
      nodePortMode: mode,
    };
  }
  if (mode === 'SNAT' || mode === 'Hybrid') {
    return {
      kind: 'masquerade',
      detail: `SNAT to this node's address in cil_to_netdev (NodePort ${mode === 'Hybrid' ? 'hybrid mode, UDP' : 'SNAT mode'}): the backend sees this node, not ${flow.src}; the reply returns here and is reverse-NATed in cil_from_netdev`,
      evidence: ev,
      applied: true,
      by: 'bpf-nodeport',
      where: 'bpf-nodeport',
      why: 'nodeport-snat',
      nodePortMode: mode,
    };
  }
  return {
    kind: 'masquerade',
    detail: 'NodePort SNAT or DSR: the status does not say (KubeProxyReplacement Details: Mode)',
    evidence: [],
    applied: 'unknown',
    by: 'bpf-nodeport',
    where: 'bpf-nodeport',
    why: 'nodeport-mode-unknown',
    inferred: true,
    because: 'no Mode line in the status',
  };
}

function isRoutable(ctx: TraceContext, frontend: string): boolean {
  const e = ctx.services.find(
    (s) =>
      s.source === 'cilium-bpf' &&
      `${s.frontend.address}:${s.frontend.port}/${s.frontend.proto}` === frontend.replace(/^\[|\](?=:)/g, ''),
  );
  return e?.flags.routable === true;
}
