// A flow followed across the nodes of a cluster snapshot: from the node that owns its source to each node that owns
// its next hop (`trace --cluster`, `check --cluster`).
import type { Flow, GatewayHop, Hop, RedirectNeighHop, RouteHop, Trace } from '../model/trace.js';
import type { NodeState } from '../model/types.js';
import type { JourneyLeg } from '../model/journey.js';
import { SourceError } from '../errors.js';
import { endpointHost } from '../model/addr.js';
import { traceFlow, type TraceContext } from './trace.js';

export interface Node {
  name: string;
  ctx: TraceContext;
  state: NodeState;
}

export const MAX_LEGS = 16;

/** Follows `flow` from the node that owns its source to each node that owns its next hop (also `check --cluster`). */
export function walk(
  nodes: Node[],
  owns: (nd: Node, ip: string) => boolean,
  flow: Flow,
  dir: string,
): { legs: JourneyLeg[]; disposition: Trace['disposition']; leftAt?: string } {
  let here = nodes.find((nd) => owns(nd, flow.src));
  if (!here) throw new SourceError(dir, `no captured node owns the source ${flow.src}`);
  const legs: JourneyLeg[] = [];
  let current: Flow = flow;
  let disposition: Trace['disposition'] = 'unknown';
  let leftAt: string | undefined;
  const seen = new Set<string>();
  while (legs.length < MAX_LEGS) {
    const t = traceFlow(here.ctx, current);
    const leg: JourneyLeg = { node: here.name, trace: t };
    legs.push(leg);
    disposition = t.disposition;
    // a Service rewrite on the first node decides the destination for the rest of the journey
    const lb = t.hops.find((h) => h.kind === 'socket-lb' || h.kind === 'tc-lb' || h.kind === 'kube-proxy');
    if (lb?.backend) {
      const host = endpointHost(lb.backend);
      current = { ...current, dst: host, dport: Number(lb.backend.slice(lb.backend.lastIndexOf(':') + 1)) };
      delete current.backend;
    }
    if (t.disposition !== 'forwarded') break;
    const next = nextAddress(t);
    const nextNode = next ? nodes.find((nd) => nd !== here && owns(nd, next)) : undefined;
    const key = `${here.name}>${next}`;
    if (!next || !nextNode || seen.has(key)) {
      leftAt = next ?? 'an unknown next hop';
      leg.next = !next
        ? 'the next hop is unknown'
        : seen.has(key)
          ? `loop: ${here.name} sent it to ${next} before`
          : `${next} is not an address of any captured node: the journey leaves the captured set here`;
      disposition = seen.has(key) ? 'dropped' : 'forwarded';
      break;
    }
    seen.add(key);
    leg.next = `${next} belongs to ${nextNode.name}`;
    here = nextNode;
  }
  return { legs, disposition, ...(leftAt ? { leftAt } : {}) };
}

/** Where a forwarded packet goes next: the WireGuard endpoint, the next hop, or a gateway. */
function nextAddress(t: Trace): string | undefined {
  const hops = [...t.hops].reverse();
  const wg = hops.find((h) => h.kind === 'wireguard');
  if (wg?.endpoint) return endpointHost(wg.endpoint);
  const h = hops.find(
    (x: Hop): x is GatewayHop | RedirectNeighHop | RouteHop =>
      x.kind === 'gateway' || x.kind === 'redirect_neigh' || (x.kind === 'route' && !!(x.gateway || x.dev)),
  );
  if (!h) return undefined;
  if (h.kind === 'gateway') return h.gateway;
  if (h.kind === 'redirect_neigh') return h.nexthop;
  return h.gateway ?? t.flow.dst;
}
