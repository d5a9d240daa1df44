import type { Address, Evidence, Family, Link, NodeState, Route, Rule } from '../model/types.js';
import type { RouteColumns } from '../model/route-columns.js';
import {
  buildFib,
  bpfFibQuery,
  fibLookupDivergence,
  type Fib,
  type RouteQuery as EngineQuery,
  type RouteResult as EngineResult,
} from './route-lookup/index.js';

/**
 * One routing question, as the kernel's flow key would carry it; `iif: 'lo'` (or no iif) is a locally
 * generated packet. `bpfFib`: the lookup is bpf_fib_lookup() from a tc program on `iif`.
 */
export type RouteQuery = EngineQuery & { bpfFib?: boolean };

export type RouteResult =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'no-route'
  /** the kernel refuses the flow itself (EINVAL, a source that is not local) */
  | 'invalid'
  | 'unknown';

export interface RouteAnswer {
  result: RouteResult;
  table?: number;
  /** the rule that decided, as text (`32766: from all lookup main`) */
  rule?: string;
  rulePriority?: number;
  route?: Route;
  routeText?: string;
  nexthops: { gateway?: string; gatewayFamily?: Family; dev?: string; weight?: number }[];
  evidence: Evidence[];
  /** one line a person reads: "rule 32766 table main: 10.244.2.0/24 via 172.18.0.3 dev eth0" */
  summary: string;
  /** set when the state could not decide everything (rules probe missing, ...) */
  inferred?: string;
  /** rules that could make the kernel's routing of the real packet differ from this lookup */
  divergence: string[];
}

export interface Routing {
  lookup(q: RouteQuery): RouteAnswer;
}

const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };
export const tableName = (t: number): string => TABLE_NAMES[t] ?? String(t);

/**
 * The trace's view of routing: one answer with evidence and a one-line summary, on top of the
 * kernel-faithful engine in route-lookup.ts (checked against `ip route get` in test/kernel).
 */
export function buildRouting(
  routes: Route[] | RouteColumns[],
  rules: Rule[],
  ctx: Pick<NodeState, 'links' | 'addrs'> | { links: Link[]; addrs: Address[] },
  opts: { rulesKnown?: { 4: boolean; 6: boolean }; routesKnown?: { 4: boolean; 6: boolean } } = {},
): Routing {
  const input = isColumns(routes) ? { columns: routes } : { routes };
  const fib = buildFib({ ...input, rules, links: ctx.links, addrs: ctx.addrs });
  return { lookup: (q) => lookup(fib, q, opts) };
}

/** The same view on a Fib built elsewhere (the kernel-backed one of a live trace, kernel-fib.ts). */
export function routingOn(
  fib: Fib,
  opts: { rulesKnown?: { 4: boolean; 6: boolean }; routesKnown?: { 4: boolean; 6: boolean } } = {},
): Routing {
  return { lookup: (q) => lookup(fib, q, opts) };
}

function isColumns(r: Route[] | RouteColumns[]): r is RouteColumns[] {
  return r.length > 0 && 'key' in r[0]!;
}

function toEngineQuery(q: RouteQuery): EngineQuery {
  const { bpfFib: _b, iif, ...rest } = q;
  // the engine takes "no iif" for a locally generated packet, as the kernel's output path does
  return iif !== undefined && iif !== 'lo' ? { ...rest, iif } : rest;
}

const RESULT: Record<EngineResult, RouteResult> = {
  unicast: 'unicast',
  local: 'local',
  anycast: 'local',
  broadcast: 'broadcast',
  multicast: 'broadcast',
  blackhole: 'blackhole',
  unreachable: 'unreachable',
  prohibit: 'prohibit',
  'no-route': 'no-route',
  'invalid-source': 'invalid',
  invalid: 'invalid',
  unknown: 'unknown',
};

function lookup(
  fib: Fib,
  q: RouteQuery,
  opts: { rulesKnown?: { 4: boolean; 6: boolean }; routesKnown?: { 4: boolean; 6: boolean } },
): RouteAnswer {
  if (opts.routesKnown && !opts.routesKnown[q.family]) {
    return {
      result: 'unknown',
      nexthops: [],
      evidence: [],
      summary: `the IPv${q.family} routing table is not in the node state`,
      divergence: [],
    };
  }
  const real = toEngineQuery(q);
  // bpf_fib_lookup() routes with its own flow key (ifindex of the device, mark 0, no ports)
  const asked = q.bpfFib ? bpfFibQuery(real, { ifindexDev: q.iif }) : real;
  const d = fib.lookup(asked, { steps: true });
  const evidence: Evidence[] = [];
  if (d.rule && d.rule.source.probe !== 'kernel-default') evidence.push(d.rule.source);
  if (d.route) evidence.push(d.route.source);
  // the kernel answered: the question is the evidence that the route above is the one it matched
  if (d.kernelQuery) evidence.push({ probe: 'ip-route-get', text: d.kernelQuery });
  const result = RESULT[d.result];
  const where = d.rule ? `rule ${d.rule.priority} → table ${tableName(d.rule.table ?? d.table ?? 254)}` : '';
  const trail = d.steps
    .filter((st) => st.kind === 'throw' || st.kind === 'suppress' || st.kind === 'goto-unresolved')
    .map((st) => st.text);
  let summary: string;
  if (result === 'no-route')
    summary = `no route${trail.length ? ` (${trail.join('; ')})` : ''}${d.notes.length ? ` — ${d.notes.join('; ')}` : ''}`;
  else if (result === 'invalid')
    summary = `the kernel refuses this flow (${d.error ?? 'EINVAL'}${d.notes.length ? `: ${d.notes.join('; ')}` : ''})`;
  else
    summary = `${where}${d.route ? `: ${d.route.source.text}` : d.rule ? `: ${d.rule.action}` : ''}${result !== 'unicast' && result !== 'local' ? ` [${d.result}]` : ''}`;
  const a: RouteAnswer = {
    result,
    nexthops: d.nexthops.map((n) => {
      const o: RouteAnswer['nexthops'][number] = {};
      if (n.gateway !== undefined) o.gateway = n.gateway;
      if (n.gatewayFamily !== undefined) o.gatewayFamily = n.gatewayFamily;
      if (n.dev !== undefined) o.dev = n.dev;
      if (n.weight !== undefined) o.weight = n.weight;
      return o;
    }),
    evidence,
    summary,
    divergence: q.bpfFib
      ? fibLookupDivergence(fib, real, { ifindexDev: q.iif }).map((x) => `rule "${x.rule.source.text}" ${x.why}`)
      : [],
  };
  if (d.rule) {
    a.rule = d.rule.source.text;
    a.rulePriority = d.rule.priority;
  }
  const table = d.table ?? d.rule?.table;
  if (table !== undefined) a.table = table;
  if (d.route) {
    a.route = d.route;
    a.routeText = d.route.source.text;
  }
  if (d.ruleIsDefault && opts.rulesKnown && !opts.rulesKnown[q.family]) {
    a.inferred = `no IPv${q.family} policy rules in the node state: the kernel's default rules are assumed`;
  }
  return a;
}

export function routeQuery(r: Routing, q: RouteQuery): RouteAnswer {
  return r.lookup(q);
}

/** Which families' rules and routes the state actually holds (a missing probe is not an empty table). */
export function knownFamilies(state: Pick<NodeState, 'sources'>): {
  rulesKnown: { 4: boolean; 6: boolean };
  routesKnown: { 4: boolean; 6: boolean };
} {
  const ok = (id: string) => {
    const s = state.sources.find((x) => x.probe === id);
    return s !== undefined && s.status !== 'missing' && s.status !== 'failed';
  };
  return {
    rulesKnown: { 4: ok('ip-rule4'), 6: ok('ip-rule6') },
    routesKnown: { 4: ok('ip-route4'), 6: ok('ip-route6') },
  };
}
