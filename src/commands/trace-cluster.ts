import { readdirSync, statSync } from 'node:fs';
import { kubeProxyReader } from '../analysis/kube-proxy/index.js';
import { join } from 'node:path';
import type { Flow } from '../model/trace.js';
import type { Journey } from '../model/journey.js';
import { SourceError } from '../errors.js';
import { MAX_LEGS, type Node, walk } from '../analysis/journey-walk.js';
import { dirSource } from '../collect/source.js';
import { loadNodeState } from '../collect/load-state.js';
import { loadServices } from '../collect/load-services.js';
import { classify, createTraceContext } from '../analysis/trace.js';
import { parseFlow, exitFor, resolveRequest, unreadableSources, type TraceRequest } from './trace.js';

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
