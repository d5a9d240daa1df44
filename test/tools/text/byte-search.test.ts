import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  byteSearch,
  makeSearch,
  MAX_NEEDLE,
  moduleBytes,
  offsetsOf,
  plainSearch,
  type ByteSearch,
  type ScanHits,
} from '../../../src/tools/text/byte-search.js';
import { filesUnder } from '../../helpers/files.js';

/** The answer by definition: a byte-by-byte walk. */
function naive(hay: Uint8Array, needle: Uint8Array, from: number, to: number, byte: number): ScanHits {
  const pos: number[] = [];
  const before: number[] = [];
  let lines = 0;
  let special = false;
  for (let p = from; p < to; p++) {
    if (needle.length > 0 && p + needle.length <= to) {
      let k = 0;
      while (k < needle.length && hay[p + k] === needle[k]) k++;
      if (k === needle.length) {
        pos.push(p);
        before.push(lines);
      }
    }
    if (hay[p] === byte) lines++;
    else if (hay[p]! < 0x20) special = true;
  }
  return { pos, before, lines, special };
}

const simd = makeSearch();

/** `bytes` at `align` bytes into a fresh ArrayBuffer, with other bytes around it (a search must not read them as its own). */
function placed(bytes: number[], align: number, fill = 0x31): Buffer {
  const ab = new Uint8Array(align + bytes.length + 64).fill(fill);
  ab.set(bytes, align);
  return Buffer.from(ab.buffer, align, bytes.length);
}

function check(s: ByteSearch, hay: Uint8Array, needle: Uint8Array, from: number, to: number, byte = 10): void {
  const want = naive(hay, needle, from, to, byte);
  expect(s.scan(hay, needle, from, to, byte)).toEqual(want);
  expect(s.findAll(hay, needle, from, to)).toEqual(naive(hay, needle, from, to, 10).pos);
  expect(s.findFirst(hay, needle, from, to)).toBe(want.pos[0] ?? -1);
  expect(s.count(hay, byte, from, to)).toBe(want.lines);
}

// a small alphabet, so that needles occur often, overlap, and half-match everywhere
const alphabet = fc.constantFrom(0x61, 0x62, 0x3d, 0x2e, 0x31, 0x0a, 0x0a, 0xc3, 0xa9, 0xff, 0x80);
const needleOf = fc.array(alphabet, { minLength: 1, maxLength: 40 });

describe('byteSearch: the SIMD module', () => {
  it('is valid WebAssembly with SIMD on Node 20, made once per thread', () => {
    expect(WebAssembly.validate(moduleBytes())).toBe(true);
    expect(simd?.simd).toBe(true);
    expect(byteSearch()).toBe(byteSearch());
  });

  it('its bytes begin with the WebAssembly header and use the SIMD prefix', () => {
    const b = moduleBytes();
    expect([...b.subarray(0, 8)]).toEqual([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    expect(b.includes(0xfd)).toBe(true);
  });

  it('offsets: the last byte and the rarest other one', () => {
    expect(offsetsOf(Buffer.from('=10.244.1.12'))).toEqual([9, 11]);
    expect(offsetsOf(Buffer.from('port=80'))).toEqual([5, 6]);
    expect(offsetsOf(Buffer.from('x'))).toEqual([0, 0]);
  });

  it('property: equals the byte-by-byte walk and plainSearch at every alignment 0-31, any range', () => {
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 300 }),
        needleOf,
        fc.nat({ max: 31 }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(10, 0x61),
        (xs, nd, align, a, b, byte) => {
          const hay = placed(xs, align);
          const needle = Uint8Array.from(nd);
          const from = xs.length ? a % (xs.length + 1) : 0;
          const to = from + (xs.length - from ? b % (xs.length - from + 1) : 0);
          check(simd!, hay, needle, from, to, byte);
          check(plainSearch, hay, needle, from, to, byte);
        },
      ),
      { numRuns: 3000, seed: 20261207 },
    );
  });

  it('buffers shorter than 16 bytes, needles as long as the range, first and last byte', () => {
    for (let n = 0; n <= 33; n++)
      for (let align = 0; align < 32; align++) {
        const xs = Array.from({ length: n }, (_, i) => (i % 3 === 2 ? 10 : 0x61 + (i % 5)));
        const hay = placed(xs, align);
        for (const nd of [xs.slice(0, 1), xs.slice(-1), xs.slice(0, 3), xs.slice(-3), xs, [0x61]])
          if (nd.length) check(simd!, hay, Uint8Array.from(nd), 0, n);
      }
  });

  it('overlapping occurrences and more hits than one call holds (1024)', () => {
    const hay = Buffer.alloc(5000, 0x61);
    for (let i = 0; i < 5000; i += 97) hay[i] = 10;
    for (const nd of ['a', 'aa', 'aaa', 'a'.repeat(17)]) check(simd!, hay, Buffer.from(nd), 0, hay.length);
    expect(simd!.findAll(Buffer.from('aaaaa'), Buffer.from('aaa'))).toEqual([0, 1, 2]);
  });

  it("newline counts past the 64-byte turns' flush (a lane counts up to 252 newlines)", () => {
    for (const n of [4031, 4032, 4033, 20000, 64 * 63 * 3 + 17]) {
      const hay = Buffer.alloc(n, 10);
      for (let i = 0; i < n; i += 1000) hay.write('=x', i);
      check(simd!, hay, Buffer.from('=x'), 0, n);
      check(simd!, hay, Buffer.from('\n\n='), 0, n);
    }
  });

  it('property: longer buffers, dense newlines and candidates, any range', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(10, 10, 0x3d, 0x31, 0x2e), { minLength: 100, maxLength: 9000 }),
        fc.constantFrom('=1', '=1.1', '1\n=', '\n'),
        fc.nat({ max: 31 }),
        fc.nat({ max: 200 }),
        (xs, nd, align, cut) => {
          const hay = placed(xs, align);
          check(simd!, hay, Buffer.from(nd), Math.min(cut, xs.length), xs.length);
        },
      ),
      { numRuns: 200, seed: 20261207 },
    );
  });

  it('needles across the copy windows (256 KiB) and at the ends of a lent buffer', () => {
    const W = 256 << 10;
    const hay = Buffer.alloc(3 * W + 100, 0x2e);
    for (let i = 0; i < hay.length; i += 61) hay[i] = 10;
    const nd = Buffer.from('=10.0.0.1');
    for (const at of [0, W - 9, W - 8, W - 1, W, W + 1, 2 * W - 4, 3 * W + 91]) nd.copy(hay, at);
    check(simd!, hay, nd, 0, hay.length);
    check(simd!, hay, nd, 1, hay.length - 1);
    const lease = simd!.lease(1 << 20)!;
    try {
      const buf = lease.buf;
      buf.fill(0x2e);
      for (let i = 0; i < buf.length; i += 53) buf[i] = 10;
      for (const at of [0, 1000, buf.length - 9]) nd.copy(buf, at);
      // in place: the same answers as from a copy of the same bytes
      for (const [from, to] of [
        [0, buf.length],
        [3, buf.length - 1],
        [1000, 1009],
      ] as const) {
        check(simd!, buf, nd, from, to);
        expect(simd!.scan(buf, nd, from, to, 10)).toEqual(simd!.scan(Buffer.from(buf), nd, from, to, 10));
      }
    } finally {
      lease.release();
    }
  });

  it('non-ASCII and control bytes: found as bytes, control bytes other than the counted one reported', () => {
    const hay = Buffer.from('é=1\r\n\u001b[0m=1\t\u0000x=1é\n', 'utf8');
    check(simd!, hay, Buffer.from('=1'), 0, hay.length);
    check(simd!, hay, Buffer.from('é'), 0, hay.length);
    expect(simd!.scan(Buffer.from('a=1\nb\n'), Buffer.from('=1'), 0, 6, 10).special).toBe(false);
    for (const c of [0, 9, 13, 27, 31]) {
      const h = Buffer.from(`a=1\nb${String.fromCharCode(c)}\n`);
      expect(simd!.scan(h, Buffer.from('=1'), 0, h.length, 10).special).toBe(true);
      expect(plainSearch.scan(h, Buffer.from('=1'), 0, h.length, 10).special).toBe(true);
    }
  });

  it('every bundled conntrack capture, for each address and port in it', () => {
    const files = filesUnder(new URL('../../../fixtures/', import.meta.url).pathname, /^conntrack.*\.txt$/);
    expect(files.length).toBeGreaterThan(15);
    let hits = 0;
    for (const f of files) {
      const hay = readFileSync(f);
      const words = new Set(hay.toString('latin1').match(/=[^ \n]+/g) ?? []);
      for (const w of words) {
        const nd = Buffer.from(w, 'latin1');
        const want = naive(hay, nd, 0, hay.length, 10);
        expect(simd!.scan(hay, nd, 0, hay.length, 10), `${f} ${w}`).toEqual(want);
        hits += want.pos.length;
      }
    }
    expect(hits).toBeGreaterThan(1000);
  });

  it('needles longer than MAX_NEEDLE go to plainSearch', () => {
    const nd = Buffer.alloc(MAX_NEEDLE + 1, 0x61);
    const hay = Buffer.alloc(3000, 0x61);
    check(simd!, hay, nd, 0, hay.length);
  });

  it('lends its buffer to one reader at a time', () => {
    const s = makeSearch()!;
    const a = s.lease(4096)!;
    expect(a.buf.length).toBe(4096);
    expect(s.lease(10)).toBeUndefined();
    a.release();
    a.release();
    const b = s.lease(1 << 20);
    expect(b).toBeDefined();
    b!.release();
    expect(s.lease((1 << 20) + 1)).toBeUndefined();
    expect(plainSearch.lease(10)).toBeUndefined();
  });
});

describe('byteSearch: without WebAssembly or its SIMD', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('no WebAssembly: no module', () => {
    vi.stubGlobal('WebAssembly', undefined);
    expect(makeSearch()).toBeUndefined();
  });

  it('a WebAssembly that does not validate SIMD: no module', () => {
    vi.stubGlobal('WebAssembly', { ...WebAssembly, validate: () => false });
    expect(makeSearch()).toBeUndefined();
  });
});
