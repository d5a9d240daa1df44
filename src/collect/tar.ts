import { gunzipSync } from 'node:zlib';

/**
 * A minimal, in-memory ustar/pax/GNU reader for snapshot archives. Nothing is ever written to disk,
 * so path traversal cannot escape; still, entries with absolute paths, `..` components, links or
 * device nodes are refused and reported, so a hostile archive is visible as such.
 */
export interface TarEntry {
  path: string;
  data: Buffer;
}

export interface TarResult {
  files: Map<string, Buffer>;
  skipped: string[];
}

export const TAR_LIMITS = {
  compressedBytes: 512 * 1024 * 1024,
  uncompressedBytes: 2 * 1024 * 1024 * 1024 - 1,
  entries: 200_000,
};

export class TarError extends Error {}

function field(buf: Buffer, off: number, len: number): string {
  const raw = buf.subarray(off, off + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function octal(buf: Buffer, off: number, len: number): number {
  // GNU base-256 encoding for sizes ≥ 8 GiB: high bit set. Such entries exceed our limits anyway.
  if ((buf[off]! & 0x80) !== 0) throw new TarError('entry size in base-256 encoding (over 8 GiB)');
  const s = field(buf, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(`bad octal number in header: ${JSON.stringify(s.slice(0, 20))}`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === octal(h, 148, 8);
}

/** Normalises a member path; returns null when it is unsafe. */
export function safeMemberPath(p: string): string | null {
  if (p.startsWith('/') || p.includes('\0') || p.includes('\\')) return null;
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.some((x) => x === '..')) return null;
  return parts.join('/');
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(data.subarray(i, sp).toString());
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) {
      const k = rec.slice(0, eq);
      if (k === 'path' || k === 'linkpath' || k === 'size') out[k] = rec.slice(eq + 1);
    }
    i += len;
  }
  return out;
}

export function readTarGz(gz: Buffer): TarResult {
  if (gz.length > TAR_LIMITS.compressedBytes)
    throw new TarError(`archive larger than ${TAR_LIMITS.compressedBytes} bytes`);
  let tar: Buffer;
  try {
    tar = gunzipSync(gz, { maxOutputLength: TAR_LIMITS.uncompressedBytes });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new TarError(`not a readable gzip archive (${msg})`);
  }
  return readTar(tar);
}

export function readTar(tar: Buffer): TarResult {
  const files = new Map<string, Buffer>();
  const skipped: string[] = [];
  let off = 0;
  let count = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    if (!checksumOk(h)) throw new TarError(`bad header checksum at byte ${off}`);
    if (++count > TAR_LIMITS.entries) throw new TarError(`more than ${TAR_LIMITS.entries} entries`);
    const type = String.fromCharCode(h[156]!) || '0';
    const size = pax.size !== undefined ? Number(pax.size) : octal(h, 124, 12);
    const dataStart = off + 512;
    if (!Number.isSafeInteger(size) || size < 0 || dataStart + size > tar.length)
      throw new TarError(`entry at byte ${off} runs past the end of the archive (truncated?)`);
    const data = tar.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      pax = parsePax(data);
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    const prefix = field(h, 345, 155);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    pax = {};
    longName = undefined;
    if (type === '5') continue;
    const safe = safeMemberPath(name);
    if (safe === null) {
      skipped.push(`${name}: unsafe path`);
      continue;
    }
    if (type !== '0' && type !== '\0' && type !== '7') {
      skipped.push(`${safe}: not a regular file (type ${JSON.stringify(type)})`);
      continue;
    }
    files.set(safe, Buffer.from(data));
  }
  return { files, skipped };
}
