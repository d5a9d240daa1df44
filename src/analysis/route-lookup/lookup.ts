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
import type { Family, NextHop, Route, RouteType, Rule } from '../../model/types.js';
import { ROUTE_TYPE_CODE, parseV4At } from '../../model/route-columns.js';
import { RouteIndex } from './table-index.js';
import { compileRules, matchRule, parseAddr, prefixEqual, tname, type CompiledRule } from './rules.js';
import type { Errno, Fib, FibInput, RouteDecision, RouteQuery, RouteResult, RouteStep } from './types.js';

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

interface TableHit {
  idx: number;
  len: number;
  cands: NextHop[];
}

export class FibImpl extends RouteIndex implements Fib {
  private readonly ruleSets: Record<Family, CompiledRule[]>;
  private readonly localV4: Set<number> | null;
  private readonly ignoreLinkdown: (family: Family, dev: string | undefined) => boolean;
  // scratch, reused by every lookup (lookups are synchronous)
  private readonly dstKey4 = new Uint32Array(1);
  private readonly dstKey6 = new Uint32Array(4);
  private readonly srcKey4 = new Uint32Array(1);
  private readonly srcKey6 = new Uint32Array(4);
  private readonly zero6 = new Uint32Array(4);
  private readonly mv = new Int32Array(129);
  private readonly ml = new Uint8Array(129);

  constructor(input: FibInput) {
    super(input);
    const linkNames = input.links ? new Set(input.links.map((l) => l.name)) : null;
    this.ruleSets = {
      4: compileRules(4, input.rules, linkNames, this.warnings),
      6: compileRules(6, input.rules, linkNames, this.warnings),
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

  rules(family: Family): Rule[] {
    return this.ruleSets[family].map((c) => c.rule);
  }

  /** the compiled rules of a family, in evaluation order (for the bpf_fib_lookup comparison) */
  compiledRules(family: Family): CompiledRule[] {
    return this.ruleSets[family];
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
        if (!matchRule(c, q, dst, src)) {
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

export function buildFib(input: FibInput): Fib & { warnings: string[] } {
  return new FibImpl(input);
}
