import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SameBytes, sameFileBytes } from '../../src/collect/same-inputs.js';

// diff's test for "both sides hold the same iptables-save" (no worker then: the dump is parsed once). It reads both
// files in 1 MiB steps: a difference at any byte, on either side of a step's edge, must be seen.

const tmp = mkdtempSync(join(tmpdir(), 'np-samebytes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const MiB = 1 << 20;

describe('sameFileBytes', () => {
  it('is true only for files with the same bytes, wherever they differ', () => {
    let k = 0;
    const file = (b: Buffer) => {
      const p = join(tmp, `f${k++}`);
      writeFileSync(p, b);
      return p;
    };
    for (const size of [0, 1, MiB - 1, MiB, MiB + 1, 3 * MiB + 5]) {
      const a = Buffer.alloc(size);
      for (let i = 0; i < size; i++) a[i] = (i * 7 + 3) & 0xff;
      const pa = file(a);
      expect(sameFileBytes(pa, file(Buffer.from(a))), `${size}`).toBe(true);
      for (const at of [0, MiB - 1, MiB, MiB + 1, size - 1].filter((x) => x >= 0 && x < size)) {
        const b = Buffer.from(a);
        b[at] = b[at]! ^ 0x01;
        expect(sameFileBytes(pa, file(b)), `${size} at ${at}`).toBe(false);
      }
      // one byte more or less
      expect(sameFileBytes(pa, file(Buffer.concat([a, Buffer.from([0])]))), `${size}+1`).toBe(false);
      if (size > 0) expect(sameFileBytes(pa, file(a.subarray(0, size - 1))), `${size}-1`).toBe(false);
    }
    expect(sameFileBytes(join(tmp, 'none'), join(tmp, 'f0'))).toBe(false);
  });
});

describe('SameBytes', () => {
  it("gives the other side the first side's parse only for the same bytes, once", () => {
    const m = new SameBytes();
    let parses = 0;
    const parse = (b: Buffer) => () => ({ n: ++parses, text: b.toString() });
    const a = m.parse('k', Buffer.from('abc'), parse(Buffer.from('abc')));
    // the same bytes in another buffer: the kept parse, then let go
    expect(m.parse('k', Buffer.from('abc'), parse(Buffer.from('abc')))).toBe(a);
    expect(m.parse('k', Buffer.from('abc'), parse(Buffer.from('abc')))).not.toBe(a);
    // other bytes of the same length, or another key: parsed again
    const c = m.parse('j', Buffer.from('abd'), parse(Buffer.from('abd')));
    expect(m.parse('j', Buffer.from('abe'), parse(Buffer.from('abe')))).not.toBe(c);
    expect(m.parse('i', Buffer.from('abe'), parse(Buffer.from('abe'))).text).toBe('abe');
    expect(parses).toBe(5);
  });

  it('keeps nothing for a key the other side will not ask for', () => {
    const m = new SameBytes(undefined, (k) => k !== 'worker');
    const a = m.parse('worker', Buffer.from('abc'), () => ({ v: 1 }));
    expect(m.parse('worker', Buffer.from('abc'), () => ({ v: 2 }))).not.toBe(a);
    const b = m.parse('here', Buffer.from('abc'), () => ({ v: 3 }));
    expect(m.parse('here', Buffer.from('abc'), () => ({ v: 4 }))).toBe(b);
  });
});
