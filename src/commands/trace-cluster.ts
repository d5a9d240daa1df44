import { readdirSync, statSync } from 'node:fs';
import { kubeProxyReader } from '../analysis/kube-proxy/index.js';
import { join } from 'node:path';
import type { Flow, GatewayHop, Hop, RedirectNeighHop, RouteHop, Trace } from '../model/trace.js';
import type { NodeState } from '../model/types.js';
import type { Journey, JourneyLeg } from '../model/journey.js';
import { SourceError } from '../errors.js';
import { dirSource } from '../collect/source.js';
import { loadNodeState } from '../collect/load-state.js';
import { loadServices } from '../collect/load-services.js';
import { classify, createTraceContext, traceFlow, type TraceContext } from '../analysis/trace.js';
import { endpointHost } from '../model/addr.js';
import { parseFlow, exitFor, resolveRequest, unreadableSources, type TraceRequest } from './trace.js';

export interface Node {
  name: string;
  ctx: TraceContext;
  state: NodeState;
}

const MAX_LEGS = 16;

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

/**
 * Traces a flow across a directory of node snapshots (`<cluster>/<node>/…`): starts on the node that owns the
 * source, follows the packet to the node that owns each next hop, until delivery, a drop, or a hop outside
 * the captured set.
 */
export async function runClusterTrace(
  dir: string,
  request: TraceRequest,
  opts: { nodeName?: (n: string) => string } = {},
): Promise<{ journey: Journey; exitCode: number; unreadable: string[] }> {
  // names go to kubectl: no single node's state is the authority for the whole cluster
  const { req, ends } = await resolveRequest(request, {});
  // --redact: node names are replaced where they are made, so no sentence of the journey holds one
  const display = opts.nodeName ?? ((n: string) => n);
  const flow = parseFlow(req);
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => statSync(join(dir, n)).isDirectory())
      .sort();
  } catch {
    throw new SourceError(dir, 'no such cluster directory');
  }
  const nodes: Node[] = [];
  const unreadable: string[] = [];
  const warnings: Journey['warnings'] = [...(ends?.warnings ?? [])];
  for (const n of names) {
    const source = dirSource(join(dir, n));
    const state = await loadNodeState(source, { routes: 'columns' });
    if (!state.sources.some((s) => s.probe === 'ip-addr' && s.status !== 'missing')) {
      warnings.push({ code: 'node-skipped', message: `${display(n)}: no ip-addr, not a node snapshot` });
      continue;
    }
    const svc = await loadServices(source, state.addrs, kubeProxyReader);
    unreadable.push(...unreadableSources([state.sources, svc.sources], state.warnings));
    state.node.name = display(state.node.name ?? n);
    nodes.push({ name: display(n), state, ctx: createTraceContext(state, svc.entries) });
  }
  if (nodes.length === 0) throw new SourceError(dir, 'no node snapshot in the directory');
  // a node owns an address when it is one of its own or one of its pods' (not any namespace it can see)
  const owns = (nd: Node, ip: string) => {
    const k = classify(nd.ctx, ip).kind;
    return k === 'host' || k === 'local-pod';
  };
  const fwd = walk(nodes, owns, flow, dir);
  const { legs, disposition, leftAt } = fwd;
  if (legs.length >= MAX_LEGS) warnings.push({ code: 'too-many-hops', message: `stopped after ${MAX_LEGS} nodes` });
  const journey: Journey = { schemaVersion: 1, flow, legs, disposition, warnings, ...(leftAt ? { leftAt } : {}) };
  if (disposition === 'delivered') {
    // the reply goes from the (possibly rewritten) destination back to the source
    const lastFlow = legs[legs.length - 1]!.trace.flow;
    const reply: Flow = {
      src: lastFlow.dst,
      dst: flow.src,
      proto: flow.proto,
      ...(flow.dport !== undefined ? { sport: flow.dport } : {}),
      ...(flow.sport !== undefined ? { dport: flow.sport } : {}),
    };
    try {
      const back = walk(nodes, owns, reply, dir);
      const nodesBack = back.legs.map((l) => l.node);
      const differs = nodesBack.join('>') !== [...legs.map((l) => l.node)].reverse().join('>');
      journey.returnPath = {
        nodes: nodesBack,
        disposition: back.disposition,
        differs,
        ...(back.leftAt ? { leftAt: back.leftAt } : {}),
      };
      if (differs)
        warnings.push({
          code: 'asymmetric',
          message: `the reply takes ${nodesBack.join(' → ')}, not the request's path reversed (${[...legs.map((l) => l.node)].reverse().join(' → ')}): stateful filters and rp_filter on the way may drop it`,
        });
      if (back.disposition === 'dropped' || back.disposition === 'no-route')
        warnings.push({
          code: 'reply-lost',
          message: `the reply is ${back.disposition} on ${nodesBack[nodesBack.length - 1]}`,
        });
    } catch (e) {
      warnings.push({
        code: 'reply-unknown',
        message: `the reply path could not be traced: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
  }
  const last = legs[legs.length - 1]!.trace;
  return {
    journey,
    exitCode: leftAt ? exitFor({ ...last, disposition: 'forwarded' }) : exitFor({ ...last, disposition }),
    unreadable,
  };
}
