import { unzipSync } from 'fflate';
import { safeMemberPath, TAR_LIMITS } from './tar.js';
import { MAX_PROBE_FILE_BYTES } from './source.js';

/**
 * A `.zip` held in memory (a `cilium sysdump` archive), read with fflate. Members are listed from the
 * central directory and inflated only when asked for: a sysdump holds logs, Hubble flows and profiles
 * netpath never reads, so only the few files of one node are ever decompressed. The limits are those of
 * the `.tar.gz` reader (tar.ts): archive size, member count, bytes inflated in total, and per file.
 */
export class ZipError extends Error {}

export interface ZipMember {
  /** the normalised member path (safeMemberPath) */
  path: string;
  /** the size the central directory declares, inflated */
  size: number;
}

export interface ZipIndex {
  members: ZipMember[];
  /** members left out, with why (unsafe path) */
  skipped: string[];
  /** inflates the named members (normalised paths); a member over the limits throws ZipError */
  read(paths: Iterable<string>): Map<string, Buffer>;
}

export function openZip(data: Uint8Array): ZipIndex {
  if (data.length > TAR_LIMITS.compressedBytes)
    throw new ZipError(`archive larger than ${TAR_LIMITS.compressedBytes} bytes`);
  const members: ZipMember[] = [];
  const skipped: string[] = [];
  const raw = new Map<string, string>();
  let count = 0;
  try {
    unzipSync(data, {
      filter(f) {
        if (++count > TAR_LIMITS.entries) throw new ZipError(`more than ${TAR_LIMITS.entries} entries`);
        if (f.name.endsWith('/')) return false;
        const safe = safeMemberPath(f.name);
        if (safe === null) skipped.push(`${f.name}: unsafe path`);
        else if (!raw.has(safe)) {
          raw.set(safe, f.name);
          members.push({ path: safe, size: f.originalSize });
        }
        return false;
      },
    });
  } catch (e) {
    if (e instanceof ZipError) throw e;
    throw new ZipError(`not a readable zip archive (${e instanceof Error ? e.message : String(e)})`);
  }
  let inflated = 0;
  const sizes = new Map(members.map((m) => [m.path, m.size]));
  return {
    members,
    skipped,
    read(paths) {
      const want = new Map<string, string>();
      for (const p of paths) {
        const name = raw.get(p);
        if (name === undefined) continue;
        const size = sizes.get(p)!;
        if (size > MAX_PROBE_FILE_BYTES)
          throw new ZipError(`${p}: ${size} bytes, over the ${MAX_PROBE_FILE_BYTES} limit`);
        // the declared size bounds what fflate inflates into (it allocates that much and no more)
        inflated += size;
        if (inflated > TAR_LIMITS.uncompressedBytes)
          throw new ZipError(`more than ${TAR_LIMITS.uncompressedBytes} bytes inflated`);
        want.set(name, p);
      }
      const out = new Map<string, Buffer>();
      if (want.size === 0) return out;
      let got: Record<string, Uint8Array>;
      try {
        got = unzipSync(data, { filter: (f) => want.has(f.name) });
      } catch (e) {
        throw new ZipError(`cannot inflate (${e instanceof Error ? e.message : String(e)})`);
      }
      for (const [name, bytes] of Object.entries(got)) {
        const p = want.get(name)!;
        if (bytes.length !== sizes.get(p))
          throw new ZipError(`${p}: inflated to ${bytes.length} bytes, the archive declares ${sizes.get(p)}`);
        out.set(p, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
      }
      return out;
    },
  };
}
