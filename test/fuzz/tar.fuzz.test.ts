import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readTar, readTarGz, safeMemberPath, TarError, type TarResult } from '../../src/collect/tar.js';
import { writeTarGz } from '../../src/collect/tar-write.js';
import { assertNoPollution, RUNS, SEED, seeds } from './harness.js';

// A snapshot archive built from real fixtures, plus hostile members written byte by byte.
const real = new Map(
  seeds('ip/route')
    .slice(0, 6)
    .map((s) => [s.name, s.text] as [string, string]),
);
const tarBytes = gunzipSync(writeTarGz(real, 'snap'));

function header(name: string, size: number, type: string, extra: (h: Buffer) => void = () => {}): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100);
  h.write('0000644\0', 100);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  extra(h);
  setChecksum(h);
  return h;
}
function setChecksum(h: Buffer): void {
  h.write('        ', 148);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
}
function member(name: string, data: string, type = '0'): Buffer {
  const d = Buffer.from(data);
  return Buffer.concat([header(name, d.length, type), d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
}
const pax = (recs: string[]): string =>
  recs
    .map((r) => {
      let len = r.length + 3;
      while (String(len).length + 2 + r.length !== len) len = String(len).length + 2 + r.length;
      return `${len} ${r}\n`;
    })
    .join('');

const hostile = Buffer.concat([
  member('../etc/passwd', 'x'),
  member('/abs', 'x'),
  member('snap/__proto__', '{"polluted":1}'),
  member('snap/constructor/prototype', 'x'),
  member('snap/link', '', '2'),
  member('snap/dev', '', '3'),
  member('././@LongLink', 'snap/../../escape\0', 'L'),
  member('snap/after-long', 'x'),
  member('PaxHeader', pax(['path=snap/../pax-escape', 'size=1']), 'x'),
  member('snap/after-pax', 'x'),
  member('PaxHeader', pax(['size=99999999999999999999']), 'x'),
  member('snap/huge', 'x'),
  Buffer.alloc(1024),
]);

function check(r: TarResult, input: Buffer): void {
  let total = 0;
  for (const [p, d] of r.files) {
    expect(safeMemberPath(p), p).toBe(p);
    expect(p.startsWith('/') || p.split('/').includes('..')).toBe(false);
    total += d.length;
  }
  expect(total).toBeLessThanOrEqual(input.length);
}

function contractTar(input: Buffer, gz = false): TarResult | undefined {
  try {
    const r = gz ? readTarGz(input) : readTar(input);
    assertNoPollution();
    if (!gz) check(r, input);
    else for (const p of r.files.keys()) expect(safeMemberPath(p), p).toBe(p);
    return r;
  } catch (e) {
    assertNoPollution();
    if (!(e instanceof TarError))
      throw new Error(`threw ${(e as Error).constructor.name}: ${(e as Error).message} instead of TarError`);
    return undefined;
  }
}

/** Random byte edits; with `fix`, header checksums are recomputed so the reader looks past them. */
const edited = (base: Buffer) =>
  fc
    .tuple(
      fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 16,
      }),
      fc.boolean(),
    )
    .map(([edits, fix]) => {
      const b = Buffer.from(base);
      for (const [at, v] of edits) b[at] = v;
      if (fix)
        for (let off = 0; off + 512 <= b.length; off += 512)
          if (b.subarray(off + 257, off + 262).toString() === 'ustar') setChecksum(b.subarray(off, off + 512));
      return b;
    });

describe('fuzz tar reader', () => {
  it('reads the real archive back', () => {
    const r = contractTar(tarBytes)!;
    expect([...r.files.keys()].sort()).toEqual([...real.keys()].map((k) => `snap/${k}`).sort());
  });

  it('refuses or skips every hostile member and keeps the safe ones', () => {
    const r = contractTar(hostile);
    // the oversized pax size makes the archive unreadable at that member, which is a TarError
    expect(r).toBeUndefined();
    const head = contractTar(
      Buffer.concat([hostile.subarray(0, hostile.length - 1024 - 4 * 512), Buffer.alloc(1024)]),
    )!;
    // the GNU long name and the pax path rename the member after them, onto an escaping path
    expect([...head.files.keys()].sort()).toEqual(['snap/__proto__', 'snap/constructor/prototype']);
    expect(head.skipped).toEqual([
      '../etc/passwd: unsafe path',
      '/abs: unsafe path',
      'snap/link: not a regular file (type "2")',
      'snap/dev: not a regular file (type "3")',
      'snap/../../escape: unsafe path',
      'snap/../pax-escape: unsafe path',
    ]);
  });

  it('keeps the contract on the archive cut at every 64 bytes', () => {
    for (let k = 0; k <= tarBytes.length; k += 64) contractTar(tarBytes.subarray(0, k));
    for (let k = 0; k <= hostile.length; k += 64) contractTar(hostile.subarray(0, k));
  });

  it('keeps the contract on random byte edits (with and without fixed checksums), random bytes and gzip', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          edited(tarBytes),
          edited(hostile),
          fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)),
        ),
        fc.boolean(),
        (b, gz) => {
          contractTar(gz ? gzipSync(b) : b, gz);
          contractTar(b, true);
        },
      ),
      { numRuns: RUNS * 3, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  });
});
