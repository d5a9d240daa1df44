/**
 * Byte search at memory speed: every occurrence of a short needle in a byte range, with the number of
 * newlines (any chosen byte) before each, in one pass of 16-byte WebAssembly SIMD vectors. Buffer.indexOf
 * restarts a native search at every partial match (an address needle matches at every `=` of a conntrack
 * line), and a count of newlines by indexOf is one call per line; this pass reads each byte once.
 *
 * The module is assembled below from a table of opcodes (no tool at build or run time) and instantiated
 * once per thread, synchronously. `byteSearch()` answers undefined where WebAssembly or its SIMD is missing;
 * `plainSearch` is the same API on Buffer.indexOf, for those places and as the reference of the tests.
 */

export interface ByteSearch {
  /** true: the SIMD module; false: Buffer.indexOf (plainSearch) */
  readonly simd: boolean;
  /**
   * Every start of `needle` lying whole in hay[from, to), ascending, overlapping ones included; `before[k]`
   * counts `byte` in hay[from, pos[k]). `lines`: `byte` in all of hay[from, to). `special`: a control byte
   * (below 0x20) other than `byte` is in hay[from, to), a NUL, an ESC, a CR, a tab (the conntrack scanner
   * hands such a region to its exact checks).
   */
  scan(hay: Uint8Array, needle: Uint8Array, from: number, to: number, byte: number): ScanHits;
  /** where `needle` first lies whole in hay[from, to), or -1 */
  findFirst(hay: Uint8Array, needle: Uint8Array, from?: number, to?: number): number;
  /** every start of `needle` lying whole in hay[from, to), ascending */
  findAll(hay: Uint8Array, needle: Uint8Array, from?: number, to?: number): number[];
  /** how many times `byte` is in hay[from, to) */
  count(hay: Uint8Array, byte: number, from?: number, to?: number): number;
  /**
   * A buffer of `size` bytes inside the module's memory, lent to one reader at a time (release() gives it
   * back): a search of a range inside it reads it in place instead of copying it in. undefined when it is
   * lent already, too small, or there is no module.
   */
  lease(size: number): { buf: Buffer; release(): void } | undefined;
  /**
   * The lines of hay[from, to) (whole lines: hay[to - 1] is a newline) that plainNatLess (conntrack/scan.ts) does
   * not answer 1 for, i.e. all but the plain lines without destination NAT: `count` groups of four in `quads`
   * (start, end at its newline, index of the line counted from `from`, the answer: 0, -1, 2 where plainNatLess
   * answers -1 and dnatSkip true, 3 where it answers 0 and readFast accepts the line, its fields in `recs`);
   * `lines`: the lines of
   * the range. `quads` is valid until the next call. undefined: no module, hay[to - 1] is not a newline, or a
   * line longer than the copy window.
   */
  natLines(hay: Uint8Array, from: number, to: number): NatLines | undefined;
}

export interface NatLines {
  quads: Int32Array;
  /** per quad, REC.size f64: where its answer is 3, the fields fast.ts's readFast reads (REC; positions in hay) */
  recs: Float64Array;
  count: number;
  lines: number;
}

export interface ScanHits {
  pos: number[];
  before: number[];
  lines: number;
  special: boolean;
}

/** Longest needle the module takes; a longer one is searched by plainSearch (no caller needs one). */
export const MAX_NEEDLE = 1024;

// ---- the module, as bytes ----------------------------------------------------------------------------
// Only what the two functions use. Numbers are the WebAssembly binary encoding (core spec 5.4, SIMD 0xfd).
const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalSet: 0x24,
  i32Load8u: 0x2d,
  i32Store: 0x36,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32LeS: 0x4c,
  i32GeU: 0x4f,
  i32Ctz: 0x68,
  i32Popcnt: 0x69,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Or: 0x72,
  i32Shl: 0x74,
  select: 0x1b,
  void: 0x40,
  i32: 0x7f,
  v128: 0x7b,
} as const;
/** SIMD instructions: 0xfd, then this number (all below 0x80: one LEB128 byte) */
const SIMD = {
  load: 0x00,
  splat8: 0x0f,
  eq8: 0x23,
  ltU8: 0x26,
  and: 0x4e,
  andnot: 0x4f,
  or: 0x50,
  anyTrue: 0x53,
  neg8: 0x61,
  bitmask8: 0x64,
  add8: 0x6e,
  minU8: 0x77,
  maxU8: 0x79,
  extadd16u: 0x7d,
  extadd32u: 0x7f,
  lane32: 0x1b,
} as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

// instruction helpers: each returns its bytes
const get = (l: number) => [OP.localGet, l];
const set = (l: number) => [OP.localSet, l];
const tee = (l: number) => [OP.localTee, l];
const c32 = (n: number) => [OP.i32Const, ...sleb(n)];
const simd = (op: number) => [0xfd, op];
/** v128.load with no alignment promise (align 0, offset 0) */
const vload = [0xfd, SIMD.load, 0, 0];
const load8 = [OP.i32Load8u, 0, 0];
const store = (offset: number) => [OP.i32Store, 2, ...uleb(offset)];

// scan(hay, n, avail, nd, m, a, b, out, cap, byte) -> hits
// Starts p in [0, min(n - 1, avail - m)] where needle nd[0, m) equals hay[p, p + m): candidates are the p
// whose bytes at p + a and p + b equal the needle's there (two vector compares per 16 starts), each then
// compared byte by byte. Each hit writes (p, count of `byte` in hay[0, p)) as two i32 at out; the loop
// stops before a block once `cap` hits are written (a turn adds at most 64, so out holds cap + 64 pairs).
// Globals: 0 = where it stopped (>= n when done), 1 = `byte` count in hay[0, that), 2 = a control byte
// (below 0x20) other than `byte` was seen.
// Reads up to 16 + max(a, b) bytes past n: the caller leaves that much memory after the range.
const P = { hay: 0, n: 1, avail: 2, nd: 3, m: 4, a: 5, b: 6, out: 7, cap: 8, byte: 9 };
const L = { i: 10, hits: 11, lines: 12, cand: 13, nlm: 14, p: 15, k: 16, last: 17, bit: 18, sp: 19, left: 20, run: 21 };
const V = { va: 22, vb: 23, vnl: 24, v: 25, acc: 26, v32: 27, veq: 28, cnt: 29, tmp: 30, vmin: 31, e: 32, c: 36 };
const I32_LOCALS = 12;
const V128_LOCALS = 18;

/** v128: 0xff in the lanes of V.v that hold a control byte (below 0x20) other than `byte` (V.veq) */
const controls = [...get(V.v), ...get(V.v32), ...simd(SIMD.ltU8), ...get(V.veq), ...simd(SIMD.andnot)];

/**
 * The candidates of one 16-byte block (L.cand, with its newline lanes in L.nlm) whose starts are i + at + bit:
 * each start up to `last` is compared byte by byte, and a hit is written with `lines` plus the newlines below it.
 */
function candLoop(at: number, lines: number): number[] {
  return [
    OP.block,
    OP.void, // $nc
    OP.loop,
    OP.void, // $c
    ...get(L.cand),
    OP.i32Eqz,
    OP.brIf,
    1, // -> $nc
    // bit = ctz(cand); p = i + at + bit
    ...get(L.cand),
    OP.i32Ctz,
    ...tee(L.bit),
    ...get(L.i),
    OP.i32Add,
    ...c32(at),
    OP.i32Add,
    ...tee(L.p),
    ...get(L.last),
    OP.i32LeS,
    OP.if,
    OP.void,
    OP.block,
    OP.void, // $skip
    ...c32(0),
    ...set(L.k),
    OP.loop,
    OP.void, // $v
    ...get(L.k),
    ...get(P.m),
    OP.i32LtU,
    OP.if,
    OP.void,
    ...[...get(P.hay), ...get(L.p), OP.i32Add, ...get(L.k), OP.i32Add, ...load8],
    ...[...get(P.nd), ...get(L.k), OP.i32Add, ...load8],
    OP.i32Ne,
    OP.brIf,
    2, // -> $skip (if, $v, $skip)
    ...[...get(L.k), ...c32(1), OP.i32Add, ...set(L.k)],
    OP.br,
    1, // -> $v
    OP.end,
    OP.end, // $v
    // a hit: out[hits] = (p, lines + newlines below bit)
    ...[...get(P.out), ...get(L.hits), ...c32(8), OP.i32Mul, OP.i32Add, ...get(L.p), ...store(0)],
    ...[...get(P.out), ...get(L.hits), ...c32(8), OP.i32Mul, OP.i32Add],
    ...[...get(lines), ...get(L.nlm), ...c32(1), ...get(L.bit), OP.i32Shl, ...c32(1), OP.i32Sub, OP.i32And],
    ...[OP.i32Popcnt, OP.i32Add, ...store(4)],
    ...[...get(L.hits), ...c32(1), OP.i32Add, ...set(L.hits)],
    OP.end, // $skip
    OP.end, // if p <= last
    // cand &= cand - 1
    ...[...get(L.cand), ...get(L.cand), ...c32(1), OP.i32Sub, OP.i32And, ...set(L.cand)],
    OP.br,
    0, // -> $c
    OP.end,
    OP.end, // $c, $nc
  ];
}

/** One block of 16 starts at i; `partial`: the last one, fewer than 16 bytes left (lanes past n masked). */
function block16(partial: boolean): number[] {
  // valid lanes of the partial block: (1 << (n - i)) - 1
  const valid = [...c32(1), ...get(P.n), ...get(L.i), OP.i32Sub, OP.i32Shl, ...c32(1), OP.i32Sub];
  return [
    // v = hay[i, i + 16); nlm = lanes equal to `byte`
    ...get(P.hay),
    ...get(L.i),
    OP.i32Add,
    ...vload,
    ...tee(V.v),
    ...get(V.vnl),
    ...simd(SIMD.eq8),
    ...tee(V.veq),
    ...simd(SIMD.bitmask8),
    ...(partial ? [...valid, OP.i32And] : []),
    ...set(L.nlm),
    // control bytes: full blocks OR into a vector, the partial one into a masked scalar
    ...(partial
      ? [...get(L.sp), ...controls, ...simd(SIMD.bitmask8), ...valid, OP.i32And, OP.i32Or, ...set(L.sp)]
      : [...get(V.acc), ...controls, ...simd(SIMD.or), ...set(V.acc)]),
    // cand = bitmask(hay[i + a ..] == va & hay[i + b ..] == vb); starts past `last` are dropped below
    ...[...get(P.hay), ...get(L.i), OP.i32Add, ...get(P.a), OP.i32Add, ...vload, ...get(V.va), ...simd(SIMD.eq8)],
    ...[...get(P.hay), ...get(L.i), OP.i32Add, ...get(P.b), OP.i32Add, ...vload, ...get(V.vb), ...simd(SIMD.eq8)],
    ...simd(SIMD.and),
    ...simd(SIMD.bitmask8),
    ...set(L.cand),
    ...candLoop(0, L.lines),
    ...[...get(L.lines), ...get(L.nlm), OP.i32Popcnt, OP.i32Add, ...set(L.lines)],
    ...[...get(L.i), ...c32(16), OP.i32Add, ...set(L.i)],
  ];
}

const splat = (from: number[], to: number) => [...from, ...simd(SIMD.splat8), ...set(to)];

/** i32: the newlines V.cnt holds (its lanes count down from 0, at most 252 each) */
const hsum = [
  ...[...get(V.cnt), ...simd(SIMD.neg8), ...simd(SIMD.extadd16u), ...simd(SIMD.extadd32u), ...tee(V.tmp)],
  ...[...simd(SIMD.lane32), 0],
  ...[1, 2, 3].flatMap((k) => [...get(V.tmp), ...simd(SIMD.lane32), k, OP.i32Add]),
];
/** lines += what V.cnt holds; V.cnt = 0 */
const flush = [...get(L.lines), ...hsum, OP.i32Add, ...set(L.lines), ...splat(c32(0), V.cnt)];

/**
 * 64 bytes a turn while 64 are left: four vectors, their newline lanes added up in V.cnt (flushed every 63
 * turns, before a lane could wrap), their control bytes folded into V.vmin (a newline lane becomes 0xff
 * first), and one test of all four candidate vectors; the rare turn with a candidate takes each 16-byte
 * block through candLoop. Bytes left over go to the 16-byte loop.
 */
const loop64: number[] = [
  OP.block,
  OP.void, // $x64
  OP.loop,
  OP.void, // $l64
  ...[...get(L.hits), ...get(P.cap), OP.i32GeU, OP.brIf, 1], // -> $x64
  ...[...get(P.n), ...get(L.i), OP.i32Sub, ...c32(64), OP.i32LtU, OP.brIf, 1], // -> $x64
  ...[0, 1, 2, 3].flatMap((k) => [
    // e[k] = hay[i + 16k ..] == byte; vmin = min(vmin, max(v, e[k]))
    ...[...get(P.hay), ...get(L.i), OP.i32Add, ...c32(16 * k), OP.i32Add, ...vload, ...tee(V.v)],
    ...[...get(V.vnl), ...simd(SIMD.eq8), ...tee(V.e + k)],
    ...[...get(V.v), ...simd(SIMD.maxU8), ...get(V.vmin), ...simd(SIMD.minU8), ...set(V.vmin)],
    // c[k] = the candidate lanes of the block at i + 16k
    ...[...get(P.hay), ...get(L.i), OP.i32Add, ...c32(16 * k), OP.i32Add, ...get(P.a), OP.i32Add, ...vload],
    ...[...get(V.va), ...simd(SIMD.eq8)],
    ...[...get(P.hay), ...get(L.i), OP.i32Add, ...c32(16 * k), OP.i32Add, ...get(P.b), OP.i32Add, ...vload],
    ...[...get(V.vb), ...simd(SIMD.eq8), ...simd(SIMD.and), ...set(V.c + k)],
  ]),
  ...[...get(V.c), ...get(V.c + 1), ...simd(SIMD.or), ...get(V.c + 2), ...get(V.c + 3), ...simd(SIMD.or)],
  ...[...simd(SIMD.or), ...simd(SIMD.anyTrue), OP.if, OP.void],
  // run = newlines before i
  ...[...get(L.lines), ...hsum, OP.i32Add, ...set(L.run)],
  ...[0, 1, 2, 3].flatMap((k) => [
    ...[...get(V.e + k), ...simd(SIMD.bitmask8), ...set(L.nlm)],
    ...[...get(V.c + k), ...simd(SIMD.bitmask8), ...set(L.cand)],
    ...candLoop(16 * k, L.run),
    ...[...get(L.run), ...get(L.nlm), OP.i32Popcnt, OP.i32Add, ...set(L.run)],
  ]),
  OP.end,
  // cnt += the four newline vectors (each lane -1 per newline)
  ...[...get(V.cnt), ...get(V.e), ...get(V.e + 1), ...simd(SIMD.add8), ...get(V.e + 2), ...get(V.e + 3)],
  ...[...simd(SIMD.add8), ...simd(SIMD.add8), ...simd(SIMD.add8), ...set(V.cnt)],
  ...[...get(L.left), ...c32(1), OP.i32Sub, ...tee(L.left), OP.i32Eqz, OP.if, OP.void],
  ...[...flush, ...c32(63), ...set(L.left), OP.end],
  ...[...get(L.i), ...c32(64), OP.i32Add, ...set(L.i)],
  OP.br,
  0, // -> $l64
  OP.end,
  OP.end, // $l64, $x64
  ...flush,
];

const scanBody: number[] = [
  ...splat([...get(P.nd), ...get(P.a), OP.i32Add, ...load8], V.va),
  ...splat([...get(P.nd), ...get(P.b), OP.i32Add, ...load8], V.vb),
  ...splat(get(P.byte), V.vnl),
  ...splat(c32(0x20), V.v32),
  ...splat(c32(0), V.cnt),
  ...splat(c32(0xff), V.vmin),
  ...[...c32(63), ...set(L.left)],
  ...splat(c32(0), V.acc),
  // last = min(n - 1, avail - m), signed: below 0 when no start fits
  ...[...get(P.n), ...c32(1), OP.i32Sub, ...get(P.avail), ...get(P.m), OP.i32Sub],
  ...[...get(P.n), ...c32(1), OP.i32Sub, ...get(P.avail), ...get(P.m), OP.i32Sub, OP.i32LtS, OP.select, ...set(L.last)],
  ...loop64,
  OP.block,
  OP.void, // $done
  OP.block,
  OP.void, // $tail
  OP.loop,
  OP.void, // $full
  ...[...get(L.hits), ...get(P.cap), OP.i32GeU, OP.brIf, 2], // -> $done
  ...[...get(P.n), ...get(L.i), OP.i32Sub, ...c32(16), OP.i32LtU, OP.brIf, 1], // -> $tail
  ...block16(false),
  OP.br,
  0, // -> $full
  OP.end,
  OP.end, // $full, $tail
  ...[...get(L.i), ...get(P.n), OP.i32LtU, OP.if, OP.void, ...block16(true), OP.end],
  OP.end, // $done
  ...[...get(L.i), OP.globalSet, 0],
  ...[...get(L.lines), OP.globalSet, 1],
  ...[...get(L.sp), ...get(V.acc), ...simd(SIMD.anyTrue), OP.i32Or],
  ...[...get(V.vmin), ...get(V.v32), ...simd(SIMD.ltU8), ...simd(SIMD.anyTrue), OP.i32Or, OP.globalSet, 2],
  ...get(L.hits),
];

// count(hay, n, byte) -> how many `byte` in hay[0, n); reads up to 15 bytes past n
const C = { hay: 0, n: 1, byte: 2, i: 3, total: 4, vb: 5 };
const countBody: number[] = [
  ...splat(get(C.byte), C.vb),
  OP.block,
  OP.void, // $tail
  OP.loop,
  OP.void, // $full
  ...[...get(C.n), ...get(C.i), OP.i32Sub, ...c32(16), OP.i32LtU, OP.brIf, 1],
  ...[...get(C.total), ...get(C.hay), ...get(C.i), OP.i32Add, ...vload, ...get(C.vb), ...simd(SIMD.eq8)],
  ...[...simd(SIMD.bitmask8), OP.i32Popcnt, OP.i32Add, ...set(C.total)],
  ...[...get(C.i), ...c32(16), OP.i32Add, ...set(C.i)],
  OP.br,
  0,
  OP.end,
  OP.end,
  ...[...get(C.i), ...get(C.n), OP.i32LtU, OP.if, OP.void],
  ...[...get(C.total), ...get(C.hay), ...get(C.i), OP.i32Add, ...vload, ...get(C.vb), ...simd(SIMD.eq8)],
  ...[...simd(SIMD.bitmask8), ...c32(1), ...get(C.n), ...get(C.i), OP.i32Sub, OP.i32Shl, ...c32(1), OP.i32Sub],
  ...[OP.i32And, OP.i32Popcnt, OP.i32Add, ...set(C.total), OP.end],
  ...get(C.total),
];

// ---- nat(hay, n, out, cap, recs) -> hits: the NAT-less test of every line of a conntrack listing ----------------
// hay[0, n) holds whole lines, each ending with a newline. For each line in turn it computes what plainNatLess
// (tools/conntrack/scan.ts) answers for it: 1 (a plain line without destination NAT), 0 (plain, NATed), -1 (not
// plain: the caller's exact checks decide), except 2 for a line plainNatLess answers -1 for and dnatSkip skips
// (plain but without ports, as icmp: the reply from the original destination, no ` dport=` in the original). A line whose answer is not 1 is written at out as four i32: its
// start, its end (the newline), its index (0 for the first line of this call) and the answer. It stops before a
// line once `cap` are written. A line answered 0 is then read as readFast reads it (fastTest below): accepted, it
// is answered 3 and its fields are in its record at recs (REC.size f64 for each line written at out).
// Globals: 0 = where it stopped (n when done), 1 = lines passed.
// Positions inside are addresses (hay + offset). Reads up to 16 bytes past a line's newline (past n for the last):
// the caller leaves that much memory after the range. The labels below are resolved by name (asm()), so the
// nesting can be read from the code instead of counted.

type Ins = number | Ins[] | { label: string; loop: boolean; body: Ins[] } | { br: string; cond: boolean };
const blockOf = (label: string, ...body: Ins[]): Ins => ({ label, loop: false, body });
const loopOf = (label: string, ...body: Ins[]): Ins => ({ label, loop: true, body });
/** br to `label`; with `cond`, br_if on the i32 the code before leaves */
const br = (label: string): Ins => ({ br: label, cond: false });
const brIf = (label: string): Ins => ({ br: label, cond: true });
/** if (cond) { body } */
const when = (cond: Ins[], ...body: Ins[]): Ins => [...cond, OP.if, OP.void, { label: '', loop: false, body }];

/** The bytes of `ins`, appended to `out` (one array for the whole function: it is built at every start-up) */
function asm(ins: Ins, labels: string[] = [], out: number[] = []): number[] {
  if (typeof ins === 'number') out.push(ins);
  else if (Array.isArray(ins)) for (const x of ins) asm(x, labels, out);
  else if ('br' in ins) {
    const depth = labels.indexOf(ins.br);
    if (depth < 0) throw new Error(`byte-search: no label ${ins.br}`);
    out.push(ins.cond ? OP.brIf : OP.br, depth);
  } else {
    // `when` opened its `if` already: its body is the if's block, closed by the same end
    if (ins.label !== '') out.push(ins.loop ? OP.loop : OP.block, OP.void);
    labels.unshift(ins.label);
    asm(ins.body, labels, out);
    labels.shift();
    out.push(OP.end);
  }
  return out;
}

const N = {
  hay: 0,
  n: 1,
  out: 2,
  cap: 3,
  recs: 4,
  p: 5,
  le: 6,
  k: 7,
  hits: 8,
  i: 9,
  d: 10,
  o: 11,
  r: 12,
  oEnd: 13,
  odEnd: 14,
  rsEnd: 15,
  rdEnd: 16,
  osp: 17,
  a: 18,
  aEnd: 19,
  b: 20,
  code: 21,
  v: 22,
  st: 23,
  oc: 24,
  end: 25,
  j: 26,
  x: 27,
  m: 28,
  bits: 29,
  dg: 30,
  q: 31,
  e: 32,
  y: 33,
  z: 34,
  pr: 35,
  pn: 36,
  rs0: 37,
  rs1: 38,
  od0: 39,
  od1: 40,
  last: 41,
  fc: 42,
  seen: 43,
  rec: 44,
  s0: 45,
  fv: 46,
  fa: 47,
  fp: 48,
  vnl: 49,
  vw0: 50,
  vweq: 51,
};
const NAT_I32 = 41;
const NAT_F64 = 3;
const NAT_V128 = 3;
const I32 = { load: 0x28, eq: 0x46, gtS: 0x4a, gtU: 0x4b, leU: 0x4d, geS: 0x4e } as const;

/** the byte at local + off */
const byteAt = (l: number, off = 0) => [...get(l), OP.i32Load8u, 0, ...uleb(off)];
/** i32: 1 when `word` lies at the address in local l (all its bytes compared: no early exit, no branch) */
function wordAt(l: number, word: string): Ins[] {
  const b = [...word].map((c) => c.charCodeAt(0));
  const parts: Ins[] = [];
  let k = 0;
  for (; k + 4 <= b.length; k += 4) {
    const v = b[k]! | (b[k + 1]! << 8) | (b[k + 2]! << 16) | (b[k + 3]! << 24);
    parts.push([...get(l), I32.load, 0, ...uleb(k), ...c32(v), I32.eq]);
  }
  for (; k < b.length; k++) parts.push([...byteAt(l, k), ...c32(b[k]!), I32.eq]);
  return [parts[0]!, ...parts.slice(1).map((p) => [p, OP.i32And])];
}
const notWordAt = (l: number, word: string): Ins[] => [...wordAt(l, word), OP.i32Eqz];
/** i32: 1 when the byte at local l is a decimal digit */
const digitAt = (l: number): Ins[] => [...byteAt(l), ...c32(48), OP.i32Sub, ...c32(10), OP.i32LtU];
/** i32: local l < le */
const beforeEnd = (l: number): Ins[] => [...get(l), ...get(N.le), OP.i32LtU];
/** i32: l < le and the byte there is not a space (the value the test reads goes on) */
const notSpaceBeforeEnd = (l: number): Ins[] => [...beforeEnd(l), ...byteAt(l), ...c32(32), OP.i32Ne, OP.i32And];
const inc = (l: number, by = 1): Ins[] => [...get(l), ...c32(by), OP.i32Add, ...set(l)];
/** code = c; leave the line's test */
const answer = (c: number): Ins[] => [...c32(c), ...set(N.code), br('test')];
const fail = (cond: Ins[], c = -1): Ins => when(cond, answer(c));

/** res = the end of a dotted quad at the address in local s (plainV4At's rule, then a space or le), or -1 */
function v4End(s: number, res: number, tag: string): Ins {
  return blockOf(
    `v4-${tag}`,
    ...[...c32(-1), ...set(res), ...get(s), ...set(N.i), ...c32(0), ...set(N.oc)],
    loopOf(
      `oct-${tag}`,
      when(
        [...get(N.oc)],
        when([...get(N.i), ...get(N.le), OP.i32GeU, ...byteAt(N.i), ...c32(46), OP.i32Ne, OP.i32Or], br(`v4-${tag}`)),
        inc(N.i),
      ),
      [...get(N.i), ...set(N.st), ...c32(0), ...set(N.v)],
      blockOf(
        `dig-end-${tag}`,
        loopOf(
          `dig-${tag}`,
          [...beforeEnd(N.i), OP.i32Eqz, brIf(`dig-end-${tag}`)],
          [...byteAt(N.i), ...c32(48), OP.i32Sub, ...tee(N.dg), ...c32(10), OP.i32GeU, brIf(`dig-end-${tag}`)],
          [...get(N.v), ...c32(10), OP.i32Mul, ...get(N.dg), OP.i32Add, ...set(N.v)],
          inc(N.i),
          br(`dig-${tag}`),
        ),
      ),
      // d = its length: 1 to 3 digits, no leading zero, at most 255
      [...get(N.i), ...get(N.st), OP.i32Sub, ...tee(N.d), OP.i32Eqz, ...get(N.d), ...c32(3), I32.gtU, OP.i32Or],
      [...get(N.d), ...c32(1), I32.gtU, ...byteAt(N.st), ...c32(48), I32.eq, OP.i32And, OP.i32Or],
      [...get(N.v), ...c32(255), I32.gtU, OP.i32Or, brIf(`v4-${tag}`)],
      inc(N.oc),
      [...get(N.oc), ...c32(4), OP.i32LtU, brIf(`oct-${tag}`)],
    ),
    [...notSpaceBeforeEnd(N.i), brIf(`v4-${tag}`)],
    [...get(N.i), ...set(res)],
  );
}

/** the test fails with `c` unless the n bytes at locals x and y are the same (n: a local) */
function sameOr(x: number, y: number, n: number, c: number, tag: string): Ins {
  return blockOf(
    `same-${tag}`,
    [...c32(0), ...set(N.j)],
    loopOf(
      `same-l-${tag}`,
      [...get(N.j), ...get(n), OP.i32GeU, brIf(`same-${tag}`)],
      fail([...get(x), ...get(N.j), OP.i32Add, ...load8, ...get(y), ...get(N.j), OP.i32Add, ...load8, OP.i32Ne], c),
      inc(N.j),
      br(`same-l-${tag}`),
    ),
  );
}

/**
 * res = the first address q >= local `from` where `word` (a space, then letters, then `=`) lies whole before le,
 * or -1: 16 starts at a time whose first byte is a space and last an `=`, each then compared in full.
 */
function wordFrom(from: number, res: number, word: string, tag: string): Ins {
  const w = word.length;
  return blockOf(
    `w-${tag}`,
    [...c32(-1), ...set(res), ...get(from), ...set(N.i)],
    loopOf(
      `w-l-${tag}`,
      [...get(N.i), ...c32(w), OP.i32Add, ...get(N.le), I32.gtU, brIf(`w-${tag}`)],
      [...get(N.i), ...vload, ...get(N.vw0), ...simd(SIMD.eq8)],
      [...get(N.i), ...c32(w - 1), OP.i32Add, ...vload, ...get(N.vweq), ...simd(SIMD.eq8), ...simd(SIMD.and)],
      [...simd(SIMD.bitmask8), ...set(N.bits)],
      loopOf(
        `w-b-${tag}`,
        when(
          [...get(N.bits)],
          [...get(N.i), ...get(N.bits), OP.i32Ctz, OP.i32Add, ...tee(N.x), ...c32(w), OP.i32Add],
          [...get(N.le), I32.gtU, brIf(`w-${tag}`)],
          when(wordAt(N.x, word), [...get(N.x), ...set(res)], br(`w-${tag}`)),
          [...get(N.bits), ...get(N.bits), ...c32(1), OP.i32Sub, OP.i32And, ...set(N.bits)],
          br(`w-b-${tag}`),
        ),
      ),
      inc(N.i, 16),
      br(`w-l-${tag}`),
    ),
  );
}

const skipSpaces = (tag: string): Ins =>
  blockOf(
    `sp-${tag}`,
    loopOf(
      `sp-l-${tag}`,
      [...beforeEnd(N.i), OP.i32Eqz, brIf(`sp-${tag}`)],
      [...byteAt(N.i), ...c32(32), OP.i32Ne, brIf(`sp-${tag}`)],
      inc(N.i),
      br(`sp-l-${tag}`),
    ),
  );

/** plainNatLess on the line [p, le), step for step; its answer in code */
const natTest = (): Ins =>
  blockOf(
    'test',
    [...c32(-1), ...set(N.code)],
    fail([...get(N.p), ...get(N.le), OP.i32GeU]),
    [...byteAt(N.p), ...tee(N.x), ...c32(97), OP.i32Sub, ...c32(26), OP.i32GeU, brIf('test')],
    when(
      [...get(N.x), ...c32(105), I32.eq, ...wordAt(N.p, 'ipv4 '), ...wordAt(N.p, 'ipv6 '), OP.i32Or, OP.i32And],
      // `ipv4 2 tcp`: spaces, digits, a space, spaces, then a byte above the space
      [...get(N.p), ...c32(4), OP.i32Add, ...set(N.i)],
      skipSpaces('h1'),
      [...get(N.i), ...set(N.d)],
      blockOf(
        'hd',
        loopOf(
          'hd-l',
          [...beforeEnd(N.i), OP.i32Eqz, brIf('hd')],
          [...digitAt(N.i), OP.i32Eqz, brIf('hd')],
          inc(N.i),
          br('hd-l'),
        ),
      ),
      fail([...get(N.i), ...get(N.d), I32.eq, ...beforeEnd(N.i), OP.i32Eqz, OP.i32Or]),
      fail([...byteAt(N.i), ...c32(32), OP.i32Ne]),
      skipSpaces('h2'),
      fail([...beforeEnd(N.i), OP.i32Eqz]),
      fail([...byteAt(N.i), ...c32(32), I32.leU]),
    ),
    fail([...get(N.x), ...c32(99), I32.eq]),
    wordFrom(N.p, N.o, ' src=', 'o'),
    fail([...get(N.o), ...c32(0), OP.i32LtS]),
    [...get(N.o), ...c32(5), OP.i32Add, ...set(N.m)],
    wordFrom(N.m, N.r, ' src=', 'r'),
    fail([...get(N.r), ...c32(0), OP.i32LtS]),
    v4End(N.m, N.oEnd, 'o'),
    fail([...get(N.oEnd), ...c32(0), OP.i32LtS]),
    fail(notWordAt(N.oEnd, ' dst=')),
    [...get(N.oEnd), ...c32(5), OP.i32Add, ...set(N.x)],
    v4End(N.x, N.odEnd, 'od'),
    fail([...get(N.odEnd), ...c32(0), OP.i32LtS]),
    // the reply's source against the original destination: NATed (0) when they differ
    [...get(N.odEnd), ...get(N.oEnd), OP.i32Sub, ...c32(5), OP.i32Sub, ...set(N.m)],
    [...get(N.r), ...c32(5), OP.i32Add, ...tee(N.b), ...get(N.m), OP.i32Add, ...set(N.rsEnd)],
    [...get(N.oEnd), ...c32(5), OP.i32Add, ...set(N.x)],
    sameOr(N.x, N.b, N.m, 0, 'rs'),
    fail(notSpaceBeforeEnd(N.rsEnd), 0),
    fail(notWordAt(N.rsEnd, ' dst=')),
    [...get(N.rsEnd), ...c32(5), OP.i32Add, ...set(N.x)],
    v4End(N.x, N.rdEnd, 'rd'),
    fail([...get(N.rdEnd), ...c32(0), OP.i32LtS]),
    // no port after the original destination (icmp): plainNatLess cannot tell (-1), dnatSkip skips the line unless
    // the original tuple has a ` dport=` somewhere (2: dnatSkip answers true)
    when(
      notWordAt(N.odEnd, ' sport='),
      wordFrom(N.o, N.osp, ' dport=', 'dp'),
      fail([...get(N.osp), ...c32(0), I32.geS, ...get(N.osp), ...get(N.r), OP.i32LtU, OP.i32And]),
      answer(2),
    ),
    [...get(N.odEnd), ...c32(7), OP.i32Add, ...set(N.osp)],
    blockOf('ve', loopOf('ve-l', [...notSpaceBeforeEnd(N.osp), OP.i32Eqz, brIf('ve')], inc(N.osp), br('ve-l'))),
    fail(notWordAt(N.osp, ' dport=')),
    fail(notWordAt(N.rdEnd, ' sport=')),
    // the ports: digits only, the reply's the same digits
    [...get(N.osp), ...c32(7), OP.i32Add, ...tee(N.a), ...set(N.aEnd)],
    blockOf(
      'pd',
      loopOf(
        'pd-l',
        [...beforeEnd(N.aEnd), OP.i32Eqz, brIf('pd')],
        [...digitAt(N.aEnd), OP.i32Eqz, brIf('pd')],
        inc(N.aEnd),
        br('pd-l'),
      ),
    ),
    fail([...get(N.aEnd), ...get(N.a), I32.eq], 0),
    fail(notSpaceBeforeEnd(N.aEnd), 0),
    [...get(N.aEnd), ...get(N.a), OP.i32Sub, ...set(N.m)],
    [...get(N.rdEnd), ...c32(7), OP.i32Add, ...tee(N.b), ...get(N.m), OP.i32Add, ...set(N.x)],
    sameOr(N.a, N.b, N.m, 0, 'pt'),
    fail(notSpaceBeforeEnd(N.x), 0),
    answer(1),
  );

// ---- readFast in the module: a line natTest answered 0 for, read as fast.ts's readFast reads it -------------
// On success the line's fields go to its record (REC: f64 each, positions as offsets from hay) and its answer
// becomes 3; otherwise it stays 0 (the caller's readFast then reads it). Numbers are added up in f64, as JS does,
// so a value past 2^53 rounds the same way before it meets its limit.

/** record fields (f64 each): fast.ts's scratch, in the order loadFast reads them */
export const REC = {
  proto: 0,
  timeout: 1,
  stateS: 2,
  stateE: 3,
  addr: 4,
  l4: 12,
  acct: 18,
  unreplied: 22,
  flagCount: 23,
  flagOrder: 24,
  lineEnd: 27,
  meta: 28,
  dnat: 34,
  size: 36,
} as const;
/** fields holding a position (offset from hay): the caller moves them to its own origin */
export const REC_POS = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 27];

const F64 = {
  const: 0x44,
  add: 0xa0,
  mul: 0xa2,
  eq: 0x61,
  ne: 0x62,
  lt: 0x63,
  gt: 0x64,
  le: 0x65,
  load: 0x2b,
  store: 0x39,
  fromU: 0xb8,
} as const;
const f64c = (v: number) => [F64.const, ...new Uint8Array(new Float64Array([v]).buffer)];
/** rec[field] = the f64 the code leaves */
const recSet = (field: number, value: Ins[]): Ins[] => [...get(N.rec), ...value, F64.store, 3, ...uleb(field * 8)];
const recGet = (field: number): Ins[] => [...get(N.rec), F64.load, 3, ...uleb(field * 8)];
/** an address as an offset from hay, as f64 */
const posOf = (l: number): Ins[] => [...get(l), ...get(N.hay), OP.i32Sub, F64.fromU];
const ffail = (cond: Ins[]): Ins => [...cond, brIf('fast')];

/** e = the end of the token at q: the next space, or le */
const tokEnd = (tag: string): Ins =>
  blockOf(
    `te-${tag}`,
    [...get(N.q), ...set(N.e)],
    loopOf(`te-l-${tag}`, [...notSpaceBeforeEnd(N.e), OP.i32Eqz, brIf(`te-${tag}`)], inc(N.e), br(`te-l-${tag}`)),
  );
/** q = the start of the next token after e (spaces skipped) */
const skipSp = (tag: string): Ins =>
  blockOf(
    `ss-${tag}`,
    [...get(N.e), ...set(N.q)],
    loopOf(
      `ss-l-${tag}`,
      [...beforeEnd(N.q), OP.i32Eqz, brIf(`ss-${tag}`)],
      [...byteAt(N.q), ...c32(32), OP.i32Ne, brIf(`ss-${tag}`)],
      inc(N.q),
      br(`ss-l-${tag}`),
    ),
  );
/** next token: q past the spaces after e, e at its end */
const nextTok = (tag: string): Ins => [skipSp(tag), tokEnd(tag)];
/** i32: the token [q, e) is `word` */
const isTok = (word: string): Ins[] => [
  ...get(N.e),
  ...get(N.q),
  OP.i32Sub,
  ...c32(word.length),
  I32.eq,
  ...wordAt(N.q, word),
  OP.i32And,
];

/** fv = parseConntrackLine's digits() of [s, e) (s: a local, plus `skip`): 1..len digits, at most max; -1 otherwise */
function digits(s: number, skip: number, len: number, max: number, tag: string): Ins {
  return blockOf(
    `dd-${tag}`,
    [...f64c(-1), ...set(N.fv)],
    [...get(s), ...c32(skip), OP.i32Add, ...tee(N.s0)],
    [...get(N.e), OP.i32GeU, ...get(N.e), ...get(N.s0), OP.i32Sub, ...c32(len), I32.gtU, OP.i32Or, brIf(`dd-${tag}`)],
    [...f64c(0), ...set(N.fa)],
    loopOf(
      `dd-l-${tag}`,
      [...byteAt(N.s0), ...c32(48), OP.i32Sub, ...tee(N.dg), ...c32(10), OP.i32GeU, brIf(`dd-${tag}`)],
      [...get(N.fa), ...f64c(10), F64.mul, ...get(N.dg), F64.fromU, F64.add, ...set(N.fa)],
      inc(N.s0),
      [...get(N.s0), ...get(N.e), OP.i32LtU, brIf(`dd-l-${tag}`)],
    ),
    [...get(N.fa), ...f64c(max), F64.le, OP.i32Eqz, brIf(`dd-${tag}`)],
    [...get(N.fa), ...set(N.fv)],
  );
}
/** br to `out` unless the n bytes (n: a local) at locals x and y are the same */
function sameOr2(x: number, y: number, n: number, out: string): Ins {
  return blockOf(
    `same2-${out}`,
    [...c32(0), ...set(N.j)],
    loopOf(
      `same2-l-${out}`,
      [...get(N.j), ...get(n), OP.i32GeU, brIf(`same2-${out}`)],
      [...get(x), ...get(N.j), OP.i32Add, ...load8, ...get(y), ...get(N.j), OP.i32Add, ...load8, OP.i32Ne, brIf(out)],
      inc(N.j),
      br(`same2-l-${out}`),
    ),
  );
}
const fvBad = (): Ins[] => [...get(N.fv), ...f64c(0), F64.lt];

/** one tuple from token q (k: 0 original, 1 reply); q after it, e at its last token's end */
function fastTuple(k: number): Ins {
  const t = `t${k}`;
  const ports = (keys: string[], maxes: number[]): Ins[] =>
    keys.map((key, j) => [
      nextTok(`${t}-${key}`),
      ffail(notWordAt(N.q, key)),
      digits(N.q, key.length, 10, maxes[j]!, `${t}-${key}`),
      ffail(fvBad()),
      recSet(REC.l4 + 3 * k + j, get(N.fv)),
    ]);
  return [
    tokEnd(`${t}-src`),
    ffail(notWordAt(N.q, 'src=')),
    [...get(N.q), ...c32(4), OP.i32Add, ...set(N.y)],
    v4End(N.y, N.z, `${t}-s`),
    ffail([...get(N.z), ...get(N.e), OP.i32Ne]),
    recSet(REC.addr + 4 * k, posOf(N.y)),
    recSet(REC.addr + 4 * k + 1, posOf(N.e)),
    k === 1 ? [...get(N.y), ...set(N.rs0), ...get(N.e), ...set(N.rs1)] : [],
    nextTok(`${t}-dst`),
    ffail(notWordAt(N.q, 'dst=')),
    [...get(N.q), ...c32(4), OP.i32Add, ...set(N.y)],
    v4End(N.y, N.z, `${t}-d`),
    ffail([...get(N.z), ...get(N.e), OP.i32Ne]),
    recSet(REC.addr + 4 * k + 2, posOf(N.y)),
    recSet(REC.addr + 4 * k + 3, posOf(N.e)),
    k === 0 ? [...get(N.y), ...set(N.od0), ...get(N.e), ...set(N.od1)] : [],
    [...get(N.pr), ...c32(5), I32.eq, OP.if, OP.void],
    {
      label: '',
      loop: false,
      body: [
        ...ports(['type=', 'code=', 'id='], [255, 255, 65535]),
        0x05,
        ...ports(['sport=', 'dport='], [65535, 65535]),
      ],
    },
    skipSp(`${t}-a`),
    recSet(REC.acct + 2 * k, f64c(-1)),
    recSet(REC.acct + 2 * k + 1, f64c(-1)),
    when(
      wordAt(N.q, 'packets='),
      tokEnd(`${t}-p`),
      digits(N.q, 8, 20, Number.MAX_SAFE_INTEGER, `${t}-p`),
      [...get(N.fv), ...set(N.fp)],
      nextTok(`${t}-b`),
      ffail(notWordAt(N.q, 'bytes=')),
      digits(N.q, 6, 20, Number.MAX_SAFE_INTEGER, `${t}-b`),
      ffail([...get(N.fp), ...f64c(0), F64.lt, ...fvBad(), OP.i32Or]),
      recSet(REC.acct + 2 * k, get(N.fp)),
      recSet(REC.acct + 2 * k + 1, get(N.fv)),
      skipSp(`${t}-pb`),
    ),
    [...get(N.e), ...set(N.last)],
  ];
}

const PROTOS: [string, number, number][] = [
  ['tcp', 0, 6],
  ['udp', 1, 17],
  ['udplite', 2, 136],
  ['sctp', 3, 132],
  ['dccp', 4, 33],
  ['icmp', 5, 1],
];
const FLAGS = ['[ASSURED]', '[OFFLOAD]', '[HW_OFFLOAD]'];
const METAS: [string, number, number][] = [
  ['mark=', 10, 0xffffffff],
  ['secmark=', 10, 0xffffffff],
  ['zone=', 10, 65535],
  ['delta-time=', 20, Number.MAX_SAFE_INTEGER],
  ['use=', 10, 0xffffffff],
  ['id=', 10, 0xffffffff],
];

const fastTest = (): Ins =>
  blockOf(
    'fast',
    [...get(N.recs), ...get(N.hits), ...c32(REC.size * 8), OP.i32Mul, OP.i32Add, ...set(N.rec)],
    [...get(N.p), ...set(N.q)],
    tokEnd('h'),
    when(isTok('ipv4'), nextTok('h2'), ffail([...isTok('2'), OP.i32Eqz]), nextTok('h3')),
    [...c32(-1), ...set(N.pr)],
    ...PROTOS.map(([w, idx, num]) => when(isTok(w), [...c32(idx), ...set(N.pr), ...c32(num), ...set(N.pn)])),
    ffail([...get(N.pr), ...c32(0), OP.i32LtS]),
    nextTok('pn'),
    digits(N.q, 0, 10, 255, 'pn'),
    ffail([...get(N.fv), ...get(N.pn), F64.fromU, F64.ne]),
    recSet(REC.proto, [...get(N.pr), F64.fromU]),
    nextTok('to'),
    recSet(REC.timeout, f64c(-1)),
    when(
      digitAt(N.q),
      digits(N.q, 0, 10, 0xffffffff, 'to'),
      ffail(fvBad()),
      recSet(REC.timeout, get(N.fv)),
      nextTok('to2'),
    ),
    recSet(REC.stateS, f64c(-1)),
    recSet(REC.stateE, f64c(-1)),
    // /^[A-Z][A-Z_0-9]*$/: a state
    blockOf(
      'st',
      [...get(N.q), ...get(N.e), OP.i32GeU, brIf('st')],
      [...byteAt(N.q), ...c32(65), OP.i32Sub, ...c32(26), OP.i32GeU, brIf('st')],
      [...get(N.q), ...c32(1), OP.i32Add, ...set(N.y)],
      blockOf(
        'st-ok',
        loopOf(
          'st-l',
          [...get(N.y), ...get(N.e), OP.i32GeU, brIf('st-ok')],
          [...byteAt(N.y), ...tee(N.z), ...c32(65), OP.i32Sub, ...c32(26), OP.i32LtU],
          [
            ...get(N.z),
            ...c32(95),
            I32.eq,
            OP.i32Or,
            ...get(N.z),
            ...c32(48),
            OP.i32Sub,
            ...c32(10),
            OP.i32LtU,
            OP.i32Or,
          ],
          [OP.i32Eqz, brIf('st')],
          inc(N.y),
          br('st-l'),
        ),
      ),
      recSet(REC.stateS, posOf(N.q)),
      recSet(REC.stateE, posOf(N.e)),
      skipSp('st'),
    ),
    fastTuple(0),
    recSet(REC.unreplied, f64c(0)),
    when(
      wordAt(N.q, '[UNREPLIED]'),
      tokEnd('u'),
      ffail([...get(N.e), ...get(N.q), OP.i32Sub, ...c32(11), OP.i32Ne]),
      recSet(REC.unreplied, f64c(1)),
      skipSp('u'),
    ),
    fastTuple(1),
    [...c32(0), ...set(N.fc), ...c32(0), ...set(N.seen)],
    ...METAS.map((_, m) => recSet(REC.meta + m, f64c(-1))),
    blockOf(
      'tail',
      loopOf(
        'tail-l',
        [...beforeEnd(N.q), OP.i32Eqz, brIf('tail')],
        tokEnd('tl'),
        [...get(N.e), ...set(N.last)],
        blockOf(
          'tail-n',
          [...c32(-1), ...set(N.y)],
          when(
            [...byteAt(N.q), ...c32(91), I32.eq],
            ...FLAGS.map((f, k) => when(isTok(f), [...c32(k), ...set(N.y)])),
            ffail([...get(N.y), ...c32(0), OP.i32LtS]),
            // a flag twice: bits 0-2 of seen
            ffail([...get(N.seen), ...c32(1), ...get(N.y), OP.i32Shl, OP.i32And]),
            [...get(N.seen), ...c32(1), ...get(N.y), OP.i32Shl, OP.i32Or, ...set(N.seen)],
            [...get(N.rec), ...get(N.fc), ...c32(8), OP.i32Mul, OP.i32Add, ...get(N.y), F64.fromU],
            [F64.store, 3, ...uleb(REC.flagOrder * 8)],
            inc(N.fc),
            br('tail-n'),
          ),
          ...METAS.map(([key, len, max], m) =>
            when(
              wordAt(N.q, key),
              // a key twice: bits 3-8 of seen
              ffail([...get(N.seen), ...c32(8 << m), OP.i32And]),
              [...get(N.seen), ...c32(8 << m), OP.i32Or, ...set(N.seen)],
              digits(N.q, key.length, len, max, `m${m}`),
              ffail(fvBad()),
              recSet(REC.meta + m, get(N.fv)),
              br('tail-n'),
            ),
          ),
          br('fast'),
        ),
        skipSp('tl'),
        br('tail-l'),
      ),
    ),
    recSet(REC.lineEnd, posOf(N.last)),
    recSet(REC.flagCount, [...get(N.fc), F64.fromU]),
    // fastDnat: the reply's source is not the original destination (or, with ports, not its port)
    [...c32(1), ...set(N.y)],
    blockOf(
      'dn',
      [
        ...get(N.od1),
        ...get(N.od0),
        OP.i32Sub,
        ...tee(N.z),
        ...get(N.rs1),
        ...get(N.rs0),
        OP.i32Sub,
        OP.i32Ne,
        brIf('dn'),
      ],
      sameOr2(N.od0, N.rs0, N.z, 'dn'),
      when([...get(N.pr), ...c32(5), I32.eq], [...c32(0), ...set(N.y)], br('dn')),
      [...recGet(REC.l4 + 3), ...recGet(REC.l4 + 1), F64.ne, brIf('dn')],
      [...c32(0), ...set(N.y)],
    ),
    recSet(REC.dnat, [...get(N.y), F64.fromU]),
    [...c32(3), ...set(N.code)],
    [],
  );

/** built when the nat module is (natModuleBytes) */
const natBody = (): Ins => [
  ...splat(c32(10), N.vnl),
  ...splat(c32(32), N.vw0),
  ...splat(c32(61), N.vweq),
  [...get(N.hay), ...set(N.p), ...get(N.hay), ...get(N.n), OP.i32Add, ...set(N.end)],
  blockOf(
    'done',
    loopOf(
      'line',
      [...get(N.p), ...get(N.end), OP.i32GeU, brIf('done')],
      [...get(N.hits), ...get(N.cap), OP.i32GeU, brIf('done')],
      // le = the next newline (16 bytes a turn), or end
      [...get(N.p), ...set(N.i), ...get(N.end), ...set(N.le)],
      blockOf(
        'nl',
        loopOf(
          'nl-l',
          [...get(N.i), ...get(N.end), OP.i32GeU, brIf('nl')],
          [...get(N.i), ...vload, ...get(N.vnl), ...simd(SIMD.eq8), ...simd(SIMD.bitmask8), ...tee(N.bits)],
          when(
            [],
            // a newline past end (the caller's range did not end with one) counts as end
            [...get(N.i), ...get(N.bits), OP.i32Ctz, OP.i32Add, ...tee(N.x), ...get(N.end), OP.i32LtU],
            when([], [...get(N.x), ...set(N.le)]),
            br('nl'),
          ),
          inc(N.i, 16),
          br('nl-l'),
        ),
      ),
      natTest(),
      when([...get(N.code), OP.i32Eqz], fastTest()),
      when(
        [...get(N.code), ...c32(1), OP.i32Ne],
        [...get(N.out), ...get(N.hits), ...c32(16), OP.i32Mul, OP.i32Add, ...tee(N.x)],
        [...get(N.p), ...get(N.hay), OP.i32Sub, ...store(0)],
        [...get(N.x), ...get(N.le), ...get(N.hay), OP.i32Sub, ...store(4)],
        [...get(N.x), ...get(N.k), ...store(8)],
        [...get(N.x), ...get(N.code), ...store(12)],
        inc(N.hits),
      ),
      inc(N.k),
      [...get(N.le), ...c32(1), OP.i32Add, ...set(N.p)],
      br('line'),
    ),
  ),
  [...get(N.p), ...get(N.hay), OP.i32Sub, OP.globalSet, 0],
  [...get(N.k), OP.globalSet, 1],
  get(N.hits),
];

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const code = (locals: [number, number][], body: number[]) => {
  const f = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...body, OP.end];
  return [...uleb(f.length), ...f];
};

/** Memory: needle | hit pairs | copy window | lent buffer, each followed by room for the over-read. */
const PAGES = 25;
const NEEDLE_AT = 0;
const OUT_AT = 1024;
const CAP = 1024;
const WINDOW_AT = 16 << 10;
const WINDOW = 256 << 10;
const SLACK = 4 << 10;
const LEASE_AT = WINDOW_AT + WINDOW + MAX_NEEDLE + SLACK;
const LEASE = 1 << 20;
/** nat's output: four i32 a line, from OUT_AT up to the copy window */
const NAT_CAP = (WINDOW_AT - OUT_AT) >> 4;
/** nat's records (REC.size f64 a line), after the lent buffer and the room its over-read needs */
const REC_AT = LEASE_AT + LEASE + SLACK;
/** natLines' answer, reused from call to call */
let natOut = new Int32Array(4096);
let natRec = new Float64Array(4096 * REC.size);

/** The module's bytes (exported for the test that checks their shape). */
export function moduleBytes(): Uint8Array {
  const I = OP.i32;
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    // types: 0 = (i32 x10) -> i32, 1 = (i32 x3) -> i32
    ...section(
      1,
      vec([
        [0x60, ...vec(Array(10).fill([I])), 1, I],
        [0x60, ...vec(Array(3).fill([I])), 1, I],
      ]),
    ),
    ...section(3, vec([[0], [1]])),
    // one memory of fixed size: never grows, so views on it (lease) stay valid
    ...section(5, vec([[0x01, ...uleb(PAGES), ...uleb(PAGES)]])),
    ...section(6, vec([0, 1, 2].map(() => [I, 1, ...c32(0), OP.end]))),
    ...section(
      7,
      vec([
        [...name('memory'), 2, 0],
        [...name('scan'), 0, 0],
        [...name('count'), 0, 1],
        [...name('stop'), 3, 0],
        [...name('lines'), 3, 1],
        [...name('special'), 3, 2],
      ]),
    ),
    ...section(
      10,
      vec([
        code(
          [
            [I32_LOCALS, I],
            [V128_LOCALS, OP.v128],
          ],
          scanBody,
        ),
        code(
          [
            [2, I],
            [1, OP.v128],
          ],
          countBody,
        ),
      ]),
    ),
  ];
  return Uint8Array.from(bytes);
}

/**
 * The bytes of the second module, nat alone: it works on the first module's memory (imported), and is built and
 * compiled only when a thread first asks for natLines (the NAT scans), so an address scan's thread start-up
 * (a trace's conntrack worker) does not pay for it.
 */
export function natModuleBytes(): Uint8Array {
  const I = OP.i32;
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec(Array(5).fill([I])), 1, I]])),
    ...section(2, vec([[...name('env'), ...name('memory'), 2, 0x00, ...uleb(PAGES)]])),
    ...section(3, vec([[0]])),
    ...section(6, vec([0, 1].map(() => [I, 1, ...c32(0), OP.end]))),
    ...section(
      7,
      vec([
        [...name('nat'), 0, 0],
        [...name('stop'), 3, 0],
        [...name('lines'), 3, 1],
      ]),
    ),
    ...section(
      10,
      vec([
        code(
          [
            [NAT_I32, I],
            [NAT_F64, 0x7c],
            [NAT_V128, OP.v128],
          ],
          asm(natBody()),
        ),
      ]),
    ),
  ];
  return Uint8Array.from(bytes);
}

// the little of the WebAssembly API used here (the project's TypeScript lib has no DOM types)
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => { exports: unknown };
}

interface NatExports {
  nat(hay: number, n: number, out: number, cap: number, recs: number): number;
  stop: { value: number };
  lines: { value: number };
}

interface Exports {
  memory: { buffer: ArrayBuffer };
  scan(...a: number[]): number;
  count(hay: number, n: number, byte: number): number;
  stop: { value: number };
  lines: { value: number };
  special: { value: number };
}

/** Byte rarity for picking compare offsets: letters, digits, space, `=` and `.` fill most text lines. */
function rank(b: number): number {
  if ((b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x20 || b === 0x3d) return 3;
  if (b === 0x2e || b === 0x3a || b === 0x0a) return 2;
  return 1;
}

/** Offsets a < b of the two compared bytes: the last byte (the most varied in an address or a number) and the rarest other, latest first. */
export function offsetsOf(needle: Uint8Array): [number, number] {
  const b = needle.length - 1;
  let a = 0;
  for (let k = 1; k < b; k++) if (rank(needle[k]!) <= rank(needle[a]!)) a = k;
  return [a, b];
}

function wasmSearch(x: Exports): ByteSearch {
  const mem = new Uint8Array(x.memory.buffer);
  /** the nat module on this memory, made on the first natLines */
  let natX: NatExports | undefined;
  let lent = false;
  const setNeedle = (needle: Uint8Array) => mem.set(needle, NEEDLE_AT);
  /** hay[from, to) as (address in memory, bytes readable from there for the needle): in place or copied */
  const inPlace = (hay: Uint8Array, from: number, to: number): number | undefined => {
    if (hay.buffer !== x.memory.buffer) return undefined;
    const at = hay.byteOffset + from;
    return at >= LEASE_AT && hay.byteOffset + to <= LEASE_AT + LEASE ? at : undefined;
  };
  const scanRange = (
    at: number,
    n: number,
    avail: number,
    m: number,
    a: number,
    b: number,
    byte: number,
    base: number,
    acc: { pos: number[]; before: number[]; lines: number; special: boolean },
  ) => {
    let done = 0;
    while (done < n) {
      const hits = x.scan(at + done, n - done, avail - done, NEEDLE_AT, m, a, b, OUT_AT, CAP, byte);
      const words = new Int32Array(x.memory.buffer, OUT_AT, hits * 2);
      for (let k = 0; k < hits; k++) {
        acc.pos.push(base + done + words[2 * k]!);
        acc.before.push(acc.lines + words[2 * k + 1]!);
      }
      acc.lines += x.lines.value;
      if (x.special.value) acc.special = true;
      done += Math.min(x.stop.value, n - done);
    }
  };
  const self: ByteSearch = {
    simd: true,
    scan(hay, needle, from, to, byte) {
      const m = needle.length;
      if (m === 0 || m > MAX_NEEDLE) return plainSearch.scan(hay, needle, from, to, byte);
      setNeedle(needle);
      const [a, b] = offsetsOf(needle);
      const acc = { pos: [] as number[], before: [] as number[], lines: 0, special: false };
      const direct = inPlace(hay, from, to);
      if (direct !== undefined) {
        scanRange(direct, to - from, to - from, m, a, b, byte, from, acc);
        return acc;
      }
      // copied in windows; a window also takes the m - 1 bytes after it, for a needle that starts inside it
      for (let s = from; s < to || s === from; ) {
        const e = Math.min(s + WINDOW, to);
        const have = Math.min(e + m - 1, to);
        mem.set(hay.subarray(s, have), WINDOW_AT);
        scanRange(WINDOW_AT, e - s, have - s, m, a, b, byte, s, acc);
        if (e >= to) break;
        s = e;
      }
      return acc;
    },
    findAll(hay, needle, from = 0, to = hay.length) {
      return self.scan(hay, needle, from, to, 0x0a).pos;
    },
    findFirst(hay, needle, from = 0, to = hay.length) {
      // a window at a time: a hit near `from` costs one window, not the whole range
      for (let s = from; s < to; s += WINDOW) {
        const e = Math.min(s + WINDOW + needle.length - 1, to);
        const p = self.scan(hay, needle, s, e, 0x0a).pos;
        if (p.length) return p[0]!;
        if (e >= to) break;
      }
      return -1;
    },
    count(hay, byte, from = 0, to = hay.length) {
      const direct = inPlace(hay, from, to);
      if (direct !== undefined) return x.count(direct, to - from, byte);
      let n = 0;
      for (let s = from; s < to; s += WINDOW) {
        const e = Math.min(s + WINDOW, to);
        mem.set(hay.subarray(s, e), WINDOW_AT);
        n += x.count(WINDOW_AT, e - s, byte);
      }
      return n;
    },
    natLines(hay, from, to) {
      if (to > from && hay[to - 1] !== 0x0a) return undefined;
      if (natX === undefined) {
        const W = (globalThis as { WebAssembly?: WasmApi }).WebAssembly!;
        natX = new W.Instance(new W.Module(natModuleBytes()), { env: { memory: x.memory } })
          .exports as unknown as NatExports;
      }
      const nx = natX;
      const r = { quads: natOut, recs: natRec, count: 0, lines: 0 };
      const run = (at: number, n: number, base: number) => {
        for (let done = 0; done < n; ) {
          const hits = nx.nat(at + done, n - done, OUT_AT, NAT_CAP, REC_AT);
          const w = new Int32Array(x.memory.buffer, OUT_AT, hits * 4);
          if (r.quads.length < (r.count + hits) * 4) {
            const more = new Int32Array(Math.max(r.quads.length * 2, (r.count + hits) * 4));
            more.set(r.quads.subarray(0, r.count * 4));
            r.quads = natOut = more;
            const recs = new Float64Array(more.length * (REC.size / 4));
            recs.set(r.recs.subarray(0, r.count * REC.size));
            r.recs = natRec = recs;
          }
          // the records, their positions moved from `at + done` to hay's origin
          const from = r.count * REC.size;
          r.recs.set(new Float64Array(x.memory.buffer, REC_AT, hits * REC.size), from);
          for (let k = 0; k < hits; k++) {
            if (w[4 * k + 3] !== 3) continue;
            const o = from + k * REC.size;
            for (const f of REC_POS) if (r.recs[o + f]! >= 0) r.recs[o + f]! += base + done;
          }
          const q = r.quads;
          for (let k = 0; k < hits; k++) {
            const c = 4 * r.count++;
            q[c] = base + done + w[4 * k]!;
            q[c + 1] = base + done + w[4 * k + 1]!;
            q[c + 2] = r.lines + w[4 * k + 2]!;
            q[c + 3] = w[4 * k + 3]!;
          }
          r.lines += nx.lines.value;
          done += Math.min(nx.stop.value, n - done);
        }
      };
      const direct = inPlace(hay, from, to);
      if (direct !== undefined) {
        run(direct, to - from, from);
        return r;
      }
      // copied in windows of whole lines
      for (let s = from; s < to; ) {
        let e = Math.min(s + WINDOW, to);
        if (e < to) e = asBuffer(hay).lastIndexOf(0x0a, e - 1) + 1;
        if (e <= s) return undefined;
        mem.set(hay.subarray(s, e), WINDOW_AT);
        run(WINDOW_AT, e - s, s);
        s = e;
      }
      return r;
    },
    lease(size) {
      if (lent || size > LEASE) return undefined;
      lent = true;
      let back = false;
      return {
        buf: Buffer.from(x.memory.buffer, LEASE_AT, size),
        release() {
          if (back) return;
          back = true;
          lent = false;
        },
      };
    },
  };
  return self;
}

const asBuffer = (u: Uint8Array) => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

/** The same answers from Buffer.indexOf: where there is no SIMD, and the reference of the tests. */
export const plainSearch: ByteSearch = {
  simd: false,
  scan(hay, needle, from, to, byte) {
    const h = asBuffer(hay).subarray(0, to);
    const pos: number[] = [];
    const before: number[] = [];
    let lines = 0;
    let counted = from;
    if (needle.length > 0)
      for (let p = h.indexOf(needle, from); p >= 0 && p + needle.length <= to; p = h.indexOf(needle, p + 1)) {
        lines += plainSearch.count(h, byte, counted, p);
        counted = p;
        pos.push(p);
        before.push(lines);
      }
    lines += plainSearch.count(h, byte, counted, to);
    const r = h.subarray(from, to);
    let special = false;
    for (let c = 0; c < 0x20 && !special; c++) special = c !== byte && r.includes(c);
    return { pos, before, lines, special };
  },
  findFirst(hay, needle, from = 0, to = hay.length) {
    const p = asBuffer(hay).subarray(0, to).indexOf(needle, from);
    return p >= 0 && p + needle.length <= to ? p : -1;
  },
  findAll(hay, needle, from = 0, to = hay.length) {
    return plainSearch.scan(hay, needle, from, to, 0x0a).pos;
  },
  count(hay, byte, from = 0, to = hay.length) {
    const h = asBuffer(hay).subarray(0, to);
    let n = 0;
    for (let i = h.indexOf(byte, from); i >= 0; i = h.indexOf(byte, i + 1)) n++;
    return n;
  },
  lease: () => undefined,
  natLines: () => undefined,
};

let cached: ByteSearch | null | undefined;

/** The SIMD search of this thread (made on first use), or undefined without WebAssembly SIMD. */
export function byteSearch(): ByteSearch | undefined {
  if (cached === undefined) cached = makeSearch() ?? null;
  return cached ?? undefined;
}

/** A new instance, or undefined where WebAssembly or SIMD is missing (tests call it with a stubbed global). */
export function makeSearch(): ByteSearch | undefined {
  try {
    const W = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const bytes = moduleBytes();
    if (W === undefined || !W.validate(bytes)) return undefined;
    return wasmSearch(new W.Instance(new W.Module(bytes)).exports as unknown as Exports);
  } catch {
    return undefined;
  }
}
