/**
 * Binary prefix trie over fixed-width integer keys (1 word for IPv4, 4 words for IPv6), stored in
 * flat typed arrays so a million prefixes cost tens of MB, not a million objects.
 * Values are non-negative int32 handles owned by the caller.
 */
export class PrefixTrie {
  readonly bits: number;
  // build form: separate child/value arrays, grown by doubling
  private c0: Int32Array;
  private c1: Int32Array;
  private val: Int32Array;
  private n = 1;
  // lookup form (after freeze): nodes in depth-first order, 3 ints each (child0, child1, slot),
  // so an unbranched path sits in consecutive cache lines; slot indexes the per-prefix arrays
  private nodes: Int32Array | null = null;
  /** per stored prefix: [value, slot of the nearest shorter prefix or -1, prefix length] */
  private slots: Int32Array | null = null;
  // first 16 bits resolved by one array read: node at depth 16, and the deepest prefix slot above it
  private rootNode: Int32Array | null = null;
  private rootBest: Int32Array | null = null;

  constructor(words: 1 | 4, initialNodes = 1024) {
    this.bits = words * 32;
    this.c0 = new Int32Array(initialNodes);
    this.c1 = new Int32Array(initialNodes);
    this.val = new Int32Array(initialNodes).fill(-1);
  }

  get nodeCount(): number {
    return this.n;
  }

  /** Bytes held by the typed arrays. */
  get byteSize(): number {
    if (this.nodes) return this.nodes.byteLength + this.slots!.byteLength + this.rootNode!.byteLength * 2;
    return this.c0.byteLength * 3;
  }

  private grow(): void {
    const cap = this.c0.length * 2;
    const c0 = new Int32Array(cap);
    c0.set(this.c0);
    const c1 = new Int32Array(cap);
    c1.set(this.c1);
    const val = new Int32Array(cap).fill(-1);
    val.set(this.val);
    this.c0 = c0;
    this.c1 = c1;
    this.val = val;
  }

  /** Value stored at exactly key/len, or -1. */
  get(key: Uint32Array, len: number): number {
    if (this.nodes) throw new Error('PrefixTrie.get after freeze');
    let node = 0;
    for (let i = 0; i < len; i++) {
      const b = (key[i >>> 5]! >>> (31 - (i & 31))) & 1;
      node = b === 0 ? this.c0[node]! : this.c1[node]!;
      if (node === 0) return -1;
    }
    return this.val[node]!;
  }

  /** Stores value (>= 0) at key/len (bits past len are ignored); returns the previous value or -1. */
  set(key: Uint32Array, len: number, value: number): number {
    if (this.nodes) throw new Error('PrefixTrie.set after freeze');
    let node = 0;
    for (let i = 0; i < len; i++) {
      const b = (key[i >>> 5]! >>> (31 - (i & 31))) & 1;
      let next = b === 0 ? this.c0[node]! : this.c1[node]!;
      if (next === 0) {
        if (this.n >= this.c0.length) this.grow();
        next = this.n++;
        if (b === 0) this.c0[node] = next;
        else this.c1[node] = next;
      }
      node = next;
    }
    const prev = this.val[node]!;
    this.val[node] = value;
    return prev;
  }

  /** Converts to the lookup form; no more set/get afterwards. */
  freeze(): void {
    if (this.nodes) return;
    const n = this.n;
    const nodes = new Int32Array(n * 3);
    let slots = 0;
    for (let i = 0; i < n; i++) if (this.val[i]! >= 0) slots++;
    const sl = new Int32Array(slots * 3);
    const rootNode = new Int32Array(65536);
    const rootBest = new Int32Array(65536).fill(-1);
    // iterative preorder; stack holds (old node, new parent position*2+bit, depth, nearest slot above)
    const maxDepth = this.bits + 1;
    const stOld = new Int32Array(maxDepth * 2 + 2);
    const stRef = new Int32Array(maxDepth * 2 + 2);
    const stDepth = new Int32Array(maxDepth * 2 + 2);
    const stUp = new Int32Array(maxDepth * 2 + 2);
    const stPath = new Float64Array(maxDepth * 2 + 2);
    let sp = 0;
    stOld[0] = 0;
    stRef[0] = -1;
    stDepth[0] = 0;
    stUp[0] = -1;
    stPath[0] = 0;
    sp = 1;
    let out = 0;
    let slot = 0;
    while (sp > 0) {
      sp--;
      const old = stOld[sp]!;
      const ref = stRef[sp]!;
      const depth = stDepth[sp]!;
      let up = stUp[sp]!;
      const path = stPath[sp]!; // first min(depth,16) bits of the path
      const pos = out++;
      if (ref >= 0) nodes[ref] = pos;
      const v = this.val[old]!;
      if (v >= 0) {
        sl[slot * 3] = v;
        sl[slot * 3 + 1] = up;
        sl[slot * 3 + 2] = depth;
        up = slot++;
        nodes[pos * 3 + 2] = up;
      } else nodes[pos * 3 + 2] = -1;
      if (depth === 16) {
        rootNode[path] = pos;
        rootBest[path] = up;
      } else if (depth < 16 && v >= 0) {
        // a prefix shorter than 16 bits covers a range of buckets; preorder visits it before the
        // longer prefixes inside it, which overwrite their own part of the range
        const span = 1 << (16 - depth);
        rootBest.fill(up, path * span, path * span + span);
      }
      // push child1 first so child0 is laid out right after its parent
      const k1 = this.c1[old]!;
      const k0 = this.c0[old]!;
      if (k1 !== 0) {
        stOld[sp] = k1;
        stRef[sp] = pos * 3 + 1;
        stDepth[sp] = depth + 1;
        stUp[sp] = up;
        stPath[sp] = depth < 16 ? path * 2 + 1 : path;
        sp++;
      }
      if (k0 !== 0) {
        stOld[sp] = k0;
        stRef[sp] = pos * 3;
        stDepth[sp] = depth + 1;
        stUp[sp] = up;
        stPath[sp] = depth < 16 ? path * 2 : path;
        sp++;
      }
    }
    this.nodes = nodes;
    this.slots = sl;
    this.rootNode = rootNode;
    this.rootBest = rootBest;
    this.c0 = this.c1 = this.val = new Int32Array(0);
  }

  /**
   * Every stored prefix that contains key, longest first: writes values to out[0..k) and their
   * lengths to lens[0..k); returns k. out and lens need bits+1 slots. Needs freeze().
   */
  matches(key: Uint32Array, out: Int32Array, lens: Uint8Array): number {
    const nodes = this.nodes!;
    const top = key[0]! >>> 16;
    let node = this.rootNode![top]!;
    let best = this.rootBest![top]!;
    if (node !== 0) {
      const bits = this.bits;
      for (let i = 16; ; ) {
        const s = nodes[node * 3 + 2]!;
        if (s >= 0) best = s;
        if (i === bits) break;
        const b = (key[i >>> 5]! >>> (31 - (i & 31))) & 1;
        node = nodes[node * 3 + b]!;
        if (node === 0) break;
        i++;
      }
    }
    let k = 0;
    const sl = this.slots!;
    for (let s = best; s >= 0; s = sl[s * 3 + 1]!) {
      out[k] = sl[s * 3]!;
      lens[k++] = sl[s * 3 + 2]!;
    }
    return k;
  }
}

/** Parses dotted-quad IPv4 into out[0]; false when it is not exactly one. No allocation. */
export function parseV4Into(s: string, out: Uint32Array): boolean {
  let acc = 0;
  let part = 0;
  let digits = 0;
  let val = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return false; // leading zero: node's isIPv4 rejects it too
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return false;
    } else if (c === 46) {
      if (digits === 0 || acc === 3) return false;
      val = val * 256 + part;
      acc++;
      part = 0;
      digits = 0;
    } else return false;
  }
  if (acc !== 3 || digits === 0) return false;
  out[0] = (val * 256 + part) >>> 0;
  return true;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const groupsScratch = new Uint16Array(8);
const v4Scratch = new Uint32Array(1);

/** Parses an IPv6 address (with `::` and an embedded dotted quad) into out[0..4). No zone ids. */
export function parseV6Into(s: string, out: Uint32Array): boolean {
  const g = groupsScratch;
  const len = s.length;
  if (len < 2 || len > 45) return false;
  let n = 0; // groups written
  let gap = -1; // index in g where `::` sits
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === len) {
      out[0] = out[1] = out[2] = out[3] = 0;
      return true;
    }
  }
  while (i < len) {
    // one group, or an embedded IPv4 tail
    let j = i;
    let v = 0;
    let hasDot = false;
    while (j < len) {
      const c = s.charCodeAt(j);
      if (c === 58) break;
      if (c === 46) hasDot = true;
      j++;
    }
    if (hasDot) {
      if (j !== len || n > 6) return false;
      if (!parseV4Into(s.slice(i, j), v4Scratch)) return false;
      g[n++] = v4Scratch[0]! >>> 16;
      g[n++] = v4Scratch[0]! & 0xffff;
      i = j;
      break;
    }
    const digits = j - i;
    if (digits === 0 || digits > 4 || n >= 8) return false;
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
    // at a colon
    if (j + 1 < len && s.charCodeAt(j + 1) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i = j + 2;
      if (i === len) break;
    } else {
      if (j + 1 === len) return false; // trailing single colon
      i = j + 1;
    }
  }
  if (gap < 0) {
    if (n !== 8) return false;
  } else {
    if (n > 7) return false;
    const move = n - gap;
    for (let k = 0; k < move; k++) g[7 - k] = g[n - 1 - k]!;
    for (let k = gap; k < 8 - move; k++) g[k] = 0;
  }
  out[0] = ((g[0]! << 16) | g[1]!) >>> 0;
  out[1] = ((g[2]! << 16) | g[3]!) >>> 0;
  out[2] = ((g[4]! << 16) | g[5]!) >>> 0;
  out[3] = ((g[6]! << 16) | g[7]!) >>> 0;
  return true;
}

/** True when the first len bits of a and b agree. */
export function prefixEqual(a: Uint32Array, b: Uint32Array, len: number): boolean {
  let i = 0;
  for (; len >= 32; len -= 32, i++) if (a[i] !== b[i]) return false;
  if (len === 0) return true;
  const mask = (0xffffffff << (32 - len)) >>> 0;
  return ((a[i]! ^ b[i]!) & mask) >>> 0 === 0;
}
