import type { CheckFlow, Finding } from '../../model/check.js';
import type { DropHop } from '../../model/trace.js';
import { type Node, walk } from '../journey-walk.js';
import { classify } from '../trace.js';
import { confirmDrop, confirmRoute } from './confirm.js';
import { FindingSet } from './findings.js';
import { planFlows } from './flows.js';

/**
 * `check --cluster`: each node's pod → remote-pod flows followed onto the node that owns the next hop (the
 * `trace --cluster` walk). A flow the sending node forwards can still end in a drop on the receiving node,
 * which neither node's own check sees: that is reported on the node where it ends, with the flow's origin.
 */
export function journeyFindings(nodes: Node[], dir: string): { findings: Finding[]; followed: number } {
  const owns = (nd: Node, ip: string) => {
    const k = classify(nd.ctx, ip).kind;
    return k === 'host' || k === 'local-pod';
  };
  const sets = new Map<string, FindingSet>();
  let followed = 0;
  for (const nd of nodes) {
    for (const p of planFlows(nd.ctx, nd.ctx.services).flows) {
      if (p.category !== 'pod-to-remote-pod') continue;
      let j: ReturnType<typeof walk>;
      try {
        j = walk(nodes, owns, p.flow, dir);
      } catch {
        continue;
      }
      followed++;
      // the first leg is the sending node's own check; a journey adds only what happens past it
      if (j.legs.length < 2 || (j.disposition !== 'dropped' && j.disposition !== 'no-route')) continue;
      const last = j.legs[j.legs.length - 1]!;
      const t = last.trace;
      const drop = t.hops.find((h): h is DropHop => h.kind === 'drop');
      const path = j.legs.map((l) => l.node).join(' → ');
      const cf: CheckFlow = {
        category: p.category,
        label: `${p.label} on ${nd.name}`,
        flow: p.flow,
        disposition: j.disposition,
        node: nd.name,
      };
      let set = sets.get(last.node);
      if (!set) sets.set(last.node, (set = new FindingSet()));
      const code = drop?.code ?? j.disposition;
      set.add(
        `journey|${code}|${drop?.evidence[0]?.text ?? ''}`,
        {
          severity: 'error',
          kind: 'journey-drop',
          message: `flows from other nodes' pods are forwarded here and end ${drop ? `in a drop: ${drop.reason} (${code})` : j.disposition} (${path})`,
          evidence: drop?.evidence ?? [],
          confirm: [confirmRoute(t), ...confirmDrop(t)],
        },
        cf,
      );
    }
  }
  const findings = [...sets].flatMap(([node, set]) => set.list(node));
  return { findings, followed };
}
