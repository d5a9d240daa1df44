import type { Family, NodeState, Route, RouteType } from './types.js';

/** Route types as small integers, in the order the FIB tests them (< BLACKHOLE forwards). */
export const ROUTE_TYPE_CODE: Record<RouteType, number> = {
  unicast: 0,
  local: 1,
  broadcast: 2,
  anycast: 3,
  multicast: 4,
  blackhole: 5,
  unreachable: 6,
  prohibit: 7,
  throw: 8,
  nat: 9,
};
/** A slot that holds no route (an entry the parser skipped, with a warning). */
export const SLOT_SKIPPED = 255;

/**
 * Routes of one probe held column-wise: what the FIB indexes for every route (prefix, table, type,
 * metric, tos, whether a next hop is dead/linkdown), with the Route object itself built only for
 * the routes a question touches. A million routes cost tens of MB here instead of a million objects.
 * Slot i is the i-th element of the probe's output; slots with type SLOT_SKIPPED hold no route.
 */
export interface RouteColumns {
  readonly family: Family;
  /** number of slots */
  readonly count: number;
  /** network with host bits clear: 1 word per slot for IPv4, 4 for IPv6 */
  readonly key: Uint32Array;
  readonly len: Uint8Array;
  readonly table: Uint32Array;
  /** ROUTE_TYPE_CODE, or SLOT_SKIPPED */
  readonly type: Uint8Array;
  /** metric as the kernel orders by it (absent: 0 for IPv4, 1024 for IPv6) */
  readonly metric: Uint32Array;
  readonly tos: Uint8Array;
  /** 1 when neither the route nor any next hop carries dead or linkdown */
  readonly plain: Uint8Array;
  /** 1 when the route is source-specific (IPv6 `from`): the FIB reads Route.src */
  readonly hasSrc: Uint8Array;
  /** the full Route of slot i (same object on every call); only for slots that hold a route */
  route(i: number): Route;
}

/** Words per key. */
export const keyWords = (family: Family): 1 | 4 => (family === 4 ? 1 : 4);

/** Growable typed columns, filled slot by slot. */
export class ColumnBuilder {
  count = 0;
  key: Uint32Array;
  len: Uint8Array;
  table: Uint32Array;
  type: Uint8Array;
  metric: Uint32Array;
  tos: Uint8Array;
  plain: Uint8Array;
  hasSrc: Uint8Array;
  readonly words: 1 | 4;

  constructor(
    readonly family: Family,
    cap = 1024,
  ) {
    this.words = keyWords(family);
    this.key = new Uint32Array(cap * this.words);
    this.len = new Uint8Array(cap);
    this.table = new Uint32Array(cap);
    this.type = new Uint8Array(cap);
    this.metric = new Uint32Array(cap);
    this.tos = new Uint8Array(cap);
    this.plain = new Uint8Array(cap);
    this.hasSrc = new Uint8Array(cap);
  }

  /** Index of a new slot (type SLOT_SKIPPED until set). */
  add(): number {
    if (this.count === this.len.length) this.grow(this.count * 2);
    const i = this.count++;
    this.type[i] = SLOT_SKIPPED;
    return i;
  }

  private grow(cap: number): void {
    const g = <T extends Uint8Array | Uint32Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a.subarray(0, Math.min(a.length, n)));
      return b;
    };
    this.key = g(this.key, cap * this.words);
    this.len = g(this.len, cap);
    this.table = g(this.table, cap);
    this.type = g(this.type, cap);
    this.metric = g(this.metric, cap);
    this.tos = g(this.tos, cap);
    this.plain = g(this.plain, cap);
    this.hasSrc = g(this.hasSrc, cap);
  }

  /** Fills slot i from a parsed Route; false when its dst is not a prefix of the family. */
  setFromRoute(i: number, r: Route): boolean {
    const w = this.words;
    const k = parsePrefixInto(r.family, r.dst, this.key, i * w);
    if (k < 0) return false;
    this.len[i] = k;
    this.table[i] = r.table;
    this.type[i] = ROUTE_TYPE_CODE[r.type] ?? ROUTE_TYPE_CODE.nat;
    this.metric[i] = r.metric ?? (r.family === 6 ? 1024 : 0);
    this.tos[i] = r.tos ?? 0;
    const bad = (f: string[] | undefined) => f !== undefined && (f.includes('dead') || f.includes('linkdown'));
    this.plain[i] = bad(r.flags) || r.nexthops.some((h) => bad(h.flags)) ? 0 : 1;
    this.hasSrc[i] = r.src !== undefined ? 1 : 0;
    return true;
  }

  /** Trimmed columns (copies, so the growth slack is freed). */
  finish(route: (i: number) => Route): RouteColumns {
    return { ...this.arrays(), route };
  }

  /** The trimmed columns as plain data (what a worker thread can hand over). */
  arrays(): ColumnArrays {
    const n = this.count;
    return {
      family: this.family,
      count: n,
      key: this.key.slice(0, n * this.words),
      len: this.len.slice(0, n),
      table: this.table.slice(0, n),
      type: this.type.slice(0, n),
      metric: this.metric.slice(0, n),
      tos: this.tos.slice(0, n),
      plain: this.plain.slice(0, n),
      hasSrc: this.hasSrc.slice(0, n),
    };
  }
}

/** RouteColumns without its route(): typed arrays only. */
export type ColumnArrays = Omit<RouteColumns, 'route'>;

/** The typed arrays of columns, for a transfer list. */
export const columnBuffers = (c: ColumnArrays): ArrayBuffer[] =>
  [c.key, c.len, c.table, c.type, c.metric, c.tos, c.plain, c.hasSrc].map((a) => a.buffer as ArrayBuffer);

/** Columns over Route objects already parsed (small tables, text input, tests). */
export function columnsFromRoutes(routes: Route[], family: Family): RouteColumns & { invalid: Route[] } {
  const b = new ColumnBuilder(family, Math.max(4, routes.length));
  const held: Route[] = [];
  const invalid: Route[] = [];
  for (const r of routes) {
    if (r.family !== family) continue;
    const i = b.add();
    held.push(r);
    if (!b.setFromRoute(i, r)) {
      b.type[i] = SLOT_SKIPPED;
      invalid.push(r);
    }
  }
  return Object.assign(
    b.finish((i) => held[i]!),
    { invalid },
  );
}

/** One column source from several of the same family (slots in order: a's, then b's, ...). */
export function mergeColumns(list: RouteColumns[]): RouteColumns {
  if (list.length === 1) return list[0]!;
  const family = list[0]!.family;
  const words = keyWords(family);
  const b = new ColumnBuilder(
    family,
    Math.max(
      4,
      list.reduce((n, c) => n + c.count, 0),
    ),
  );
  const at: number[] = [];
  for (const c of list) {
    if (c.family !== family) throw new Error('mergeColumns: mixed families');
    at.push(b.count);
    for (let i = 0; i < c.count; i++) {
      const j = b.add();
      for (let w = 0; w < words; w++) b.key[j * words + w] = c.key[i * words + w]!;
      b.len[j] = c.len[i]!;
      b.table[j] = c.table[i]!;
      b.type[j] = c.type[i]!;
      b.metric[j] = c.metric[i]!;
      b.tos[j] = c.tos[i]!;
      b.plain[j] = c.plain[i]!;
      b.hasSrc[j] = c.hasSrc[i]!;
    }
  }
  return b.finish((i) => {
    let s = list.length - 1;
    while (at[s]! > i) s--;
    return list[s]!.route(i - at[s]!);
  });
}

/**
 * The routes of a node state that pass `keep`, in dump order: its Route objects, or, for routes held
 * as columns, only the slots that pass the column test `pre` built and tested (a query about the
 * default route or the local table builds a handful of a million routes).
 */
export function findRoutes(
  state: Pick<NodeState, 'routes' | 'routeColumns'>,
  keep: (r: Route) => boolean,
  pre: { family?: Family; table?: number; type?: RouteType; len?: number } = {},
): Route[] {
  if (!state.routeColumns)
    return state.routes.filter((r) => (pre.family === undefined || r.family === pre.family) && keep(r));
  const out: Route[] = [];
  const type = pre.type === undefined ? undefined : ROUTE_TYPE_CODE[pre.type];
  for (const c of state.routeColumns) {
    if (pre.family !== undefined && c.family !== pre.family) continue;
    for (let i = 0; i < c.count; i++) {
      if (
        c.type[i] === SLOT_SKIPPED ||
        (type !== undefined && c.type[i] !== type) ||
        (pre.table !== undefined && c.table[i] !== pre.table) ||
        (pre.len !== undefined && c.len[i] !== pre.len)
      )
        continue;
      const r = c.route(i);
      if (keep(r)) out.push(r);
    }
  }
  return out;
}

/** Every route the columns hold, in slot order (builds every Route: for small tables and tests). */
export function allRoutes(c: RouteColumns): Route[] {
  const out: Route[] = [];
  for (let i = 0; i < c.count; i++) if (c.type[i] !== SLOT_SKIPPED) out.push(c.route(i));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Address text → words, without allocation.

/** Dotted quad into out[at]; false unless exactly four decimal octets without leading zeros. */
export function parseV4At(s: string, out: Uint32Array, at = 0): boolean {
  // at most 15 characters, all ASCII: the text goes through the byte parser
  if (s.length > 15) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) return false;
    V4_TEXT[i] = c;
  }
  return parseV4Bytes(V4_TEXT, 0, s.length, out, at);
}

const V4_TEXT = new Uint8Array(15);

/** Dotted quad in b[s..e) into out[at], as node's isIPv4 accepts it (no leading zeros). */
export function parseV4Bytes(b: Uint8Array, s: number, e: number, out: Uint32Array, at: number): boolean {
  let val = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return false; // leading zero: node's isIPv4 rejects it too
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return false;
    } else if (c === 46) {
      if (digits === 0 || dots === 3) return false;
      val = val * 256 + part;
      dots++;
      part = 0;
      digits = 0;
    } else return false;
  }
  if (dots !== 3 || digits === 0) return false;
  out[at] = (val * 256 + part) >>> 0;
  return true;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const groups = new Uint16Array(8);
const v4tmp = new Uint32Array(1);

/** IPv6 text (with `::` and an embedded dotted quad, no zone id) into out[at..at+4). */
export function parseV6At(s: string, out: Uint32Array, at = 0): boolean {
  const g = groups;
  const len = s.length;
  if (len < 2 || len > 45) return false;
  let n = 0;
  let gap = -1;
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === len) {
      out[at] = out[at + 1] = out[at + 2] = out[at + 3] = 0;
      return true;
    }
  }
  while (i < len) {
    let j = i;
    let hasDot = false;
    while (j < len) {
      const c = s.charCodeAt(j);
      if (c === 58) break;
      if (c === 46) hasDot = true;
      j++;
    }
    if (hasDot) {
      if (j !== len || n > 6) return false;
      if (!parseV4At(s.slice(i, j), v4tmp, 0)) return false;
      g[n++] = v4tmp[0]! >>> 16;
      g[n++] = v4tmp[0]! & 0xffff;
      i = j;
      break;
    }
    const digits = j - i;
    if (digits === 0 || digits > 4 || n >= 8) return false;
    let v = 0;
    for (let k = i; k < j; k++) {
      const h = hexVal(s.charCodeAt(k));
      if (h < 0) return false;
      v = (v << 4) | h;
    }
    g[n++] = v;
    if (j === len) {
      i = j;
      break;
    }
    if (j + 1 < len && s.charCodeAt(j + 1) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i = j + 2;
      if (i === len) break;
    } else {
      if (j + 1 === len) return false;
      i = j + 1;
    }
  }
  return packV6Groups(g, n, gap, out, at);
}

/**
 * The n hex groups read from an IPv6 address, with the `::` at group index gap (-1: none), expanded to
 * eight and packed into out[at..at+4); false when the count cannot be a whole address.
 */
export function packV6Groups(g: Uint16Array, n: number, gap: number, out: Uint32Array, at: number): boolean {
  if (gap < 0) {
    if (n !== 8) return false;
  } else {
    if (n > 7) return false;
    const move = n - gap;
    for (let k = 0; k < move; k++) g[7 - k] = g[n - 1 - k]!;
    for (let k = gap; k < 8 - move; k++) g[k] = 0;
  }
  out[at] = ((g[0]! << 16) | g[1]!) >>> 0;
  out[at + 1] = ((g[2]! << 16) | g[3]!) >>> 0;
  out[at + 2] = ((g[4]! << 16) | g[5]!) >>> 0;
  out[at + 3] = ((g[6]! << 16) | g[7]!) >>> 0;
  return true;
}

/** Clears the bits past len of the key at out[at..]. */
export function maskKey(out: Uint32Array, at: number, words: number, len: number): void {
  for (let w = 0; w < words; w++) {
    const keep = len - w * 32;
    if (keep >= 32) continue;
    out[at + w] = keep <= 0 ? 0 : (out[at + w]! & ((0xffffffff << (32 - keep)) >>> 0)) >>> 0;
  }
}

/**
 * `addr/len` (or a bare address: a host prefix) into out[at..], host bits cleared; returns the
 * length, or -1 when it is not a prefix of the family.
 */
export function parsePrefixInto(family: Family, p: string, out: Uint32Array, at = 0): number {
  const slash = p.indexOf('/');
  const a = slash < 0 ? p : p.slice(0, slash);
  if (!(family === 4 ? parseV4At(a, out, at) : parseV6At(a, out, at))) return -1;
  const max = family === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const t = p.slice(slash + 1);
    if (!/^\d{1,3}$/.test(t)) return -1;
    len = Number(t);
    if (len > max) return -1;
  }
  maskKey(out, at, family === 4 ? 1 : 4, len);
  return len;
}
