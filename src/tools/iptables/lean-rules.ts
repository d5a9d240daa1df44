import { constants, isAscii } from 'node:buffer';
import type { Parsed } from '../../model/types.js';
import type { IptablesChain, IptablesRule, IptablesRuleset, IptablesTable } from '../../model/iptables.js';
import { LeanChain, LeanRule, type LeanSpan } from '../../model/iptables-lean.js';
import { ev } from '../common.js';
import { type ByteLines, CHAIN_DECLARATION, declaredAs, parseIptablesLines, readRuleLine } from './parse-iptables.js';

// kube-proxy's per-Service and per-endpoint chains hold ~95 % of a large dump's rules (10,000 Services × 10
// backends: 310,000 of 430,000 lines), each a rule of one of a few shapes. Read whole, every one of them becomes
// a token list, matches, options and argument arrays that live as long as the ruleset (~370 MiB on that dump).
// These chains' lines are read here into LeanRule (the fields the shapes have) and left out of the full parse;
// any line that is not one of the shapes makes its whole chain go through the full parse.

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

/** FNV-1a of bytes[a, e): a chain name's hash, as strHash of the same (ASCII) name */
function byteHash(bytes: Buffer, a: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = a; i < e; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The chain names of one table, each an integer id, found by their bytes in the dump: ~110,000 names on a
 * 10,000-Service dump, each looked up several times, would otherwise each be cut out as a string and hashed by a Map
 * (the read's largest cost). Open addressing, linear probing; a name is (start, length) in the bytes.
 */
class ChainNames {
  slots = new Int32Array(1 << 12);
  count = 0;
  constructor(
    readonly bytes: Buffer,
    readonly at: number[],
    readonly len: number[],
  ) {}

  /** the id of bytes[a, e), or -1; `add`: a new id (next: the id it gets) when absent */
  find(a: number, e: number, add: boolean, next: number): number {
    const bytes = this.bytes;
    const l = e - a;
    let mask = this.slots.length - 1;
    let s = byteHash(bytes, a, e) & mask;
    for (;;) {
      const v = this.slots[s]!;
      if (v === 0) break;
      const id = v - 1;
      if (this.len[id] === l) {
        const b = this.at[id]!;
        let k = 0;
        while (k < l && bytes[a + k] === bytes[b + k]) k++;
        if (k === l) return id;
      }
      s = (s + 1) & mask;
    }
    if (!add) return -1;
    if (++this.count * 2 > this.slots.length) {
      this.#grow();
      mask = this.slots.length - 1;
      s = byteHash(bytes, a, e) & mask;
      while (this.slots[s] !== 0) s = (s + 1) & mask;
    }
    this.slots[s] = next + 1;
    return next;
  }

  /** the id of a name given as a string (a parsed chain's, a rule's target), or -1 */
  findString(name: string): number {
    const bytes = this.bytes;
    const l = name.length;
    const mask = this.slots.length - 1;
    for (let s = strHash(name) & mask; ; s = (s + 1) & mask) {
      const v = this.slots[s]!;
      if (v === 0) return -1;
      const id = v - 1;
      if (this.len[id] === l) {
        const b = this.at[id]!;
        let k = 0;
        while (k < l && bytes[b + k] === name.charCodeAt(k)) k++;
        if (k === l) return id;
      }
    }
  }

  #grow(): void {
    const old = this.slots;
    const slots = new Int32Array(old.length * 2);
    const mask = slots.length - 1;
    for (const v of old) {
      if (v === 0) continue;
      const id = v - 1;
      let s = byteHash(this.bytes, this.at[id]!, this.at[id]! + this.len[id]!) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = v;
    }
    this.slots = slots;
  }
}

const LEAN_KINDS = new Set(
  ['SVC', 'SVL', 'EXT', 'XLB', 'SEP'].map((k) => (k.charCodeAt(0) << 16) | (k.charCodeAt(1) << 8) | k.charCodeAt(2)),
);

/**
 * Whether bytes[a, e) names a chain read lean: what kube-proxy names per Service (SVC, SVL, EXT, FW, XLB) and per
 * endpoint (SEP), `KUBE-(SVC|SVL|EXT|FW|XLB|SEP)-[A-Za-z0-9]+`, told by its bytes (no string is made of a name).
 */
export function leanChainName(bytes: Buffer, a: number, e: number): boolean {
  // KUBE-
  if (e - a < 9 || bytes[a] !== 0x4b || bytes[a + 1] !== 0x55 || bytes[a + 2] !== 0x42 || bytes[a + 3] !== 0x45)
    return false;
  if (bytes[a + 4] !== 0x2d) return false;
  // the kind: FW (two letters) or SVC, SVL, EXT, XLB, SEP (three), then `-` and at least one [A-Za-z0-9]
  const c0 = bytes[a + 5]!;
  const c1 = bytes[a + 6]!;
  const c2 = bytes[a + 7]!;
  let k: number;
  if (c0 === 0x46 && c1 === 0x57 && c2 === 0x2d) k = a + 8;
  else {
    const kind = (c0 << 16) | (c1 << 8) | c2;
    if (!LEAN_KINDS.has(kind) || bytes[a + 8] !== 0x2d) return false;
    k = a + 9;
  }
  if (k >= e) return false;
  for (; k < e; k++) {
    const x = bytes[k]!;
    if (!((x >= 0x30 && x <= 0x39) || (x >= 0x41 && x <= 0x5a) || (x >= 0x61 && x <= 0x7a))) return false;
  }
  return true;
}

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
  // An ASCII dump (what iptables-save writes) is decoded once: each lean line is then a slice of that text, which V8
  // keeps as a reference into it instead of a copy. ~300,000 copied lines were ~35 MiB that every young-generation
  // collection copied again before they reached the old space; the whole text, allocated there once, lives no
  // longer than the evidence that points into it (the Services' evidence holds most of its lines).
  const text = bytes.length < constants.MAX_STRING_LENGTH && isAscii(bytes) ? bytes.toString('latin1') : undefined;
  const lineAt =
    text === undefined
      ? (idx: number) => lines.at(idx)
      : (idx: number) => text.slice(starts[idx]!, starts[idx + 1]! - 1);
  // every chain of every table by id: its name's bytes, how often declared (a second declaration flushes it), whether
  // it is a lean name, `bad` (one of its rules is not a lean shape or comes before its declaration: parsed whole)
  // and its lean rules read so far
  const at: number[] = [];
  const len: number[] = [];
  const declared: number[] = [];
  const leanName: boolean[] = [];
  const bad: boolean[] = [];
  const rulesOf: (LeanRule[] | undefined)[] = [];
  // the line of its first declaration (-1: none)
  const declLine: number[] = [];
  const tableOf: ChainNames[] = [];
  // the chain id + 1 of each line read as a lean rule
  const lineChain = new Int32Array(n);
  const tables = new Map<string, ChainNames>();
  let chains: ChainNames | undefined;
  const chainId = (a: number, e: number): number => {
    const id = chains!.find(a, e, true, at.length);
    if (id === at.length) {
      at.push(a);
      len.push(e - a);
      declared.push(0);
      leanName.push(leanChainName(bytes, a, e));
      bad.push(false);
      rulesOf.push(undefined);
      declLine.push(-1);
      tableOf.push(chains!);
    }
    return id;
  };
  // per table: a declaration came after a rule line (its chains are then not built here: see own below)
  const ruleSeen = new Set<ChainNames>();
  const declAfterRule = new Set<ChainNames>();
  let last = -1;
  let lastChains: ChainNames | undefined;
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
      chains = new ChainNames(bytes, at, len);
      tables.set(name, chains);
      continue;
    }
    if (chains === undefined) return undefined;
    if (c === 0x3a /* : */) {
      let j = i + 1;
      for (; j < e && !sep(bytes[j]!); j++) if (bytes[j]! < 0x21 || bytes[j]! > 0x7e) return undefined;
      const id = chainId(i + 1, j);
      if (declared[id]!++ === 0) declLine[id] = idx;
      if (ruleSeen.has(chains)) declAfterRule.add(chains);
      continue;
    }
    if (c === 0x5b /* [ */) return undefined;
    if (c !== 0x2d /* - */) continue;
    if (bytes[i + 1] !== 0x41 /* A */ || !sep(bytes[i + 2]!)) return undefined;
    ruleSeen.add(chains);
    let a = i + 2;
    while (a < e && sep(bytes[a]!)) a++;
    let j = a;
    for (; j < e; j++) {
      const x = bytes[j]!;
      if (sep(x)) break;
      // a quoted or escaped chain name (the tokenizer may make any name of it), or one trim would cut
      if (x === 0x22 || x === 0x27 || x === 0x5c || x < 0x21 || x > 0x7e) return undefined;
    }
    // `KUBE-` and a kind of leanChainName's, by bytes: most lines are not in such a chain
    if (j - a < 9 || bytes[a] !== 0x4b || bytes[a + 4] !== 0x2d) continue;
    let ch = -1;
    // a chain's rules come one after another: the previous line's chain is compared by bytes, not looked up
    if (last >= 0 && lastChains === chains && j - a === len[last]) {
      const b = at[last]!;
      let k = 0;
      while (k < j - a && bytes[a + k] === bytes[b + k]) k++;
      if (k === j - a) ch = last;
    }
    if (ch < 0) {
      ch = chainId(a, j);
      last = ch;
      lastChains = chains;
    }
    if (!leanName[ch]) continue;
    // a rule before its chain's declaration is read whole (the full parser warns)
    if (declared[ch] === 0) bad[ch] = true;
    if (bad[ch]) continue;
    const r = declared[ch] === 1 ? leanRule(lineAt(idx).trim(), idx + 1, probe) : undefined;
    if (!r) {
      bad[ch] = true;
      rulesOf[ch] = undefined;
      continue;
    }
    const rs = rulesOf[ch];
    if (rs === undefined) rulesOf[ch] = [r];
    else rs.push(r);
    lineChain[idx] = ch + 1;
  }
  // a chain declared twice is flushed by its second declaration: read whole
  const good = (id: number) => !bad[id] && declared[id] === 1;
  // The lean chains whose declaration is read here too (`own`: 110,000 of them on a 10,000-Service dump, each a
  // regular expression, a Map entry and a name hashed again in the full parse otherwise). Only in a table whose
  // declarations all come before its rules: the full parse then makes its chains in declaration order, then those
  // that rules append to undeclared, so each own chain goes back in by its declaration's line.
  const own: (IptablesChain | undefined)[] = [];
  for (let id = 0; id < at.length; id++) {
    if (!good(id) || rulesOf[id] === undefined) continue;
    const dl = declLine[id]!;
    if (declAfterRule.has(tableOf[id]!)) continue;
    const line = lineAt(dl).trim();
    if (line.length > MAX_LEAN_LINE) continue;
    // what the full parse reads of a declaration (parseIptablesLines)
    const m = CHAIN_DECLARATION.exec(line);
    if (!m) continue;
    const c: IptablesChain = { name: m[1]!, declared: true, rules: [] };
    declaredAs(c, m, probe, line);
    own[id] = c;
    lineChain[dl] = id + 1;
  }
  let skipped = 0;
  let skippedDecl = 0;
  for (let idx = 0; idx < n; idx++) {
    const ch = lineChain[idx]!;
    if (ch > 0 && good(ch - 1)) {
      if (declLine[ch - 1] === idx) skippedDecl++;
      else skipped++;
    }
  }
  const kept = new Int32Array(n - skipped - skippedDecl);
  for (let idx = 0, k = 0; idx < n; idx++) {
    const ch = lineChain[idx]!;
    if (ch === 0 || !good(ch - 1)) kept[k++] = idx;
    else lineChain[idx] = -1;
  }
  // a jump from a line the full parse reads to an own chain is to a chain of the dump
  const known = (table: string, name: string): boolean => {
    const id = tables.get(table)?.findString(name) ?? -1;
    return id >= 0 && own[id] !== undefined;
  };
  // the lines left to the full parse (110,000 chain declarations on a 10,000-Service dump) as slices of the decoded
  // text too, not each decoded again out of the bytes
  const parsed = parseIptablesLines(
    text === undefined ? lines : { length: n, at: lineAt },
    probe,
    Object.assign((idx: number) => lineChain[idx] === -1, { kept, known }),
  );
  // the chains the full parse made (a declaration it could not read makes none), and the own ones
  const present = new Uint8Array(at.length);
  for (let id = 0; id < at.length; id++) if (own[id] !== undefined) present[id] = 1;
  const found: [IptablesTable, number, LeanRule[]][] = [];
  const ownIn = new Map<IptablesTable, number[]>();
  let foundRules = 0;
  for (const t of parsed.value.tables) {
    const chs = tables.get(t.name);
    if (!chs) continue;
    const ks: number[] = [];
    for (let k = 0; k < t.chains.length; k++) {
      const id = chs.findString(t.chains[k]!.name);
      if (id < 0) continue;
      // an own chain is not the full parse's to make
      if (own[id] !== undefined) return undefined;
      present[id] = 1;
      if (good(id) && rulesOf[id] !== undefined) ks.push(k, id);
    }
    const owned: number[] = [];
    for (let id = 0; id < at.length; id++) if (own[id] !== undefined && tableOf[id] === chs) owned.push(id);
    ownIn.set(t, owned);
    let names: Set<string> | undefined;
    const masqId = chs.findString('KUBE-MARK-MASQ');
    const masq = masqId >= 0 && present[masqId] === 1;
    // every jump of a lean rule is to a chain of the table or a built-in target
    const jumpsKnown = (rules: LeanRule[]): boolean => {
      for (const r of rules) {
        // the two targets of every endpoint chain are leanRule's shared strings: told without a look-up
        const tg = r.target;
        if (tg === 'DNAT' || (tg === 'KUBE-MARK-MASQ' && masq)) continue;
        const tid = chs.findString(tg);
        if (tid >= 0 && present[tid] === 1) continue;
        // not a chain declared in this table: one the full parse made of a rule, or a built-in target
        names ??= new Set(t.chains.map((c) => c.name));
        if (!names.has(tg) && !BUILTIN.has(tg)) return false;
      }
      return true;
    };
    for (let x = 0; x < ks.length; x += 2) {
      const k = ks[x]!;
      const rules = rulesOf[ks[x + 1]!]!;
      // nothing else may have put a rule in it; a lean rule's jump to a chain the dump lacks is warned about by the
      // full parse, in its order
      if (t.chains[k]!.rules.length > 0 || !jumpsKnown(rules)) return undefined;
      found.push([t, k, rules]);
      foundRules += rules.length;
    }
    for (const id of owned) {
      if (!jumpsKnown(rulesOf[id]!)) return undefined;
      foundRules += rulesOf[id]!.length;
    }
  }
  if (foundRules !== skipped) return undefined;
  const whole = (c: LeanChain, rules: LeanRule[]) => rules.map((r) => wholeRule(c, r));
  for (const [t, k, rules] of found) t.chains[k] = new LeanChain(t.name, t.chains[k]!, rules, whole);
  for (const [t, owned] of ownIn) {
    if (owned.length === 0) continue;
    // the full parse's chains: those declared, in declaration order, then those rules made undeclared
    const chs = tables.get(t.name)!;
    const merged: IptablesChain[] = [];
    let o = 0;
    let prev = -1;
    const ownUpTo = (line: number) => {
      for (; o < owned.length && declLine[owned[o]!]! < line; o++) {
        const id = owned[o]!;
        if (declLine[id]! < prev) return false;
        prev = declLine[id]!;
        merged.push(new LeanChain(t.name, own[id]!, rulesOf[id]!, whole));
      }
      return true;
    };
    for (const c of t.chains) {
      let line = Number.MAX_SAFE_INTEGER;
      if (c.declared) {
        const id = chs.findString(c.name);
        if (id < 0 || declLine[id]! < 0) return undefined;
        line = declLine[id]!;
      }
      if (!ownUpTo(line)) return undefined;
      merged.push(c);
    }
    if (!ownUpTo(Number.MAX_SAFE_INTEGER)) return undefined;
    t.chains = merged;
  }
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
