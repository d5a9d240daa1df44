import type { IptablesRule } from '../../model/iptables.js';
import type { Family } from '../../model/types.js';
import { readRuleLine, type ByteLines, type RuleLine } from '../../tools/iptables/parse-iptables.js';
import { commentServiceName, ruleFrontend, type FrontendKeep, type Frontish } from './iptables.js';

/** Chains every Service question reads whole: where frontends are declared. */
const FRONTEND_CHAINS: Record<string, string[]> = {
  nat: ['KUBE-SERVICES', 'KUBE-NODEPORTS'],
  filter: ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-PROXY-FIREWALL'],
};

/** How many chain look-ups scan the line hashes before they are put in buckets (a setting, so tests take both ways). */
export const lineIndexTuning = { bucketsAfter: 64 };

/** Line kinds of the index: a plain `-A CHAIN` rule, a `:CHAIN` declaration (0: neither, or not filed). */
const RULE = 1;
const DECL = 2;

export interface LineIndex {
  /** per line: RULE, DECL or 0 */
  kind: Uint8Array;
  /** per line: the table it sits in (index into tables), -1 outside one */
  tableOf: Int16Array;
  tables: string[];
  tableIds: Map<string, number>;
  /** rule-ish lines the index could not file (quotes or odd bytes in the chain name, ...) */
  complex: number[];
  /** every line of kind 0 (never skipped), ascending */
  unfiled: Int32Array;
  /** lines of kind k naming chain `name` in table t, in order */
  linesOf: (k: number, t: number, name: string) => number[];
}

const built = new WeakMap<ByteLines, LineIndex>();

/**
 * The index of these lines, built on the first call and kept with them: it depends on the bytes only, so the
 * svc worker (src/commands/svc-worker.ts) builds it before its question arrives, and iptablesLinesNeeded takes it.
 */
export function lineIndexOf(lines: ByteLines): LineIndex {
  let ix = built.get(lines);
  if (ix === undefined) {
    ix = indexLines(lines);
    built.set(lines, ix);
  }
  return ix;
}

/**
 * One pass over the bytes: each plain `-A CHAIN` and `:CHAIN` line filed by a hash of its chain name
 * and its table (no string per line), lines chained per hash bucket in order.
 */
function indexLines(lines: ByteLines): LineIndex {
  const n = lines.length;
  const text = lines.bytes;
  const starts = lines.starts;
  const kind = new Uint8Array(n);
  const hash = new Uint32Array(n);
  const tokAt = new Int32Array(n);
  const tokLen = new Uint8Array(n);
  const tableOf = new Int16Array(n).fill(-1);
  const tables: string[] = [];
  const tableIds = new Map<string, number>();
  const complex: number[] = [];
  const unfiled: number[] = [];
  let table = -1;
  for (let idx = 0; idx < n; idx++) {
    const o = starts[idx]!;
    const e = starts[idx + 1]! - 1;
    let i = o;
    while (i < e && ws(text[i]!)) i++;
    const c = text[i]!;
    if (c === 42 /* * */) {
      const name = text.toString('latin1', i + 1, e).trim();
      if (!/^[a-z]+$/.test(name)) table = -1;
      else {
        let t = tableIds.get(name);
        if (t === undefined) {
          t = tables.length;
          tableIds.set(name, t);
          tables.push(name);
        }
        table = t;
      }
      unfiled.push(idx);
      continue;
    }
    tableOf[idx] = table;
    if (table < 0 || e - o > 64 * 1024) {
      unfiled.push(idx);
      continue;
    }
    let a = -1;
    let k = -1;
    if (c === 58 /* : */) {
      a = i + 1;
      k = DECL;
    } else {
      // `iptables-save -c` puts counters before every rule: `[0:0] -A CHAIN ...`
      if (c === 91 /* [ */) {
        const j = countersAt(text, i, e);
        if (j > i && j < e && ws(text[j]!)) {
          i = j;
          while (i < e && ws(text[i]!)) i++;
        }
      }
      if (text[i] === 45 && text[i + 1] === 65 && ws(text[i + 2]!)) {
        a = i + 2;
        while (a < e && ws(text[a]!)) a++;
        k = RULE;
      }
    }
    if (k < 0) {
      complex.push(idx);
      unfiled.push(idx);
      continue;
    }
    // the name: printable ASCII up to a blank, as both the tokenizer and the declaration regex see it
    let h = 0x811c9dc5;
    let j = a;
    for (; j < e; j++) {
      const x = text[j]!;
      if (x === 32 || x === 9) break;
      if (x < 33 || x > 126 || x === 34 || x === 39 || x === 92) {
        j = -1;
        break;
      }
      h = Math.imul(h ^ x, 0x01000193);
    }
    if (j <= a || j - a > 255 || (k === DECL && j === e)) {
      complex.push(idx);
      unfiled.push(idx);
      continue;
    }
    kind[idx] = k;
    hash[idx] = h >>> 0;
    tokAt[idx] = a;
    tokLen[idx] = j - a;
  }

  const nameHash = (name: string): number => {
    let h = 0x811c9dc5;
    for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 0x01000193);
    return h >>> 0;
  };
  const isName = (idx: number, name: string): boolean => {
    if (tokLen[idx] !== name.length) return false;
    const a = tokAt[idx]!;
    for (let k = 0; k < name.length; k++) if (text[a + k] !== name.charCodeAt(k)) return false;
    return true;
  };
  // a question looks up a few dozen chains: each look-up scans the hashes (a typed array, in order);
  // past lineIndexTuning.bucketsAfter look-ups the lines are chained per hash bucket once, in order
  let head: Int32Array | undefined;
  let nextLine: Int32Array | undefined;
  let mask = 0;
  let lookups = 0;
  const buckets = () => {
    const bits = Math.max(10, Math.min(22, 32 - Math.clz32(n)));
    mask = (1 << bits) - 1;
    const hd = new Int32Array(mask + 1).fill(-1);
    const nx = new Int32Array(n);
    for (let idx = n - 1; idx >= 0; idx--) {
      if (kind[idx] === 0) continue;
      const bkt = hash[idx]! & mask;
      nx[idx] = hd[bkt]!;
      hd[bkt] = idx;
    }
    head = hd;
    nextLine = nx;
  };
  /** lines of kind k naming chain `name` in table t, in order */
  const linesOf = (k: number, t: number, name: string): number[] => {
    const h = nameHash(name);
    const out: number[] = [];
    if (head === undefined && ++lookups > lineIndexTuning.bucketsAfter) buckets();
    if (head === undefined || nextLine === undefined) {
      for (let idx = hash.indexOf(h); idx >= 0; idx = hash.indexOf(h, idx + 1))
        if (kind[idx] === k && tableOf[idx] === t && isName(idx, name)) out.push(idx);
      return out;
    }
    for (let idx = head[h & mask]!; idx >= 0; idx = nextLine[idx]!)
      if (hash[idx] === h && kind[idx] === k && tableOf[idx] === t && isName(idx, name)) out.push(idx);
    return out;
  };
  return { kind, tableOf, tables, tableIds, complex, unfiled: Int32Array.from(unfiled), linesOf };
}

/**
 * For a question about some frontends (`keep`): which lines of an iptables-save dump can be left
 * out without changing its answer. One pass over the bytes files the plain `-A CHAIN` and
 * `:CHAIN` lines by a hash of their chain name (no string per line); the frontend chains are read
 * (for an IPv4 address, only their rules that can name it: see mayName; for a Service name, only
 * those whose text holds it: see mayComment), then every chain reachable
 * from a rule whose frontend `keep` accepts, transitively (more than the extractor follows, never
 * less), with the declaration of every chain a kept rule names. Everything else (headers, tables,
 * COMMIT, -X/-F/-N, rules with quotes before the chain, over-long lines) is always kept. The parser
 * then sees the same lines for those chains, in the same order, with the same line numbers.
 */
export function iptablesLinesNeeded(
  lines: ByteLines,
  family: Family,
  keep: FrontendKeep,
  narrow: { address?: string; name?: string; wildcard?: boolean } = {},
): { skip: ((idx: number) => boolean) & { kept: Int32Array }; cache: Map<number, RuleLine> } {
  const address = narrow.address;
  const n = lines.length;
  const text = lines.bytes;
  const starts = lines.starts;
  const { kind, tableOf, tables, tableIds, complex, unfiled, linesOf } = lineIndexOf(lines);

  // chains by `table name`: needed (rules kept), named (declaration kept)
  const needed = new Map<string, { t: number; name: string }>();
  const named = new Map<string, { t: number; name: string }>();
  const queue: { t: number; name: string }[] = [];
  const need = (t: number, name: string) => {
    const key = `${t} ${name}`;
    named.set(key, { t, name });
    if (!needed.has(key)) {
      needed.set(key, { t, name });
      queue.push({ t, name });
    }
  };
  const nameIt = (t: number, name: string) => named.set(`${t} ${name}`, { t, name });
  const keptRule = new Uint8Array(n);
  const keptDecl = new Uint8Array(n);
  // the filed lines kept, each once: merged with the unfiled ones below instead of a walk over every line
  const marked: number[] = [];
  const keepRule = (idx: number) => {
    if (keptRule[idx] === 0) marked.push(idx);
    keptRule[idx] = 1;
  };
  const keepDecl = (idx: number) => {
    if (keptDecl[idx] === 0) marked.push(idx);
    keptDecl[idx] = 1;
  };

  // target and frontend of one rule line, read as the parser reads it (and kept for it)
  const cache = new Map<number, RuleLine>();
  const read = (idx: number): { chain?: string; target?: string; front?: Frontish; comment?: string } => {
    const rl = readRuleLine(lines.at(idx).trim());
    cache.set(idx, rl);
    if (!rl.tk || !rl.opts) return {};
    const p = rl.opts;
    const out: { chain?: string; target?: string; front?: Frontish; comment?: string } = {
      chain: rl.tk.tokens[1]!,
      front: ruleFrontend({ matches: p.matches } as IptablesRule, family),
    };
    if (p.target) out.target = p.target.name;
    if (p.comment !== undefined) out.comment = p.comment;
    return out;
  };
  const any = family === 4 ? '0.0.0.0' : '::';
  const root = (t: number, r: ReturnType<typeof read>) => {
    if (r.target === undefined) return;
    nameIt(t, r.target);
    const f = r.front ?? {};
    const addr = r.chain === 'KUBE-NODEPORTS' ? any : f.addr;
    if (tables[t] !== 'nat' || addr === undefined || f.proto === undefined || f.port === undefined) return;
    if (keep({ address: addr, port: f.port, proto: f.proto }, commentServiceName(r.comment))) need(t, r.target);
  };
  const mayAddress = address !== undefined && family === 4 && address !== any ? mayName(address) : undefined;
  // the wildcard NodePort question asked beside the address (a trace to address:port): a line that may give the
  // frontend 0.0.0.0 is read too (mayZero)
  const zero = mayAddress !== undefined && narrow.wildcard === true ? mayZero() : undefined;
  const may =
    zero === undefined ? mayAddress : (b: Uint8Array, s: number, e: number) => mayAddress!(b, s, e) || zero(b, s, e);
  // by name (IPv4: mayName exists for its second step): the rules naming it, then every rule that may
  // hold one of their frontends, as an address question would read them
  const byName = narrow.name !== undefined && family === 4 ? mayComment(narrow.name) : undefined;
  const later: { t: number; idx: number }[] = [];
  const fronts = new Set<string>();
  for (const [tn, chains] of Object.entries(FRONTEND_CHAINS)) {
    const t = tableIds.get(tn);
    if (t === undefined) continue;
    for (const c of chains) {
      nameIt(t, c);
      needed.set(`${t} ${c}`, { t, name: c });
      for (const idx of linesOf(RULE, t, c)) {
        if (may && !may(text, starts[idx]!, starts[idx + 1]! - 1)) continue;
        if (byName && !byName.test(text, starts[idx]!, starts[idx + 1]! - 1, idx)) {
          later.push({ t, idx });
          continue;
        }
        keepRule(idx);
        const r = read(idx);
        if (r.front?.addr !== undefined && r.front.addr !== any) fronts.add(r.front.addr);
        root(t, r);
      }
    }
  }
  if (later.length > 0 && fronts.size > 0 && byName) {
    // mayName(front) of each line left for later: a search of the lines byName kept (mayHoldKeeping)
    const held = new Set<number>();
    for (const f of fronts) for (const idx of byName.holding(mayText(f))) held.add(idx);
    for (const { t, idx } of later)
      if (held.has(idx)) {
        keepRule(idx);
        root(t, read(idx));
      }
  }
  // rules the index could not file: always kept, so their targets are named; frontend ones are roots
  for (const idx of complex) {
    const t = tableOf[idx]!;
    if (t < 0 || !/^\s*(\[\d+:\d+\]\s+)?-/.test(lines.at(idx))) continue;
    const r = read(idx);
    if (r.chain !== undefined && FRONTEND_CHAINS[tables[t]!]?.includes(r.chain)) root(t, r);
    else if (r.target !== undefined) nameIt(t, r.target);
  }
  const done = new Set<string>();
  for (;;) {
    while (queue.length > 0) {
      const { t, name } = queue.pop()!;
      if (done.has(`${t} ${name}`)) continue;
      done.add(`${t} ${name}`);
      for (const idx of linesOf(RULE, t, name)) {
        keepRule(idx);
        const r = read(idx);
        if (r.target !== undefined) need(t, r.target);
      }
    }
    // a named chain that only exists through its rules (never declared): the parser knows it by
    // those rules, so they stay
    for (const { t, name } of [...named.values()]) {
      if (needed.has(`${t} ${name}`) || linesOf(DECL, t, name).some((i) => declares(lines.at(i)))) continue;
      if (linesOf(RULE, t, name).length > 0) need(t, name);
    }
    if (queue.length === 0) break;
  }
  for (const { t, name } of named.values()) for (const idx of linesOf(DECL, t, name)) keepDecl(idx);
  const skip = (idx: number): boolean => {
    const kd = kind[idx];
    if (kd === 0) return false;
    return kd === RULE ? keptRule[idx] === 0 : keptDecl[idx] === 0;
  };
  // the lines not skipped, in order: the parser walks these instead of asking skip about each line. A line is
  // kept when it is unfiled (kind 0) or marked (a mark is only ever set on a line of its own kind)
  const filed = Int32Array.from(marked).sort();
  const kept = new Int32Array(unfiled.length + filed.length);
  let m = 0;
  for (let a = 0, b = 0; a < unfiled.length || b < filed.length; )
    kept[m++] = b >= filed.length || (a < unfiled.length && unfiled[a]! < filed[b]!) ? unfiled[a++]! : filed[b++]!;
  return { skip: Object.assign(skip, { kept: kept.slice(0, m) }), cache };
}

/** A declaration line the parser accepts. */
function declares(line: string): boolean {
  return /^:(\S+)\s+(\S+)(?:\s+(\[\d+:\d+\]))?$/.test(line.trim());
}

/**
 * Whether a rule line (bytes [s, e)) can give the IPv4 frontend `address`: canonPrefix only maps
 * the address written in full, or with its trailing zero octets left out (`10.96/32` for
 * 10.96.0.0), to address/32; so the argument of -d holds the address up to its last non-zero
 * octet. Without a backslash, a token is the line's characters minus quotes: a line whose text,
 * quotes removed, lacks that, and that has a destination option at all, cannot give the address.
 * (A line without -d can give no address either, but such a line in KUBE-SERVICES is the NodePort
 * hook the extractor looks for, so it is read.)
 */
const DST_OPTS = ['-d', '--destination', '--dst'].map((o) => Buffer.from(o, 'latin1'));
const HOOK = Buffer.from('KUBE-NODEPORTS', 'latin1');
const blank = (c: number | undefined) => c === 32 || c === 9;

/** A destination option word, blanks (or the line's ends) on both sides. */
function hasDstOption(line: Buffer): boolean {
  for (const o of DST_OPTS)
    for (let at = line.indexOf(o); at >= 0; at = line.indexOf(o, at + 1))
      if ((at === 0 || blank(line[at - 1])) && (at + o.length === line.length || blank(line[at + o.length])))
        return true;
  return false;
}

export function mayName(address: string): (b: Uint8Array, s: number, e: number) => boolean {
  return mayHold(mayText(address));
}

/** The text mayName looks for: the address up to its last non-zero octet. */
function mayText(address: string): string {
  let p = address;
  while (p.endsWith('.0') && p.split('.').length > 1) p = p.slice(0, -2);
  return p;
}

/**
 * Whether the rule line b[s, e) must be read: it has a backslash (escapes: read it whole), names
 * KUBE-NODEPORTS, has no destination option, or holds `text` once its quotes are removed.
 * One pass of plain byte compares per line (mayHoldByIndexOf, the same rule with Buffer searches, is the
 * tests' reference: a question reads ~10,000 KUBE-SERVICES lines, and a native search per check cost more
 * than the checks).
 */
function mayHold(text: string): (b: Uint8Array, s: number, e: number) => boolean {
  const pat = Buffer.from(text, 'latin1');
  let scratch = Buffer.allocUnsafe(4096);
  return (b, s, e) => {
    // the line without its quotes: a token is made of these characters (no backslash). A -d that
    // is only inside a quoted comment counts as an option here; such a line has no destination, so
    // leaving it unread when it lacks the text is sound too
    if (e - s > scratch.length) scratch = Buffer.allocUnsafe(e - s);
    let m = 0;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c === 92) return true;
      if (c !== 34 && c !== 39) scratch[m++] = c;
    }
    if (holds(scratch, m, HOOK) || !dstWord(scratch, m)) return true;
    return holds(scratch, m, pat);
  };
}

/** Whether `needle` lies in h[from, m) (an empty needle does, as Buffer.indexOf has it). */
function holds(h: Uint8Array, m: number, needle: Uint8Array, from = 0): boolean {
  const k = needle.length;
  if (k === 0) return true;
  const first = needle[0]!;
  next: for (let i = from; i + k <= m; i++) {
    if (h[i] !== first) continue;
    for (let j = 1; j < k; j++) if (h[i + j] !== needle[j]) continue next;
    return true;
  }
  return false;
}

/** Whether a word of h[from, m) (between blanks or the ends) is a destination option: hasDstOption's rule. */
function dstWord(h: Uint8Array, m: number, from = 0): boolean {
  let i = from;
  while (i < m) {
    while (i < m && blank(h[i])) i++;
    const a = i;
    while (i < m && !blank(h[i])) i++;
    const n = i - a;
    if (n !== 2 && n !== 5 && n !== 13) continue;
    for (const o of DST_OPTS) if (o.length === n && sameAt(h, a, o)) return true;
  }
  return false;
}

const sameAt = (h: Uint8Array, a: number, o: Uint8Array) => {
  for (let k = 0; k < o.length; k++) if (h[a + k] !== o[k]) return false;
  return true;
};

/**
 * mayHold(text), keeping each line it leaves out with its quotes removed (`test`), so that a second question about
 * those lines, whether they may hold another text, is one native search of what was kept (`holding`) instead of a
 * second pass over every line: a line mayHold(text) leaves out has no backslash, no KUBE-NODEPORTS and a destination
 * option, so mayHold(other) of it is whether its quote-free text holds `other`. By name, the second step asks that of
 * ~10,000 KUBE-SERVICES lines for each frontend address the name has.
 */
export function mayHoldKeeping(text: string): {
  test: (b: Uint8Array, s: number, e: number, idx: number) => boolean;
  holding: (other: string) => Set<number>;
} {
  const pat = Buffer.from(text, 'latin1');
  // the kept lines, quote-free, each ended by a newline (no kept line holds one); ends[k] is after line ids[k]'s
  let store = Buffer.allocUnsafe(1 << 16);
  let used = 0;
  const ends: number[] = [];
  const ids: number[] = [];
  const test = (b: Uint8Array, s: number, e: number, idx: number): boolean => {
    if (used + (e - s) + 1 > store.length) {
      const g = Buffer.allocUnsafe(Math.max(store.length * 2, used + (e - s) + 1));
      store.copy(g, 0, 0, used);
      store = g;
    }
    // mayHold's pass, written after the lines kept so far
    let m = used;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c === 92) return true;
      if (c !== 34 && c !== 39) store[m++] = c;
    }
    if (holds(store, m, HOOK, used) || !dstWord(store, m, used) || holds(store, m, pat, used)) return true;
    store[m] = 10;
    used = m + 1;
    ends.push(used);
    ids.push(idx);
    return false;
  };
  const holding = (other: string): Set<number> => {
    const o = Buffer.from(other, 'latin1');
    const out = new Set<number>();
    const kept = store.subarray(0, used);
    if (o.length === 0 || o.includes(10)) {
      // every line holds the empty text; a text with a newline: line by line
      for (let k = 0, a = 0; k < ids.length; a = ends[k++]!) if (holds(kept, ends[k]! - 1, o, a)) out.add(ids[k]!);
      return out;
    }
    // a hit lies inside one kept line (neither holds a newline): its line is the first that ends after it
    let k = 0;
    for (let p = kept.indexOf(o); p >= 0; p = kept.indexOf(o, ends[k]!)) {
      let lo = k;
      let hi = ends.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ends[mid]! > p) hi = mid;
        else lo = mid + 1;
      }
      k = lo;
      out.add(ids[k]!);
    }
    return out;
  };
  return { test, holding };
}

/** mayHold with Buffer searches (the rule as first written): the reference of the tests. */
export function mayHoldByIndexOf(text: string): (b: Uint8Array, s: number, e: number) => boolean {
  const pat = Buffer.from(text, 'latin1');
  return (b, s, e) => {
    const kept: number[] = [];
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c === 92) return true;
      if (c !== 34 && c !== 39) kept.push(c);
    }
    const line = Buffer.from(kept);
    if (line.indexOf(HOOK) >= 0 || !hasDstOption(line)) return true;
    return line.indexOf(pat) >= 0;
  };
}

/** mayHold itself (tests hold it to mayHoldByIndexOf). */
export const mayHoldForTest = mayHold;

function ws(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Whether a rule line (bytes [s, e)) can give the IPv4 frontend 0.0.0.0, which canonPrefix makes only of an argument
 * starting with `0` (`0.0.0.0/32`, `0/32`, `0.0/32`, ...). Read as mayHold reads a line: a backslash and it is read
 * whole; without quotes, an argument of -d is a token of its own, so its `0` follows a byte that cannot be inside
 * an address (anything but a letter, a digit, `.` or `:`), or starts the line. A line without such a `0` cannot.
 */
function mayZero(): (b: Uint8Array, s: number, e: number) => boolean {
  const inAddr = (c: number) => (c >= 48 && c <= 58) || c === 46 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  return (b, s, e) => {
    let prev = -1;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c === 92) return true;
      // quotes are not part of a token: the byte before them is
      if (c === 34 || c === 39) continue;
      if (c === 48 && (prev < 0 || !inAddr(prev))) return true;
      prev = c;
    }
    return false;
  };
}

/** `[digits:digits]` at text[i..e): the index after it, or -1. */
function countersAt(text: Uint8Array, i: number, e: number): number {
  if (text[i]! !== 91) return -1;
  let j = i + 1;
  const d0 = j;
  while (j < e && text[j]! >= 48 && text[j]! <= 57) j++;
  if (j === d0 || text[j]! !== 58) return -1;
  const d1 = ++j;
  while (j < e && text[j]! >= 48 && text[j]! <= 57) j++;
  if (j === d1 || text[j]! !== 93) return -1;
  return j + 1;
}

function _sameText(text: Uint8Array, a: number, b: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (text[a + k] !== text[b + k]) return false;
  return true;
}

/**
 * For a question by name (`namespace/name`): kube-proxy names a frontend only in its rule's comment,
 * whose first word is `namespace/name[:port]` (commentServiceName). Namespace and Service names are
 * DNS labels, so that word needs no quoting or escape: a rule with a destination whose text, quotes
 * removed, lacks `namespace/name` and has no backslash cannot carry it. Rules without a destination
 * and KUBE-SERVICES' jump to KUBE-NODEPORTS are read as mayName reads them. A rule this leaves out
 * may still be the first for a frontend the name has (the first rule makes the entry):
 * iptablesLinesNeeded reads those by address afterwards, searching the lines this left out (mayHoldKeeping).
 */
export function mayComment(name: string): ReturnType<typeof mayHoldKeeping> {
  return mayHoldKeeping(name);
}
