import { constants, isAscii } from 'node:buffer';
import type { Parsed } from '../../model/types.js';
import type { IptablesRule, IptablesRuleset, IptablesTable } from '../../model/iptables.js';
import { LeanChain, LeanRule, type LeanSpan } from '../../model/iptables-lean.js';
import { ev } from '../common.js';
import { type ByteLines, parseIptablesLines, readRuleLine } from './parse-iptables.js';

// kube-proxy's per-Service and per-endpoint chains hold ~95 % of a large dump's rules (10,000 Services × 10
// backends: 310,000 of 430,000 lines), each a rule of one of a few shapes. Read whole, every one of them becomes
// a token list, matches, options and argument arrays that live as long as the ruleset (~370 MiB on that dump).
// These chains' lines are read here into LeanRule (the fields the shapes have) and left out of the full parse;
// any line that is not one of the shapes makes its whole chain go through the full parse.

/** Chains read lean: what kube-proxy names per Service (SVC, SVL, EXT, FW, XLB) and per endpoint (SEP). */
const LEAN_CHAIN = /^KUBE-(SVC|SVL|EXT|FW|XLB|SEP)-[A-Za-z0-9]+$/;

/** The modules a lean line may load (all known to the full parser: no unknown-match warning is lost). */
const LEAN_MODULES = ['comment', 'tcp', 'udp', 'sctp', 'statistic'].map((name, i) => ({ name, bit: 1 << i }));

// the options a lean line may hold
const NOT = 1;
const SRC = 2;
const DST = 3;
const PROTO = 4;
const MATCH = 5;
const JUMP = 6;
const COMMENT = 7;
const DPORT = 8;
const MODE = 9;
const PROB = 10;
const TO_DEST = 11;

/**
 * The targets of the full parser's built-in list (parseIptablesLines' builtinTargets: a jump to one of them is no
 * missing chain) that kube-proxy's per-Service chains use; a subset on purpose. A lean rule jumping anywhere else
 * that is not a chain of its table makes the whole dump go through the full parse, which warns about it (or not)
 * in its order.
 */
const BUILTIN = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'DNAT', 'SNAT', 'MASQUERADE', 'MARK']);

/** ev() keeps a line of up to this many characters whole: a lean rule's evidence is its whole line. */
const MAX_LEAN_LINE = 400;

const sep = (c: number) => c === 32 || c === 9;

/**
 * One rule line (trimmed, as the full parser reads it) as a LeanRule, or undefined when it is not one of the
 * shapes read lean. The shapes: `-A CHAIN` then, each at most once, `[!] -s A`, `[!] -d A`, `-p P`,
 * `-m comment --comment C`, `-m tcp|udp|sctp [--dport N]`, `-m statistic [--mode M] [--probability P]`, and last
 * `-j TARGET` (DNAT with `--to-destination D`). Tokens as the full tokenizer splits them: no backslash or single
 * quote anywhere, a double quote only around a whole token.
 */
export function leanRule(line: string, lineNo: number, probe: string): LeanRule | undefined {
  const n = line.length;
  if (n > MAX_LEAN_LINE || line.includes("'") || line.includes('\\')) return undefined;
  const t = scan;
  t.line = line;
  t.i = 0;
  if (t.next() !== 1 || !t.is('-A') || t.next() !== 1 || t.tq) return undefined;
  let src = -1;
  let srcNeg = false;
  let dst = -1;
  let dstNeg = false;
  let proto = -1;
  let portModule: string | undefined;
  let dport = -1;
  let comment = -1;
  let stat = false;
  let mode = -1;
  let prob = -1;
  let target: string | undefined;
  let toDest = -1;
  let modules = 0;
  let current = '';
  for (;;) {
    const r = t.next();
    if (r === 0) break;
    if (r < 0) return undefined;
    let o = t.option();
    let neg = false;
    if (o === NOT) {
      neg = true;
      if (t.next() !== 1) return undefined;
      o = t.option();
      if (o !== SRC && o !== DST) return undefined;
    }
    if (target !== undefined && o !== TO_DEST) return undefined;
    switch (o) {
      case SRC:
        if (src >= 0 || (src = t.span()) < 0) return undefined;
        srcNeg = neg;
        break;
      case DST:
        if (dst >= 0 || (dst = t.span()) < 0) return undefined;
        dstNeg = neg;
        break;
      case PROTO:
        if (proto >= 0 || (proto = t.span()) < 0) return undefined;
        break;
      case MATCH: {
        const m = t.span() < 0 ? undefined : t.module();
        if (m === undefined || (modules & m.bit) !== 0) return undefined;
        modules |= m.bit;
        if (m.name === 'statistic') stat = true;
        current = m.name;
        break;
      }
      case COMMENT:
        if (current !== 'comment' || comment >= 0 || (comment = t.span()) < 0) return undefined;
        break;
      case DPORT:
        if (!(current === 'tcp' || current === 'udp' || current === 'sctp')) return undefined;
        if (dport >= 0 || (dport = t.span()) < 0) return undefined;
        portModule = current;
        break;
      case MODE:
        if (current !== 'statistic' || mode >= 0 || (mode = t.span()) < 0) return undefined;
        break;
      case PROB:
        if (current !== 'statistic' || prob >= 0 || (prob = t.span()) < 0) return undefined;
        break;
      case JUMP:
        if (t.span() < 0) return undefined;
        // one string for the targets most rules share
        target = t.is('DNAT') ? 'DNAT' : t.is('KUBE-MARK-MASQ') ? 'KUBE-MARK-MASQ' : t.line.slice(t.ts, t.te);
        current = 'target';
        break;
      case TO_DEST:
        if (target !== 'DNAT' || toDest >= 0 || (toDest = t.span()) < 0) return undefined;
        break;
      default:
        return undefined;
    }
  }
  if (target === undefined) return undefined;
  return new LeanRule(
    lineNo,
    ev(probe, line),
    target,
    src,
    srcNeg,
    dst,
    dstNeg,
    proto,
    portModule,
    dport,
    comment,
    stat,
    mode,
    prob,
    toDest,
  );
}

/** The tokens of one line, split as the full tokenizer splits the shapes leanRule reads (one scanner, reused). */
class Scanner {
  line = '';
  i = 0;
  /** the token: line[ts, te), quoted or not */
  ts = 0;
  te = 0;
  tq = false;

  /** 1: a token, 0: the end, -1: not a shape read lean (a quote inside a token, an unclosed quote) */
  next(): number {
    const line = this.line;
    const n = line.length;
    let i = this.i;
    while (i < n && sep(line.charCodeAt(i))) i++;
    if (i >= n) {
      this.i = i;
      return 0;
    }
    if (line.charCodeAt(i) === 34) {
      const close = line.indexOf('"', i + 1);
      if (close < 0 || (close + 1 < n && !sep(line.charCodeAt(close + 1)))) return -1;
      this.ts = i + 1;
      this.te = close;
      this.tq = true;
      this.i = close + 1;
      return 1;
    }
    this.ts = i;
    for (; i < n; i++) {
      const c = line.charCodeAt(i);
      if (sep(c)) break;
      if (c === 34) return -1;
    }
    this.te = i;
    this.tq = false;
    this.i = i;
    return 1;
  }

  is(s: string): boolean {
    return !this.tq && this.te - this.ts === s.length && this.line.startsWith(s, this.ts);
  }

  /** which option the token is (0: none read lean), by its length and characters */
  option(): number {
    if (this.tq) return 0;
    const line = this.line;
    const ts = this.ts;
    const len = this.te - ts;
    const c = line.charCodeAt(ts);
    if (len === 1) return c === 33 ? NOT : 0;
    if (c !== 45) return 0;
    if (len === 2) {
      switch (line.charCodeAt(ts + 1)) {
        case 115:
          return SRC;
        case 100:
          return DST;
        case 112:
          return PROTO;
        case 109:
          return MATCH;
        case 106:
          return JUMP;
      }
      return 0;
    }
    switch (len) {
      case 9:
        return this.is('--comment') ? COMMENT : 0;
      case 7:
        return this.is('--dport') ? DPORT : 0;
      case 6:
        return this.is('--mode') ? MODE : 0;
      case 13:
        return this.is('--probability') ? PROB : 0;
      case 16:
        return this.is('--to-destination') ? TO_DEST : 0;
    }
    return 0;
  }

  /** the token as a module a lean line may load */
  module(): { name: string; bit: number } | undefined {
    for (const m of LEAN_MODULES) if (this.is(m.name)) return m;
    return undefined;
  }

  /** arg() as a LeanSpan (-1: none) */
  span(): LeanSpan {
    if (this.next() !== 1) return -1;
    const c = this.line.charCodeAt(this.ts);
    if (!this.tq && (c === 45 || (this.te - this.ts === 1 && c === 33))) return -1;
    return this.ts * 1024 + (this.te - this.ts);
  }
}

const scan = new Scanner();

/**
 * parseIptablesLines of a dump with kube-proxy's per-Service chains read lean (LeanRule, model/iptables-lean.ts):
 * the same tables, chains, warnings and — asked for through `rules` — the same rules. Undefined when the dump has
 * a line that could change a chain's rules after they are read (`-I`, `-F`, `-X`, `-N`, a counter-prefixed rule,
 * a table opened twice, a line outside a table) or a lean rule that jumps to a chain the dump lacks: the caller
 * then parses it whole.
 */
export function parseIptablesLean(lines: ByteLines, probe: string): Parsed<IptablesRuleset> | undefined {
  const n = lines.length;
  const bytes = lines.bytes;
  const starts = lines.starts;
  // An ASCII dump (what iptables-save writes) is decoded once: each lean line and chain name is then a slice of that
  // text, which V8 keeps as a reference into it instead of a copy. ~300,000 copied lines were ~35 MiB that every
  // young-generation collection copied again before they reached the old space; the whole text, allocated there
  // once, lives no longer than the evidence that points into it (the Services' evidence holds most of its lines).
  const text = bytes.length < constants.MAX_STRING_LENGTH && isAscii(bytes) ? bytes.toString('latin1') : undefined;
  const lineAt =
    text === undefined
      ? (idx: number) => lines.at(idx)
      : (idx: number) => text.slice(starts[idx]!, starts[idx + 1]! - 1);
  // per table, per chain: how often declared (a second declaration flushes it) and the lean rules read so far;
  // `bad`: one of its rules is not a lean shape, so the chain is parsed whole
  type Lean = { declared: number; bad: boolean; rules: LeanRule[]; lines: number[] };
  const tables = new Map<string, Map<string, Lean>>();
  let chains: Map<string, Lean> | undefined;
  let last: Lean | undefined;
  let lastChains: Map<string, Lean> | undefined;
  let lastAt = 0;
  let lastLen = 0;
  for (let idx = 0; idx < n; idx++) {
    const e = starts[idx + 1]! - 1;
    let i = starts[idx]!;
    while (i < e && sep(bytes[i]!)) i++;
    if (i >= e) continue;
    const c = bytes[i]!;
    // the full parser trims what String.prototype.trim trims (vertical tabs, no-break spaces, …): a line that
    // starts with any such byte may be a rule or a declaration to it
    if (c < 0x21 || c > 0x7e) return undefined;
    if (c === 0x23 /* # */) continue;
    if (c === 0x2a /* * */) {
      const name = bytes.toString('latin1', i + 1, e).trim();
      if (!/^[a-z]+$/.test(name) || tables.has(name)) return undefined;
      chains = new Map();
      tables.set(name, chains);
      continue;
    }
    if (chains === undefined) return undefined;
    if (c === 0x3a /* : */) {
      let j = i + 1;
      for (; j < e && !sep(bytes[j]!); j++) if (bytes[j]! < 0x21 || bytes[j]! > 0x7e) return undefined;
      const name = bytes.toString('latin1', i + 1, j);
      const ch = chains.get(name);
      if (ch) ch.declared++;
      else chains.set(name, { declared: 1, bad: false, rules: [], lines: [] });
      continue;
    }
    if (c === 0x5b /* [ */) return undefined;
    if (c !== 0x2d /* - */) continue;
    if (bytes[i + 1] !== 0x41 /* A */ || !sep(bytes[i + 2]!)) return undefined;
    let a = i + 2;
    while (a < e && sep(bytes[a]!)) a++;
    let j = a;
    for (; j < e; j++) {
      const x = bytes[j]!;
      if (sep(x)) break;
      // a quoted or escaped chain name (the tokenizer may make any name of it), or one trim would cut
      if (x === 0x22 || x === 0x27 || x === 0x5c || x < 0x21 || x > 0x7e) return undefined;
    }
    // `KUBE-` and a kind of LEAN_CHAIN's, by bytes: most lines are not in such a chain
    if (j - a < 9 || bytes[a] !== 0x4b || bytes[a + 4] !== 0x2d) continue;
    let ch: Lean | undefined;
    // a chain's rules come one after another: the previous line's chain is compared by bytes, not looked up
    if (last !== undefined && lastChains === chains && j - a === lastLen) {
      let k = 0;
      while (k < lastLen && bytes[a + k] === bytes[lastAt + k]) k++;
      if (k === lastLen) ch = last;
    }
    if (ch === undefined) {
      const name = text === undefined ? bytes.toString('latin1', a, j) : text.slice(a, j);
      if (!LEAN_CHAIN.test(name)) continue;
      ch = chains.get(name);
      if (!ch) {
        // a rule before its chain's declaration: read whole (the full parser warns)
        ch = { declared: 0, bad: true, rules: [], lines: [] };
        chains.set(name, ch);
      }
      last = ch;
      lastChains = chains;
      lastAt = a;
      lastLen = j - a;
    }
    if (ch.bad) continue;
    const r = ch.declared === 1 ? leanRule(lineAt(idx).trim(), idx + 1, probe) : undefined;
    if (!r) {
      ch.bad = true;
      ch.rules = [];
      ch.lines = [];
      continue;
    }
    ch.rules.push(r);
    ch.lines.push(idx);
  }
  const skip = new Uint8Array(n);
  let skipped = 0;
  for (const chs of tables.values())
    for (const ch of chs.values()) {
      // a chain declared twice is flushed by its second declaration: read whole
      if (ch.bad || ch.declared !== 1) continue;
      for (const l of ch.lines) skip[l] = 1;
      skipped += ch.lines.length;
    }
  const kept = new Int32Array(n - skipped);
  for (let idx = 0, k = 0; idx < n; idx++) if (skip[idx] === 0) kept[k++] = idx;
  const parsed = parseIptablesLines(
    lines,
    probe,
    Object.assign((idx: number) => skip[idx] === 1, { kept }),
  );
  const found: [IptablesTable, number, LeanRule[]][] = [];
  for (const t of parsed.value.tables) {
    const chs = tables.get(t.name);
    if (!chs) continue;
    const names = new Set<string>();
    for (const chain of t.chains) names.add(chain.name);
    const masq = names.has('KUBE-MARK-MASQ');
    for (let k = 0; k < t.chains.length; k++) {
      const chain = t.chains[k]!;
      const ch = chs.get(chain.name);
      if (!ch || ch.bad || ch.declared !== 1 || ch.rules.length === 0) continue;
      // nothing else may have put a rule in it; a lean rule's jump to a chain the dump lacks is warned about by the
      // full parse, in its order
      if (chain.rules.length > 0) return undefined;
      for (const r of ch.rules) {
        // the two targets of every endpoint chain are leanRule's shared strings: told without a look-up
        const tg = r.target;
        if (tg === 'DNAT' || (tg === 'KUBE-MARK-MASQ' && masq)) continue;
        if (!names.has(tg) && !BUILTIN.has(tg)) return undefined;
      }
      found.push([t, k, ch.rules]);
    }
  }
  if (found.reduce((k, f) => k + f[2].length, 0) !== skipped) return undefined;
  const whole = (c: LeanChain, rules: LeanRule[]) => rules.map((r) => wholeRule(c, r));
  for (const [t, k, rules] of found) t.chains[k] = new LeanChain(t.name, t.chains[k]!, rules, whole);
  return parsed;
}

/** The rule the full parser builds of a lean rule's line (its evidence is the whole line: MAX_LEAN_LINE). */
function wholeRule(c: LeanChain, r: LeanRule): IptablesRule {
  const p = readRuleLine(r.source.text).opts!;
  const rule: IptablesRule = { table: c.table, chain: c.name, line: r.line, matches: p.matches, source: r.source };
  if (p.target) rule.target = p.target;
  if (p.comment !== undefined) rule.comment = p.comment;
  if (p.unknownModules.length > 0) rule.unknownModules = p.unknownModules;
  return rule;
}
