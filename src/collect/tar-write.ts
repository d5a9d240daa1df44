import { gzipSync } from 'node:zlib';
import { byCodeUnit } from '../model/order.js';

/** Minimal ustar writer for snapshot archives (regular files only, paths ≤ 255 bytes). */
export function writeTarGz(files: Map<string, Buffer | string>, top: string): Buffer {
  const blocks: Buffer[] = [];
  const mtime = Math.floor(Date.now() / 1000);
  for (const [rel, content] of [...files.entries()].sort(([a], [b]) => byCodeUnit(a, b))) {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    const full = `${top}/${rel}`;
    let name = full;
    let prefix = '';
    if (Buffer.byteLength(full) > 100) {
      const cut = full.lastIndexOf('/', 155);
      if (cut <= 0 || Buffer.byteLength(full.slice(cut + 1)) > 100)
        throw new Error(`path too long for a snapshot archive: ${full}`);
      prefix = full.slice(0, cut);
      name = full.slice(cut + 1);
    }
    const h = Buffer.alloc(512);
    h.write(name, 0, 100);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write(mtime.toString(8).padStart(11, '0') + '\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.write(prefix, 345, 155);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}
