/**
 * Longest-prefix match over a fixed set of prefixes, built once from typed arrays (1 key word per
 * IPv4 prefix, 4 per IPv6 one).
 *
 * The prefixes are kept sorted by (network, length), each linked to the nearest shorter prefix that
 * contains it. For an address A, let E be the last prefix whose network is <= A: the longest prefix
 * containing A is E or one of E's containing prefixes (any prefix P containing A sorts before E,
 * and everything between P and E has its network inside P, so lies inside P), and it is the first
 * one on E's chain that contains A. The rest of that chain is every shorter match, longest first,
 * which is what the kernel walks when a route is unusable. E is found through a table on the top
 * bits of the address, 8-bit sub-tables where a bucket is crowded, and a binary search of the
 * last few entries.
 *
 * Build is a radix sort and linear passes (no per-prefix objects, no bit-by-bit trie walks), so a
 * million routes index in tens of milliseconds.
 */
export class PrefixIndex {
  readonly size: number;
  private readonly keys: Uint32Array;
  private readonly lens: Uint8Array;
  private readonly vals: Int32Array;
  private readonly up: Int32Array;
  private readonly rootShift: number;
  private readonly bucket: Int32Array | null;
  private readonly rootChild: Int32Array | null;
  private readonly nodeBit: Int32Array;
  private readonly nodeBounds: Int32Array;
  private readonly nodeChild: Int32Array;

  /**
   * keys/lens/vals: unique prefixes sorted by (network, length), host bits clear. The index keeps
   * the arrays (no copy).
   */
  constructor(
    readonly words: 1 | 4,
    keys: Uint32Array,
    lens: Uint8Array,
    vals: Int32Array,
  ) {
    const m = lens.length;
    this.size = m;
    this.keys = keys;
    this.lens = lens;
    this.vals = vals;
    this.up = new Int32Array(m);
    this.linkContaining();
    const pool = new NodePool();
    const split = (lo: number, hi: number): number => this.split(lo, hi, pool);
    if (m > LEAF * 4) {
      const bits = Math.min(16, Math.floor(Math.log2(m)));
      this.rootShift = 32 - bits;
      const nbk = 1 << bits;
      const bucket = new Int32Array(nbk + 1);
      let j = 0;
      for (let t = 0; t < nbk; t++) {
        while (j < m && keys[j * words]! >>> this.rootShift < t) j++;
        bucket[t] = j;
      }
      bucket[nbk] = m;
      const child = new Int32Array(nbk);
      for (let t = 0; t < nbk; t++) child[t] = split(bucket[t]!, bucket[t + 1]!);
      this.bucket = bucket;
      this.rootChild = child;
    } else {
      this.rootShift = 32;
      this.bucket = null;
      this.rootChild = null;
    }
    this.nodeBit = pool.bit.slice(0, pool.n);
    this.nodeBounds = pool.bounds.slice(0, pool.n * 257);
    this.nodeChild = pool.child.slice(0, pool.n * 256);
  }

  /** Bytes held by the index (not counting the caller's values). */
  get byteSize(): number {
    return (
      this.keys.byteLength +
      this.lens.byteLength +
      this.vals.byteLength +
      this.up.byteLength +
      (this.bucket?.byteLength ?? 0) +
      (this.rootChild?.byteLength ?? 0) +
      this.nodeBit.byteLength +
      this.nodeBounds.byteLength +
      this.nodeChild.byteLength
    );
  }

  /** up[i] = the nearest shorter prefix that contains prefix i, or -1 (one pass with a stack). */
  private linkContaining(): void {
    const { keys, lens, up, words } = this;
    const stack = new Int32Array(words * 32 + 2);
    let sp = 0;
    for (let i = 0; i < lens.length; i++) {
      while (sp > 0 && !this.containsKey(stack[sp - 1]!, keys, i * words, lens[i]!)) sp--;
      up[i] = sp > 0 ? stack[sp - 1]! : -1;
      stack[sp++] = i;
    }
  }

  /** prefix j contains the prefix/address at other[at..] of length len */
  private containsKey(j: number, other: Uint32Array, at: number, len: number): boolean {
    const l = this.lens[j]!;
    if (l > len) return false;
    const { keys, words } = this;
    const base = j * words;
    let rem = l;
    for (let w = 0; w < words && rem > 0; w++, rem -= 32) {
      const a = keys[base + w]!;
      const b = other[at + w]!;
      if (rem >= 32) {
        if (a !== b) return false;
      } else if ((a ^ b) >>> (32 - rem) !== 0) return false;
    }
    return true;
  }

  /** Sub-table for a crowded range [lo, hi); returns its node id or -1 (binary search suffices). */
  private split(lo: number, hi: number, pool: NodePool): number {
    if (hi - lo <= LEAF) return -1;
    const { keys, words } = this;
    const cp = commonBits(keys, lo * words, (hi - 1) * words, words);
    if (cp >= words * 32) return -1; // one network at several lengths: at most 129 entries
    const b = cp - (cp % 8);
    const id = pool.add(b);
    const bounds = pool.bounds;
    const boundsAt = id * 257;
    let d = 0;
    for (let i = lo; i < hi; i++) {
      const x = bits8(keys, i * words, b);
      while (d <= x) bounds[boundsAt + d++] = i;
    }
    while (d <= 256) bounds[boundsAt + d++] = hi;
    for (let e = 0; e < 256; e++) {
      const c = this.split(pool.bounds[boundsAt + e]!, pool.bounds[boundsAt + e + 1]!, pool);
      pool.child[id * 256 + e] = c;
    }
    return id;
  }

  /**
   * Every stored prefix that contains addr, longest first: values to out[0..k), lengths to
   * lens[0..k); returns k. out and lens need words*32+1 slots.
   */
  matches(addr: Uint32Array, out: Int32Array, lens: Uint8Array): number {
    let j = this.lastAtOrBelow(addr);
    while (j >= 0 && !this.containsKey(j, addr, 0, this.words * 32)) j = this.up[j]!;
    let k = 0;
    for (; j >= 0; j = this.up[j]!) {
      out[k] = this.vals[j]!;
      lens[k++] = this.lens[j]!;
    }
    return k;
  }

  /** Index of the last prefix whose network is <= addr, or -1. */
  private lastAtOrBelow(addr: Uint32Array): number {
    const { keys, words } = this;
    let lo = 0;
    let hi = this.size;
    if (this.bucket !== null) {
      const t = addr[0]! >>> this.rootShift;
      lo = this.bucket[t]!;
      hi = this.bucket[t + 1]!;
      let node = this.rootChild![t]!;
      while (node >= 0) {
        const b = this.nodeBit[node]!;
        // every entry of [lo, hi) has the same first b bits: compare the address with them
        const c = cmpBits(addr, keys, lo * words, words, b);
        if (c < 0) return lo - 1;
        if (c > 0) return hi - 1;
        const d = bits8(addr, 0, b);
        const base = node * 257;
        lo = this.nodeBounds[base + d]!;
        hi = this.nodeBounds[base + d + 1]!;
        if (lo === hi) return lo - 1;
        node = this.nodeChild[node * 256 + d]!;
      }
    }
    // last index in [lo, hi) with key <= addr
    let l = lo;
    let h = hi;
    if (words === 1) {
      const a = addr[0]!;
      while (l < h) {
        const mid = (l + h) >>> 1;
        if (keys[mid]! <= a) l = mid + 1;
        else h = mid;
      }
    } else {
      while (l < h) {
        const mid = (l + h) >>> 1;
        if (cmpKey(keys, mid * 4, addr) <= 0) l = mid + 1;
        else h = mid;
      }
    }
    return l - 1;
  }
}

/** Entries a binary search handles without a sub-table. */
const LEAF = 16;

/** Sub-tables: the bit they split at, 257 range bounds and 256 children each. */
class NodePool {
  n = 0;
  bit = new Int32Array(64);
  bounds = new Int32Array(64 * 257);
  child = new Int32Array(64 * 256);

  add(b: number): number {
    if (this.n === this.bit.length) {
      const g = (a: Int32Array, k: number) => {
        const x = new Int32Array(a.length * 2 + k);
        x.set(a);
        return x;
      };
      this.bit = g(this.bit, 0);
      this.bounds = g(this.bounds, 0);
      this.child = g(this.child, 0);
    }
    this.bit[this.n] = b;
    return this.n++;
  }
}

/** keys[at..at+4) compared with addr (4 words, unsigned). */
function cmpKey(keys: Uint32Array, at: number, addr: Uint32Array): number {
  for (let w = 0; w < 4; w++) {
    const a = keys[at + w]!;
    const b = addr[w]!;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

/** addr's first n bits compared with those of keys[at..]: -1, 0, 1. */
function cmpBits(addr: Uint32Array, keys: Uint32Array, at: number, words: number, n: number): number {
  for (let w = 0; w < words && n > 0; w++, n -= 32) {
    let a = addr[w]!;
    let b = keys[at + w]!;
    if (n < 32) {
      a >>>= 32 - n;
      b >>>= 32 - n;
    }
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

/** The 8 bits at bit offset b (a multiple of 8) of the key at keys[at..]. */
function bits8(keys: Uint32Array, at: number, b: number): number {
  return (keys[at + (b >>> 5)]! >>> (24 - (b & 31))) & 0xff;
}

/** Number of leading bits two keys share. */
function commonBits(keys: Uint32Array, a: number, b: number, words: number): number {
  for (let w = 0; w < words; w++) {
    const x = (keys[a + w]! ^ keys[b + w]!) >>> 0;
    if (x !== 0) return w * 32 + Math.clz32(x);
  }
  return words * 32;
}

/**
 * Items (row numbers into key/len) sorted by (network, length), stably: items with the same prefix
 * keep their input order (items must come in increasing order). IPv4: one native sort of 64-bit
 * integers (network, length, item) written through a 32-bit view; IPv6: LSD radix sort on 16-bit
 * digits that carries the key words along (sequential reads). Small inputs use a comparison sort.
 */
export function sortByPrefix(words: 1 | 4, key: Uint32Array, len: Uint8Array, items: Int32Array): Int32Array {
  const n = items.length;
  if (n < 512) {
    const arr = Array.from(items);
    arr.sort((x, y) => {
      for (let w = 0; w < words; w++) {
        const a = key[x * words + w]!;
        const b = key[y * words + w]!;
        if (a !== b) return a < b ? -1 : 1;
      }
      return len[x]! - len[y]! || x - y;
    });
    return Int32Array.from(arr);
  }
  return words === 1 ? sortV4(key, len, items) : sortV6(key, len, items);
}

function sortV4(key: Uint32Array, len: Uint8Array, items: Int32Array): Int32Array {
  const n = items.length;
  // position in `items` (not the item) is carried, so any item numbering fits in 26 bits
  if (n >= 1 << 26) throw new RangeError('sortByPrefix: too many prefixes');
  const buf = new ArrayBuffer(n * 8);
  const u32 = new Uint32Array(buf);
  // little-endian: word 1 is the high half
  for (let i = 0; i < n; i++) {
    const it = items[i]!;
    u32[i * 2] = ((len[it]! << 26) | i) >>> 0;
    u32[i * 2 + 1] = key[it]!;
  }
  new BigUint64Array(buf).sort();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = items[u32[i * 2]! & 0x3ffffff]!;
  return out;
}

function sortV6(key: Uint32Array, len: Uint8Array, items: Int32Array): Int32Array {
  const n = items.length;
  let it = Int32Array.from(items);
  let k = new Uint32Array(n * 4);
  let l = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const x = items[i]!;
    k[i * 4] = key[x * 4]!;
    k[i * 4 + 1] = key[x * 4 + 1]!;
    k[i * 4 + 2] = key[x * 4 + 2]!;
    k[i * 4 + 3] = key[x * 4 + 3]!;
    l[i] = len[x]!;
  }
  let it2 = new Int32Array(n);
  let k2 = new Uint32Array(n * 4);
  let l2 = new Uint8Array(n);
  const dig = new Uint16Array(n);
  const count = new Int32Array(65537);
  // digit 0 = length, then the 16-bit halves of the words from the last one up
  for (let d = 0; d < 9; d++) {
    if (d === 0) for (let i = 0; i < n; i++) dig[i] = l[i]!;
    else {
      const w = 3 - ((d - 1) >> 1);
      const shift = (d & 1) === 1 ? 0 : 16;
      for (let i = 0; i < n; i++) dig[i] = (k[i * 4 + w]! >>> shift) & 0xffff;
    }
    count.fill(0);
    for (let i = 0; i < n; i++) count[dig[i]! + 1]!++;
    let constant = false;
    for (let x = 1; x <= 65536 && !constant; x++) constant = count[x] === n;
    if (constant) continue;
    for (let x = 1; x <= 65536; x++) count[x]! += count[x - 1]!;
    for (let i = 0; i < n; i++) {
      const j = count[dig[i]!]!++;
      it2[j] = it[i]!;
      l2[j] = l[i]!;
      k2[j * 4] = k[i * 4]!;
      k2[j * 4 + 1] = k[i * 4 + 1]!;
      k2[j * 4 + 2] = k[i * 4 + 2]!;
      k2[j * 4 + 3] = k[i * 4 + 3]!;
    }
    const ti = it;
    it = it2;
    it2 = ti;
    const tk = k;
    k = k2;
    k2 = tk;
    const tl = l;
    l = l2;
    l2 = tl;
  }
  return it;
}
