import { isAscii } from 'node:buffer';
import type { ConntrackEntry, CtTupleView } from '../../model/conntrack.js';
import type { Family, Warning } from '../../model/types.js';
import { canonIp, plainV4At } from '../../model/addr.js';
import { cleanText } from '../common.js';
import { ParseError } from '../parse-error.js';
import { byteSearch, REC, type ByteSearch } from '../text/byte-search.js';
import { toolErrorText } from '../tool-error.js';
import { fastDnat, fastEntry, loadFast, readFast } from './fast.js';
import { CtAddrs, CtNotes, handleLine, natOf, ntopV6, type ConntrackParse } from './parse.js';

/**
 * Filtering while scanning: a conntrack table can hold a million entries (200 MB). The scanner
 * never materialises what the query rejects: it searches the raw bytes for the query's address
 * (or port), reads only the lines that contain it, rejects most of those on a cheap tuple view,
 * and fully parses the rest. Every step before the full parse is a necessary condition of the
 * final test, so the result equals parse-everything-then-filter (test/tools/conntrack/scan.test.ts).
 */
export interface ConntrackQuery {
  /** an address (any spelling) that must be one of the four tuple addresses */
  address?: string;
  /** a port that must be one of the four tuple ports */
  port?: number;
  /** l4 protocol name as conntrack prints it: tcp, udp, icmp, icmpv6, sctp, ... */
  proto?: string;
  family?: Family;
  /** `any`: DNAT or SNAT; `none`: neither */
  nat?: 'dnat' | 'snat' | 'any' | 'none';
  /** any further test on the cheap view (addresses canonical, ports numbers) */
  where?: (v: CtTupleView) => boolean;
}

export function viewOf(e: ConntrackEntry): CtTupleView {
  const t = (x: ConntrackEntry['orig']) => ({
    src: x.src,
    dst: x.dst,
    ...(x.sport !== undefined ? { sport: x.sport } : {}),
    ...(x.dport !== undefined ? { dport: x.dport } : {}),
  });
  return { proto: e.proto, orig: t(e.orig), reply: t(e.reply) };
}

export function matchesView(v: CtTupleView, q: ConntrackQuery, addr?: string): boolean {
  if (q.proto !== undefined && v.proto !== q.proto) return false;
  if (q.family !== undefined && (v.orig.src.includes(':') ? 6 : 4) !== q.family) return false;
  if (addr !== undefined && v.orig.src !== addr && v.orig.dst !== addr && v.reply.src !== addr && v.reply.dst !== addr)
    return false;
  if (
    q.port !== undefined &&
    v.orig.sport !== q.port &&
    v.orig.dport !== q.port &&
    v.reply.sport !== q.port &&
    v.reply.dport !== q.port
  )
    return false;
  if (q.nat !== undefined) {
    const n = natOf(v);
    const hit =
      q.nat === 'dnat' ? n.dnat : q.nat === 'snat' ? n.snat : q.nat === 'any' ? n.dnat || n.snat : !n.dnat && !n.snat;
    if (!hit) return false;
  }
  return q.where === undefined || q.where(v);
}

/** The reference semantics of a query on a parsed entry. */
export function matchesEntry(e: ConntrackEntry, q: ConntrackQuery): boolean {
  return matchesView(viewOf(e), q, queryAddress(q));
}

function queryAddress(q: ConntrackQuery): string | undefined {
  if (q.address === undefined) return undefined;
  const c = canonIp(q.address);
  if (c === null) throw new Error(`conntrack query: ${JSON.stringify(q.address)} is not an address`);
  return c;
}

function valueAt(line: string, key: string, from: number, to: number): string | undefined {
  const at = line.indexOf(key, from);
  if (at < 0 || at >= to) return undefined;
  const s = at + key.length;
  const e = line.indexOf(' ', s);
  return line.slice(s, e < 0 ? line.length : e);
}

/**
 * Protocol, addresses and ports of a raw line without a full parse; undefined when the line is
 * not in the plain space-separated shape (the caller then parses it fully).
 */
export function cheapView(line: string, addrs: CtAddrs): CtTupleView | undefined {
  if (line.includes('\t')) return undefined;
  const s = line.trimStart();
  const sp = s.indexOf(' ');
  if (sp < 0) return undefined;
  let proto = s.slice(0, sp);
  if (proto === 'ipv4' || proto === 'ipv6') {
    const m = /^ipv[46] +\d+ +(\S+)/.exec(s);
    if (!m) return undefined;
    proto = m[1]!;
  }
  const o = line.indexOf(' src=');
  if (o < 0) return undefined;
  const r = line.indexOf(' src=', o + 5);
  if (r < 0) return undefined;
  const end = line.length;
  const os = valueAt(line, ' src=', o, o + 1);
  const od = valueAt(line, ' dst=', o, r);
  const rs = valueAt(line, ' src=', r, r + 1);
  const rd = valueAt(line, ' dst=', r, end);
  if (os === undefined || od === undefined || rs === undefined || rd === undefined) return undefined;
  const a = [os, od, rs, rd].map((x) => addrs.get(x));
  if (a.some((x) => typeof x === 'string')) return undefined;
  const [A, B, C, D] = a as { ip: string }[];
  const port = (key: string, from: number, to: number): number | undefined => {
    const v = valueAt(line, key, from, to);
    return v === undefined ? undefined : Number(v);
  };
  const v: CtTupleView = { proto, orig: { src: A!.ip, dst: B!.ip }, reply: { src: C!.ip, dst: D!.ip } };
  const osp = port(' sport=', o, r);
  const odp = port(' dport=', o, r);
  const rsp = port(' sport=', r, end);
  const rdp = port(' dport=', r, end);
  if (osp !== undefined) v.orig.sport = osp;
  if (odp !== undefined) v.orig.dport = odp;
  if (rsp !== undefined) v.reply.sport = rsp;
  if (rdp !== undefined) v.reply.dport = rdp;
  return v;
}

export interface ScanOptions {
  probe: string;
  /** stop after this many matching entries (the result says `cut`) */
  maxEntries?: number;
  /**
   * false: no byte pre-filter for a `{ nat: 'dnat' }` query (every line decoded, as before it existed). Only the
   * differential test sets it, to compare the two.
   */
  lean?: boolean;
  /**
   * Each matching entry, in order, handed over instead of kept: `entries` stays empty and `matched`
   * counts them. For a caller that folds the entries (a count, a summary) over a table of any size:
   * nothing of a line outlives it, so time and memory do not grow with what was kept (a million kept
   * entries cost ~600 MB and garbage collection that grows faster than the table).
   */
  onEntry?: (e: ConntrackEntry) => void;
  /**
   * The matching entries only counted (`matched`, `cut` and the warnings as usual, `entries` empty): a line
   * in the usual shape (fast.ts) is then checked without building its entry. diff's before side.
   */
  count?: boolean;
  /**
   * false: search each region with Buffer.indexOf even where the SIMD byte search exists. Only the
   * differential tests set it, to compare the two paths.
   */
  simd?: boolean;
  /**
   * false: every NATed line is read by parseConntrackLine, none by fast.ts. Only the differential tests set it,
   * to compare the two.
   */
  fast?: boolean;
}

export interface ScanResult {
  entries: ConntrackEntry[];
  warnings: Warning[];
  /** lines read (all of them, matching or not) */
  lines: number;
  /** lines that reached the full parse */
  parsed: number;
  bytes: number;
  summaryCount?: number;
  /** maxEntries was reached: more entries may match */
  cut: boolean;
  /** entries that matched (kept in `entries`, or handed to onEntry) */
  matched: number;
}

const NL = 10;
/** regions shorter than this are searched with indexOf (the SIMD search of a few hundred bytes costs more) */
const SIMD_MIN = 1024;
const MAX_LINE = 1 << 20;

/**
 * Push-style scanner over the bytes of a conntrack listing. Chunks may split lines anywhere.
 */
export class ConntrackScanner {
  private carry: Buffer = Buffer.alloc(0);
  /** the query's address (or port) text as it can appear in a line: `=10.0.0.1`, `port=80` */
  private readonly needles: Buffer[];
  private readonly addr: string | undefined;
  private readonly addrs = new CtAddrs();
  private readonly notes: CtNotes;
  private readonly out: ConntrackParse = { entries: [] };
  private lines = 0;
  private parsed = 0;
  private bytes = 0;
  private known = 0;
  private unknown = 0;
  private matched = 0;
  done = false;
  private cut = false;
  /** inside a line longer than MAX_LINE: bytes are dropped up to its newline */
  private dropping = false;
  /** false once a region was searched for needles only: unread lines cannot prove "not conntrack" */
  private readAll: boolean;
  /** the first bytes, to tell conntrack's own error message (a failed run pasted as its output) from no entries */
  private head = '';
  /** any entry-shaped text (every entry has `src=`): then the output is a table, whatever its first line says */
  private sawSrc = false;
  /** the query is `{ nat: 'dnat' }` alone: lines without destination NAT are told from their bytes (dnatSkip) */
  private readonly natOnly: boolean;
  /** false: every line natRegion does not skip goes through line() (ScanOptions.fast) */
  private readonly fast: boolean;
  /** the SIMD search of this thread; undefined: every region is searched with Buffer.indexOf */
  private readonly search: ByteSearch | undefined;

  constructor(
    private readonly q: ConntrackQuery,
    private readonly opts: ScanOptions,
  ) {
    this.notes = new CtNotes(opts.probe);
    this.addr = queryAddress(q);
    const texts: string[] = [];
    if (this.addr !== undefined) {
      // every spelling the parser accepts for this address: canonical, and inet_ntop's dotted tail
      texts.push(`=${this.addr}`);
      if (this.addr.includes(':') && ntopV6(this.addr) !== this.addr) texts.push(`=${ntopV6(this.addr)}`);
    } else if (q.port !== undefined) texts.push(`port=${q.port}`);
    // one search pass per spelling; the summary line is not searched for (its count only matters unfiltered)
    this.needles = texts.map((t) => Buffer.from(t));
    this.readAll = this.needles.length === 0;
    this.natOnly =
      opts.lean !== false &&
      q.nat === 'dnat' &&
      q.address === undefined &&
      q.port === undefined &&
      q.proto === undefined &&
      q.family === undefined &&
      q.where === undefined;
    this.search = opts.simd === false ? undefined : byteSearch();
    this.fast = opts.fast !== false;
  }

  push(chunk: Buffer | string): void {
    if (this.done) return;
    let c = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.head.length < 4096) this.head += c.subarray(0, 4096 - this.head.length).toString('utf8');
    if (!this.sawSrc && c.includes('src=')) this.sawSrc = true;
    this.bytes += c.length;
    if (this.dropping) {
      const nl = c.indexOf(NL);
      if (nl < 0) return;
      this.dropping = false;
      c = c.subarray(nl + 1);
    }
    if (this.carry.length) {
      // finish the line the last chunk cut, without copying the whole new chunk
      const nl = c.indexOf(NL);
      if (nl >= 0) {
        const line = Buffer.concat([this.carry, c.subarray(0, nl + 1)]);
        this.carry = Buffer.alloc(0);
        this.region(line, line.length, true);
        if (this.done) return;
        c = c.subarray(nl + 1);
      }
    }
    const buf = this.carry.length ? Buffer.concat([this.carry, c]) : c;
    const last = buf.lastIndexOf(NL);
    if (last < 0) {
      // a copy: the caller may reuse the chunk's memory for the next one (fileChunks)
      this.carry = buf === c ? Buffer.from(c) : buf;
      if (buf.length > MAX_LINE) {
        // no conntrack line is near this long: skip it without holding it
        this.lines++;
        this.notes.skip(this.lines, `a line longer than ${MAX_LINE} bytes`, buf.subarray(0, 100).toString('utf8'));
        this.unknown++;
        this.carry = Buffer.alloc(0);
        this.dropping = true;
      }
      return;
    }
    this.carry = Buffer.from(buf.subarray(last + 1));
    this.region(buf, last + 1, true);
  }

  end(): ScanResult {
    if (!this.done && this.carry.length) {
      this.region(this.carry, this.carry.length, false);
    }
    this.carry = Buffer.alloc(0);
    if (!this.sawSrc) {
      const said = toolErrorText(this.head);
      if (said !== undefined) throw new ParseError(this.opts.probe, `conntrack: ${said}`);
    }
    if (this.readAll && this.known === 0 && this.unknown > 0)
      throw new ParseError(this.opts.probe, 'no line in the shape of `conntrack -L` output');
    const o = this.out;
    if (
      !this.cut &&
      o.summaryCount !== undefined &&
      this.needles.length === 0 &&
      this.q.where === undefined &&
      noFilter(this.q) &&
      o.summaryCount !== this.matched &&
      this.notes.skipped === 0
    )
      this.notes.add(
        'conntrack-count-mismatch',
        `conntrack reported ${o.summaryCount} entries, ${this.matched} are in the output (cut or edited?)`,
      );
    const r: ScanResult = {
      entries: o.entries,
      warnings: this.notes.done(),
      lines: this.lines,
      parsed: this.parsed,
      bytes: this.bytes,
      cut: this.cut,
      matched: this.matched,
    };
    if (o.summaryCount !== undefined) r.summaryCount = o.summaryCount;
    return r;
  }

  /** buf[0, end): whole lines (terminated) or the unterminated tail. */
  private region(buf: Buffer, end: number, terminated: boolean): void {
    // a short region (the line a piece cut, a tiny piece) costs the SIMD pass more to set up than to search
    if (
      this.search !== undefined &&
      end >= SIMD_MIN &&
      this.needles.length > 0 &&
      !this.natOnly &&
      this.simdRegion(buf, end, terminated)
    )
      return;
    if (buf.indexOf(0) >= 0 && buf.indexOf(0) < end)
      throw new ParseError(this.opts.probe, 'binary data (NUL bytes), not conntrack output');
    const esc = buf.indexOf(0x1b);
    const cr = buf.indexOf(0x0d);
    const dirty = (esc >= 0 && esc < end) || (cr >= 0 && cr < end);
    if (!dirty && terminated && this.natOnly && this.natRegion(buf, end)) return;
    if (dirty || this.needles.length === 0) {
      // colour codes can split a needle, a lone CR ends a line: read every line of this region as the full parse does
      let text = buf.toString('utf8', 0, end);
      if (dirty) text = cleanText(text);
      const parts = text.split('\n');
      if (terminated) parts.pop();
      for (let i = 0; i < parts.length && !this.done; i++)
        this.line(parts[i]!, ++this.lines, !terminated && i === parts.length - 1);
      return;
    }
    let pos = 0;
    let counted = 0;
    const needles = this.needles;
    const firsts = needles.map((n) => buf.indexOf(n, 0));
    while (pos < end && !this.done) {
      let hit = -1;
      for (let k = 0; k < firsts.length; k++) {
        if (firsts[k]! >= 0 && firsts[k]! < pos) firsts[k] = buf.indexOf(needles[k]!, pos);
        const f = firsts[k]!;
        if (f >= 0 && f < end && (hit < 0 || f < hit)) hit = f;
      }
      if (hit < 0) break;
      // `=10.0.0.1` inside `=10.0.0.12`, `port=80` inside `port=8080`: a longer word, another value
      let k = 0;
      while (firsts[k] !== hit) k++;
      if (extendsWord(buf[hit + needles[k]!.length])) {
        pos = hit + 1;
        continue;
      }
      const ls = hit === 0 ? 0 : buf.lastIndexOf(NL, hit - 1) + 1;
      let le = buf.indexOf(NL, hit);
      if (le < 0 || le > end) le = end;
      this.lines += countNl(buf, counted, ls);
      counted = ls;
      this.line(buf.toString('utf8', ls, le), this.lines + 1, !terminated && le === end);
      pos = le + 1;
    }
    this.lines += countNl(buf, counted, end);
    if (!terminated) this.lines++;
  }

  /**
   * The region loop above in one SIMD pass per needle (byte-search.ts): the same hits in the same order,
   * each line numbered from the newlines the pass counted before it, and the region's newlines counted by
   * the same pass. false when the region holds a control byte other than the newline: the loop above then
   * checks it exactly (NUL: an error; ESC, CR: every line read; a tab: searched as usual).
   */
  private simdRegion(buf: Buffer, end: number, terminated: boolean): boolean {
    const s = this.search!;
    const needles = this.needles;
    const found = needles.map((n) => s.scan(buf, n, 0, end, NL));
    const first = found[0]!;
    if (first.special) return false;
    // merge the needles' hits by position; at one position the first needle wins, as in the loop above
    const at: number[] = [];
    const nth: number[] = [];
    const before: number[] = [];
    const idx = found.map(() => 0);
    for (;;) {
      let k = -1;
      for (let j = 0; j < found.length; j++) {
        const p = found[j]!.pos[idx[j]!];
        if (p !== undefined && (k < 0 || p < found[k]!.pos[idx[k]!]!)) k = j;
      }
      if (k < 0) break;
      at.push(found[k]!.pos[idx[k]!]!);
      before.push(found[k]!.before[idx[k]!]!);
      nth.push(k);
      idx[k]!++;
    }
    let pos = 0;
    for (let h = 0; h < at.length && !this.done; h++) {
      const hit = at[h]!;
      if (hit < pos) continue;
      if (extendsWord(buf[hit + needles[nth[h]!]!.length])) {
        pos = hit + 1;
        continue;
      }
      const ls = hit === 0 ? 0 : buf.lastIndexOf(NL, hit - 1) + 1;
      let le = buf.indexOf(NL, hit);
      if (le < 0 || le > end) le = end;
      this.line(buf.toString('utf8', ls, le), this.lines + before[h]! + 1, !terminated && le === end);
      pos = le + 1;
    }
    this.lines += first.lines;
    if (!terminated) this.lines++;
    return true;
  }

  /**
   * The whole-line path for `{ nat: 'dnat' }`: a line whose bytes show no destination NAT (see dnatSkip) is
   * counted as known conntrack output without becoming a string; every other line goes through line() as in
   * the region loop above, with the same line numbers.
   */
  private natRegion(buf: Buffer, end: number): boolean {
    // plain ASCII without tabs: each line's latin1 text is its UTF-8 text, and one decode serves the region
    const tab = buf.indexOf(9);
    if ((tab >= 0 && tab < end) || !isAscii(buf.subarray(0, end))) return false;
    if (this.fast && this.search !== undefined && this.natLines(buf, end)) return true;
    const t = buf.toString('latin1', 0, end);
    let ls = 0;
    while (ls < end && !this.done) {
      let le = t.indexOf('\n', ls);
      if (le < 0) le = end;
      this.lines++;
      const plain = this.fast ? plainNatLess(t, ls, le) : -1;
      if (plain === 1 || (plain === -1 && dnatSkip(t, ls, le, this.addrs))) this.known++;
      else if (this.fast && readFast(t, ls, le)) {
        // what line() does with it, without its words: known; kept when NATed (cheapView rejects the rest unparsed)
        this.known++;
        if (fastDnat(t)) {
          this.parsed++;
          this.keep(this.opts.count ? undefined : fastEntry(t, ls, this.lines, this.opts.probe));
        }
      } else this.line(t.slice(ls, le), this.lines, false);
      ls = le + 1;
    }
    return true;
  }

  /**
   * natRegion with plainNatLess answered for every line at once by the SIMD module (ByteSearch.natLines): only the
   * lines it does not answer 1 for (the NATed and the unusual ones) become strings, each read as natRegion reads
   * it; the rest are counted. Where they are many (a table that is mostly NAT) the region is decoded once
   * instead of line by line. false: the module could not take the region (natRegion reads it itself).
   */
  private natLines(buf: Buffer, end: number): boolean {
    const nat = this.search!.natLines(buf, 0, end);
    if (nat === undefined) return false;
    const { quads, recs, count, lines } = nat;
    const base = this.lines;
    const counting = this.opts.count === true;
    // one decode of the region costs less than many of its lines; a line's own string keeps no region alive
    const whole = !counting && count * 4 > lines ? buf.toString('latin1', 0, end) : undefined;
    let next = 0;
    for (let c = 0; c < count && !this.done; c++) {
      const k = quads[4 * c + 2]!;
      const code = quads[4 * c + 3]!;
      this.known += k - next;
      next = k + 1;
      this.lines = base + k + 1;
      // dnatSkip's answer (true) for a plain line without ports: a known line, not kept
      if (code === 2) {
        this.known++;
        continue;
      }
      // read by the module as readFast reads it: what natRegion does with it, the text decoded only for an entry
      if (code === 3) {
        this.known++;
        if (recs[c * REC.size + REC.dnat] !== 1) continue;
        this.parsed++;
        if (counting) {
          this.keep(undefined);
          continue;
        }
        const ls = quads[4 * c]!;
        const t = whole ?? buf.toString('latin1', ls, quads[4 * c + 1]! + 1);
        loadFast(recs, c * REC.size, whole === undefined ? -ls : 0);
        this.keep(fastEntry(t, whole === undefined ? 0 : ls, this.lines, this.opts.probe));
        continue;
      }
      let ls = quads[4 * c]!;
      let le = quads[4 * c + 1]!;
      let t = whole;
      if (t === undefined) {
        // with its newline: the byte after the line is what the region's text has there
        t = buf.toString('latin1', ls, le + 1);
        le -= ls;
        ls = 0;
      }
      if (code === -1 && dnatSkip(t, ls, le, this.addrs)) this.known++;
      else if (readFast(t, ls, le)) {
        this.known++;
        if (fastDnat(t)) {
          this.parsed++;
          this.keep(counting ? undefined : fastEntry(t, ls, this.lines, this.opts.probe));
        }
      } else this.line(t.slice(ls, le), this.lines, false);
    }
    if (!this.done) {
      this.known += lines - next;
      this.lines = base + lines;
    }
    return true;
  }

  private line(trimmed: string, lineNo: number, unterminated: boolean): void {
    if (!trimmed.startsWith('conntrack v')) {
      const v = cheapView(trimmed, this.addrs);
      if (v !== undefined && !matchesView(v, this.q, this.addr)) {
        // a line the query rejects still proves the input is conntrack output
        this.known++;
        return;
      }
    }
    this.parsed++;
    const before = this.out.entries.length;
    const r = handleLine(trimmed, lineNo, this.opts.probe, this.addrs, this.notes, this.out, unterminated);
    if (r === 'known') this.known++;
    else if (r === 'unknown') this.unknown++;
    if (this.out.entries.length > before) {
      const e = this.out.entries.pop()!;
      if (matchesView(viewOf(e), this.q, this.addr)) this.keep(e);
    }
  }

  /** A matching entry (undefined: counted, not built): kept, handed over, counted, or the cut. */
  private keep(e: ConntrackEntry | undefined): void {
    if (this.opts.maxEntries !== undefined && this.matched >= this.opts.maxEntries) {
      this.cut = true;
      this.done = true;
      return;
    }
    this.matched++;
    if (e === undefined || this.opts.count) return;
    if (this.opts.onEntry !== undefined) this.opts.onEntry(e);
    else this.out.entries.push(e);
  }
}

/**
 * True only when line() would read t[ls, le) as a valid entry the query `{ nat: 'dnat' }` rejects: cheapView
 * gives a view (two tuples with src= and dst=, four addresses CtAddrs accepts, the `ipvN N` head when there is
 * one) and it shows no DNAT (the reply's source is the original destination, character for character, and so is
 * the reply's source port when the original has a destination port). Anything else — NAT, an unusual line, a
 * different spelling of the same address — is false, and the line is read in full. `t` is ASCII without tabs
 * (natRegion).
 */
export function dnatSkip(t: string, ls: number, le: number, addrs: CtAddrs): boolean {
  const c0 = t.charCodeAt(ls);
  // a letter starts every entry; the summary line and anything else go the full way
  if (ls >= le || c0 < 97 || c0 > 122) return false;
  if (c0 === 99 && t.startsWith('conntrack v', ls)) return false;
  // cheapView's `ipv4 2 tcp` head: spaces, digits, spaces, then a word
  if (c0 === 105 && (hasAt(t, ls, 'ipv4 ') || hasAt(t, ls, 'ipv6 '))) {
    let i = ls + 4;
    while (i < le && t.charCodeAt(i) === 32) i++;
    const d = i;
    while (i < le && isDigit(t.charCodeAt(i))) i++;
    if (i === d || i >= le || t.charCodeAt(i) !== 32) return false;
    while (i < le && t.charCodeAt(i) === 32) i++;
    // \S: ASCII above the space (control characters are not expected: read in full)
    if (i >= le || t.charCodeAt(i) <= 32) return false;
  }
  const o = srcAt(t, ls, le);
  if (o < 0) return false;
  const r = srcAt(t, o + 5, le);
  if (r < 0) return false;
  // a key's first match after a value's start is at or past the value's end (values hold no space): the next
  // key where conntrack prints it is tried first, the search is the fallback, the answer is the search's
  const oEnd = valueEnd(t, o + 5, le);
  const od = next(t, ' dst=', oEnd, o, le);
  if (od < 0 || od >= r) return false;
  const rsEnd = valueEnd(t, r + 5, le);
  const rd = next(t, ' dst=', rsEnd, r, le);
  if (rd < 0) return false;
  const odEnd = valueEnd(t, od + 5, le);
  const rdEnd = valueEnd(t, rd + 5, le);
  // the reply comes from another address (or another spelling): maybe DNAT, read in full
  if (!same(t, od + 5, odEnd, r + 5, rsEnd)) return false;
  // `src= dst= sport=` in a row rule out a ` dport=` before the guess
  const osp = od === oEnd && hasAt(t, odEnd, ' sport=') ? valueEnd(t, odEnd + 7, le) : -1;
  const odp = osp >= 0 ? next(t, ' dport=', osp, o, le) : at(t, ' dport=', o, le);
  if (odp >= 0 && odp < r) {
    const rsp = rd === rsEnd ? next(t, ' sport=', rdEnd, r, le) : at(t, ' sport=', r, le);
    if (rsp < 0) return false;
    const a = odp + 7;
    const aEnd = valueEnd(t, a, le);
    const b = rsp + 7;
    // equal digit strings are equal numbers; '', a sign or anything else (Number('') is 0) is read in full
    if (aEnd === a || !same(t, a, aEnd, b, valueEnd(t, b, le))) return false;
    for (let i = a; i < aEnd; i++) if (!isDigit(t.charCodeAt(i))) return false;
  }
  // every address must be one cheapView accepts, or line() would read the line in full and warn about it
  return addrAt(t, o + 5, oEnd, addrs) && addrAt(t, od + 5, odEnd, addrs) && addrAt(t, rd + 5, rdEnd, addrs);
}

/**
 * dnatSkip for the usual line, each character of its fields read once: 1 where dnatSkip answers true, 0 where it
 * answers false, -1 where this cannot tell (then dnatSkip is asked). The usual line: both tuples `src= dst= sport=
 * dport=` in a row with dotted quads. dnatSkip, by contrast, finds each value's end, then compares it, then checks
 * it is an address: three or four passes over the same characters.
 */
export function plainNatLess(t: string, ls: number, le: number): 1 | 0 | -1 {
  const c0 = t.charCodeAt(ls);
  if (ls >= le || c0 < 97 || c0 > 122) return -1;
  if (c0 === 105 && (hasAt(t, ls, 'ipv4 ') || hasAt(t, ls, 'ipv6 '))) {
    // dnatSkip's head check, as there
    let i = ls + 4;
    while (i < le && t.charCodeAt(i) === 32) i++;
    const d = i;
    while (i < le && isDigit(t.charCodeAt(i))) i++;
    if (i === d || i >= le || t.charCodeAt(i) !== 32) return -1;
    while (i < le && t.charCodeAt(i) === 32) i++;
    if (i >= le || t.charCodeAt(i) <= 32) return -1;
  } else if (c0 === 99) return -1;
  const o = srcAt(t, ls, le);
  if (o < 0) return -1;
  const r = srcAt(t, o + 5, le);
  if (r < 0) return -1;
  // dnatSkip's positions: each key where conntrack prints it, so its guesses hold and its searches are not needed
  const oEnd = v4End(t, o + 5, le);
  if (oEnd < 0 || !hasAt(t, oEnd, ' dst=')) return -1;
  const odEnd = v4End(t, oEnd + 5, le);
  if (odEnd < 0) return -1;
  // the reply's source against the original destination (a dotted quad, so the reply's is one too when equal)
  const n = odEnd - oEnd - 5;
  const rsEnd = r + 5 + n;
  if (!sameAt(t, oEnd + 5, r + 5, n) || (rsEnd < le && t.charCodeAt(rsEnd) !== 32)) return 0;
  if (!hasAt(t, rsEnd, ' dst=')) return -1;
  const rdEnd = v4End(t, rsEnd + 5, le);
  if (rdEnd < 0 || !hasAt(t, odEnd, ' sport=')) return -1;
  const osp = valueEnd(t, odEnd + 7, le);
  if (!hasAt(t, osp, ' dport=') || !hasAt(t, rdEnd, ' sport=')) return -1;
  // the ports: digits only (dnatSkip: anything else is read in full), the reply's the same digits
  const a = osp + 7;
  let aEnd = a;
  while (aEnd < le && isDigit(t.charCodeAt(aEnd))) aEnd++;
  if (aEnd === a || (aEnd < le && t.charCodeAt(aEnd) !== 32)) return 0;
  const b = rdEnd + 7;
  const bEnd = b + aEnd - a;
  return sameAt(t, a, b, aEnd - a) && (bEnd >= le || t.charCodeAt(bEnd) === 32) ? 1 : 0;
}

/** End of a dotted quad (plainV4At's rule) that starts at s and ends at a space or le; -1 otherwise. */
function v4End(t: string, s: number, le: number): number {
  let i = s;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= le || t.charCodeAt(i) !== 46) return -1;
      i++;
    }
    const st = i;
    let v = 0;
    while (i < le) {
      const c = t.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + c - 48;
      i++;
    }
    const len = i - st;
    if (len === 0 || len > 3 || (len > 1 && t.charCodeAt(st) === 48) || v > 255) return -1;
  }
  return i >= le || t.charCodeAt(i) === 32 ? i : -1;
}

function sameAt(t: string, a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (t.charCodeAt(a + i) !== t.charCodeAt(b + i)) return false;
  return true;
}

/** at(t, needle, from, to), tried first at `guess`: the caller knows the needle is not in [from, guess). */
function next(t: string, needle: string, guess: number, from: number, to: number): number {
  return hasAt(t, guess, needle) && guess + needle.length <= to ? guess : at(t, needle, from, to);
}

/** t holds `word` at i: a loop the compiler inlines (startsWith is a call, three a line of a million-line table) */
function hasAt(t: string, i: number, word: string): boolean {
  const n = word.length;
  for (let j = 0; j < n; j++) if (t.charCodeAt(i + j) !== word.charCodeAt(j)) return false;
  return true;
}

/**
 * CtAddrs accepts t[s, e): a dotted quad is told from its characters (no string, no Map look-up: three per
 * line of a million-line table), anything else asks CtAddrs itself.
 */
function addrAt(t: string, s: number, e: number, addrs: CtAddrs): boolean {
  return plainV4At(t, s, e) || typeof addrs.get(t.slice(s, e)) !== 'string';
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * at(t, ' src=', from, to): V8 finds `src=` about twice as fast as ` src=` (a pattern starting with the most
 * common byte of the line), and then one byte before it tells.
 */
function srcAt(t: string, from: number, to: number): number {
  for (let i = t.indexOf('src=', from + 1); i >= 0 && i + 4 <= to; i = t.indexOf('src=', i + 1))
    if (t.charCodeAt(i - 1) === 32) return i - 1;
  return -1;
}

/** Where `needle` starts in t[from, to), or -1. */
function at(t: string, needle: string, from: number, to: number): number {
  const i = t.indexOf(needle, from);
  return i < 0 || i + needle.length > to ? -1 : i;
}

/** End of a value that starts at `s`: the next space, or the end of the line (valueAt, by position). */
function valueEnd(t: string, s: number, le: number): number {
  // values are short: a loop costs less than a call to indexOf
  while (s < le && t.charCodeAt(s) !== 32) s++;
  return Math.min(s, le);
}

function same(t: string, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let i = 0; i < aEnd - a; i++) if (t.charCodeAt(a + i) !== t.charCodeAt(b + i)) return false;
  return true;
}

/** A byte that continues an address or a number: [0-9A-Fa-f:.] */
function extendsWord(b: number | undefined): boolean {
  if (b === undefined) return false;
  return (b >= 48 && b <= 58) || b === 46 || (b >= 65 && b <= 70) || (b >= 97 && b <= 102);
}

function noFilter(q: ConntrackQuery): boolean {
  return (
    q.address === undefined &&
    q.port === undefined &&
    q.proto === undefined &&
    q.family === undefined &&
    q.nat === undefined
  );
}

/**
 * Newlines in buf[from, to), by indexOf (a native memchr per line): ~4 x faster than reading the bytes
 * four at a time in JS (SWAR), since a conntrack line is ~200 bytes long. The search may run past `to`
 * to the next newline; the callers' `to` is a line start or the end of a region, so that is at most one line.
 */
export function countNl(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(NL, from); i >= 0 && i < to; i = buf.indexOf(NL, i + 1)) n++;
  return n;
}

/** Scans a whole text (or Buffer) in memory. */
export function scanConntrackText(text: string | Buffer, q: ConntrackQuery, opts: ScanOptions): ScanResult {
  const s = new ConntrackScanner(q, opts);
  const step = 1 << 20;
  if (typeof text === 'string') {
    // cut at newlines: a cut inside a surrogate pair would not survive the Buffer round trip
    for (let i = 0; i < text.length && !s.done; ) {
      const nl = text.indexOf('\n', i + step);
      const e = nl < 0 ? text.length : nl + 1;
      s.push(text.slice(i, e));
      i = e;
    }
  } else s.push(text);
  return s.end();
}

/** Scans a stream of chunks (a file read stream, a process's stdout). Stops reading once cut. */
export async function scanConntrack(
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  q: ConntrackQuery,
  opts: ScanOptions,
): Promise<ScanResult> {
  const s = new ConntrackScanner(q, opts);
  for await (const c of chunks) {
    s.push(c);
    if (s.done) break;
  }
  return s.end();
}
