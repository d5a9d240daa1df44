/**
 * The kernel's routing decision, rebuilt from the state: policy rules in priority order, then a
 * longest-prefix match per table (binary tries on integer keys), route types, dead/linkdown next
 * hops, IPv6 source-specific routes.
 *
 * Kernel facts used (checked in torvalds/linux: net/core/fib_rules.c fib_rule_match/fib_rules_lookup/
 * fib_nl2rule, net/ipv4/fib_rules.c fib4_rule_match/fib4_rule_action, net/ipv6/fib6_rules.c
 * fib6_rule_match/__fib6_rule_action/fib6_rule_suppress, 6.x sources):
 * - `not` inverts the whole match; iif/oif compare ifindex, so a rule whose device is absent
 *   ("[detached]", ifindex -1) never matches; locally generated traffic has iif = lo (ifindex 1).
 * - fwmark without a mask compares all 32 bits; uid defaults to the caller's (0 for root, and 0 for
 *   forwarded packets); ports/ipproto/tos missing from the flow are 0.
 * - IPv4 rule `from`: the flow's source is 0.0.0.0 when not given. IPv6 rule `from` never matches a
 *   flow without a source (no RT6_LOOKUP_F_HAS_SADDR; iproute2 does not set FIB_RULE_FIND_SADDR).
 * - goto jumps to the first rule with that priority and re-tests its match; an unresolved goto is
 *   skipped. Rule actions: unreachable → ENETUNREACH, prohibit → EACCES, blackhole → EINVAL.
 * - A table miss or a `throw` route returns EAGAIN: the next rule is tried. suppress_prefixlength
 *   applies only to a successful lookup (not to blackhole/unreachable/prohibit routes).
 * - No rule matched: ENETUNREACH.
 * Route selection (fib_trie.c fib_table_lookup, ip6_fib.c/route.c rt6_select): longest prefix first;
 * at one prefix IPv4 tries TOS-specific entries, then lowest metric; an entry whose next hops are all
 * dead (or linkdown with ignore_routes_with_linkdown) is passed over and shorter prefixes are tried.
 */
import type { Address, Family, Link, NextHop, Route, RouteType, Rule } from '../../model/types.js';
import {
  ROUTE_TYPE_CODE,
  SLOT_SKIPPED,
  columnsFromRoutes,
  keyWords,
  mergeColumns,
  parsePrefixInto,
  parseV4At,
  parseV6At,
  type RouteColumns,
} from '../../model/route-columns.js';
import { PrefixIndex, sortByPrefix } from '../prefix-index.js';

export type RouteResult =
  | 'unicast'
  | 'local'
  | 'broadcast'
  | 'multicast'
  | 'anycast'
  | 'blackhole'
  | 'unreachable'
  | 'prohibit'
  | 'no-route'
  /** IPv4 output with a source that is not a local address: the kernel refuses (ENETUNREACH). */
  | 'invalid-source'
  /** the query itself is not routable (not an address, 0.0.0.0/8 destination, ...): EINVAL */
  | 'invalid'
  | 'unknown';

export type Errno = 'ENETUNREACH' | 'EHOSTUNREACH' | 'EACCES' | 'EINVAL';

export interface RouteQuery {
  family: Family;
  dst: string;
  src?: string;
  /** input interface; absent = locally generated (the kernel uses `lo`) */
  iif?: string;
  oif?: string;
  mark?: number;
  ipproto?: number;
  sport?: number;
  dport?: number;
  uid?: number;
  tos?: number;
}

export interface NexthopChoice {
  gateway?: string;
  gatewayFamily?: Family;
  dev?: string;
  weight?: number;
  flags?: string[];
}

export type RouteStepKind =
  | 'rule-skip'
  | 'rule-match'
  | 'goto'
  | 'goto-unresolved'
  | 'nop'
  | 'rule-action'
  | 'table-miss'
  | 'table-hit'
  | 'throw'
  | 'suppress'
  | 'route-skip'
  | 'note';

export interface RouteStep {
  kind: RouteStepKind;
  text: string;
  rule?: Rule;
  table?: number;
  route?: Route;
}

export interface RouteDecision {
  family: Family;
  dst: string;
  result: RouteResult;
  /** the errno the kernel returns for this decision (for `ip route get`: RTNETLINK answers: ...) */
  error?: Errno;
  /** the rule whose action decided (or a built-in default rule); absent for no-route */
  rule?: Rule;
  /** true when `rule` is one of the kernel's default rules because the state had none for this family */
  ruleIsDefault?: boolean;
  table?: number;
  route?: Route;
  /** usable next hops: one, or every candidate of a multipath route (the kernel hashes the flow) */
  nexthops: NexthopChoice[];
  multipath: boolean;
  /** set only when the device is certain (one candidate, or local delivery via lo) */
  dev?: string;
  gateway?: string;
  gatewayFamily?: Family;
  prefsrc?: string;
  steps: RouteStep[];
  /** caveats: assumed flow fields, checks not modelled */
  notes: string[];
}

export interface Fib {
  lookup(q: RouteQuery, opts?: { steps?: boolean }): RouteDecision;
  /** rules in evaluation order for a family (the kernel defaults when the state has none) */
  rules(family: Family): Rule[];
  readonly routeCount: number;
  /** bytes held by the indexes built so far and the per-route arrays (not the Route objects) */
  readonly indexBytes: number;
  /** indexes every table now (tables are otherwise indexed on their first lookup) */
  prepare(): void;
}

export interface FibInput {
  /** routes as objects (small tables, text input, tests) */
  routes?: Route[];
  /** routes held column-wise (a node's full tables): only the routes a lookup hits become objects */
  columns?: RouteColumns[];
  rules: Rule[];
  links?: Link[];
  addrs?: Address[];
  /** `net.ipv4.conf.*.ignore_routes_with_linkdown` etc., as NodeState.sysctl holds them */
  sysctl?: Record<string, { value: string }>;
}

const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };
const tname = (t: number): string => TABLE_NAMES[t] ?? String(t);

function defaultRule(family: Family, priority: number, table: number): Rule {
  return {
    family,
    priority,
    action: 'lookup',
    table,
    source: { probe: 'kernel-default', text: `${priority}: from all lookup ${tname(table)}` },
  };
}

/** fib_default_rules_init / fib6_rules_net_init */
export function kernelDefaultRules(family: Family): Rule[] {
  return family === 4
    ? [defaultRule(4, 0, 255), defaultRule(4, 32766, 254), defaultRule(4, 32767, 253)]
    : [defaultRule(6, 0, 255), defaultRule(6, 32766, 254)];
}

interface CompiledRule {
  rule: Rule;
  srcKey?: Uint32Array;
  srcLen: number;
  dstKey?: Uint32Array;
  dstLen: number;
  mark: number;
  mask: number;
  iifDetached: boolean;
  oifDetached: boolean;
  gotoIdx: number;
  isDefault: boolean;
  /** selectors other than src/dst/mark present on the rule (SEL_* bits): one test for the common rule */
  sel: number;
  not: boolean;
}

const SEL_IIF = 1;
const SEL_OIF = 2;
const SEL_L3MDEV = 4;
const SEL_UID = 8;
const SEL_TOS = 16;
const SEL_PROTO = 32;
const SEL_SPORT = 64;
const SEL_DPORT = 128;

function parseAddr(family: Family, s: string, out: Uint32Array): boolean {
  return family === 4 ? parseV4At(s, out, 0) : parseV6At(s, out, 0);
}

function parsePrefix(family: Family, p: string): { key: Uint32Array; len: number } | null {
  const key = new Uint32Array(keyWords(family));
  const len = parsePrefixInto(family, p, key, 0);
  return len < 0 ? null : { key, len };
}

/** True when the first len bits of a and b agree. */
export function prefixEqual(a: Uint32Array, b: Uint32Array, len: number): boolean {
  let i = 0;
  for (; len >= 32; len -= 32, i++) if (a[i] !== b[i]) return false;
  if (len === 0) return true;
  const mask = (0xffffffff << (32 - len)) >>> 0;
  return ((a[i]! ^ b[i]!) & mask) >>> 0 === 0;
}

const u32 = (n: number): number => n >>> 0;

const ROUTE_ERR: Partial<Record<RouteType, Errno>> = {
  blackhole: 'EINVAL',
  unreachable: 'EHOSTUNREACH',
  prohibit: 'EACCES',
};
const RULE_ERR: Record<'blackhole' | 'unreachable' | 'prohibit', Errno> = {
  blackhole: 'EINVAL',
  unreachable: 'ENETUNREACH',
  prohibit: 'EACCES',
};

const T_BLACKHOLE = ROUTE_TYPE_CODE.blackhole;
const T_THROW = ROUTE_TYPE_CODE.throw;
const T_NAT = ROUTE_TYPE_CODE.nat;

const EMPTY_NH: NextHop[] = [];

interface PendingTable {
  c: RouteColumns;
  base: number;
  /** slots of this table, in dump order */
  list: Int32Array;
}

interface TableHit {
  idx: number;
  len: number;
  cands: NextHop[];
}

class FibImpl implements Fib {
  /** route sources, one per family at most; a global route index is base[s] + slot */
  private readonly segs: RouteColumns[] = [];
  private readonly base: number[] = [];
  private routesIndexed = 0;
  // build-time per-route arrays (global index)
  private next: Int32Array = new Int32Array(0);
  private metric: Uint32Array = new Uint32Array(0);
  private tos: Uint8Array = new Uint8Array(0);
  private srcLen: Int16Array = new Int16Array(0);
  /** per route: [next same-prefix route, type | tos<<8 | plain<<16 | (srcLen+1)<<17] */
  private meta: Int32Array = new Int32Array(0);
  private readonly srcKeys = new Map<number, Uint32Array>();
  /** per family and table: the index, or the routes waiting to be indexed on the first lookup */
  private readonly tables: [Map<number, PrefixIndex | PendingTable>, Map<number, PrefixIndex | PendingTable>] = [
    new Map(),
    new Map(),
  ];
  private readonly ruleSets: Record<Family, CompiledRule[]>;
  private readonly localV4: Set<number> | null;
  private readonly ignoreLinkdown: (family: Family, dev: string | undefined) => boolean;
  readonly warnings: string[] = [];
  // scratch, reused by every lookup (lookups are synchronous)
  private readonly dstKey4 = new Uint32Array(1);
  private readonly dstKey6 = new Uint32Array(4);
  private readonly srcKey4 = new Uint32Array(1);
  private readonly srcKey6 = new Uint32Array(4);
  private readonly zero6 = new Uint32Array(4);
  private readonly mv = new Int32Array(129);
  private readonly ml = new Uint8Array(129);

  constructor(input: FibInput) {
    const segs: RouteColumns[] = [...(input.columns ?? [])];
    if (input.routes) {
      for (const fam of [4, 6] as const) {
        const c = columnsFromRoutes(input.routes, fam);
        for (const r of c.invalid)
          this.warnings.push(`route "${r.source.text}": destination ${r.dst} is not an IPv${fam} prefix; ignored`);
        if (c.count > 0) segs.push(c);
      }
    }
    let total = 0;
    for (const fam of [4, 6] as const) {
      const same = segs.filter((c) => c.family === fam);
      if (same.length === 0) continue;
      const c = mergeColumns(same);
      this.segs.push(c);
      this.base.push(total);
      total += c.count;
    }
    this.next = new Int32Array(total).fill(-1);
    this.metric = new Uint32Array(total);
    this.tos = new Uint8Array(total);
    this.srcLen = new Int16Array(total).fill(-1);
    this.meta = new Int32Array(total * 2);
    for (let s = 0; s < this.segs.length; s++) this.index(this.segs[s]!, this.base[s]!);

    const linkNames = input.links ? new Set(input.links.map((l) => l.name)) : null;
    this.ruleSets = {
      4: this.compileRules(4, input.rules, linkNames),
      6: this.compileRules(6, input.rules, linkNames),
    };

    if (input.addrs) {
      this.localV4 = new Set();
      const k = new Uint32Array(1);
      for (const a of input.addrs) if (a.family === 4 && parseV4At(a.local, k, 0)) this.localV4.add(k[0]!);
    } else this.localV4 = null;

    const sys = input.sysctl ?? {};
    const on = (key: string): boolean => {
      const v = sys[key]?.value.trim();
      return v !== undefined && v !== '0';
    };
    this.ignoreLinkdown = (family, dev) => {
      const base = family === 4 ? 'net.ipv4.conf' : 'net.ipv6.conf';
      return (
        on(`${base}.all.ignore_routes_with_linkdown`) ||
        (dev !== undefined && on(`${base}.${dev}.ignore_routes_with_linkdown`))
      );
    };
  }

  get routeCount(): number {
    return this.routesIndexed;
  }

  get indexBytes(): number {
    let b =
      this.meta.byteLength +
      this.next.byteLength +
      this.metric.byteLength +
      this.tos.byteLength +
      this.srcLen.byteLength;
    for (const m of this.tables) for (const t of m.values()) if (t instanceof PrefixIndex) b += t.byteSize;
    return b;
  }

  /** The Route of a global index (built on first use by the column source). */
  private route(g: number): Route {
    const segs = this.segs;
    let s = segs.length - 1;
    while (this.base[s]! > g) s--;
    return segs[s]!.route(g - this.base[s]!);
  }

  /** Indexes one column source: per table, prefixes sorted, same-prefix routes chained in kernel order. */
  private index(c: RouteColumns, base: number): void {
    const fam = c.family;
    const _words = keyWords(fam);
    const n = c.count;
    const ctype = c.type;
    const ctable = c.table;
    // routes per table (tables come in runs: the map is touched when the table changes)
    const byTable = new Map<number, number>();
    let runT = -1;
    let runN = 0;
    for (let i = 0; i < n; i++) {
      if (ctype[i] === SLOT_SKIPPED) continue;
      const t = ctable[i]!;
      if (t !== runT) {
        if (runN > 0) byTable.set(runT, (byTable.get(runT) ?? 0) + runN);
        runT = t;
        runN = 0;
      }
      runN++;
    }
    if (runN > 0) byTable.set(runT, (byTable.get(runT) ?? 0) + runN);
    const items = new Map<number, { at: number; list: Int32Array }>();
    for (const [t, cnt] of byTable) items.set(t, { at: 0, list: new Int32Array(cnt) });
    let last = -1;
    let lastItems: { at: number; list: Int32Array } | undefined;
    const metric = this.metric;
    const tos = this.tos;
    const meta = this.meta;
    const cmetric = c.metric;
    const ctos = c.tos;
    const cplain = c.plain;
    let indexed = 0;
    for (let i = 0; i < n; i++) {
      const ty = ctype[i]!;
      if (ty === SLOT_SKIPPED) continue;
      const g = base + i;
      const t = ctable[i]!;
      if (t !== last) {
        last = t;
        lastItems = items.get(t);
      }
      lastItems!.list[lastItems!.at++] = i;
      metric[g] = cmetric[i]!;
      tos[g] = ctos[i]!;
      let sl = 0;
      if (c.hasSrc[i] === 1 && fam === 6) {
        const sp = parsePrefix(6, c.route(i).src!);
        if (sp && sp.len > 0) {
          this.srcLen[g] = sp.len;
          this.srcKeys.set(g, sp.key);
          sl = sp.len + 1;
        }
      }
      meta[g * 2 + 1] = ty | (ctos[i]! << 8) | (cplain[i]! << 16) | (sl << 17);
      indexed++;
    }
    this.routesIndexed += indexed;
    // a table is sorted and indexed when a lookup first reaches it: a trace consults two or three
    // of a node's tables, often of one family
    const tables = this.tables[fam === 4 ? 0 : 1];
    for (const [t, { list }] of items) tables.set(t, { c, base, list });
  }

  /** Every table indexed now (a benchmark separates the build from the lookups). */
  prepare(): void {
    for (const fam of [4, 6] as const) for (const t of [...this.tables[fam === 4 ? 0 : 1].keys()]) this.table(fam, t);
  }

  private table(family: Family, t: number): PrefixIndex | undefined {
    const m = this.tables[family === 4 ? 0 : 1];
    const x = m.get(t);
    if (x === undefined || x instanceof PrefixIndex) return x;
    const idx = this.build(x);
    m.set(t, idx);
    return idx;
  }

  /** One table: prefixes sorted, same-prefix routes chained in the kernel's order. */
  private build({ c, base, list }: PendingTable): PrefixIndex {
    const words = keyWords(c.family);
    const ckey = c.key;
    const clen = c.len;
    const sorted = sortByPrefix(words, ckey, clen, list);
    // unique prefixes: key, length, and the head of the route chain
    const cnt = sorted.length;
    const keys = new Uint32Array(cnt * words);
    const lens = new Uint8Array(cnt);
    const heads = new Int32Array(cnt);
    let m = -1;
    let prev = -1;
    for (let k = 0; k < cnt; k++) {
      const i = sorted[k]!;
      const g = base + i;
      if (
        prev >= 0 &&
        clen[prev] === clen[i] &&
        (words === 1 ? ckey[prev] === ckey[i] : samePrefix(ckey, clen, prev, i, words))
      ) {
        this.chain(heads, m, g);
      } else {
        m++;
        if (words === 1) keys[m] = ckey[i]!;
        else for (let w = 0; w < 4; w++) keys[m * 4 + w] = ckey[i * 4 + w]!;
        lens[m] = clen[i]!;
        heads[m] = g;
      }
      prev = i;
    }
    m++;
    // chains are final: the lookup reads them from meta
    const meta = this.meta;
    const next = this.next;
    for (let k = 0; k < cnt; k++) {
      const g = base + sorted[k]!;
      meta[g * 2] = next[g]!;
    }
    return new PrefixIndex(words, keys.subarray(0, m * words), lens.subarray(0, m), heads.subarray(0, m));
  }

  /** Adds route g to the same-prefix chain at heads[m], in the kernel's preference order; equal entries keep dump order. */
  private chain(heads: Int32Array, m: number, g: number): void {
    const head = heads[m]!;
    if (this.before(g, head)) {
      this.next[g] = head;
      heads[m] = g;
      return;
    }
    let cur = head;
    while (this.next[cur]! >= 0 && !this.before(g, this.next[cur]!)) cur = this.next[cur]!;
    this.next[g] = this.next[cur]!;
    this.next[cur] = g;
  }

  /** a is tried before b at the same destination prefix */
  private before(a: number, b: number): boolean {
    const sa = this.srcLen[a]!;
    const sb = this.srcLen[b]!;
    if (sa !== sb) return sa > sb;
    const ta = this.tos[a]!;
    const tb = this.tos[b]!;
    if (ta !== tb) return ta > tb;
    return this.metric[a]! < this.metric[b]!;
  }

  private compileRules(family: Family, all: Rule[], linkNames: Set<string> | null): CompiledRule[] {
    const given = all.filter((r) => r.family === family);
    const isDefault = given.length === 0;
    // stable: rules with equal priority keep their dump order, as in the kernel's list
    const list = (isDefault ? kernelDefaultRules(family) : given)
      .map((r, i) => ({ r, i }))
      .sort((a, b) => a.r.priority - b.r.priority || a.i - b.i);
    const out: CompiledRule[] = list.map(({ r }) => {
      const c: CompiledRule = {
        rule: r,
        srcLen: 0,
        dstLen: 0,
        mark: u32(r.fwmark ?? 0),
        mask: u32(r.fwmask ?? (r.fwmark ? 0xffffffff : 0)),
        iifDetached: r.iif !== undefined && linkNames !== null && !linkNames.has(r.iif),
        oifDetached: r.oif !== undefined && linkNames !== null && !linkNames.has(r.oif),
        gotoIdx: -1,
        isDefault,
        sel:
          (r.iif !== undefined ? SEL_IIF : 0) |
          (r.oif !== undefined ? SEL_OIF : 0) |
          (r.l3mdev ? SEL_L3MDEV : 0) |
          (r.uidrange ? SEL_UID : 0) |
          (r.tos ? SEL_TOS : 0) |
          (r.ipproto ? SEL_PROTO : 0) |
          (r.sport ? SEL_SPORT : 0) |
          (r.dport ? SEL_DPORT : 0),
        not: r.not === true,
      };
      if (r.src !== undefined) {
        const p = parsePrefix(family, r.src);
        if (p) {
          c.srcKey = p.key;
          c.srcLen = p.len;
        } else this.warnings.push(`rule "${r.source.text}": from ${r.src} is not an IPv${family} prefix`);
      }
      if (r.dst !== undefined) {
        const p = parsePrefix(family, r.dst);
        if (p) {
          c.dstKey = p.key;
          c.dstLen = p.len;
        } else this.warnings.push(`rule "${r.source.text}": to ${r.dst} is not an IPv${family} prefix`);
      }
      return c;
    });
    out.forEach((c, i) => {
      if (c.rule.action === 'goto' && c.rule.goto !== undefined) {
        const j = out.findIndex((o) => o.rule.priority === c.rule.goto);
        // the kernel refuses backward gotos, so a target at or before the rule cannot be real
        c.gotoIdx = j > i ? j : -1;
      }
    });
    return out;
  }

  rules(family: Family): Rule[] {
    return this.ruleSets[family].map((c) => c.rule);
  }

  matchRule(c: CompiledRule, q: RouteQuery, dst: Uint32Array, src: Uint32Array | null): boolean {
    const m = this.matchInner(c, q, dst, src);
    return c.not ? !m : m;
  }

  private matchInner(c: CompiledRule, q: RouteQuery, dst: Uint32Array, src: Uint32Array | null): boolean {
    if (c.mask !== 0 && u32((u32(q.mark ?? 0) ^ c.mark) & c.mask) !== 0) return false;
    if (c.srcLen > 0) {
      if (q.family === 4) {
        if (!prefixEqual(src ?? this.srcKey4.fill(0), c.srcKey!, c.srcLen)) return false;
      } else if (src === null || !prefixEqual(src, c.srcKey!, c.srcLen)) return false;
    }
    if (c.dstLen > 0 && !prefixEqual(dst, c.dstKey!, c.dstLen)) return false;
    if (c.sel === 0) return true;
    const r = c.rule;
    if (r.iif !== undefined && (c.iifDetached || r.iif !== (q.iif ?? 'lo'))) return false;
    if (r.oif !== undefined && (c.oifDetached || r.oif !== q.oif)) return false;
    if (r.l3mdev) return false;
    if (r.uidrange) {
      const uid = q.uid ?? 0;
      if (uid < r.uidrange[0] || uid > r.uidrange[1]) return false;
    }
    if (r.tos) {
      const m = q.family === 4 ? 0x1c : 0xfc;
      if (((q.tos ?? 0) & m) !== (r.tos & m)) return false;
    }
    if (r.ipproto && r.ipproto !== (q.ipproto ?? 0)) return false;
    if (r.sport) {
      const p = q.sport ?? 0;
      if (p < r.sport[0] || p > r.sport[1]) return false;
    }
    if (r.dport) {
      const p = q.dport ?? 0;
      if (p < r.dport[0] || p > r.dport[1]) return false;
    }
    return true;
  }

  private nhOk(family: Family, nh: NextHop, flags: string[] | undefined, q: RouteQuery): boolean {
    if (flags && flags.length > 0) {
      if (flags.includes('dead')) return false;
      if (flags.includes('linkdown') && this.ignoreLinkdown(family, nh.dev)) return false;
    }
    return q.oif === undefined || nh.dev === q.oif;
  }

  /** next hops the kernel may use: not dead, not linkdown when that is ignored, via the oif if one is given */
  private usable(family: Family, idx: number, q: RouteQuery): NextHop[] {
    const r = this.route(idx);
    const nhs = r.nexthops;
    if (q.oif === undefined && ((this.meta[idx * 2 + 1]! >>> 16) & 1) === 1) return nhs;
    if (nhs.length === 1) return this.nhOk(family, nhs[0]!, nhs[0]!.flags ?? r.flags, q) ? nhs : [];
    let all = true;
    for (const nh of nhs) if (!this.nhOk(family, nh, nh.flags, q)) all = false;
    return all ? nhs : nhs.filter((nh) => this.nhOk(family, nh, nh.flags, q));
  }

  private tableLookup(
    family: Family,
    table: number,
    dst: Uint32Array,
    src: Uint32Array | null,
    q: RouteQuery,
    steps: RouteStep[] | null,
  ): TableHit | null {
    const trie = this.table(family, table);
    if (!trie) return null;
    const k = trie.matches(dst, this.mv, this.ml);
    const qtos = q.tos ?? 0;
    for (let j = 0; j < k; j++) {
      const meta = this.meta;
      for (let idx = this.mv[j]!; idx >= 0; idx = meta[idx * 2]!) {
        const m = meta[idx * 2 + 1]!;
        if (family === 4) {
          const t = (m >>> 8) & 0xff;
          if (t !== 0 && (qtos & 0x1c) !== (t & 0x1c)) continue;
        } else {
          const sl = ((m >>> 17) & 0xff) - 1;
          if (sl > 0 && !prefixEqual(src ?? this.zero6, this.srcKeys.get(idx)!, sl)) continue;
        }
        const ty = m & 0xff;
        if (ty >= T_BLACKHOLE) return { idx, len: this.ml[j]!, cands: EMPTY_NH };
        const cands = this.usable(family, idx, q);
        if (cands.length === 0 && this.route(idx).nexthops.length > 0) {
          const r = this.route(idx);
          if (steps)
            steps.push({
              kind: 'route-skip',
              text: `table ${tname(table)}: ${r.source.text}: no usable next hop (dead, linkdown ignored, or not via ${q.oif ?? 'the oif'})`,
              table,
              route: r,
            });
          continue;
        }
        return { idx, len: this.ml[j]!, cands };
      }
    }
    return null;
  }

  lookup(q: RouteQuery, opts?: { steps?: boolean }): RouteDecision {
    const family = q.family;
    const steps: RouteStep[] | null = opts?.steps === false ? null : [];
    const notes: string[] = [];
    const d: RouteDecision = {
      family,
      dst: q.dst,
      result: 'unknown',
      nexthops: [],
      multipath: false,
      steps: steps ?? [],
      notes,
    };
    const dst = family === 4 ? this.dstKey4 : this.dstKey6;
    if (!parseAddr(family, q.dst, dst)) {
      d.result = 'invalid';
      d.error = 'EINVAL';
      notes.push(`${q.dst} is not an IPv${family} address`);
      return d;
    }
    let src: Uint32Array | null = null;
    if (q.src !== undefined) {
      src = family === 4 ? this.srcKey4 : this.srcKey6;
      if (!parseAddr(family, q.src, src)) {
        d.result = 'invalid';
        d.error = 'EINVAL';
        notes.push(`${q.src} is not an IPv${family} address`);
        return d;
      }
      if (family === 6 && src[0] === 0 && src[1] === 0 && src[2] === 0 && src[3] === 0) src = null;
    }
    const output = q.iif === undefined || q.iif === 'lo';
    if (q.iif !== undefined && q.iif !== 'lo')
      notes.push('input-path checks (forwarding sysctl, rp_filter, martian sources) are not evaluated');
    if (family === 4 && output) {
      const pre = this.v4OutputPrecheck(q, dst[0]!, src ? src[0]! : 0, d);
      if (pre) return pre;
    }

    const set = this.ruleSets[family];
    const isDefault = set.length > 0 && set[0]!.isDefault;
    let decided = false;
    for (let i = 0; i < set.length && !decided; i++) {
      let c = set[i]!;
      // `goto` lands on its target and tests that rule's match again (fib_rules_lookup: jumped)
      for (;;) {
        if (!this.matchRule(c, q, dst, src)) {
          if (steps)
            steps.push({ kind: 'rule-skip', text: `rule ${c.rule.source.text}: does not match`, rule: c.rule });
          break;
        }
        const r = c.rule;
        if (r.action === 'goto') {
          if (c.gotoIdx < 0) {
            if (steps)
              steps.push({
                kind: 'goto-unresolved',
                text: `rule ${r.source.text}: goto target ${r.goto} does not exist; rule skipped`,
                rule: r,
              });
            break;
          }
          if (steps) steps.push({ kind: 'goto', text: `rule ${r.source.text}: jump to rule ${r.goto}`, rule: r });
          i = c.gotoIdx;
          c = set[i]!;
          continue;
        }
        if (r.action === 'nop') {
          if (steps) steps.push({ kind: 'nop', text: `rule ${r.source.text}: nop`, rule: r });
          break;
        }
        if (r.action !== 'lookup') {
          const a = r.action;
          if (steps) steps.push({ kind: 'rule-action', text: `rule ${r.source.text}: ${a}`, rule: r });
          d.result = a;
          d.error = RULE_ERR[a];
          this.setRule(d, c, isDefault);
          decided = true;
          break;
        }
        const table = r.table ?? 254;
        if (steps)
          steps.push({
            kind: 'rule-match',
            text: `rule ${r.source.text}: lookup table ${tname(table)}`,
            rule: r,
            table,
          });
        const hit = this.tableLookup(family, table, dst, src, q, steps);
        if (!hit) {
          if (steps)
            steps.push({ kind: 'table-miss', text: `table ${tname(table)}: no route matches ${q.dst}`, table });
          break;
        }
        const route = this.route(hit.idx);
        const ty = this.meta[hit.idx * 2 + 1]! & 0xff;
        if (ty === T_THROW) {
          if (steps)
            steps.push({
              kind: 'throw',
              text: `table ${tname(table)}: ${route.source.text}: throw, continue with the next rule`,
              table,
              route,
            });
          break;
        }
        if (ty < T_BLACKHOLE && r.suppressPrefixlen !== undefined && hit.len <= r.suppressPrefixlen) {
          if (steps)
            steps.push({
              kind: 'suppress',
              text: `rule ${r.source.text}: ${route.source.text} has prefix length ${hit.len} <= ${r.suppressPrefixlen}; result suppressed`,
              rule: r,
              table,
              route,
            });
          break;
        }
        if (steps) steps.push({ kind: 'table-hit', text: `table ${tname(table)}: ${route.source.text}`, table, route });
        if (ty < T_BLACKHOLE && r.suppressIfgroup !== undefined)
          notes.push(
            `rule ${r.priority}: suppress_ifgroup ${r.suppressIfgroup} is not evaluated (device groups are not in the state)`,
          );
        this.setRule(d, c, isDefault);
        d.table = table;
        this.fromRoute(d, route, ty, hit.cands);
        decided = true;
        break;
      }
    }
    if (!decided) {
      d.result = 'no-route';
      d.error = 'ENETUNREACH';
    }
    if (family === 4 && output) this.v4OutputPost(q, dst[0]!, d);
    if (family === 6 && q.oif !== undefined)
      notes.push(
        'IPv6 with an output device: next hops were filtered by device; the kernel also scores routes by device and neighbour state',
      );
    for (const nh of d.nexthops)
      if (nh.gatewayFamily === 6 && nh.gateway?.startsWith('fe80:') && nh.dev === undefined)
        notes.push(`gateway ${nh.gateway} is link-local but the route names no device: the kernel cannot use it`);
    return d;
  }

  private setRule(d: RouteDecision, c: CompiledRule, isDefault: boolean): void {
    d.rule = c.rule;
    if (isDefault) d.ruleIsDefault = true;
  }

  private fromRoute(d: RouteDecision, route: Route, ty: number, cands: NextHop[]): void {
    d.route = route;
    d.result = ty === T_NAT ? 'unknown' : (route.type as RouteResult);
    const err = ROUTE_ERR[route.type];
    if (err) d.error = err;
    if (ty === T_NAT) d.notes.push('route type nat is obsolete; the kernel rejects it');
    if (route.prefsrc) d.prefsrc = route.prefsrc;
    if (ty >= T_BLACKHOLE) return;
    // the route's own NextHop objects (shared, not copied: a lookup must not allocate per hop)
    d.nexthops = cands;
    d.multipath = d.nexthops.length > 1;
    if (route.type === 'local') {
      // local delivery goes through the loopback device whatever device owns the address
      d.dev = 'lo';
      return;
    }
    if (d.nexthops.length === 1) {
      const n = d.nexthops[0]!;
      if (n.dev !== undefined) d.dev = n.dev;
      if (n.gateway !== undefined) {
        d.gateway = n.gateway;
        d.gatewayFamily = n.gatewayFamily ?? d.family;
      }
    }
  }

  /** ip_route_output_key_hash_rcu: checks before the FIB lookup (IPv4, locally generated). */
  private v4OutputPrecheck(q: RouteQuery, dst: number, src: number, d: RouteDecision): RouteDecision | null {
    if (q.src !== undefined) {
      const s = src;
      if (s >>> 28 === 0xe || s === 0xffffffff || s >>> 24 === 0) {
        d.result = 'invalid';
        d.error = 'EINVAL';
        d.notes.push(`source ${q.src} is multicast, broadcast or in 0.0.0.0/8`);
        return d;
      }
      if (this.localV4 === null)
        d.notes.push('the source address was not checked against local addresses (no addresses in the state)');
      else if (!this.localV4.has(s)) {
        d.result = 'invalid-source';
        d.error = 'ENETUNREACH';
        d.notes.push(`source ${q.src} is not a local address: the kernel refuses locally generated traffic from it`);
        return d;
      }
    }
    if (dst === 0) {
      d.result = 'local';
      d.dev = 'lo';
      d.notes.push('destination 0.0.0.0 is delivered locally');
      return d;
    }
    return null;
  }

  /** __mkroute_output and the output-device fallback. */
  private v4OutputPost(q: RouteQuery, dst: number, d: RouteDecision): void {
    if (d.error !== undefined && q.oif !== undefined) {
      // "routing tables are wrong; assume the destination is on link" (no VRF)
      d.notes.push(
        `the lookup failed (${d.error}); with an output device the kernel assumes ${q.dst} is on-link via ${q.oif}`,
      );
      d.result = 'unicast';
      delete d.error;
      d.nexthops = [{ dev: q.oif }];
      d.multipath = false;
      d.dev = q.oif;
      delete d.gateway;
      delete d.gatewayFamily;
    }
    if (d.error !== undefined) return;
    if (
      q.src?.startsWith('127.') &&
      d.result !== 'local' &&
      d.dev !== 'lo' &&
      !d.nexthops.some((n) => n.dev === 'lo')
    ) {
      d.result = 'invalid';
      d.error = 'EINVAL';
      d.notes.push(`a loopback source (${q.src}) cannot leave through a non-loopback device`);
      return;
    }
    if (dst === 0xffffffff) d.result = 'broadcast';
    else if (dst >>> 28 === 0xe) d.result = 'multicast';
    else if (dst >>> 24 === 0) {
      d.result = 'invalid';
      d.error = 'EINVAL';
      d.notes.push('destinations in 0.0.0.0/8 are refused');
    }
  }
}

function samePrefix(key: Uint32Array, len: Uint8Array, a: number, b: number, words: number): boolean {
  if (len[a] !== len[b]) return false;
  for (let w = 0; w < words; w++) if (key[a * words + w] !== key[b * words + w]) return false;
  return true;
}

export function buildFib(input: FibInput): Fib & { warnings: string[] } {
  return new FibImpl(input);
}

// ---------------------------------------------------------------------------------------------
// bpf_fib_lookup() versus the kernel's own routing of the packet.
//
// Checked: torvalds/linux net/core/filter.c bpf_ipv4_fib_lookup / bpf_ipv6_fib_lookup (5.x–6.x,
// BPF_FIB_LOOKUP_MARK added in 6.10) and cilium/cilium bpf/lib/fib.h (main, 2024–2025):
// - the helper builds its own flow: iif = params->ifindex (oif 0) unless BPF_FIB_LOOKUP_OUTPUT
//   (then iif = 1, oif = ifindex); mark = 0 unless BPF_FIB_LOOKUP_MARK; uid = sock_net_uid(net,
//   NULL), i.e. 0; tos, l4_protocol, sport, dport come from params.
// - Cilium's fib_lookup_v4/v6 zero the params, then set only family, ifindex (the device the
//   program runs on: the pod's lxc for pod egress), src and dst; flags 0, or DIRECT|TBID with an
//   endpoint route table. So tos, ipproto and ports are 0 and the mark is not passed.
// - BPF_FIB_LOOKUP_DIRECT skips the policy rules and looks in one table (main, the VRF's table,
//   or params->tbid with TBID). SKIP_NEIGH only changes neighbour resolution, not the route.
// ---------------------------------------------------------------------------------------------

export interface BpfFibOptions {
  /** device whose ifindex the program passes (Cilium: the lxc device for pod egress); default q.iif */
  ifindexDev?: string;
  /** BPF_FIB_LOOKUP_OUTPUT */
  output?: boolean;
  /** BPF_FIB_LOOKUP_MARK (Linux 6.10+); Cilium does not pass it */
  passMark?: boolean;
  /** BPF_FIB_LOOKUP_DIRECT (with TBID: the table); Cilium uses it with an endpoint route table */
  direct?: boolean;
  tbid?: number;
  /** whether the program fills tos/l4_protocol/ports from the packet; Cilium does not */
  fillsL4?: boolean;
}

/** The flow bpf_fib_lookup() hands to the FIB for this packet. */
export function bpfFibQuery(q: RouteQuery, opts: BpfFibOptions = {}): RouteQuery {
  const dev = opts.ifindexDev ?? q.iif;
  const b: RouteQuery = { family: q.family, dst: q.dst, mark: opts.passMark ? (q.mark ?? 0) : 0, uid: 0 };
  if (q.src !== undefined) b.src = q.src;
  if (opts.output) {
    if (dev !== undefined) b.oif = dev;
  } else if (dev !== undefined) b.iif = dev;
  if (opts.fillsL4) {
    if (q.tos !== undefined) b.tos = q.tos;
    if (q.ipproto !== undefined) b.ipproto = q.ipproto;
    if (q.sport !== undefined) b.sport = q.sport;
    if (q.dport !== undefined) b.dport = q.dport;
  }
  return b;
}

export interface Divergence {
  rule: Rule;
  why: string;
}

/**
 * Rules that could make the kernel's policy routing of the real packet (flow q) differ from the
 * bpf_fib_lookup() Cilium makes for it. A field of q left undefined is "unknown": a rule that
 * selects on it is reported as a possible divergence.
 */
export function fibLookupDivergence(fib: Fib, q: RouteQuery, opts: BpfFibOptions = {}): Divergence[] {
  const impl = fib as FibImpl;
  const b = bpfFibQuery(q, opts);
  const out: Divergence[] = [];
  const rules = impl.rules(q.family);
  if (opts.direct) {
    const t = opts.tbid ?? 254;
    for (const r of rules) {
      if (r.source.probe === 'kernel-default') continue;
      out.push({
        rule: r,
        why: `BPF_FIB_LOOKUP_DIRECT looks only in table ${tname(t)}: this rule is never consulted by the BPF lookup, the kernel evaluates it`,
      });
    }
    return out;
  }
  const dst = new Uint32Array(q.family === 4 ? 1 : 4);
  if (!parseAddr(q.family, q.dst, dst)) return out;
  let src: Uint32Array | null = null;
  if (q.src !== undefined) {
    src = new Uint32Array(q.family === 4 ? 1 : 4);
    if (!parseAddr(q.family, q.src, src)) src = null;
  }
  const compiled = (impl as unknown as { ruleSets: Record<Family, CompiledRule[]> }).ruleSets[q.family];
  for (const c of compiled) {
    const r = c.rule;
    const why: string[] = [];
    if (c.mask !== 0) {
      if (q.mark === undefined && !opts.passMark)
        why.push(
          `selects on fwmark ${fmtMark(c)}; the packet's mark is unknown and bpf_fib_lookup uses mark 0 (no BPF_FIB_LOOKUP_MARK)`,
        );
    }
    if (r.uidrange && q.uid === undefined)
      why.push(`selects on uid ${r.uidrange.join('-')}; bpf_fib_lookup uses uid 0, a local socket's uid may differ`);
    if (!opts.fillsL4) {
      if (r.tos && q.tos === undefined) why.push(`selects on tos ${r.tos}; Cilium passes tos 0`);
      if (r.ipproto && q.ipproto === undefined)
        why.push(`selects on ipproto ${r.ipproto}; Cilium passes l4_protocol 0`);
      if (r.sport && q.sport === undefined) why.push(`selects on sport ${r.sport.join('-')}; Cilium passes port 0`);
      if (r.dport && q.dport === undefined) why.push(`selects on dport ${r.dport.join('-')}; Cilium passes port 0`);
    }
    const mk = impl.matchRule(c, q, dst, src);
    const mb = impl.matchRule(c, b, dst, src);
    if (mk !== mb) {
      const fields: string[] = [];
      if (c.mask !== 0 && (q.mark ?? 0) !== (b.mark ?? 0))
        fields.push(`mark (packet 0x${u32(q.mark ?? 0).toString(16)}, BPF 0x${u32(b.mark ?? 0).toString(16)})`);
      if (r.iif !== undefined && (q.iif ?? 'lo') !== (b.iif ?? 'lo'))
        fields.push(`iif (packet ${q.iif ?? 'lo'}, BPF ${b.iif ?? 'lo'})`);
      if (r.oif !== undefined && q.oif !== b.oif)
        fields.push(`oif (packet ${q.oif ?? 'none'}, BPF ${b.oif ?? 'none'})`);
      if (r.uidrange && (q.uid ?? 0) !== 0) fields.push(`uid (packet ${q.uid}, BPF 0)`);
      if (r.tos && (q.tos ?? 0) !== (b.tos ?? 0)) fields.push('tos');
      if (r.ipproto && (q.ipproto ?? 0) !== (b.ipproto ?? 0)) fields.push('ipproto');
      if (r.sport && (q.sport ?? 0) !== (b.sport ?? 0)) fields.push('sport');
      if (r.dport && (q.dport ?? 0) !== (b.dport ?? 0)) fields.push('dport');
      why.unshift(
        `${mk ? 'matches the packet but not the BPF lookup' : 'matches the BPF lookup but not the packet'}: ${fields.join(', ') || 'flow fields differ'}`,
      );
    }
    if (why.length > 0) out.push({ rule: r, why: why.join('; ') });
  }
  return out;
}

function fmtMark(c: CompiledRule): string {
  return `0x${c.mark.toString(16)}/0x${c.mask.toString(16)}`;
}
