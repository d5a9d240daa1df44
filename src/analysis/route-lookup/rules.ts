/**
 * Policy routing rules: the kernel's default rules, rules compiled for matching, and the match itself
 * (fib_rule_match with fib4/fib6_rule_match; see lookup.ts for the kernel facts).
 */
import type { Family, Rule } from '../../model/types.js';
import { keyWords, parsePrefixInto, parseV4At, parseV6At } from '../../model/route-columns.js';
import type { RouteQuery } from './types.js';

const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };
export const tname = (t: number): string => TABLE_NAMES[t] ?? String(t);

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

export interface CompiledRule {
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

export function parseAddr(family: Family, s: string, out: Uint32Array): boolean {
  return family === 4 ? parseV4At(s, out, 0) : parseV6At(s, out, 0);
}

export function parsePrefix(family: Family, p: string): { key: Uint32Array; len: number } | null {
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

export const u32 = (n: number): number => n >>> 0;

/** An all-zero IPv4 key: the source of a flow that has none. */
const ZERO4 = new Uint32Array(1);

export function compileRules(
  family: Family,
  all: Rule[],
  linkNames: Set<string> | null,
  warnings: string[],
): CompiledRule[] {
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
      } else warnings.push(`rule "${r.source.text}": from ${r.src} is not an IPv${family} prefix`);
    }
    if (r.dst !== undefined) {
      const p = parsePrefix(family, r.dst);
      if (p) {
        c.dstKey = p.key;
        c.dstLen = p.len;
      } else warnings.push(`rule "${r.source.text}": to ${r.dst} is not an IPv${family} prefix`);
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

export function matchRule(c: CompiledRule, q: RouteQuery, dst: Uint32Array, src: Uint32Array | null): boolean {
  const m = matchInner(c, q, dst, src);
  return c.not ? !m : m;
}

function matchInner(c: CompiledRule, q: RouteQuery, dst: Uint32Array, src: Uint32Array | null): boolean {
  if (c.mask !== 0 && u32((u32(q.mark ?? 0) ^ c.mark) & c.mask) !== 0) return false;
  if (c.srcLen > 0) {
    if (q.family === 4) {
      if (!prefixEqual(src ?? ZERO4, c.srcKey!, c.srcLen)) return false;
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
