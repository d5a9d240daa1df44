import type { CheckFlow, CheckFlowCategory, Finding } from '../../model/check.js';
import type { DropHop, Flow, Trace } from '../../model/trace.js';
import type { Family, Warning } from '../../model/types.js';
import { familyOf, joinHostPort } from '../../model/addr.js';
import { type Node, walk } from '../journey-walk.js';
import { classify } from '../trace.js';
import { confirmDrop, confirmRoute } from './confirm.js';
import { FindingSet } from './findings.js';
import { hostAddress, planFlows, remotePodTargets } from './flows.js';

/** A flow `check --cluster` follows across nodes, and what it stands for. */
interface PlannedJourney {
  category: CheckFlowCategory;
  label: string;
  flow: Flow;
}

/**
 * `check --cluster`: flows that leave a node followed onto the node that owns the next hop (the `trace --cluster`
 * walk), and each delivered one's reply back to its source:
 * - each node's pod → remote-pod flows (one address per other node's pod CIDR);
 * - the host → the same remote-pod addresses;
 * - each Service flow (pod or host → frontend) once per candidate backend another captured node owns, the
 *   backend pinned, so a backend that only some connections reach is followed too.
 * A flow the sending node forwards can still end in a drop on the receiving node, and a reply can be lost on its
 * way back; neither node's own check sees that. It is reported on the node where it ends, with the flow's origin.
 * `followed` counts the walks: each journey, and each reply walked back.
 */
export function journeyFindings(
  nodes: Node[],
  dir: string,
  opts: { maxJourneys?: number } = {},
): { findings: Finding[]; followed: number; enumerated: number; warnings: Warning[] } {
  const owns = (nd: Node, ip: string) => {
    const k = classify(nd.ctx, ip).kind;
    return k === 'host' || k === 'local-pod';
  };
  const sets = new Map<string, FindingSet>();
  const warnings: Warning[] = [];
  let followed = 0;
  let enumerated = 0;
  const max = opts.maxJourneys ?? Number.POSITIVE_INFINITY;
  const report = (
    at: string,
    j: PlannedJourney,
    origin: string,
    t: Trace,
    disposition: Trace['disposition'],
    path: string,
  ) => {
    const drop = t.hops.find((h): h is DropHop => h.kind === 'drop');
    const cf: CheckFlow = {
      category: j.category,
      label: `${j.label} on ${origin}`,
      flow: j.flow,
      disposition,
      node: origin,
    };
    let set = sets.get(at);
    if (!set) sets.set(at, (set = new FindingSet()));
    const code = drop?.code ?? disposition;
    const what =
      j.category === 'reply'
        ? 'replies to flows of other nodes end here'
        : "flows from other nodes' pods, host or Services are forwarded here and end";
    set.add(
      `journey${j.category === 'reply' ? '-reply' : ''}|${code}|${drop?.evidence[0]?.text ?? ''}`,
      {
        severity: 'error',
        kind: 'journey-drop',
        message: `${what} ${drop ? `in a drop: ${drop.reason} (${code})` : disposition} (${path})`,
        evidence: drop?.evidence ?? [],
        confirm: [confirmRoute(t), ...confirmDrop(t)],
      },
      cf,
    );
  };
  const follow = (nd: Node, j: PlannedJourney, isReply: boolean): ReturnType<typeof walk> | undefined => {
    let w: ReturnType<typeof walk>;
    try {
      w = walk(nodes, owns, j.flow, dir);
    } catch {
      return undefined;
    }
    followed++;
    const last = w.legs[w.legs.length - 1]!;
    const path = w.legs.map((l) => l.node).join(' → ');
    // a request's first leg is the sending node's own check; a reply starts on a node whose check never traced it
    const past = isReply || w.legs.length >= 2;
    if (past && (w.disposition === 'dropped' || w.disposition === 'no-route'))
      report(last.node, j, nd.name, last.trace, w.disposition, path);
    return w;
  };
  for (const nd of nodes) {
    for (const j of journeysOf(nd, nodes, owns)) {
      enumerated += 2;
      if (followed >= max) continue;
      const w = follow(nd, j, false);
      if (w?.disposition !== 'delivered' || w.legs.length < 2) continue;
      // the reply leaves from where the request was delivered (a Service's backend), to the original source
      const end = w.legs[w.legs.length - 1]!.trace.flow;
      const reply: Flow = {
        src: end.dst,
        dst: j.flow.src,
        proto: j.flow.proto,
        ...(end.dport !== undefined ? { sport: end.dport } : {}),
        ...(j.flow.sport !== undefined ? { dport: j.flow.sport } : { dport: 40000 }),
      };
      if (followed >= max) continue;
      follow(nd, { category: 'reply', label: `reply ${reply.src} → ${reply.dst} (of ${j.label})`, flow: reply }, true);
    }
  }
  if (followed >= max)
    warnings.push({
      code: 'journeys-cut',
      message: `--max-flows ${max}: ${followed} cross-node walks followed; the rest were not`,
    });
  const findings = [...sets].flatMap(([node, set]) => set.list(node));
  return { findings, followed, enumerated, warnings };
}

/** The flows of one node that cross to another captured node, in the order check plans them. */
function journeysOf(nd: Node, nodes: Node[], owns: (nd: Node, ip: string) => boolean): PlannedJourney[] {
  const out: PlannedJourney[] = [];
  const { flows } = planFlows(nd.ctx, nd.ctx.services);
  const elsewhere = (ip: string) => !owns(nd, ip) && nodes.some((o) => o !== nd && owns(o, ip));
  for (const p of flows) {
    if (p.category === 'pod-to-remote-pod') out.push({ category: p.category, label: p.label, flow: p.flow });
    // (a flow with its backend already pinned is a hairpin: the pod itself, never another node)
    if ((p.category !== 'pod-to-service' && p.category !== 'host-to-service') || p.flow.backend !== undefined) continue;
    const entries = nd.ctx.services.filter(
      (e) =>
        e.frontend.address === p.flow.dst &&
        e.frontend.port === p.flow.dport &&
        // before 1.16 Cilium's LB map keys carry no protocol (ANY): one entry serves every protocol
        (e.frontend.proto === 'ANY' || e.frontend.proto.toLowerCase() === p.flow.proto),
    );
    const seen = new Set<string>();
    for (const e of entries)
      for (const b of e.backends) {
        if (b.state !== 'active' || b.port === 0 || !elsewhere(b.address)) continue;
        const be = joinHostPort(b.address, b.port);
        if (seen.has(be)) continue;
        seen.add(be);
        out.push({ category: p.category, label: `${p.label} via backend ${be}`, flow: { ...p.flow, backend: be } });
      }
  }
  // the host to the addresses its pods' remote flows go to
  const backends = new Set<string>();
  for (const e of nd.ctx.services) for (const b of e.backends.slice(0, 4)) backends.add(b.address);
  for (const fam of [4, 6] as Family[]) {
    const me = hostAddress(nd.ctx, fam);
    if (!me) continue;
    for (const r of remotePodTargets(nd.ctx, fam, backends))
      if (familyOf(r) === fam && elsewhere(r))
        out.push({
          category: 'host-to-remote-pod',
          label: `host ${me} → ${r} (another node's pod CIDR)`,
          flow: { src: me, dst: r, proto: 'tcp', dport: 80 },
        });
  }
  return out;
}
