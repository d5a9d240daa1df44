import { closeSync, openSync, readSync } from 'node:fs';
import { byteSearch } from '../tools/text/byte-search.js';

/**
 * Pieces for a scan that searches each piece natively (the conntrack worker: the address, then the
 * newlines): 128 KiB stay in the CPU's cache between the read and the searches; 1 MiB pieces cost
 * ~15 % more CPU on a 229 MB table (bench/RESULTS.md, 2026-12-07 session 16).
 */
export const SCAN_PIECE = 128 << 10;

/**
 * A file's bytes in pieces of at most `size`, read into ONE buffer that every piece reuses: each
 * piece is valid only until the next is asked for, so its consumer must copy what it keeps (the
 * conntrack scanner does: line text is decoded, a cut line is copied). Against a read stream this
 * allocates nothing per piece (no garbage to collect) and runs no stream machinery. The buffer is the
 * SIMD byte search's own memory when this thread has it and no other reader holds it: the search then
 * reads each piece where it lies instead of copying it in (`simd: false` never takes it, for the tests).
 */
export function* fileChunks(path: string, size = 1 << 20, simd = true): Generator<Buffer> {
  const fd = openSync(path, 'r');
  const lease = simd ? byteSearch()?.lease(size) : undefined;
  try {
    const buf = lease?.buf ?? Buffer.allocUnsafeSlow(size);
    let pos = 0;
    for (;;) {
      const k = readSync(fd, buf, 0, size, pos);
      if (k === 0) return;
      pos += k;
      yield buf.subarray(0, k);
    }
  } finally {
    lease?.release();
    closeSync(fd);
  }
}
