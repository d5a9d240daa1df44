import { describe, expect, it } from 'vitest';
import { PrefixIndex, sortByPrefix } from '../../src/analysis/prefix-index.js';
import { maskKey, parsePrefixInto, parseV4At, parseV6At } from '../../src/model/route-columns.js';

describe('address parsing into words', () => {
  it('parses IPv4 and IPv6 and rejects malformed text', () => {
    const a = new Uint32Array(1);
    expect(parseV4At('192.0.2.1', a)).toBe(true);
    expect(a[0]).toBe(0xc0000201);
    for (const bad of ['192.0.2', '192.0.2.256', '01.2.3.4', '1.2.3.4.5', '', '1..2.3', 'a.b.c.d'])
      expect(parseV4At(bad, a)).toBe(false);
    const b = new Uint32Array(4);
    expect(parseV6At('2001:db8::1', b)).toBe(true);
    expect(Array.from(b)).toEqual([0x20010db8, 0, 0, 1]);
    expect(parseV6At('::', b)).toBe(true);
    expect(Array.from(b)).toEqual([0, 0, 0, 0]);
    expect(parseV6At('::ffff:192.0.2.1', b)).toBe(true);
    expect(Array.from(b)).toEqual([0, 0, 0xffff, 0xc0000201]);
    expect(parseV6At('fe80::', b)).toBe(true);
    expect(Array.from(b)).toEqual([0xfe800000, 0, 0, 0]);
    for (const bad of [':::', '1:2:3:4:5:6:7:8:9', '2001:db8::1::2', '12345::', 'g::1', '1:', ':1', '2001:db8::1%eth0'])
      expect(parseV6At(bad, b)).toBe(false);
  });

  it('parses prefixes with host bits cleared', () => {
    const k = new Uint32Array(4);
    expect(parsePrefixInto(4, '10.1.2.3/8', k)).toBe(8);
    expect(k[0]).toBe(0x0a000000);
    expect(parsePrefixInto(6, '2001:db8:ffff:1::/33', k)).toBe(33);
    expect(Array.from(k)).toEqual([0x20010db8, 0x80000000, 0, 0]);
    expect(parsePrefixInto(4, '10.0.0.0/33', k)).toBe(-1);
    expect(parsePrefixInto(4, '10.0.0.0/x', k)).toBe(-1);
  });
});

// xorshift: the same random tables on every run
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function build(
  words: 1 | 4,
  keys: number[][],
  lens: number[],
): { idx: PrefixIndex; uniq: { key: number[]; len: number; val: number }[] } {
  const n = lens.length;
  const key = new Uint32Array(n * words);
  const len = Uint8Array.from(lens);
  keys.forEach((k, i) => {
    for (let w = 0; w < words; w++) key[i * words + w] = k[w]!;
    maskKey(key, i * words, words, lens[i]!);
  });
  const sorted = sortByPrefix(
    words,
    key,
    len,
    Int32Array.from({ length: n }, (_, i) => i),
  );
  const uniq: { key: number[]; len: number; val: number }[] = [];
  for (const i of sorted) {
    const k = Array.from(key.subarray(i * words, i * words + words));
    const last = uniq[uniq.length - 1];
    if (last && last.len === len[i] && last.key.every((x, w) => x === k[w])) continue;
    uniq.push({ key: k, len: len[i]!, val: i });
  }
  const ks = new Uint32Array(uniq.length * words);
  for (const [j, u] of uniq.entries()) for (const [w, x] of u.key.entries()) ks[j * words + w] = x;
  return {
    idx: new PrefixIndex(words, ks, Uint8Array.from(uniq.map((u) => u.len)), Int32Array.from(uniq.map((u) => u.val))),
    uniq,
  };
}

function contains(key: number[], len: number, addr: Uint32Array): boolean {
  for (let w = 0; len > 0; w++, len -= 32) {
    const a = key[w]! >>> 0;
    const b = addr[w]! >>> 0;
    if (len >= 32) {
      if (a !== b) return false;
    } else if ((a ^ b) >>> (32 - len) !== 0) return false;
  }
  return true;
}

function brute(uniq: { key: number[]; len: number; val: number }[], addr: Uint32Array): number[] {
  return uniq
    .filter((u) => contains(u.key, u.len, addr))
    .sort((a, b) => b.len - a.len)
    .map((u) => u.val);
}

describe('PrefixIndex', () => {
  it('returns every containing prefix, longest first, including /0 and host routes', () => {
    const k = (s: string) => {
      const a = new Uint32Array(1);
      parseV4At(s, a);
      return [a[0]!];
    };
    const { idx, uniq } = build(
      1,
      [k('0.0.0.0'), k('10.0.0.0'), k('10.1.0.0'), k('10.1.2.0'), k('10.1.2.3'), k('10.128.0.0')],
      [0, 8, 16, 24, 32, 9],
    );
    const out = new Int32Array(33);
    const lens = new Uint8Array(33);
    const q = (s: string) => {
      const n = idx.matches(Uint32Array.from(k(s)), out, lens);
      return Array.from(out.slice(0, n)).map((v) => uniq.find((u) => u.val === v)!.len);
    };
    expect(q('10.1.2.3')).toEqual([32, 24, 16, 8, 0]);
    expect(q('10.200.0.1')).toEqual([9, 8, 0]);
    expect(q('11.0.0.1')).toEqual([0]);
    expect(q('10.1.2.4')).toEqual([24, 16, 8, 0]);
  });

  it('agrees with a linear scan on random IPv4 tables (sparse, crowded buckets, nested prefixes)', () => {
    const r = rng(7);
    for (const n of [0, 1, 40, 3000, 70_000]) {
      const keys: number[][] = [];
      const lens: number[] = [];
      for (let i = 0; i < n; i++) {
        // half the prefixes crowd into 10.0.0.0/12, so sub-tables get built
        const a = r() < 0.5 ? (0x0a000000 | Math.floor(r() * 0x100000)) >>> 0 : Math.floor(r() * 0x100000000) >>> 0;
        keys.push([a]);
        lens.push(r() < 0.1 ? Math.floor(r() * 33) : 16 + Math.floor(r() * 17));
      }
      const { idx, uniq } = build(1, keys, lens);
      const out = new Int32Array(33);
      const ls = new Uint8Array(33);
      const small = uniq.length <= 3000 ? uniq : null;
      for (let q = 0; q < (n > 10_000 ? 300 : 2000); q++) {
        const addr = new Uint32Array([
          r() < 0.5 && n > 0
            ? (keys[Math.floor(r() * n)]![0]! + Math.floor(r() * 300)) >>> 0
            : Math.floor(r() * 0x100000000) >>> 0,
        ]);
        const got = Array.from(out.slice(0, idx.matches(addr, out, ls)));
        const want = small
          ? brute(small, addr)
          : brute(
              uniq.filter((u) => contains(u.key, u.len, addr)),
              addr,
            );
        expect(got, `n=${n} addr=${addr[0]}`).toEqual(want);
      }
    }
  });

  it('agrees with a linear scan on random IPv6 tables sharing long prefixes', () => {
    const r = rng(11);
    const n = 20_000;
    const keys: number[][] = [];
    const lens: number[] = [];
    for (let i = 0; i < n; i++) {
      const site = Math.floor(r() * 4);
      keys.push([
        site === 0 ? 0x20010db8 : site === 1 ? 0x20010db9 : 0xfe800000,
        Math.floor(r() * 65536) * 65536,
        Math.floor(r() * 0x100000000),
        Math.floor(r() * 0x100000000),
      ]);
      lens.push([32, 48, 64, 128, 0, 40][Math.floor(r() * 6)]!);
    }
    const { idx, uniq } = build(4, keys, lens);
    const out = new Int32Array(129);
    const ls = new Uint8Array(129);
    for (let q = 0; q < 2000; q++) {
      const base = keys[Math.floor(r() * n)]!;
      const addr = Uint32Array.from(
        r() < 0.7
          ? [base[0]!, base[1]!, Math.floor(r() * 0x100000000), base[3]!]
          : [Math.floor(r() * 0x100000000), 0, 0, 1],
      );
      const got = Array.from(out.slice(0, idx.matches(addr, out, ls)));
      expect(got).toEqual(
        brute(
          uniq.filter((u) => contains(u.key, u.len, addr)),
          addr,
        ),
      );
    }
  });

  it('sorts by network then length, keeping input order for equal prefixes (radix and comparison paths)', () => {
    for (const n of [10, 5000]) {
      const r = rng(n);
      const key = new Uint32Array(n);
      const len = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        key[i] = (Math.floor(r() * 64) << 24) >>> 0;
        len[i] = 8 + Math.floor(r() * 2);
      }
      const got = Array.from(
        sortByPrefix(
          1,
          key,
          len,
          Int32Array.from({ length: n }, (_, i) => i),
        ),
      );
      const want = Array.from({ length: n }, (_, i) => i).sort(
        (a, b) => key[a]! - key[b]! || len[a]! - len[b]! || a - b,
      );
      expect(got).toEqual(want);
    }
  });
});
