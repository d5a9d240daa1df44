import type { Address, Evidence, Family, Link, NodeState, Route, Rule } from '../model/types.js';
import { ipToBytes, prefixLen } from '../model/addr.js';

/** One routing question, as the kernel's flow key (flowi) would carry it. */
export interface RouteQuery {
  family: Family;
  dst: string;
  src?: string;
  /** input interface; `lo` for a locally generated packet (the kernel matches `iif lo` rules then) */
  iif?: string;
  oif?: string;
  mark?: number;
  ipproto?: number;
  sport?: number;
  dport?: number;
  uid?: number;
  /** the lookup is bpf_fib_lookup() from a tc program: report rules it cannot see */
  bpfFib?: boolean;
}

export type RouteResult =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'no-route'
  | 'unknown';

export interface RouteAnswer {
  result: RouteResult;
  table?: number;
  /** the rule that decided, as text (`32766: from all lookup main`) */
  rule?: string;
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

/** The kernel's rules when a namespace has never been configured (fib_default_rules_init). */
function defaultRules(family: Family): Rule[] {
  const mk = (priority: number, table: number): Rule => ({
    family,
    priority,
    action: 'lookup',
    table,
    source: { probe: 'kernel-default', text: `${priority}: from all lookup ${tableName(table)}` },
  });
  return family === 4 ? [mk(0, 255), mk(32766, 254), mk(32767, 253)] : [mk(0, 255), mk(32766, 254)];
}

interface Prefix {
  bytes: Uint8Array;
  len: number;
}

function toPrefix(p: string): Prefix | null {
  const slash = p.indexOf('/');
  const bytes = ipToBytes(slash < 0 ? p : p.slice(0, slash));
  if (!bytes) return null;
  return { bytes, len: slash < 0 ? bytes.length * 8 : prefixLen(p) };
}

function contains(p: Prefix, a: Uint8Array): boolean {
  if (p.bytes.length !== a.length) return false;
  let bits = p.len;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((p.bytes[i]! & mask) !== (a[i]! & mask)) return false;
  }
  return true;
}

interface IndexedRoute {
  route: Route;
  dst: Prefix;
  src?: Prefix;
}

/**
 * A reference implementation of Linux policy routing: rules in priority order, longest-prefix
 * match per table, route types, throw, goto, suppress_prefixlength. Linear per table; fast
 * engines are checked against it.
 */
export function buildRouting(
  routes: Route[],
  rules: Rule[],
  ctx: Pick<NodeState, 'links' | 'addrs'> | { links: Link[]; addrs: Address[] },
  opts: { rulesKnown?: { 4: boolean; 6: boolean }; routesKnown?: { 4: boolean; 6: boolean } } = {},
): Routing {
  const tables = new Map<string, IndexedRoute[]>();
  for (const r of routes) {
    const dst = toPrefix(r.dst);
    if (!dst) continue;
    const key = `${r.family}/${r.table}`;
    let list = tables.get(key);
    if (!list) tables.set(key, (list = []));
    const ir: IndexedRoute = { route: r, dst };
    if (r.src) {
      const s = toPrefix(r.src);
      if (s) ir.src = s;
    }
    list.push(ir);
  }
  const rulesByFam: Record<Family, Rule[]> = {
    4: rules.filter((r) => r.family === 4).sort((a, b) => a.priority - b.priority),
    6: rules.filter((r) => r.family === 6).sort((a, b) => a.priority - b.priority),
  };
  void ctx;
  return {
    lookup(q) {
      return lookup(q, tables, rulesByFam, opts);
    },
  };
}

function ruleMatches(rule: Rule, q: RouteQuery, dst: Uint8Array, src: Uint8Array | null): boolean {
  let m = true;
  if (rule.src !== undefined) {
    const p = toPrefix(rule.src);
    m = m && p !== null && (p.len === 0 || (src !== null && contains(p, src)));
  }
  if (m && rule.dst !== undefined) {
    const p = toPrefix(rule.dst);
    m = p !== null && contains(p, dst);
  }
  if (m && rule.iif !== undefined) m = q.iif === rule.iif;
  if (m && rule.oif !== undefined) m = q.oif === rule.oif;
  if (m && rule.fwmark !== undefined) {
    const mask = rule.fwmask ?? 0xffffffff;
    m = (((q.mark ?? 0) ^ rule.fwmark) & mask) >>> 0 === 0;
  }
  if (m && rule.ipproto !== undefined) m = q.ipproto === rule.ipproto;
  if (m && rule.sport !== undefined) m = q.sport !== undefined && q.sport >= rule.sport[0] && q.sport <= rule.sport[1];
  if (m && rule.dport !== undefined) m = q.dport !== undefined && q.dport >= rule.dport[0] && q.dport <= rule.dport[1];
  if (m && rule.uidrange !== undefined) {
    const uid = q.uid ?? 0;
    m = uid >= rule.uidrange[0] && uid <= rule.uidrange[1];
  }
  if (m && rule.l3mdev) m = false;
  return rule.not ? !m : m;
}

function lpm(list: IndexedRoute[] | undefined, dst: Uint8Array, src: Uint8Array | null): IndexedRoute | undefined {
  if (!list) return undefined;
  let best: IndexedRoute | undefined;
  for (const ir of list) {
    if (!contains(ir.dst, dst)) continue;
    if (ir.src && (src === null ? ir.src.len > 0 : !contains(ir.src, src))) continue;
    if (!best || ir.dst.len > best.dst.len) best = ir;
    else if (ir.dst.len === best.dst.len) {
      const bs = best.src?.len ?? 0;
      const is = ir.src?.len ?? 0;
      if (is > bs || (is === bs && (ir.route.metric ?? 0) < (best.route.metric ?? 0))) best = ir;
    }
  }
  return best;
}

function routeText(r: Route): string {
  return r.source.text;
}

function answer(
  result: RouteResult,
  rule: Rule | undefined,
  ir: IndexedRoute | undefined,
  trail: string[],
  extra: Partial<RouteAnswer> = {},
): RouteAnswer {
  const evidence: Evidence[] = [];
  if (rule && rule.source.probe !== 'kernel-default') evidence.push(rule.source);
  if (ir) evidence.push(ir.route.source);
  const r = ir?.route;
  const nexthops = (r?.nexthops ?? []).map((n) => {
    const o: RouteAnswer['nexthops'][number] = {};
    if (n.gateway !== undefined) o.gateway = n.gateway;
    if (n.gatewayFamily !== undefined) o.gatewayFamily = n.gatewayFamily;
    if (n.dev !== undefined) o.dev = n.dev;
    if (n.weight !== undefined) o.weight = n.weight;
    return o;
  });
  const where = rule ? `rule ${rule.priority} → table ${tableName(rule.table ?? 0)}` : '';
  const summary =
    result === 'no-route'
      ? `no route (${trail.join('; ') || 'no rule matched'})`
      : `${where}${r ? `: ${routeText(r)}` : ''}${result !== 'unicast' && result !== 'local' ? ` [${result}]` : ''}`;
  const a: RouteAnswer = { result, nexthops, evidence, summary, divergence: [], ...extra };
  if (rule) a.rule = rule.source.text;
  if (rule?.table !== undefined) a.table = rule.table;
  if (r) {
    a.route = r;
    a.routeText = routeText(r);
  }
  return a;
}

function lookup(
  q: RouteQuery,
  tables: Map<string, IndexedRoute[]>,
  rulesByFam: Record<Family, Rule[]>,
  opts: { rulesKnown?: { 4: boolean; 6: boolean }; routesKnown?: { 4: boolean; 6: boolean } },
): RouteAnswer {
  const dst = ipToBytes(q.dst);
  if (!dst) return answer('unknown', undefined, undefined, [`${q.dst} is not an address`]);
  if (opts.routesKnown && !opts.routesKnown[q.family]) {
    return { ...answer('unknown', undefined, undefined, []), summary: `the IPv${q.family} routing table is not in the snapshot` };
  }
  const src = q.src !== undefined ? ipToBytes(q.src) : null;
  const given = rulesByFam[q.family];
  const rules = given.length > 0 ? given : defaultRules(q.family);
  const inferred =
    opts.rulesKnown && !opts.rulesKnown[q.family]
      ? `no IPv${q.family} policy rules in the snapshot: the kernel's default rules are assumed`
      : undefined;
  const trail: string[] = [];
  const divergence: string[] = [];
  const seen: Rule[] = [];
  const done = (a: RouteAnswer): RouteAnswer => {
    if (inferred) a.inferred = inferred;
    if (q.bpfFib) a.divergence = [...divergence, ...bpfDivergence(seen, q)];
    return a;
  };
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (!ruleMatches(rule, q, dst, src)) {
      if (q.bpfFib) seen.push(rule);
      continue;
    }
    seen.push(rule);
    switch (rule.action) {
      case 'nop':
        continue;
      case 'goto': {
        // the kernel resolves a goto to the first rule whose priority equals the target
        const j = rules.findIndex((r) => r.priority === rule.goto);
        if (j <= i) {
          trail.push(`rule ${rule.priority}: goto ${rule.goto} has no target rule after it (unresolved: skipped)`);
          continue;
        }
        i = j - 1;
        continue;
      }
      case 'blackhole':
      case 'unreachable':
      case 'prohibit':
        return done(answer(rule.action, rule, undefined, trail));
      case 'lookup': {
        const ir = lpm(tables.get(`${q.family}/${rule.table ?? 254}`), dst, src);
        if (!ir) {
          trail.push(`table ${tableName(rule.table ?? 254)}: no match`);
          continue;
        }
        if (rule.suppressPrefixlen !== undefined && ir.dst.len <= rule.suppressPrefixlen) {
          trail.push(`rule ${rule.priority}: suppress_prefixlength ${rule.suppressPrefixlen} rejects ${ir.route.dst}`);
          continue;
        }
        const t = ir.route.type;
        if (t === 'throw') {
          trail.push(`table ${tableName(rule.table ?? 254)}: throw ${ir.route.dst}`);
          continue;
        }
        const result: RouteResult =
          t === 'unicast' || t === 'local' || t === 'broadcast' || t === 'blackhole' || t === 'unreachable' || t === 'prohibit'
            ? t
            : t === 'anycast'
              ? 'local'
              : 'unicast';
        return done(answer(result, rule, ir, trail));
      }
    }
  }
  return done(answer('no-route', undefined, undefined, trail));
}

/**
 * bpf_fib_lookup() builds its own flow key from struct bpf_fib_lookup, not from the skb: the
 * packet's mark is only used when the caller passes BPF_FIB_LOOKUP_MARK (Linux 6.10+), and there
 * is no socket uid. A rule that selects on those can route the real packet differently from
 * Cilium's lookup, so such rules are reported, not resolved.
 */
function bpfDivergence(rules: Rule[], q: RouteQuery): string[] {
  const out: string[] = [];
  for (const r of rules) {
    if (r.source.probe === 'kernel-default') continue;
    if (r.fwmark !== undefined && r.fwmark !== 0)
      out.push(
        `rule "${r.source.text}" selects on fwmark: bpf_fib_lookup from ${q.iif ?? 'the device'} sees the packet mark only with BPF_FIB_LOOKUP_MARK (Linux 6.10+), so Cilium's FIB lookup and the kernel's routing of a marked packet could disagree here`,
      );
    if (r.uidrange !== undefined)
      out.push(`rule "${r.source.text}" selects on uid: bpf_fib_lookup carries no socket uid`);
  }
  return out;
}

export function routeQuery(r: Routing, q: RouteQuery): RouteAnswer {
  return r.lookup(q);
}

/** Which families' rules and routes the state actually holds (a missing probe is not an empty table). */
export function knownFamilies(state: Pick<NodeState, 'sources'>): { rulesKnown: { 4: boolean; 6: boolean }; routesKnown: { 4: boolean; 6: boolean } } {
  const ok = (id: string) => {
    const s = state.sources.find((x) => x.probe === id);
    return s !== undefined && s.status !== 'missing' && s.status !== 'failed';
  };
  return {
    rulesKnown: { 4: ok('ip-rule4'), 6: ok('ip-rule6') },
    routesKnown: { 4: ok('ip-route4'), 6: ok('ip-route6') },
  };
}
