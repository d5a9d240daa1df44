import { createCipheriv, type Cipher } from 'node:crypto';

/**
 * A keyed, prefix-preserving permutation of fixed-width bit strings (the Crypto-PAn construction of
 * Xu, Fan, Ammar and Moon): output bit i is input bit i XOR f(first i input bits), with f the first
 * bit of AES over the prefix padded by a secret pad. Two inputs that share a k-bit prefix share a k-bit
 * prefix afterwards, and the map is a bijection whatever f is.
 *
 * `Range`s pin parts of the space: a `verbatim` range maps to itself; a `keep` range keeps its first
 * `keep` bits and permutes the rest inside. f is forced to 0 along the path to every range (also to a range
 * nested in another), so an address outside a range never lands inside it.
 */
export interface Range {
  /** the range's prefix bits (MSB first) as bytes, `len` bits significant */
  bytes: Uint8Array;
  len: number;
  /** bits kept verbatim for addresses inside (≥ len); the width means the whole address */
  keep: number;
  /** bits from here on are mapped by `inner` instead (IPv4 inside ::ffff:0:0/96) */
  inner?: (bytes: Uint8Array) => Uint8Array;
}

const bit = (b: Uint8Array, i: number): number => (b[i >> 3]! >> (7 - (i & 7))) & 1;

/** Length of the common prefix of `a` and the first `max` bits of `r`. */
function common(a: Uint8Array, r: Uint8Array, max: number): number {
  for (let i = 0; i < max; i++) if (bit(a, i) !== bit(r, i)) return i;
  return max;
}

export class PrefixMap {
  private readonly cipher: Cipher;
  private readonly pad: Uint8Array;

  constructor(
    key: Uint8Array,
    padKey: Uint8Array,
    readonly width: number,
    private readonly ranges: Range[] = [],
  ) {
    if (key.length !== 16 || padKey.length !== 16) throw new Error('PrefixMap needs 16-byte keys');
    this.cipher = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
    this.pad = new Uint8Array(this.cipher.update(padKey));
  }

  /** The range that contains `a` and is the most specific, if any. */
  private containing(a: Uint8Array): Range | undefined {
    let best: Range | undefined;
    for (const r of this.ranges) if (common(a, r.bytes, r.len) === r.len && (!best || r.len > best.len)) best = r;
    return best;
  }

  map(a: Uint8Array): Uint8Array {
    const n = this.width;
    if (a.length * 8 !== n) throw new Error(`expected ${n / 8} bytes`);
    const r = this.containing(a);
    if (r && r.keep >= n) return Uint8Array.from(a);
    // positions [0, fixed) are kept: the path to every range, or the kept bits of the range `a` is in
    // (inside a range, also the path to every range nested in it, so nothing lands on a nested verbatim range)
    let fixed = r ? r.keep : 0;
    for (const x of this.ranges)
      if (!r || (x.len > r.len && common(x.bytes, r.bytes, r.len) === r.len))
        fixed = Math.max(fixed, common(a, x.bytes, x.len) + 1);
    const out = Uint8Array.from(a);
    if (r?.inner) {
      const tail = r.inner(a.subarray(r.keep >> 3));
      out.set(tail, r.keep >> 3);
      return out;
    }
    const free = n - Math.min(fixed, n);
    if (free === 0) return out;
    // one AES call for every free position: block i = first i bits of `a`, then the pad's bits
    const blocks = Buffer.alloc(free * 16);
    for (let k = 0; k < free; k++) {
      const i = n - free + k;
      const blk = blocks.subarray(k * 16, k * 16 + 16);
      blk.set(this.pad);
      const whole = i >> 3;
      for (let j = 0; j < whole; j++) blk[j] = a[j]!;
      const rem = i & 7;
      if (rem) {
        const mask = (0xff << (8 - rem)) & 0xff;
        blk[whole] = (a[whole]! & mask) | (this.pad[whole]! & ~mask & 0xff);
      }
    }
    const enc = this.cipher.update(blocks);
    for (let k = 0; k < free; k++) {
      const i = n - free + k;
      if (enc[k * 16]! & 0x80) out[i >> 3]! ^= 0x80 >> (i & 7);
    }
    return out;
  }
}

/** Bytes of a prefix written as text bits helper: `rangeOf([10, 0, 0, 0], 8)`. */
export function range(bytes: number[], len: number, keep: number, inner?: Range['inner']): Range {
  return { bytes: Uint8Array.from(bytes), len, keep, ...(inner ? { inner } : {}) };
}
