import { ColumnBuilder } from '../../model/route-columns.js';
import type { Family } from '../../model/types.js';
import { COMMA, isWs, JsonBytes, LBRACE, RBRACKET } from '../json-bytes.js';
import { DETAIL_WINDOW } from './parse-route.js';
import {
  finishScan,
  scanElements,
  scanIpRouteStream,
  SCAN_CHUNK,
  Window,
  type ReadBytes,
  type RouteScanData,
  type ScannedElements,
  type ScanOptions,
} from './route-scan.js';

/**
 * Two route dumps of one node (a diff's before and after side): the after side's scan made from the
 * before side's, reading in full only the elements that differ.
 *
 * The kernel dumps a table in a stable order, so two captures of one node are the same bytes but for
 * the routes that changed. The before side is scanned in full (scanElements); then both files are
 * compared in large blocks, and each differing stretch is cut at the before side's element boundaries
 * and resynchronised: the after side's elements from there are walked one by one until one of them,
 * with its separator, is byte for byte a before element a little further on. That gives an edit script
 * (before elements kept, with their byte offset moved; before elements removed; after elements added):
 * it need not be minimal, only valid, and it is, because every kept element was compared byte for byte.
 * The after side's columns are then the kept elements' columns copied, and the added elements'
 * scanned by the same loop (scanElements) with the `detailed` verdict the before side's first
 * elements gave. An element's columns depend only on its bytes and that verdict, so the result is
 * what a full scan of the after file gives; the parser's part (finishScan) then runs over the after
 * side's own slow and nhid elements, so its warnings are the full scan's too.
 *
 * Whenever this is not sure to hold (an edit among the first DETAIL_WINDOW elements, which decide
 * `detailed`; a resync not found within a short reach; anything unusual in the after file), the after
 * file is scanned in full instead: slower, never different.
 */

/** Reads up to n bytes of the input at byte `pos` into buf[at..]: how many (0 at its end), -1 when refused. */
export type ReadAt = (buf: Uint8Array, at: number, n: number, pos: number) => number;

export interface PairInput {
  read: ReadAt;
  size: number;
}

export interface PairStats {
  /** the after side was made from the before side's scan (false: scanned in full) */
  reused: boolean;
  /** after elements scanned (added), before elements dropped (removed), kept */
  added: number;
  removed: number;
  kept: number;
}

/** how far a resync looks: after elements walked, before elements ahead of the differing one */
const RESYNC_AFTER = 256;
const RESYNC_BEFORE = 256;
/** bytes compared at once */
const BLOCK = 256 << 10;
/** bytes read at least per read, and kept before the position a view moves to (a differing element's start) */
const READ_MIN = 256 << 10;
const KEEP_BACK = 64 << 10;

/** -2: a read was refused or came short */
const REFUSED = -2;

/** A moving view of one input, read through one buffer (grown only for a longer stretch). */
class View {
  buf: Buffer;
  lo = 0;
  n = 0;
  bad = false;

  constructor(
    private readonly read: ReadAt,
    readonly size: number,
    chunk: number,
  ) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(chunk, READ_MIN));
  }

  /** bytes [pos, pos + k) in the view, k = min(want, size - pos); -1 when refused (a read, CR or ANSI codes) */
  ensure(pos: number, want: number): number {
    const k = Math.min(want, this.size - pos);
    if (k <= 0) return 0;
    if (pos >= this.lo && pos + k <= this.lo + this.n) return k;
    if (this.bad) return -1;
    const end = this.lo + this.n;
    // keep what is in the view from a little before pos (a differing element starts there), read on after it
    const keep = pos >= this.lo && pos <= end ? Math.max(this.lo, pos - KEEP_BACK) : pos;
    const kept = keep < end && keep >= this.lo ? end - keep : 0;
    const need = pos + k - keep;
    if (need + READ_MIN > this.buf.length) {
      const g = Buffer.allocUnsafeSlow(Math.max(need + READ_MIN, this.buf.length * 2));
      if (kept) this.buf.copy(g, 0, keep - this.lo, this.n);
      this.buf = g;
    } else if (kept) this.buf.copyWithin(0, keep - this.lo, this.n);
    this.lo = keep;
    this.n = kept;
    const upTo = Math.min(this.buf.length, this.size - keep, Math.max(need, kept + READ_MIN));
    while (this.n < upTo) {
      const got = this.read(this.buf, this.n, upTo - this.n, this.lo + this.n);
      if (got <= 0) break;
      const fresh = this.buf.subarray(this.n, this.n + got);
      // as scanCore: CR or ANSI codes are the parser's to clean; the full scan refuses them
      if (fresh.indexOf(0x0d) >= 0 || fresh.indexOf(0x1b) >= 0) break;
      this.n += got;
    }
    if (this.n < need) {
      this.bad = true;
      this.n = 0;
      return -1;
    }
    return k;
  }

  at(pos: number, k: number): Buffer {
    return this.buf.subarray(pos - this.lo, pos - this.lo + k);
  }
}

/** The first byte where a[pa..] and b[pb..] differ, as an offset from them, over `len` bytes; -1: none. */
function firstDiff(a: View, pa: number, b: View, pb: number, len: number): number {
  let off = 0;
  while (off < len) {
    const want = Math.min(len - off, BLOCK);
    const ka = a.ensure(pa + off, want);
    const kb = b.ensure(pb + off, want);
    if (ka < 0 || kb < 0) return REFUSED;
    const k = Math.min(ka, kb);
    if (k === 0) return off;
    const va = a.at(pa + off, k);
    const vb = b.at(pb + off, k);
    if (va.equals(vb)) {
      off += k;
      continue;
    }
    // halves compared as memory until a short stretch is left
    let lo = 0;
    let hi = k;
    while (hi - lo > 64) {
      const mid = (lo + hi) >>> 1;
      if (va.subarray(lo, mid).equals(vb.subarray(lo, mid))) lo = mid;
      else hi = mid;
    }
    for (let i = lo; i < hi; i++) if (va[i] !== vb[i]) return off + i;
    return off + hi;
  }
  return -1;
}

/** Largest i < n with starts(i) <= x; -1 when x is before the first. */
function elementAt(r: Uint32Array, n: number, x: number): number {
  let lo = -1;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (r[mid * 2]! <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The after file's elements from one of their starts: each one's end, the next one's start. */
class Walker {
  private readonly js = new JsonBytes(new Uint8Array(0));
  constructor(private readonly v: View) {}

  /** end of the object at q; -1 when it is none (or the input is refused) */
  end(q: number): number {
    const v = this.v;
    for (let want = 4096; ; want *= 2) {
      const k = v.ensure(q, want);
      if (k <= 0) return -1;
      const b = v.at(q, k);
      if (b[0] !== LBRACE) return -1;
      this.js.b = b;
      this.js.p = 0;
      if (this.js.skipValue()) return q + this.js.p;
      if (k < want) return -1;
    }
  }

  /** first byte at or after p that is not whitespace; size at the input's end; -1 when refused */
  skipWs(p: number): number {
    const v = this.v;
    for (;;) {
      const k = v.ensure(p, 4096);
      if (k < 0) return -1;
      if (k === 0) return v.size;
      const b = v.at(p, k);
      let i = 0;
      while (i < k && isWs(b[i]!)) i++;
      if (i < k) return p + i;
      p += k;
    }
  }

  /**
   * After an element that ends at e: the next element's start, or -(its `]`'s position + 1) when the
   * array ends there with nothing but whitespace after it; undefined for anything else.
   */
  next(e: number): number | undefined {
    const v = this.v;
    const c = this.skipWs(e);
    if (c < 0 || c >= v.size) return undefined;
    v.ensure(c, 1);
    const ch = v.at(c, 1)[0];
    if (ch === COMMA) {
      const q = this.skipWs(c + 1);
      return q < 0 || q >= v.size ? undefined : q;
    }
    if (ch === RBRACKET) return this.skipWs(c + 1) === v.size ? -(c + 1) : undefined;
    return undefined;
  }
}

type Segment = { kept: true; b0: number; b1: number; delta: number } | { kept: false; from: number; to: number };

/**
 * The after side's elements from the before side's (not yet finished: finishScan has not run over
 * `bef`), or undefined when the after file must be scanned in full.
 */
export function afterFromBefore(
  bef: ScannedElements,
  before: PairInput,
  after: PairInput,
  family: Family,
  opts: ScanOptions & { chunk?: number } = {},
  stats?: PairStats,
):
  | { got: Omit<ScannedElements, 'texts' | 'leanTaken' | 'runTaken' | 'tailHits'>; text: (i: number) => string }
  | undefined {
  const r = bef.ranges.a;
  const n = bef.ranges.n;
  if (n <= DETAIL_WINDOW || after.size > 0xffffffff) return undefined;
  const chunk = opts.chunk ?? SCAN_CHUNK;
  const B = new View(before.read, before.size, chunk);
  const A = new View(after.read, after.size, chunk);
  const walk = new Walker(A);
  const segs: Segment[] = [];
  // the added elements' byte ranges in the after file, and their bytes
  const addedAt: number[] = [];
  const addedBytes: Buffer[] = [];
  let run = 0;
  let delta = 0;
  let pb = 0;
  for (;;) {
    const len = Math.max(before.size - pb, after.size - pb - delta);
    const d = firstDiff(B, pb, A, pb + delta, len);
    if (d === REFUSED) return undefined;
    if (d < 0) {
      segs.push({ kept: true, b0: run, b1: n, delta });
      break;
    }
    const k = elementAt(r, n, pb + d);
    // in the array's head; or among the elements that decide `detailed`
    if (k < run || (segs.length === 0 && k < DETAIL_WINDOW)) return undefined;
    if (k > run) segs.push({ kept: true, b0: run, b1: k, delta });
    // the bytes before before-element k are the after file's, shifted by delta: an after element starts there
    let q = r[k * 2]! + delta;
    const from = addedAt.length >> 1;
    let found = -1;
    for (let m = 0; m <= RESYNC_AFTER; m++) {
      if (q < 0) break;
      const e = walk.end(q);
      if (e < 0) return undefined;
      const elLen = e - q;
      for (let j = k; j < n && j <= k + RESYNC_BEFORE; j++) {
        if (r[j * 2 + 1]! - r[j * 2]! !== elLen) continue;
        // the element and what follows it to the next one (or to the end of the input) the same bytes
        const unit = (j + 1 < n ? r[(j + 1) * 2]! : before.size) - r[j * 2]!;
        if (j + 1 === n && after.size - q !== unit) continue;
        const same = firstDiff(B, r[j * 2]!, A, q, unit);
        if (same === REFUSED) return undefined;
        if (same < 0) {
          found = j;
          break;
        }
      }
      if (found >= 0) break;
      addedAt.push(q, e);
      A.ensure(q, elLen);
      addedBytes.push(Buffer.from(A.at(q, elLen)));
      const nx = walk.next(e);
      if (nx === undefined) return undefined;
      q = nx;
    }
    const to = addedAt.length >> 1;
    if (to > from) segs.push({ kept: false, from, to });
    if (found >= 0) {
      run = found;
      delta = q - r[found * 2]!;
      pb = r[found * 2]!;
      continue;
    }
    // the after array ended: every before element from k on was removed
    if (q < 0) break;
    return undefined;
  }
  if (A.bad || B.bad) return undefined;

  // the added elements, scanned as the loop scans elements past the first DETAIL_WINDOW
  const added = addedAt.length >> 1;
  let mini: ScannedElements | undefined;
  if (added > 0) {
    const parts: Buffer[] = [Buffer.from('[')];
    for (let i = 0; i < added; i++) {
      if (i > 0) parts.push(Buffer.from(','));
      parts.push(addedBytes[i]!);
    }
    parts.push(Buffer.from(']'));
    mini = scanElements(new Window(Buffer.concat(parts)), family, opts, { detailed: bef.detailed });
    if (!mini || mini.cols.count !== added) return undefined;
  }

  let total = 0;
  for (const s of segs) total += s.kept ? s.b1 - s.b0 : s.to - s.from;
  const cols = new ColumnBuilder(family, Math.max(1, total));
  cols.count = total;
  const w = cols.words;
  const ra = new Uint32Array(total * 2);
  const slow: number[] = [];
  const nhidFast: number[] = [];
  const src = bef.cols;
  let at = 0;
  let si = 0;
  let ni = 0;
  let ms = 0;
  let mn = 0;
  let kept = 0;
  const copy = (c: ColumnBuilder, i0: number, i1: number) => {
    cols.key.set(c.key.subarray(i0 * w, i1 * w), at * w);
    cols.len.set(c.len.subarray(i0, i1), at);
    cols.table.set(c.table.subarray(i0, i1), at);
    cols.type.set(c.type.subarray(i0, i1), at);
    cols.metric.set(c.metric.subarray(i0, i1), at);
    cols.tos.set(c.tos.subarray(i0, i1), at);
    cols.plain.set(c.plain.subarray(i0, i1), at);
    cols.hasSrc.set(c.hasSrc.subarray(i0, i1), at);
  };
  for (const s of segs) {
    if (s.kept) {
      const { b0, b1, delta: dl } = s;
      copy(src, b0, b1);
      for (let t = b0; t < b1; t++) {
        ra[(at + t - b0) * 2] = r[t * 2]! + dl;
        ra[(at + t - b0) * 2 + 1] = r[t * 2 + 1]! + dl;
      }
      while (si < bef.slow.length && bef.slow[si]! < b0) si++;
      while (si < bef.slow.length && bef.slow[si]! < b1) slow.push(bef.slow[si++]! - b0 + at);
      while (ni < bef.nhidFast.length && bef.nhidFast[ni]! < b0) ni++;
      while (ni < bef.nhidFast.length && bef.nhidFast[ni]! < b1) nhidFast.push(bef.nhidFast[ni++]! - b0 + at);
      at += b1 - b0;
      kept += b1 - b0;
    } else {
      const { from, to } = s;
      const m = mini!;
      copy(m.cols, from, to);
      for (let t = from; t < to; t++) {
        ra[(at + t - from) * 2] = addedAt[t * 2]!;
        ra[(at + t - from) * 2 + 1] = addedAt[t * 2 + 1]!;
      }
      while (ms < m.slow.length && m.slow[ms]! < to) slow.push(m.slow[ms++]! - from + at);
      while (mn < m.nhidFast.length && m.nhidFast[mn]! < to) nhidFast.push(m.nhidFast[mn++]! - from + at);
      at += to - from;
    }
  }
  if (stats) {
    stats.reused = true;
    stats.added = added;
    stats.kept = kept;
    stats.removed = n - kept;
  }
  const text = (i: number): string => {
    const s = ra[i * 2]!;
    const len = ra[i * 2 + 1]! - s;
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const k = after.read(buf, got, len - got, s + got);
      // finishScan turns a text that is not JSON into "scan in full" (undefined)
      if (k <= 0) return '';
      got += k;
    }
    return buf.toString('utf8');
  };
  return { got: { cols, ranges: { a: ra, n: total }, slow, nhidFast, detailed: bef.detailed }, text };
}

/** Bytes of an input in order, from a positional reader; `pos` ends at how far it read. */
function sequential(read: ReadAt): { read: ReadBytes; pos: () => number } {
  let pos = 0;
  return {
    read: (buf, at, n) => {
      const k = read(buf, at, n, pos);
      if (k > 0) pos += k;
      return k;
    },
    pos: () => pos,
  };
}

/**
 * Both sides of a pair: the before file scanned in full, the after file from it (afterFromBefore) or,
 * when that cannot be sure, in full. A side is undefined when its file is not plain `ip -j route`
 * JSON (or was not read whole): its reader then parses it, as for a single scan.
 */
export function scanRoutePair(
  before: PairInput,
  after: PairInput,
  probe: string,
  family: Family,
  opts: ScanOptions & { chunk?: number; stats?: ScanOptions['stats']; pair?: PairStats } = {},
): { before: RouteScanData | undefined; after: RouteScanData | undefined } {
  const full = (x: PairInput) => {
    const s = sequential(x.read);
    const d = scanIpRouteStream(s.read, probe, family, { ...opts, size: x.size });
    return d && s.pos() === x.size ? d : undefined;
  };
  const sb = sequential(before.read);
  const w = new Window(Buffer.allocUnsafeSlow(Math.max(1, opts.chunk ?? SCAN_CHUNK)), sb.read, before.size);
  const bef = w.fill(64 << 10) ? scanElements(w, family, opts) : undefined;
  if (!bef || sb.pos() !== before.size) return { before: undefined, after: full(after) };
  if (opts.pair) opts.pair.reused = false;
  const made = afterFromBefore(bef, before, after, family, opts, opts.pair);
  // composed before the before side is finished: finishScan sets its slow slots' columns
  const a = made && finishScan(made.got, probe, family, made.text);
  const b = finishScan(bef, probe, family, (slot) => bef.texts.get(slot)!);
  if (made && !a && opts.pair) opts.pair.reused = false;
  return { before: b, after: a ?? full(after) };
}
