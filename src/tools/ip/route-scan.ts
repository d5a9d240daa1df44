import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { errorLine, SourceError } from '../../errors.js';
import type { Family, Route, Warning } from '../../model/types.js';
import {
  ColumnBuilder,
  packV6Groups,
  parseV4Bytes,
  ROUTE_TYPE_CODE,
  SLOT_SKIPPED,
  type ColumnArrays,
  type RouteColumns,
} from '../../model/route-columns.js';
import { IpCache, Notes } from './common.js';
import { DETAIL_WINDOW, jsonRoute, NHID_NOTE, showsDetail } from './parse-route.js';
import {
  BACKSLASH,
  COLON,
  COMMA,
  DOT,
  JsonBytes,
  LBRACE,
  LBRACKET,
  QUOTE,
  RBRACE,
  RBRACKET,
  SLASH,
  hexVal,
  isWs,
  textOf,
} from '../json-bytes.js';

/**
 * `ip -j [-d] route show table all` read straight from its bytes, for node-sized tables.
 *
 * One pass over the JSON array fills RouteColumns (prefix, table, type, metric, flags) and the byte
 * range of every element; the Route object of an element, with its evidence text, is built only
 * when a lookup hits it, by the same jsonRoute() parseIpRoute uses, on that element's bytes. So a
 * trace over a million routes builds a handful of Route objects, not a million.
 *
 * Only elements that jsonRoute() would accept without any warning or note take the fast path: every
 * key is a plain ASCII string or number, the values the columns need pass the same checks, and
 * nothing else the model reads (via, from, tos, encap, metrics) is present. Multipath `nexthops`
 * (gateway, dev, weight, flags in each hop) and `nhid` (with the `nh_info` object -d prints, which
 * the model does not read) take it too, as full BGP tables with ECMP or nexthop objects are made of
 * nothing else; the `nhid` note such an element would get is counted in its place. Any
 * other element is parsed with JSON.parse and jsonRoute() right away, in element order, so the
 * warnings come out exactly as parseIpRoute words them. Anything unexpected in the document itself
 * (not one JSON array, a syntax error, CR or ANSI codes) returns undefined: the caller then decodes
 * the text and runs parseIpRoute, which reads or rejects it as before.
 */
export interface ScannedRoutes {
  columns: RouteColumns;
  warnings: Warning[];
  /** elements that took the JSON.parse path */
  slow: number;
}

// keys the fast path understands, and keys that need the full parser
const K_DST = 1;
const K_TYPE = 2;
const K_TABLE = 4;
const K_GATEWAY = 8;
const K_DEV = 16;
const K_PROTOCOL = 32;
const K_SCOPE = 64;
const K_PREFSRC = 128;
const K_METRIC = 256;
const K_FLAGS = 512;
const K_NHID = 1024;
const K_NEXTHOPS = 2048;
const K_WEIGHT = 4096;
/** a container the model does not read (nh_info repeats the nexthop object the route names) */
const K_IGNORED = 8192;
const K_SPECIAL = -1;
const K_OTHER = 0;

const KEYS = new Map<string, number>([
  ['dst', K_DST],
  ['type', K_TYPE],
  ['table', K_TABLE],
  ['gateway', K_GATEWAY],
  ['dev', K_DEV],
  ['protocol', K_PROTOCOL],
  ['scope', K_SCOPE],
  ['prefsrc', K_PREFSRC],
  ['metric', K_METRIC],
  ['flags', K_FLAGS],
  ['nhid', K_NHID],
  ['nexthops', K_NEXTHOPS],
  ['weight', K_WEIGHT],
  ['nh_info', K_IGNORED],
  ['via', K_SPECIAL],
  ['from', K_SPECIAL],
  ['tos', K_SPECIAL],
  ['dsfield', K_SPECIAL],
  ['metrics', K_SPECIAL],
  ['encap', K_SPECIAL],
]);

const TYPES = new Map<string, number>(Object.entries(ROUTE_TYPE_CODE));
const NEEDS_DEV_MAX = ROUTE_TYPE_CODE.multicast; // unicast..multicast leave through a device

/** Scanner state for one document (fields, not closures: this loop runs a million times). */
class Scanner extends JsonBytes {
  private readonly typeCache = new Map<number, { t: string; v: number }>();
  private readonly gwCache = new Map<number, { t: string; v: boolean }>();

  constructor(
    b: Uint8Array,
    readonly family: Family,
  ) {
    super(b);
  }

  typeCode(): number {
    if (!this.simple) return -1;
    if (this.is('unicast')) return ROUTE_TYPE_CODE.unicast;
    return this.memo(this.typeCache, (t) => TYPES.get(t) ?? -1);
  }

  /** `main`, `local`, `default`, `unspec` or a u32 in decimal; -1 otherwise. */
  tableId(): number {
    if (!this.simple) return -1;
    const b = this.b;
    const n = this.s1 - this.s0;
    if (n >= 1 && n <= 10 && b[this.s0]! >= 0x30 && b[this.s0]! <= 0x39) {
      let v = 0;
      for (let i = this.s0; i < this.s1; i++) {
        const c = b[i]!;
        if (c < 0x30 || c > 0x39) return -1;
        v = v * 10 + (c - 0x30);
      }
      return v <= 0xffffffff ? v : -1;
    }
    if (this.is('main')) return 254;
    if (this.is('local')) return 255;
    if (this.is('default')) return 253;
    if (this.is('unspec')) return 0;
    return -1;
  }

  /** The current simple string as a destination: key written at key[at..], length returned, -1 if not plain. */
  prefix(key: Uint32Array, at: number): number {
    const b = this.b;
    const s0 = this.s0;
    const s1 = this.s1;
    if (!this.simple) return -1;
    if (s1 - s0 === 7 && b[s0] === 0x64 && this.text() === 'default') {
      for (let w = 0; w < (this.family === 4 ? 1 : 4); w++) key[at + w] = 0;
      return 0;
    }
    let slash = s1;
    for (let i = s0; i < s1; i++)
      if (b[i] === SLASH) {
        slash = i;
        break;
      }
    const ok = this.family === 4 ? parseV4Bytes(b, s0, slash, key, at) : v6Bytes(b, s0, slash, key, at);
    if (!ok) return -1;
    const max = this.family === 4 ? 32 : 128;
    let len = max;
    if (slash < s1) {
      const n = s1 - slash - 1;
      if (n < 1 || n > 3 || (n > 1 && b[slash + 1] === 0x30)) return -1;
      len = 0;
      for (let i = slash + 1; i < s1; i++) {
        const c = b[i]!;
        if (c < 0x30 || c > 0x39) return -1;
        len = len * 10 + (c - 0x30);
      }
      if (len > max) return -1;
    }
    // host bits set: parseIpRoute canonicalises such a dst; leave that to it
    const words = this.family === 4 ? 1 : 4;
    for (let w = 0; w < words; w++) {
      const keep = len - w * 32;
      if (keep >= 32) continue;
      const mask = keep <= 0 ? 0 : (0xffffffff << (32 - keep)) >>> 0;
      if ((key[at + w]! & ~mask) >>> 0 !== 0) return -1;
    }
    return len;
  }

  /** The current simple string is an address (either family) canonIp accepts. */
  gateway(): boolean {
    if (!this.simple) return false;
    return this.memo(this.gwCache, (t) =>
      t.includes(':')
        ? v6Bytes(this.b, this.s0, this.s1, SCRATCH, 0)
        : parseV4Bytes(this.b, this.s0, this.s1, SCRATCH, 0),
    );
  }
}

const SCRATCH = new Uint32Array(4);

const G = new Uint16Array(8);

/**
 * IPv6 in b[s..e): hex groups and one `::` only (no embedded dotted quad, no zone): the forms node's
 * isIPv6 accepts without doubt; anything else takes the full parser.
 */
function v6Bytes(b: Uint8Array, s: number, e: number, out: Uint32Array, at: number): boolean {
  const len = e - s;
  if (len < 2 || len > 39) return false;
  let n = 0;
  let gap = -1;
  let i = s;
  if (b[i] === COLON) {
    if (b[i + 1] !== COLON) return false;
    gap = 0;
    i += 2;
    if (i === e) {
      out[at] = out[at + 1] = out[at + 2] = out[at + 3] = 0;
      return true;
    }
  }
  while (i < e) {
    let v = 0;
    let d = 0;
    while (i < e && b[i] !== COLON) {
      const h = hexVal(b[i]!);
      if (h < 0 || ++d > 4) return false;
      v = (v << 4) | h;
      i++;
    }
    if (d === 0 || n >= 8) return false;
    G[n++] = v;
    if (i === e) break;
    // at a colon
    if (i + 1 < e && b[i + 1] === COLON) {
      if (gap >= 0) return false;
      gap = n;
      i += 2;
      if (i === e) break;
    } else {
      if (i + 1 === e) return false;
      i++;
    }
  }
  return packV6Groups(G, n, gap, out, at);
}

/** Growable Uint32 pair list: byte range of every element. */
class Ranges {
  a: Uint32Array;
  n = 0;
  constructor(cap: number) {
    this.a = new Uint32Array(cap * 2);
  }
  push(s: number, e: number): void {
    if (this.n * 2 === this.a.length) {
      const b = new Uint32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n * 2] = s;
    this.a[this.n * 2 + 1] = e;
    this.n++;
  }
}

export function scanIpRouteJson(
  bytes: Uint8Array,
  probe: string,
  family: Family,
  opts: ScanOptions = {},
): ScannedRoutes | undefined {
  const d = scanIpRouteData(bytes, probe, family, opts);
  return d && routesFromScan(bytes, d, probe);
}

/**
 * What a scan finds, as plain data (typed arrays, the Routes of the elements the parser read, the
 * warnings): made in a worker thread, handed over without copying, and turned into RouteColumns
 * over the same bytes by routesFromScan.
 */
export interface RouteScanData {
  columns: ColumnArrays;
  /** byte range of each slot's element */
  starts: Uint32Array;
  ends: Uint32Array;
  /** the elements the fast path left to JSON.parse and parseIpRoute's element function */
  built: [number, Route][];
  detailed: boolean;
  warnings: Warning[];
  slow: number;
}

/** RouteColumns over the bytes a scan read (the same bytes: slots point into them). */
export function routesFromScan(bytes: Uint8Array, d: RouteScanData, probe: string): ScannedRoutes {
  const family = d.columns.family;
  return slotRoutes(d, probe, (i) => {
    const o: unknown = JSON.parse(textOf(bytes, d.starts[i]!, d.ends[i]!));
    const r = jsonRoute(o, i, probe, family, d.detailed, new IpCache(), new Notes(probe));
    if (!r) throw new Error(`${probe}: element ${i} passed the scan but not the parser`);
    return r;
  });
}

/**
 * The scan's columns with a route() that builds a slot's Route once (by `build`, from the element's bytes) and
 * keeps it; a slot the scan skipped, or none at all, is a RangeError.
 */
function slotRoutes(d: RouteScanData, probe: string, build: (i: number) => Route): ScannedRoutes {
  const built = new Map(d.built);
  const columns: RouteColumns = {
    ...d.columns,
    route: (i) => {
      let r = built.get(i);
      if (r) return r;
      if (i < 0 || i >= d.starts.length || columns.type[i] === SLOT_SKIPPED)
        throw new RangeError(`${probe}: no route in slot ${i}`);
      r = build(i);
      built.set(i, r);
      return r;
    },
  };
  return { columns, warnings: d.warnings, slow: d.slow };
}

/** What identifies one version of a file: a route read back from it must come from the version scanned. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
  ino: number;
}

export function stampOf(st: { size: number; mtimeMs: number; ino: number }): FileStamp {
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/**
 * RouteColumns over a file scanned by scanIpRouteStream: the Route of a slot is built from its
 * element's bytes, read back from the file at its offsets. The file must be the one scanned (same
 * size, mtime, inode), and the element read back must give the slot's columns again (a rewrite
 * within the mtime's resolution): otherwise the route() call throws a SourceError naming the file,
 * so an answer is never built from a different table.
 */
export function routesFromFile(path: string, d: RouteScanData, probe: string, stamp: FileStamp): ScannedRoutes {
  const { starts, ends, detailed: det, columns } = d;
  const family = columns.family;
  const changed = (why: string) =>
    new SourceError(path, `changed after it was scanned (${why}); run the command again`);
  const check = new ColumnBuilder(family, 1);
  const w = check.words;
  return slotRoutes(d, probe, (i) => {
    const s = starts[i]!;
    const n = ends[i]! - s;
    const buf = Buffer.allocUnsafe(n);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new SourceError(path, errorLine(e));
    }
    try {
      const now = stampOf(fstatSync(fd));
      if (now.size !== stamp.size || now.mtimeMs !== stamp.mtimeMs || now.ino !== stamp.ino)
        throw changed('size, time or inode differ');
      let got = 0;
      while (got < n) {
        const k = readSync(fd, buf, got, n - got, s + got);
        if (k <= 0) throw changed('shorter');
        got += k;
      }
    } finally {
      closeSync(fd);
    }
    let o: unknown;
    try {
      o = JSON.parse(buf.toString('utf8'));
    } catch {
      throw changed(`element ${i} is not JSON`);
    }
    const r = jsonRoute(o, i, probe, family, det, new IpCache(), new Notes(probe));
    check.count = 0;
    if (!r || check.add() !== 0 || !check.setFromRoute(0, r)) throw changed(`element ${i} is not a route`);
    let same =
      check.len[0] === columns.len[i] &&
      check.type[0] === columns.type[i] &&
      check.table[0] === columns.table[i] &&
      check.metric[0] === columns.metric[i];
    for (let k = 0; k < w; k++) same &&= check.key[k] === columns.key[i * w + k];
    if (!same) throw changed(`element ${i} is another route`);
    return r;
  });
}

export interface ScanOptions {
  /** false: every element through scanObject (tests compare the paths) */
  lean?: boolean;
  /** false: no repeated-tail shortcut (TailCache) */
  tails?: boolean;
  /** false: no runs of bulk elements (runOf); every element through scanCore's loop */
  runs?: boolean;
  /** filled with how many elements each shortcut read (tests: that it was taken) */
  stats?: { lean: number; tails: number; runs?: number };
}

/** The scan itself: undefined when the input is not plain `ip -j route` JSON (parseIpRoute reads it). */
export function scanIpRouteData(
  bytes: Uint8Array,
  probe: string,
  family: Family,
  opts: ScanOptions = {},
): RouteScanData | undefined {
  // CR or ANSI codes: parseIpRoute cleans the text first; leave such input to it
  if (bytes.indexOf(0x0d) >= 0 || bytes.indexOf(0x1b) >= 0) return undefined;
  return scanCore(new Window(bytes), probe, family, opts);
}

/**
 * Fills buf[at, at + n) with the next bytes of the input: how many it wrote (0 at its end), or -1
 * when the input must not be scanned (the caller's own check, e.g. a NUL byte).
 */
export type ReadBytes = (buf: Uint8Array, at: number, n: number) => number;

/** 4 MiB: the reads of a file cost no more than with a larger buffer, and it stays in the caches' reach */
export const SCAN_CHUNK = 4 << 20;
/** the stream's first read (scanIpRouteStream) */
const FIRST_READ = 64 << 10;

/**
 * The same scan over an input read piece by piece into one buffer that is reused (grown only for an
 * element longer than half of it): the whole document is never in memory. Byte ranges are offsets
 * in the input; routesFromFile reads an element back from them. `size` (the input's length, when
 * known) only sizes the columns.
 */
export function scanIpRouteStream(
  read: ReadBytes,
  probe: string,
  family: Family,
  opts: ScanOptions & { chunk?: number; size?: number } = {},
): RouteScanData | undefined {
  // a Buffer: its indexOf (the CR/ANSI checks) is a memchr, a Uint8Array's a loop
  const w = new Window(Buffer.allocUnsafeSlow(Math.max(1, opts.chunk ?? SCAN_CHUNK)), read, opts.size);
  // a short first read: the scan meets the view's end (a refill, reads past it) within its first few hundred
  // elements, so V8 has seen those paths before it optimises the loops, instead of deoptimising them 4 MiB in
  return w.fill(FIRST_READ) ? scanCore(w, probe, family, opts) : undefined;
}

/**
 * What the scanner sees of its input: view = bytes [lo, lo + view.length) of it. More of it is read
 * only when an element runs past the view's end; then the bytes before that element are dropped.
 */
export class Window {
  lo = 0;
  eof: boolean;
  /** the input was refused by its reader, or is too large for u32 offsets */
  bad = false;
  view: Uint8Array;
  readonly size: number;

  constructor(
    private buf: Uint8Array,
    private readonly read?: ReadBytes,
    size?: number,
  ) {
    this.eof = read === undefined;
    this.view = read === undefined ? buf : buf.subarray(0, 0);
    this.size = size ?? buf.length;
  }

  /**
   * Keeps view[keep..], reads on after it; false at the input's end (or a refused read). The view
   * then starts `keep` bytes later: positions in it move down by that much.
   */
  more(keep: number): boolean {
    if (this.eof || this.bad) return false;
    const kept = this.view.length - keep;
    if (keep > 0) this.buf.copyWithin(0, keep, this.view.length);
    // an element longer than half the buffer: a larger one, so each refill reads at least as much again
    if (kept * 2 > this.buf.length) {
      const g = Buffer.allocUnsafeSlow(this.buf.length * 2);
      g.set(this.buf.subarray(0, kept));
      this.buf = g;
    }
    this.lo += keep;
    this.view = this.buf.subarray(0, kept);
    return this.fill();
  }

  /** reads until the buffer (its first `upTo` bytes) is full or the input ends; false when nothing new came */
  fill(upTo = this.buf.length): boolean {
    const start = this.view.length;
    const full = Math.min(upTo, this.buf.length);
    let n = start;
    while (n < full) {
      const got = this.read!(this.buf, n, full - n);
      if (got < 0) {
        this.bad = true;
        return false;
      }
      if (got === 0) {
        this.eof = true;
        break;
      }
      n += got;
    }
    const fresh = this.buf.subarray(start, n);
    // CR or ANSI codes: as in scanIpRouteData; past 4 GiB the u32 byte ranges would wrap
    if (fresh.indexOf(0x0d) >= 0 || fresh.indexOf(0x1b) >= 0 || this.lo + n > 0xffffffff) {
      this.bad = true;
      return false;
    }
    this.view = this.buf.subarray(0, n);
    return n > start;
  }
}

function scanCore(w: Window, probe: string, family: Family, opts: ScanOptions): RouteScanData | undefined {
  const got = scanElements(w, family, opts);
  if (!got) return undefined;
  if (opts.stats) {
    opts.stats.lean = got.leanTaken;
    opts.stats.tails = got.tailHits;
    opts.stats.runs = got.runTaken;
  }
  return finishScan(got, probe, family, (slot) => got.texts.get(slot)!);
}

/**
 * What scanCore's loop finds before the parser reads the elements it left: the columns as the loop
 * set them (a slow slot SLOT_SKIPPED), the byte ranges, the slow and the fast-nhid slots in order,
 * and the text of each element the finish reads (slow ones, the first fast nhid one).
 */
export interface ScannedElements {
  cols: ColumnBuilder;
  ranges: { a: Uint32Array; n: number };
  slow: number[];
  nhidFast: number[];
  texts: Map<number, string>;
  detailed: boolean;
  leanTaken: number;
  runTaken: number;
  tailHits: number;
}

/**
 * Elements scanned where the document's first DETAIL_WINDOW elements are elsewhere (route-pair.ts: an
 * after side's added elements): `detailed` as those decided it, and no slot counted as one of them.
 */
export interface ScanContext {
  detailed: boolean;
}

/** scanCore's loop: undefined when the input is not plain `ip -j route` JSON. */
export function scanElements(
  w: Window,
  family: Family,
  opts: ScanOptions,
  ctx?: ScanContext,
): ScannedElements | undefined {
  const lean = opts.lean !== false;
  const tails = lean && opts.tails !== false ? new TailCache(w.view) : undefined;
  const sc = new Scanner(w.view, family);
  // more of the input after the view, keeping it from `keep` on; false at its end (the loop's `b`
  // is reloaded from sc.b after it: a local no closure writes stays in a register)
  const more = (keep: number): boolean => {
    const ok = w.more(keep);
    sc.b = w.view;
    tails?.rebind(w.view);
    return ok;
  };
  // whitespace up to the next byte, reading on as needed; false at the input's end
  const next = (): boolean => {
    for (;;) {
      sc.ws();
      if (sc.p < sc.b.length) return true;
      if (!more(sc.p)) return false;
      sc.p = 0;
    }
  };
  if (!next() || sc.b[sc.p] !== LBRACKET) return undefined;
  sc.p++;
  if (!next()) return undefined;
  const cap = Math.max(16, Math.min(1 << 22, Math.floor(w.size / 100)));
  const cols = new ColumnBuilder(family, cap);
  const ranges = new Ranges(cap);
  const words = cols.words;
  const slow: number[] = [];
  // fast elements with an nhid: each counts in the parser's nhid note, in element order
  const nhidFast: number[] = [];
  // the text of each element read again after the scan (slow ones, the first fast nhid one)
  const texts = new Map<number, string>();
  let detailed = ctx?.detailed ?? false;
  // slot + floor < DETAIL_WINDOW: one of the document's first elements
  const floor = ctx ? DETAIL_WINDOW : 0;
  let leanTaken = 0;
  let runTaken = 0;
  const runs = tails !== undefined && opts.runs !== false;
  let b = sc.b;
  if (b[sc.p] === RBRACKET) sc.p++;
  else {
    for (;;) {
      // a run of bulk elements first (runOf: the same columns this loop gives them, in a small loop of its own)
      if (runs && (detailed || cols.count + floor >= DETAIL_WINDOW)) {
        const n = runOf(sc, cols, ranges, w.lo, tails, nhidFast, detailed);
        leanTaken += n;
        runTaken += n;
      }
      // one element with the separator after it; when the view ends inside them (a failure here
      // with more input to come), the same element again with more of the input
      const unit = sc.p;
      sc.ws();
      const start = sc.p;
      const slot = cols.add();
      let fast = false;
      let nhid = false;
      let ok = true;
      let took = false;
      if (b[start] === LBRACE) {
        let r = tails ? tailObject(sc, start, cols, slot, tails) : lean ? leanObject(sc, start, cols, slot) : -1;
        if (r < 0) r = scanObject(sc, cols, slot, words);
        else {
          sc.p = leanEnd;
          took = true;
        }
        if (r < 0) ok = false;
        fast = r > 0;
        nhid = r === 2;
      } else if (!sc.skipValue()) ok = false;
      const end = sc.p;
      let c: number | undefined;
      if (ok) {
        sc.ws();
        c = b[sc.p];
      }
      if (c === undefined) {
        cols.count--;
        if (!more(unit)) return undefined;
        b = sc.b;
        sc.p = 0;
        continue;
      }
      sc.p++;
      if (took) leanTaken++;
      ranges.push(w.lo + start, w.lo + end);
      if (slot + floor < DETAIL_WINDOW && !detailed) {
        try {
          detailed = showsDetail(JSON.parse(textOf(b, start, end)));
        } catch {
          return undefined;
        }
      }
      // without a table the answer depends on `detailed`, final only after the first elements
      if (fast && !(cols.table[slot] === NO_TABLE && (slot + floor < DETAIL_WINDOW || detailed))) {
        if (cols.table[slot] === NO_TABLE) cols.table[slot] = 254;
        if (nhid) {
          if (nhidFast.length === 0) texts.set(slot, textOf(b, start, end));
          nhidFast.push(slot);
        }
      } else {
        cols.type[slot] = SLOT_SKIPPED;
        slow.push(slot);
        texts.set(slot, textOf(b, start, end));
      }
      if (c === COMMA) continue;
      if (c === RBRACKET) break;
      return undefined;
    }
  }
  // nothing but whitespace after the array, to the input's end
  if (next()) return undefined;
  if (w.bad) return undefined;
  return {
    cols,
    ranges,
    slow,
    nhidFast,
    texts,
    detailed,
    leanTaken,
    runTaken,
    tailHits: tails?.hits ?? 0,
  };
}

/**
 * The parser's part of a scan: the slow elements and the first fast nhid one through jsonRoute, in
 * element order, so the warnings and notes are parseIpRoute's; `text` gives an element's text.
 */
export function finishScan(
  got: Omit<ScannedElements, 'texts' | 'leanTaken' | 'runTaken' | 'tailHits'>,
  probe: string,
  family: Family,
  text: (slot: number) => string,
): RouteScanData | undefined {
  const { cols, ranges, slow, nhidFast, detailed } = got;
  const notes = new Notes(probe);
  const ips = new IpCache();
  const built = new Map<number, Route>();
  // the nhid note: the first fast element with an nhid is parsed in full (it adds the note, with
  // itself as the example, unless an earlier element did); later ones only count in it
  let nh = 0;
  const nhidUpTo = (end: number): boolean => {
    if (nh === 0 && nhidFast.length > 0 && nhidFast[0]! < end) {
      const slot = nhidFast[0]!;
      let o: unknown;
      try {
        o = JSON.parse(text(slot));
      } catch {
        return false;
      }
      const r = jsonRoute(o, slot, probe, family, detailed, ips, notes);
      if (!r) return false;
      built.set(slot, r);
      nh = 1;
    }
    // the later ones before `end` only count, in one call (a million calls cost ~0.3 s)
    const from = nh;
    while (nh < nhidFast.length && nhidFast[nh]! < end) nh++;
    if (nh > from) notes.note(NHID_NOTE.code, NHID_NOTE.message, undefined, nh - from);
    return true;
  };
  for (const slot of slow) {
    if (!nhidUpTo(slot)) return undefined;
    let o: unknown;
    try {
      o = JSON.parse(text(slot));
    } catch {
      return undefined;
    }
    const r = jsonRoute(o, slot, probe, family, detailed, ips, notes);
    if (!r) continue;
    if (cols.setFromRoute(slot, r)) built.set(slot, r);
    else cols.type[slot] = SLOT_SKIPPED;
  }
  if (!nhidUpTo(cols.count)) return undefined;
  const starts = new Uint32Array(cols.count);
  const ends = new Uint32Array(cols.count);
  for (let i = 0; i < cols.count; i++) {
    starts[i] = ranges.a[i * 2]!;
    ends[i] = ranges.a[i * 2 + 1]!;
  }
  return {
    columns: cols.arrays(),
    starts,
    ends,
    built: [...built],
    detailed,
    warnings: notes.done(),
    slow: slow.length,
  };
}

/** table column value meaning "no table key" until the element is classified */
const NO_TABLE = 0xffffffff;

/** Key names by first letter and length (only dst/dev share both: the second letter tells). */
const KEY_AT: { id: number; w: Uint8Array }[][] = [];
for (const [name, id] of KEYS) {
  const slot = ((KEY_AT[name.charCodeAt(0)] ??= [])[name.length] ??= {
    id,
    w: Uint8Array.from(name, (ch) => ch.charCodeAt(0)),
  });
  if (slot.id !== id)
    (
      KEY_AT[name.charCodeAt(0)]![name.length] as { id: number; w: Uint8Array; alt?: { id: number; w: Uint8Array } }
    ).alt = { id, w: Uint8Array.from(name, (ch) => ch.charCodeAt(0)) };
}
const UNICAST = Uint8Array.from('unicast', (ch) => ch.charCodeAt(0));
const MAIN = Uint8Array.from('main', (ch) => ch.charCodeAt(0));

/** b[p..] holds the bytes of w followed by a quote. */
function bytesAt(b: Uint8Array, p: number, w: Uint8Array): boolean {
  const n = w.length;
  if (b[p + n] !== QUOTE) return false;
  for (let k = 0; k < n; k++) if (b[p + k] !== w[k]) return false;
  return true;
}

/**
 * The key whose quote is at sc.p: its id (K_OTHER for keys the model ignores), with sc.p after the
 * closing quote; -3 on a syntax error.
 */
function readKey(sc: Scanner): number {
  const b = sc.b;
  const p = sc.p + 1;
  // plain key characters up to the quote; anything else goes through str()
  let q = p;
  for (;;) {
    const c = b[q];
    if (c === QUOTE) break;
    if (c === undefined || c === BACKSLASH || c < 0x20 || c >= 0x80) {
      if (!sc.str()) return -3;
      return sc.simple ? keyOf(sc) : K_SPECIAL;
    }
    q++;
  }
  sc.p = q + 1;
  const n = q - p;
  const byLen = KEY_AT[b[p]!];
  let cand = byLen?.[n] as { id: number; w: Uint8Array; alt?: { id: number; w: Uint8Array } } | undefined;
  if (cand === undefined) return K_OTHER;
  if (cand.alt !== undefined && b[p + 1] !== cand.w[1]) cand = cand.alt;
  const w = cand.w;
  for (let k = 1; k < n; k++) if (b[p + k] !== w[k]) return K_OTHER;
  return cand.id;
}

/** id of the simple string just read by str() */
function keyOf(sc: Scanner): number {
  for (const [name, id] of KEYS) if (sc.is(name)) return id;
  return K_OTHER;
}

/**
 * An IPv4 dotted quad (optionally /len when withLen) straight from the bytes after the quote at
 * sc.p, ending at the closing quote: writes the word to out[at] and returns the length (32 without
 * /len), or -1 when the string is anything else (sc.p unchanged then).
 */
function quad(sc: Scanner, out: Uint32Array, at: number, withLen: boolean): number {
  const b = sc.b;
  let p = sc.p + 1;
  let val = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  let c = b[p]!;
  for (;;) {
    if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return -1;
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === DOT) {
      if (digits === 0 || dots === 3) return -1;
      // int32 shifts: a first octet past 127 must not turn val into a heap number (a deoptimisation)
      val = (val << 8) | part;
      dots++;
      part = 0;
      digits = 0;
    } else break;
    c = b[++p]!;
  }
  if (dots !== 3 || digits === 0) return -1;
  const v = ((val << 8) | part) >>> 0;
  let len = 32;
  if (c === SLASH) {
    if (!withLen) return -1;
    c = b[++p]!;
    if (c < 0x30 || c > 0x39) return -1;
    len = c - 0x30;
    c = b[++p]!;
    if (c >= 0x30 && c <= 0x39) {
      if (len === 0) return -1;
      len = len * 10 + (c - 0x30);
      c = b[++p]!;
    }
    if (len > 32) return -1;
  }
  if (c !== QUOTE) return -1;
  // host bits set: parseIpRoute canonicalises such a dst; leave that to it
  if (len < 32 && (len === 0 ? v : (v << len) >>> 0) !== 0) return -1;
  out[at] = v;
  sc.p = p + 1;
  return len;
}

/**
 * One object at sc.p: 1 = fast-path element (columns filled), 0 = needs the full parser, -1 =
 * syntax error. sc.p ends after the closing brace.
 */
function scanObject(sc: Scanner, cols: ColumnBuilder, slot: number, words: number): number {
  const b = sc.b;
  const v4 = cols.family === 4;
  sc.p++;
  let seen = 0;
  let fast = true;
  let type = ROUTE_TYPE_CODE.unicast;
  let len = -1;
  let table = NO_TABLE;
  let metric = -1;
  let plain = 1;
  let nhid = false;
  let hops = 0;
  if (isWs(b[sc.p]!)) sc.ws();
  if (b[sc.p] === RBRACE) {
    sc.p++;
    return 0;
  }
  for (;;) {
    if (isWs(b[sc.p]!)) sc.ws();
    if (b[sc.p] !== QUOTE) return -1;
    const k = readKey(sc);
    if (k === -3) return -1;
    if (b[sc.p] !== COLON) {
      sc.ws();
      if (b[sc.p] !== COLON) return -1;
    }
    sc.p++;
    if (isWs(b[sc.p]!)) sc.ws();
    if (k > 0) {
      if ((seen & k) !== 0) fast = false; // a repeated key: JSON.parse keeps the last one
      seen |= k;
    }
    const c = b[sc.p];
    if (c === QUOTE) {
      // fast forms first, straight from the bytes; anything else through str()
      if (k === K_DST && v4 && (len = quad(sc, cols.key, slot, true)) >= 0) {
        /* read */
      } else if (k === K_GATEWAY && v4 && quad(sc, SCRATCH, 0, false) >= 0) {
        /* an IPv4 gateway */
      } else if (k === K_TYPE && bytesAt(b, sc.p + 1, UNICAST)) {
        sc.p += UNICAST.length + 2;
        type = ROUTE_TYPE_CODE.unicast;
      } else if (k === K_TABLE && bytesAt(b, sc.p + 1, MAIN)) {
        sc.p += MAIN.length + 2;
        table = 254;
      } else {
        if (!sc.str()) return -1;
        if (!sc.simple || k === K_SPECIAL) fast = false;
        else
          switch (k) {
            case K_DST:
              len = sc.prefix(cols.key, slot * words);
              if (len < 0) fast = false;
              break;
            case K_TYPE: {
              const t = sc.typeCode();
              if (t < 0) fast = false;
              else type = t;
              break;
            }
            case K_TABLE: {
              const t = sc.tableId();
              if (t < 0) fast = false;
              else table = t;
              break;
            }
            case K_GATEWAY:
              if (!sc.gateway()) fast = false;
              break;
            case K_METRIC:
            case K_FLAGS:
            case K_NHID:
            case K_NEXTHOPS:
            case K_WEIGHT:
            case K_IGNORED:
              fast = false; // a string where a number, list or object belongs: the full parser decides
              break;
            // dev, protocol, scope, prefsrc: any string is kept as it is (prefsrc is dropped when
            // it is not an address, without a warning, in both paths)
          }
      }
    } else if (k === K_FLAGS && c === LBRACKET) {
      sc.p++;
      if (isWs(b[sc.p]!)) sc.ws();
      if (b[sc.p] === RBRACKET) sc.p++;
      else
        for (;;) {
          sc.ws();
          if (b[sc.p] !== QUOTE) {
            fast = false;
            if (!sc.skipValue()) return -1;
          } else {
            if (!sc.str()) return -1;
            if (!sc.simple) fast = false;
            else if (sc.is('dead') || sc.is('linkdown')) plain = 0;
          }
          sc.ws();
          const d = b[sc.p++];
          if (d === COMMA) continue;
          if (d === RBRACKET) break;
          return -1;
        }
    } else if (k === K_NEXTHOPS && c === LBRACKET) {
      const h = scanHops(sc);
      if (h < 0) return -1;
      if ((h & HOPS_FAST) === 0) fast = false;
      hops = h;
    } else if (k === K_IGNORED && c === LBRACE) {
      if (!sc.skipValue()) return -1;
    } else if (c === LBRACE || c === LBRACKET || c === 0x74 || c === 0x66 || c === 0x6e) {
      // containers, true/false/null: ignored under keys the model does not read, otherwise the
      // full parser decides (a warning, or nexthops/metrics it reads)
      if (k !== K_OTHER || c === LBRACE || c === LBRACKET) fast = false;
      if (!sc.skipValue()) return -1;
    } else {
      if (!sc.number()) return -1;
      if (k === K_METRIC && sc.num >= 0) metric = sc.num;
      else if (k === K_NHID && sc.num >= 0) nhid = true;
      else if (k !== K_OTHER) fast = false;
    }
    let d = b[sc.p++];
    if (isWs(d!)) {
      sc.ws();
      d = b[sc.p++];
    }
    if (d === COMMA) continue;
    if (d === RBRACE) break;
    return -1;
  }
  if (!fast || len < 0) return 0;
  // next hops, from a non-empty `nexthops` only (the parser then reads no top-level gateway or dev),
  // on a unicast route only (other types drop or keep them by rules the parser holds)
  if (hops !== 0 && type !== ROUTE_TYPE_CODE.unicast) return 0;
  const hasDev = hops !== 0 ? (hops & HOPS_DEV) !== 0 : (seen & K_DEV) !== 0;
  if ((hops & HOPS_DEAD) !== 0) plain = 0;
  // a forwarding type without a device gets a note (a `dev X` filter)
  if (type <= NEEDS_DEV_MAX && !hasDev) return 0;
  cols.len[slot] = len;
  cols.type[slot] = type;
  cols.table[slot] = table;
  cols.metric[slot] = metric >= 0 ? metric : cols.family === 6 ? 1024 : 0;
  cols.tos[slot] = 0;
  cols.plain[slot] = plain;
  cols.hasSrc[slot] = 0;
  return nhid ? 2 : 1;
}

// what scanHops found, as bits
const HOPS_FAST = 1;
const HOPS_DEV = 2;
const HOPS_DEAD = 4;
const HOPS_SOME = 8;

/**
 * A `nexthops` array at sc.p: bits of HOPS_* (HOPS_SOME when it holds at least one hop; HOPS_FAST
 * when every hop is an object of gateway / dev / weight / flags the parser takes without a warning,
 * each key once), or -1 on a syntax error. sc.p ends after the closing bracket.
 */
function scanHops(sc: Scanner): number {
  const b = sc.b;
  sc.p++;
  sc.ws();
  // an empty list: the parser then reads the top-level gateway and dev; leave that to it
  if (b[sc.p] === RBRACKET) {
    sc.p++;
    return 0;
  }
  let fast = HOPS_FAST;
  let out = HOPS_SOME;
  for (;;) {
    sc.ws();
    if (b[sc.p] !== LBRACE) {
      fast = 0;
      if (!sc.skipValue()) return -1;
    } else {
      sc.p++;
      sc.ws();
      let seen = 0;
      if (b[sc.p] === RBRACE) sc.p++;
      else
        for (;;) {
          sc.ws();
          if (b[sc.p] !== QUOTE) return -1;
          const k = readKey(sc);
          if (k === -3) return -1;
          sc.ws();
          if (b[sc.p] !== COLON) return -1;
          sc.p++;
          sc.ws();
          if (k > 0) {
            if ((seen & k) !== 0) fast = 0; // JSON.parse keeps the last of a repeated key
            seen |= k;
          }
          const c = b[sc.p];
          if (k === K_GATEWAY && c === QUOTE) {
            if (quad(sc, SCRATCH, 0, false) < 0) {
              if (!sc.str()) return -1;
              if (!sc.gateway()) fast = 0;
            }
          } else if (k === K_DEV && c === QUOTE) {
            if (!sc.str()) return -1;
            if (!sc.simple) fast = 0;
            else out |= HOPS_DEV;
          } else if (k === K_WEIGHT && c !== QUOTE && c !== LBRACE && c !== LBRACKET) {
            if (c === 0x74 || c === 0x66 || c === 0x6e) {
              fast = 0;
              if (!sc.skipValue()) return -1;
            } else {
              if (!sc.number()) return -1;
              if (!(sc.num > 0)) fast = 0;
            }
          } else if (k === K_FLAGS && c === LBRACKET) {
            const f = scanFlags(sc);
            if (f < 0) return -1;
            if (f === 0) fast = 0;
            else if (f === 2) out |= HOPS_DEAD;
          } else {
            // via (another family's gateway) or anything else: the parser decides
            fast = 0;
            if (!sc.skipValue()) return -1;
          }
          sc.ws();
          const d = b[sc.p++];
          if (d === COMMA) continue;
          if (d === RBRACE) break;
          return -1;
        }
    }
    sc.ws();
    const d = b[sc.p++];
    if (d === COMMA) continue;
    if (d === RBRACKET) break;
    return -1;
  }
  return out | fast;
}

/** A flags list at sc.p: 1 = plain strings, 2 = plain strings with dead or linkdown, 0 = other, -1 = syntax error. */
function scanFlags(sc: Scanner): number {
  const b = sc.b;
  sc.p++;
  sc.ws();
  if (b[sc.p] === RBRACKET) {
    sc.p++;
    return 1;
  }
  let r = 1;
  for (;;) {
    sc.ws();
    if (b[sc.p] !== QUOTE) {
      r = 0;
      if (!sc.skipValue()) return -1;
    } else {
      if (!sc.str()) return -1;
      if (!sc.simple) r = 0;
      else if (r === 1 && (sc.is('dead') || sc.is('linkdown'))) r = 2;
    }
    sc.ws();
    const d = b[sc.p++];
    if (d === COMMA) continue;
    if (d === RBRACKET) return r;
    return -1;
  }
}

/*
 * The lean path. `ip -j` prints one compact line (no whitespace, escapes only in odd names), every
 * element with the same keys in the same order, so most of scanObject's work (a field write per
 * byte, whitespace checks between tokens, hashing strings) buys nothing on a node's bulk routes.
 * leanObject reads one element with the position in a local, skips the strings the columns do not
 * need in a tight loop and recognises the common values by their bytes. It only ever says "this
 * element is a fast one, with these columns" (the same scanObject would give); at anything it does
 * not expect (whitespace, an escape, a non-ASCII byte, a string where it wants a number, an empty
 * or odd next hop, any element scanObject would not take fast) it returns -1 without having moved
 * sc.p, and scanObject reads the element from its start as before.
 */

/** where the element leanObject accepted ends (after its closing brace) */
let leanEnd = 0;

const TRUE = Uint8Array.from('true', (ch) => ch.charCodeAt(0));
const FALSE = Uint8Array.from('false', (ch) => ch.charCodeAt(0));
const NULL = Uint8Array.from('null', (ch) => ch.charCodeAt(0));
const DEFAULT = Uint8Array.from('default', (ch) => ch.charCodeAt(0));
const DEAD = Uint8Array.from('dead', (ch) => ch.charCodeAt(0));
const LINKDOWN = Uint8Array.from('linkdown', (ch) => ch.charCodeAt(0));

/** b[s..e) equals w */
function eqAt(b: Uint8Array, s: number, e: number, w: Uint8Array): boolean {
  if (e - s !== w.length) return false;
  for (let k = 0; k < w.length; k++) if (b[s + k] !== w[k]) return false;
  return true;
}

/**
 * The end (closing quote) of a plain string whose opening quote is at p: -1 for an escape, a
 * control character, a non-ASCII byte or the end of the input (scanObject's `simple`, and more).
 */
function plainEnd(b: Uint8Array, p: number): number {
  let c = b[++p];
  while (c !== QUOTE) {
    if (c === undefined || c < 0x20 || c >= 0x80 || c === BACKSLASH) return -1;
    c = b[++p];
  }
  return p;
}

/** key id of the plain key b[s..e) (as readKey gives it) */
function leanKey(b: Uint8Array, s: number, e: number): number {
  const n = e - s;
  let cand = KEY_AT[b[s]!]?.[n] as { id: number; w: Uint8Array; alt?: { id: number; w: Uint8Array } } | undefined;
  if (cand === undefined) return K_OTHER;
  if (cand.alt !== undefined && b[s + 1] !== cand.w[1]) cand = cand.alt;
  const w = cand.w;
  for (let k = 1; k < n; k++) if (b[s + k] !== w[k]) return K_OTHER;
  return cand.id;
}

/**
 * A u32 written as plain digits at p, followed by `,` `}` or `]`: its value, with leanAt after
 * it; -1 for anything else (a sign, a fraction, an exponent, a leading zero, past u32).
 */
let leanAt = 0;
function leanU32(b: Uint8Array, p: number): number {
  const p0 = p;
  let c = b[p]!;
  if (c === 0x30) {
    c = b[++p]!;
  } else {
    if (!(c >= 0x31 && c <= 0x39)) return -1;
    let v = 0;
    while (c >= 0x30 && c <= 0x39) {
      v = v * 10 + (c - 0x30);
      c = b[++p]!;
    }
    if (p - p0 > 10 || v > 0xffffffff) return -1;
    if (c !== COMMA && c !== RBRACE && c !== RBRACKET) return -1;
    leanAt = p;
    return v;
  }
  if (c !== COMMA && c !== RBRACE && c !== RBRACKET) return -1;
  leanAt = p;
  return 0;
}

/**
 * Skips a compact JSON value at p (no whitespace, plain strings, u32 numbers, literals): the
 * position after it, or -1 for anything else, including nesting past 32 (scanObject's skipValue
 * then reads it, or finds the syntax error).
 */
function leanSkip(b: Uint8Array, p: number, depth: number): number {
  const c = b[p];
  if (c === QUOTE) {
    const e = plainEnd(b, p);
    return e < 0 ? -1 : e + 1;
  }
  if (c === LBRACE || c === LBRACKET) {
    if (depth >= 32) return -1;
    const close = c === LBRACE ? RBRACE : RBRACKET;
    p++;
    if (b[p] === close) return p + 1;
    for (;;) {
      if (c === LBRACE) {
        if (b[p] !== QUOTE) return -1;
        const e = plainEnd(b, p);
        if (e < 0 || b[e + 1] !== COLON) return -1;
        p = e + 2;
      }
      p = leanSkip(b, p, depth + 1);
      if (p < 0) return -1;
      const d = b[p++];
      if (d === COMMA) continue;
      if (d === close) return p;
      return -1;
    }
  }
  if (c === 0x74) return bytesLit(b, p, TRUE);
  if (c === 0x66) return bytesLit(b, p, FALSE);
  if (c === 0x6e) return bytesLit(b, p, NULL);
  if (leanU32(b, p) < 0) return -1;
  return leanAt;
}

function bytesLit(b: Uint8Array, p: number, w: Uint8Array): number {
  for (let k = 0; k < w.length; k++) if (b[p + k] !== w[k]) return -1;
  return p + w.length;
}

/**
 * A flags list at p (its `[`): 1 = plain strings, 2 = with dead or linkdown, -1 = anything else;
 * leanAt after the `]`.
 */
function leanFlags(b: Uint8Array, p: number): number {
  p++;
  if (b[p] === RBRACKET) {
    leanAt = p + 1;
    return 1;
  }
  let r = 1;
  for (;;) {
    if (b[p] !== QUOTE) return -1;
    const e = plainEnd(b, p);
    if (e < 0) return -1;
    if (eqAt(b, p + 1, e, DEAD) || eqAt(b, p + 1, e, LINKDOWN)) r = 2;
    p = e + 1;
    const d = b[p++];
    if (d === COMMA) continue;
    if (d === RBRACKET) {
      leanAt = p;
      return r;
    }
    return -1;
  }
}

/**
 * A `nexthops` list at p whose every hop is a non-empty object of gateway / dev / weight / flags,
 * each once, each as scanHops takes it fast: HOPS_* bits with HOPS_FAST and HOPS_SOME; -1 for
 * anything else. leanAt after the `]`.
 */
function leanHops(sc: Scanner, p: number): number {
  const b = sc.b;
  p++;
  let out = HOPS_SOME | HOPS_FAST;
  if (b[p] !== LBRACE) return -1;
  for (;;) {
    p++;
    if (b[p] !== QUOTE) return -1;
    let seen = 0;
    for (;;) {
      if (b[p] !== QUOTE) return -1;
      const ke = plainEnd(b, p);
      if (ke < 0 || b[ke + 1] !== COLON) return -1;
      const k = leanKey(b, p + 1, ke);
      if ((seen & k) !== 0) return -1;
      seen |= k;
      p = ke + 2;
      const c = b[p];
      if (k === K_GATEWAY && c === QUOTE) {
        sc.p = p;
        if (quad(sc, SCRATCH, 0, false) >= 0) p = sc.p;
        else {
          const e = plainEnd(b, p);
          if (e < 0) return -1;
          sc.s0 = p + 1;
          sc.s1 = e;
          sc.simple = true;
          if (!sc.gateway()) return -1;
          p = e + 1;
        }
      } else if (k === K_DEV && c === QUOTE) {
        const e = plainEnd(b, p);
        if (e < 0) return -1;
        out |= HOPS_DEV;
        p = e + 1;
      } else if (k === K_WEIGHT) {
        if (!(leanU32(b, p) > 0)) return -1;
        p = leanAt;
      } else if (k === K_FLAGS && c === LBRACKET) {
        const f = leanFlags(b, p);
        if (f < 0) return -1;
        if (f === 2) out |= HOPS_DEAD;
        p = leanAt;
      } else return -1;
      const d = b[p++];
      if (d === COMMA) continue;
      if (d === RBRACE) break;
      return -1;
    }
    const d = b[p];
    if (d === COMMA) {
      p++;
      if (b[p] !== LBRACE) return -1;
      continue;
    }
    if (d === RBRACKET) {
      leanAt = p + 1;
      return out;
    }
    return -1;
  }
}

/**
 * The element whose `{` is at `start`, when it is a compact one scanObject takes fast: 1 (2 with an
 * nhid) with its columns filled and leanEnd after it; -1 otherwise, sc.p left at `start`.
 */
function leanObject(sc: Scanner, start: number, cols: ColumnBuilder, slot: number): number {
  const b = sc.b;
  const v4 = cols.family === 4;
  const keyAt = slot * cols.words;
  let p = start + 1;
  let seen = 0;
  let type = ROUTE_TYPE_CODE.unicast;
  let len = -1;
  let table = NO_TABLE;
  let metric = -1;
  let plain = 1;
  let nhid = false;
  let hops = 0;
  const saved = sc.p;
  for (;;) {
    if (b[p] !== QUOTE) return bail(sc, saved);
    const ke = plainEnd(b, p);
    if (ke < 0 || b[ke + 1] !== COLON) return bail(sc, saved);
    const k = leanKey(b, p + 1, ke);
    if (k < 0 || (seen & k) !== 0) return bail(sc, saved);
    seen |= k;
    p = ke + 2;
    const c = b[p];
    if (c === QUOTE) {
      switch (k) {
        case K_DST:
          len = leanDst(sc, p, cols, keyAt);
          if (len < 0) return bail(sc, saved);
          p = leanAt;
          break;
        case K_GATEWAY: {
          if (v4) {
            sc.p = p;
            if (quad(sc, SCRATCH, 0, false) >= 0) {
              p = sc.p;
              break;
            }
          }
          const e = plainEnd(b, p);
          if (e < 0) return bail(sc, saved);
          sc.s0 = p + 1;
          sc.s1 = e;
          sc.simple = true;
          if (!sc.gateway()) return bail(sc, saved);
          p = e + 1;
          break;
        }
        case K_TYPE: {
          if (bytesAt(b, p + 1, UNICAST)) {
            p += UNICAST.length + 2;
            type = ROUTE_TYPE_CODE.unicast;
            break;
          }
          const e = plainEnd(b, p);
          if (e < 0) return bail(sc, saved);
          sc.s0 = p + 1;
          sc.s1 = e;
          sc.simple = true;
          type = sc.typeCode();
          if (type < 0) return bail(sc, saved);
          p = e + 1;
          break;
        }
        case K_TABLE: {
          if (bytesAt(b, p + 1, MAIN)) {
            p += MAIN.length + 2;
            table = 254;
            break;
          }
          const e = plainEnd(b, p);
          if (e < 0) return bail(sc, saved);
          sc.s0 = p + 1;
          sc.s1 = e;
          sc.simple = true;
          table = sc.tableId();
          if (table < 0) return bail(sc, saved);
          p = e + 1;
          break;
        }
        case K_DEV:
        case K_PROTOCOL:
        case K_SCOPE:
        case K_PREFSRC:
        case K_OTHER: {
          const e = plainEnd(b, p);
          if (e < 0) return bail(sc, saved);
          p = e + 1;
          break;
        }
        default:
          // a string where a number, list or object belongs
          return bail(sc, saved);
      }
    } else if (c === LBRACKET) {
      if (k === K_FLAGS) {
        const f = leanFlags(b, p);
        if (f < 0) return bail(sc, saved);
        if (f === 2) plain = 0;
      } else if (k === K_NEXTHOPS) {
        hops = leanHops(sc, p);
        if (hops < 0) return bail(sc, saved);
      } else return bail(sc, saved);
      p = leanAt;
    } else if (c === LBRACE) {
      if (k !== K_IGNORED) return bail(sc, saved);
      p = leanSkip(b, p, 0);
      if (p < 0) return bail(sc, saved);
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      if (k !== K_OTHER) return bail(sc, saved);
      p = leanSkip(b, p, 0);
      if (p < 0) return bail(sc, saved);
    } else {
      const v = leanU32(b, p);
      if (v < 0) return bail(sc, saved);
      if (k === K_METRIC) metric = v;
      else if (k === K_NHID) nhid = true;
      else if (k !== K_OTHER) return bail(sc, saved);
      p = leanAt;
    }
    const d = b[p++];
    if (d === COMMA) continue;
    if (d === RBRACE) break;
    return bail(sc, saved);
  }
  // scanObject's verdict on a fast element, in the same order
  if (len < 0) return bail(sc, saved);
  if (hops !== 0 && type !== ROUTE_TYPE_CODE.unicast) return bail(sc, saved);
  const hasDev = hops !== 0 ? (hops & HOPS_DEV) !== 0 : (seen & K_DEV) !== 0;
  if ((hops & HOPS_DEAD) !== 0) plain = 0;
  if (type <= NEEDS_DEV_MAX && !hasDev) return bail(sc, saved);
  cols.len[slot] = len;
  cols.type[slot] = type;
  cols.table[slot] = table;
  cols.metric[slot] = metric >= 0 ? metric : cols.family === 6 ? 1024 : 0;
  cols.tos[slot] = 0;
  cols.plain[slot] = plain;
  cols.hasSrc[slot] = 0;
  sc.p = saved;
  leanEnd = p;
  return nhid ? 2 : 1;
}

/**
 * The destination string whose quote is at p, as scanObject reads it fast (a dotted quad, `default`,
 * an IPv6 prefix): its length, the key written, leanAt after the closing quote; -1 otherwise.
 */
function leanDst(sc: Scanner, p: number, cols: ColumnBuilder, keyAt: number): number {
  const b = sc.b;
  const v4 = cols.family === 4;
  if (v4) {
    sc.p = p;
    const len = quad(sc, cols.key, keyAt, true);
    if (len >= 0) {
      leanAt = sc.p;
      return len;
    }
  } else {
    const len = v6Dst(b, p, cols.key, keyAt);
    if (len >= 0) return len;
  }
  const e = plainEnd(b, p);
  if (e < 0) return -1;
  sc.s0 = p + 1;
  sc.s1 = e;
  sc.simple = true;
  const len = eqAt(b, p + 1, e, DEFAULT) || !v4 ? sc.prefix(cols.key, keyAt) : -1;
  leanAt = e + 1;
  return len;
}

/** lower-case hex digits' values, -1 for every other byte (v6Dst; anything else goes to v6Bytes) */
const HEX_LOWER = new Int8Array(256).fill(-1);
for (let c = 0; c < 16; c++) HEX_LOWER['0123456789abcdef'.charCodeAt(c)] = c;

/**
 * The IPv6 destination whose quote is at p, in one pass over its bytes: lower-case hex groups, one `::`, an
 * optional /len, then the closing quote. Its length with the key written and leanAt after the quote, as
 * Scanner.prefix gives it; -1 at anything else (an upper-case digit, a dotted quad, a zone, `default`, host
 * bits set, any other byte), and leanDst then reads the string the general way, which decides. Every string
 * this accepts is one v6Bytes and prefix accept with the same groups and length (at most 39 bytes before the
 * slash follows from at most eight groups of four digits).
 */
function v6Dst(b: Uint8Array, p: number, out: Uint32Array, at: number): number {
  let i = p + 1;
  let n = 0;
  let gap = -1;
  let c = b[i]!;
  if (c === COLON) {
    if (b[i + 1] !== COLON) return -1;
    gap = 0;
    i += 2;
    c = b[i]!;
  }
  if (c !== SLASH && c !== QUOTE)
    for (;;) {
      let v = 0;
      let d = 0;
      let h = HEX_LOWER[c]!;
      while (h >= 0) {
        v = (v << 4) | h;
        d++;
        c = b[++i]!;
        h = HEX_LOWER[c]!;
      }
      if (d === 0 || d > 4 || n >= 8) return -1;
      G[n++] = v;
      if (c !== COLON) break;
      c = b[++i]!;
      if (c === COLON) {
        if (gap >= 0) return -1;
        gap = n;
        c = b[++i]!;
        if (c === SLASH || c === QUOTE) break;
      }
    }
  let len = 128;
  if (c === SLASH) {
    c = b[++i]!;
    if (c < 0x30 || c > 0x39) return -1;
    len = c - 0x30;
    c = b[++i]!;
    for (let k = 1; c >= 0x30 && c <= 0x39; k++) {
      if (k === 3 || len === 0) return -1;
      len = len * 10 + (c - 0x30);
      c = b[++i]!;
    }
    if (len > 128) return -1;
  }
  // the key is written only for a whole string (as v6Bytes writes it only for a whole address)
  if (c !== QUOTE || !packV6Groups(G, n, gap, out, at)) return -1;
  // host bits set: parseIpRoute canonicalises such a dst; leave that to it
  for (let w = 0; w < 4; w++) {
    const keep = len - w * 32;
    if (keep >= 32) continue;
    const mask = keep <= 0 ? 0 : (0xffffffff << (32 - keep)) >>> 0;
    if ((out[at + w]! & ~mask) >>> 0 !== 0) return -1;
  }
  leanAt = i + 1;
  return len;
}

function bail(sc: Scanner, saved: number): number {
  sc.p = saved;
  return -1;
}

/*
 * Repeated tails. In a node's bulk routes everything after the destination repeats: the same
 * gateway, device, table, protocol, scope, metric, flags (or the same next hops, the same nexthop
 * object) for thousands of prefixes. An element that starts `{"type":"unicast","dst":"` has, after
 * its destination, a tail whose reading depends on nothing but its bytes (the state before it is
 * always the same: those two keys, type unicast). So once leanObject has accepted a tail, a later
 * element whose bytes after the destination are the same, byte for byte (the candidate found by
 * TailCache's tree, then all of its bytes compared), gets the same columns without reading the tail
 * again. Anything else, or a miss, goes to leanObject and then scanObject as before.
 */
const HEAD = Uint8Array.from('{"type":"unicast","dst":"', (ch) => ch.charCodeAt(0));
/** HEAD's first 24 bytes as three doubles (TailCache.head; HEAD is printable ASCII, see TailCache.same) */
const HEAD_DV = new DataView(HEAD.buffer, HEAD.byteOffset, HEAD.byteLength);
const HEAD_F0 = HEAD_DV.getFloat64(0, true);
const HEAD_F1 = HEAD_DV.getFloat64(8, true);
const HEAD_F2 = HEAD_DV.getFloat64(16, true);

interface Tail {
  /** where the tail's bytes are (in the input when found, then in TailCache's copy), and how many */
  s: number;
  n: number;
  table: number;
  metric: number;
  plain: number;
  nhid: boolean;
}

/** shortest tail kept (a tail is at least the closing quote, `,"dev":"x"` and the brace) */
const TAIL_MIN = 32;
/** most tails kept */
const TAIL_MAX = 4096;
/** an inner node with more children than this finds them through a Map too */
const KIDS_LINEAR = 8;

/**
 * A node of the tree of cached tails. A leaf holds one tail. An inner node tests the 8 bytes at offset `d`
 * (the first 8-byte block in which the tails under it that were split there differ) and goes on to the child
 * filed under those bytes, as two 32-bit words; `short` holds tails that end before d + 8, compared in turn.
 */
class TailNode {
  d = 0;
  k0: number[] = [];
  k1: number[] = [];
  kids: TailNode[] = [];
  /** children by kidKey(k0, k1) once there are more than KIDS_LINEAR: indices into kids (keys may collide) */
  byKey: Map<number, number[]> | undefined = undefined;
  short: Tail[] = [];
  constructor(public tail: Tail | undefined) {}
}

const kidKey = (k0: number, k1: number): number => (k0 ^ Math.imul(k1, 0x9e3779b1)) | 0;

/**
 * Accepted tails, as a tree over their bytes (TailNode): finding the candidate for an input reads a block or
 * two of it, where two cached tails differ, instead of hashing its first 32 to 160 bytes (a multipath tail's
 * first next hop is ~80 bytes in, a nexthop object's id 8). The blocks only choose the candidate; same()
 * compares all of the candidate's bytes, which is what makes a hit exact. Two tails the lean reader accepted
 * differ within the shorter one's length (each ends at its element's closing brace, where reading the same
 * bytes would have ended the other), so every split finds a block in both.
 */
export class TailCache {
  private root: TailNode | undefined = undefined;
  private dv: DataView;
  private n: number;
  /** the accepted tails' bytes, copied: the input under them may be a reused buffer (scanIpRouteStream) */
  private store = new Uint8Array(1 << 16);
  private sdv = new DataView(this.store.buffer);
  private used = 0;
  private size = 0;
  /** elements read from a cached tail (tests: the path was taken) */
  hits = 0;

  constructor(b: Uint8Array) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.n = b.byteLength;
  }

  /** the input's bytes are now b (the next window of a stream) */
  rebind(b: Uint8Array): void {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.n = b.byteLength;
  }

  /** the tail at p matching a cached one; undefined on a miss */
  find(p: number): Tail | undefined {
    let node = this.root;
    if (node === undefined) return undefined;
    const dv = this.dv;
    for (;;) {
      const t = node.tail;
      if (t !== undefined) {
        if (!this.same(t, p)) return undefined;
        this.hits++;
        return t;
      }
      const short = node.short;
      for (let i = 0; i < short.length; i++)
        if (this.same(short[i]!, p)) {
          this.hits++;
          return short[i]!;
        }
      // every tail below ends at or after p + d + 8
      const at = p + node.d;
      if (at + 8 > this.n) return undefined;
      const k0 = dv.getInt32(at, true);
      const k1 = dv.getInt32(at + 4, true);
      const next = this.child(node, k0, k1);
      if (next === undefined) return undefined;
      node = next;
    }
  }

  private child(node: TailNode, k0: number, k1: number): TailNode | undefined {
    const a0 = node.k0;
    const a1 = node.k1;
    if (node.byKey === undefined) {
      for (let i = 0; i < a0.length; i++) if (a0[i] === k0 && a1[i] === k1) return node.kids[i];
      return undefined;
    }
    const at = node.byKey.get(kidKey(k0, k1));
    if (at !== undefined) for (const i of at) if (a0[i] === k0 && a1[i] === k1) return node.kids[i];
    return undefined;
  }

  /**
   * The input at p holds t's bytes. Compared eight bytes at a time as doubles (half the loads of
   * four-byte words): two doubles are equal exactly when their bytes are, except +0/-0 (bytes 0x00
   * and 0x80) and NaN (a top byte 0x7f or 0xff with the next one 0xf0 or above). A cached tail is
   * printable ASCII that leanObject read (no 0x00, nothing above 0x7e), so neither case can make
   * different bytes compare equal: a NaN on the input's side only misses.
   */
  private same(t: Tail, p: number): boolean {
    const n = t.n;
    if (p + n > this.n) return false;
    const s = t.s;
    const dv = this.dv;
    const sdv = this.sdv;
    let k = 0;
    for (; k + 8 <= n; k += 8) if (sdv.getFloat64(s + k, true) !== dv.getFloat64(p + k, true)) return false;
    for (; k < n; k++) if (sdv.getUint8(s + k) !== dv.getUint8(p + k)) return false;
    return true;
  }

  /** the input at p starts with HEAD (its 25th byte, the quote, checked alone) */
  head(p: number): boolean {
    if (p + HEAD.length > this.n) return false;
    const dv = this.dv;
    return (
      dv.getFloat64(p, true) === HEAD_F0 &&
      dv.getFloat64(p + 8, true) === HEAD_F1 &&
      dv.getFloat64(p + 16, true) === HEAD_F2 &&
      dv.getUint8(p + 24) === QUOTE
    );
  }

  /** a tail accepted at t.s in the input, which find() missed: its bytes are copied, t.s then points into the copy */
  add(t: Tail): void {
    if (this.size >= TAIL_MAX || t.n < TAIL_MIN) return;
    if (this.used + t.n > this.store.length) {
      const g = new Uint8Array(Math.max(this.store.length * 2, this.used + t.n));
      g.set(this.store.subarray(0, this.used));
      this.store = g;
      this.sdv = new DataView(g.buffer);
    }
    this.store.set(new Uint8Array(this.dv.buffer, this.dv.byteOffset + t.s, t.n), this.used);
    t.s = this.used;
    this.used += t.n;
    this.size++;
    const sdv = this.sdv;
    let node = this.root;
    if (node === undefined) {
      this.root = new TailNode(t);
      return;
    }
    for (;;) {
      const u = node.tail;
      if (u !== undefined) {
        const d = this.firstDiff(u, t);
        // no difference within the shorter one: not a tail the lean reader accepted (see above); not kept
        if (d < 0) return;
        node.tail = undefined;
        node.d = d;
        this.file(node, u, new TailNode(u));
        this.file(node, t, new TailNode(t));
        return;
      }
      if (t.n < node.d + 8) {
        node.short.push(t);
        return;
      }
      const next = this.child(node, sdv.getInt32(t.s + node.d, true), sdv.getInt32(t.s + node.d + 4, true));
      if (next === undefined) {
        this.file(node, t, new TailNode(t));
        return;
      }
      node = next;
    }
  }

  /** kid (holding t) as a child of node, under t's bytes at node.d */
  private file(node: TailNode, t: Tail, kid: TailNode): void {
    const k0 = this.sdv.getInt32(t.s + node.d, true);
    const k1 = this.sdv.getInt32(t.s + node.d + 4, true);
    node.k0.push(k0);
    node.k1.push(k1);
    node.kids.push(kid);
    const i = node.kids.length - 1;
    if (node.byKey === undefined && node.kids.length > KIDS_LINEAR) {
      node.byKey = new Map();
      for (let j = 0; j < i; j++) this.index(node, j);
    }
    if (node.byKey !== undefined) this.index(node, i);
  }

  private index(node: TailNode, i: number): void {
    const k = kidKey(node.k0[i]!, node.k1[i]!);
    const at = node.byKey!.get(k);
    if (at === undefined) node.byKey!.set(k, [i]);
    else at.push(i);
  }

  /** the offset of the first 8-byte block (the last one may overlap the one before) where two stored tails differ; -1 for none */
  private firstDiff(a: Tail, b: Tail): number {
    const m = Math.min(a.n, b.n);
    const sdv = this.sdv;
    for (let off = 0; off + 8 <= m; off += 8)
      if (sdv.getFloat64(a.s + off, true) !== sdv.getFloat64(b.s + off, true)) return off;
    if (m % 8 !== 0 && sdv.getFloat64(a.s + m - 8, true) !== sdv.getFloat64(b.s + m - 8, true)) return m - 8;
    return -1;
  }
}

/** bytes a run stops short of the view's end: no element's head and destination reads past it */
const RUN_MARGIN = 256;

/**
 * Bulk elements from sc.p on, as many as follow each other: `{"type":"unicast","dst":"…"` with a
 * destination leanDst reads and a tail the cache holds, each followed by `,{`. Each gets exactly what
 * scanCore's loop would give it through tailObject (columns, byte range, the nhid count); the run
 * stops, with sc.p at the element it did not take, at anything else: a miss, an element whose
 * verdict needs scanCore (the first nhid one, a tail without a table once `detailed`), the last
 * RUN_MARGIN bytes of the view, a full column or range array. Kept small and apart from scanCore so
 * that V8 optimises it early and once: scanCore's rare paths (a refill, a miss, the local table at
 * the end) then deoptimise only scanCore. How many elements it took.
 */
function runOf(
  sc: Scanner,
  cols: ColumnBuilder,
  ranges: Ranges,
  lo: number,
  tails: TailCache,
  nhidFast: number[],
  detailed: boolean,
): number {
  const b = sc.b;
  const stop = b.length - RUN_MARGIN;
  const cap = Math.min(cols.len.length, ranges.a.length >>> 1);
  const words = cols.words;
  const { len: lens, type, table, metric, tos, plain, hasSrc } = cols;
  const ra = ranges.a;
  let slot = cols.count;
  let p = sc.p;
  const first = slot;
  while (p < stop && slot < cap) {
    if (!tails.head(p)) break;
    const len = leanDst(sc, p + HEAD.length - 1, cols, slot * words);
    if (len < 0) break;
    const t = tails.find(leanAt);
    if (t === undefined) break;
    const end = leanAt + t.n;
    if (end + 1 >= b.length || b[end] !== COMMA || b[end + 1] !== LBRACE) break;
    let tab = t.table;
    if (tab === NO_TABLE) {
      if (detailed) break;
      tab = 254;
    }
    if (t.nhid) {
      if (nhidFast.length === 0) break;
      nhidFast.push(slot);
    }
    lens[slot] = len;
    type[slot] = ROUTE_TYPE_CODE.unicast;
    table[slot] = tab;
    metric[slot] = t.metric;
    tos[slot] = 0;
    plain[slot] = t.plain;
    hasSrc[slot] = 0;
    ra[slot * 2] = lo + p;
    ra[slot * 2 + 1] = lo + end;
    slot++;
    p = end + 1;
  }
  cols.count = slot;
  ranges.n = slot;
  sc.p = p;
  return slot - first;
}

/**
 * leanObject with the repeated-tail shortcut: the same result (1, 2 or -1, the same columns, the
 * same leanEnd).
 */
function tailObject(sc: Scanner, start: number, cols: ColumnBuilder, slot: number, tails: TailCache): number {
  if (!tails.head(start)) return leanObject(sc, start, cols, slot);
  const saved = sc.p;
  const len = leanDst(sc, start + HEAD.length - 1, cols, slot * cols.words);
  sc.p = saved;
  if (len < 0) return leanObject(sc, start, cols, slot);
  const p = leanAt;
  const t = tails.find(p);
  if (t !== undefined) {
    cols.len[slot] = len;
    cols.type[slot] = ROUTE_TYPE_CODE.unicast;
    cols.table[slot] = t.table;
    cols.metric[slot] = t.metric;
    cols.tos[slot] = 0;
    cols.plain[slot] = t.plain;
    cols.hasSrc[slot] = 0;
    leanEnd = p + t.n;
    return t.nhid ? 2 : 1;
  }
  const r = leanObject(sc, start, cols, slot);
  if (r > 0)
    tails.add({
      s: p,
      n: leanEnd - p,
      table: cols.table[slot]!,
      metric: cols.metric[slot]!,
      plain: cols.plain[slot]!,
      nhid: r === 2,
    });
  return r;
}
