import { createReadStream, readFileSync, statSync } from 'node:fs';
import { lstat, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SourceError, UsageError } from '../errors.js';
import { readTarGz, TarError } from './tar.js';
import { byteSize } from '../exec/verbose.js';
import type { Runner } from '../exec/runner.js';

/** A probe's raw output, from a snapshot file or a live command. */
export interface ProbeText {
  text: string;
  ext: 'json' | 'txt';
  /** the file read or the command run, for messages */
  origin: string;
}

/** A probe's raw output as bytes (for the outputs that are read without decoding them whole). */
export interface ProbeBytes {
  bytes: Buffer;
  ext: 'json' | 'txt';
  origin: string;
}

/** A probe's raw output as a stream of chunks, for outputs too large to hold (the conntrack table). */
export interface ProbeStream {
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>;
  ext: 'json' | 'txt';
  origin: string;
}

/**
 * Where probe outputs come from. `read(id)` prefers `.json` over `.txt` (the snapshot contract);
 * `list(dir)` names the entries of a sub-directory (`netns`, `tc-filter`).
 */
export interface ProbeSource {
  readonly description: string;
  /** probes run on the node now (a missing output is "on this node", not "in the snapshot") */
  readonly live?: boolean;
  read(id: string): Promise<ProbeText | undefined>;
  list(dir: string): Promise<string[]>;
  /** raw manifest.json text, if present */
  manifest(): Promise<string | undefined>;
  /** the same file as `read`, in chunks; sources without it are read whole */
  stream?(id: string): Promise<ProbeStream | undefined>;
  /** the same output undecoded: a million-route table is scanned as bytes (the text would cost a copy and the decode) */
  readBytes?(id: string): Promise<ProbeBytes | undefined>;
  /**
   * The regular file `read(id)` would read and its size, for sources that are files on disk (a worker
   * thread reads it itself); undefined when there is none or it cannot be looked at.
   */
  file?(id: string): { path: string; ext: 'json' | 'txt'; size: number } | undefined;
  /**
   * Live sources only: runs an allow-listed command on the node now (a trace asks the kernel its
   * route questions with `ip -batch`, collect/kernel-routes.ts).
   */
  kernel?: Runner;
}

/** A source's `readBytes`, or its `read` encoded. */
export async function readProbeBytes(source: ProbeSource, id: string): Promise<ProbeBytes | undefined> {
  if (source.readBytes) return source.readBytes(id);
  const got = await source.read(id);
  return got === undefined ? undefined : { bytes: Buffer.from(got.text, 'utf8'), ext: got.ext, origin: got.origin };
}

/** A source's `stream`, or its `read` as one chunk. */
export async function streamProbe(source: ProbeSource, id: string): Promise<ProbeStream | undefined> {
  if (source.stream) return source.stream(id);
  const got = await source.read(id);
  return got === undefined ? undefined : { chunks: textChunks(got.text), ext: got.ext, origin: got.origin };
}

/** Pieces of about 1 MiB, cut after a newline (never inside a character). */
export function* textChunks(text: string | Buffer): Generator<Buffer | string> {
  const step = 1 << 20;
  for (let i = 0; i < text.length; ) {
    const nl = typeof text === 'string' ? text.indexOf('\n', i + step) : text.indexOf(10, i + step);
    const e = nl < 0 ? text.length : nl + 1;
    yield typeof text === 'string' ? text.slice(i, e) : text.subarray(i, e);
    i = e;
  }
}

/** Files larger than this are refused: no probe of a real node prints more. */
export const MAX_PROBE_FILE_BYTES = 1536 * 1024 * 1024;

function checkText(buf: Buffer, origin: string): Buffer {
  if (buf.includes(0)) throw new SourceError(origin, 'binary data (NUL bytes), not tool output');
  return buf;
}

function decode(buf: Buffer, origin: string): string {
  return checkText(buf, origin).toString('utf8');
}

export function dirSource(root: string): ProbeSource {
  // Synchronous: a snapshot is a few thousand small files, and each promise-based stat/open/read/
  // close costs more than the read itself; nothing else runs while a command loads its input.
  const tryRead = async (rel: string): Promise<Buffer | undefined> => {
    const p = join(root, rel);
    try {
      const st = statSync(p, { throwIfNoEntry: false });
      if (st === undefined || !st.isFile()) return undefined;
      if (st.size > MAX_PROBE_FILE_BYTES)
        throw new SourceError(p, `file is ${st.size} bytes, over the ${MAX_PROBE_FILE_BYTES} limit`);
      return readFileSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      if (code === 'EACCES' || code === 'EPERM') throw new SourceError(p, 'permission denied');
      throw e;
    }
  };
  // the JSON form wins when both files exist (docs/snapshot.md)
  const find = async (id: string) => {
    for (const ext of ['json', 'txt'] as const) {
      const buf = await tryRead(`${id}.${ext}`);
      if (buf !== undefined) return { buf, ext, origin: join(root, `${id}.${ext}`) };
    }
    return undefined;
  };
  return {
    description: root,
    async read(id) {
      const f = await find(id);
      return f && { text: decode(f.buf, f.origin), ext: f.ext, origin: f.origin };
    },
    async readBytes(id) {
      const f = await find(id);
      return f && { bytes: checkText(f.buf, f.origin), ext: f.ext, origin: f.origin };
    },
    file(id) {
      for (const ext of ['json', 'txt'] as const) {
        const p = join(root, `${id}.${ext}`);
        try {
          const st = statSync(p, { throwIfNoEntry: false });
          if (st === undefined) continue;
          // not a regular file, or one read() would refuse: read() says why, in the thread that asks
          return st.isFile() && st.size <= MAX_PROBE_FILE_BYTES ? { path: p, ext, size: st.size } : undefined;
        } catch {
          return undefined;
        }
      }
      return undefined;
    },
    async list(dir) {
      try {
        return (await readdir(join(root, dir))).sort();
      } catch {
        return [];
      }
    },
    async manifest() {
      const buf = await tryRead('manifest.json');
      return buf === undefined ? undefined : decode(buf, join(root, 'manifest.json'));
    },
    async stream(id) {
      for (const ext of ['json', 'txt'] as const) {
        const p = join(root, `${id}.${ext}`);
        try {
          if (!(await stat(p)).isFile()) continue;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ENOTDIR') continue;
          if (code === 'EACCES' || code === 'EPERM') throw new SourceError(p, 'permission denied');
          throw e;
        }
        return { chunks: fileChunks(p), ext, origin: p };
      }
      return undefined;
    },
  };
}

async function* fileChunks(p: string): AsyncGenerator<Buffer> {
  try {
    for await (const c of createReadStream(p, { highWaterMark: 1 << 20 })) yield c as Buffer;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SourceError(
      p,
      code === 'EACCES' || code === 'EPERM' ? 'permission denied' : `cannot read (${code ?? String(e)})`,
    );
  }
}

/** A snapshot held in memory: from a `.tar.gz`, or captured live a moment ago. */
export function memorySource(files: Map<string, Buffer | string>, description: string): ProbeSource {
  const get = (rel: string): string | undefined => {
    const v = files.get(rel);
    if (v === undefined) return undefined;
    return typeof v === 'string' ? v : decode(v, `${description}:${rel}`);
  };
  return {
    description,
    async read(id) {
      for (const ext of ['json', 'txt'] as const) {
        const text = get(`${id}.${ext}`);
        if (text !== undefined) return { text, ext, origin: `${description}:${id}.${ext}` };
      }
      return undefined;
    },
    async readBytes(id) {
      for (const ext of ['json', 'txt'] as const) {
        const v = files.get(`${id}.${ext}`);
        if (v === undefined) continue;
        const origin = `${description}:${id}.${ext}`;
        // a live capture holds strings: encoding one costs less than parsing it into objects
        return { bytes: typeof v === 'string' ? Buffer.from(v, 'utf8') : checkText(v, origin), ext, origin };
      }
      return undefined;
    },
    async list(dir) {
      const names = new Set<string>();
      for (const k of files.keys()) if (k.startsWith(dir + '/')) names.add(k.slice(dir.length + 1).split('/')[0]!);
      return [...names].sort();
    },
    async manifest() {
      return get('manifest.json');
    },
    async stream(id) {
      for (const ext of ['json', 'txt'] as const) {
        const v = files.get(`${id}.${ext}`);
        if (v !== undefined) return { chunks: textChunks(v), ext, origin: `${description}:${id}.${ext}` };
      }
      return undefined;
    },
  };
}

const MARKERS = [
  'manifest.json',
  'ip-link.json',
  'ip-link.txt',
  'ip-route4.json',
  'ip-route4.txt',
  'ip-addr.json',
  'ip-addr.txt',
];

/** Strips the single top-level directory most archives have (`snap/ip-link.json`). */
function rebase(files: Map<string, Buffer>): Map<string, Buffer> {
  const keys = [...files.keys()];
  if (keys.some((k) => MARKERS.includes(k))) return files;
  const tops = new Set(keys.map((k) => k.split('/')[0]!));
  if (tops.size !== 1) return files;
  const top = [...tops][0]! + '/';
  return new Map(keys.map((k) => [k.slice(top.length), files.get(k)!]));
}

export interface OpenedSnapshot {
  source: ProbeSource;
  warnings: string[];
}

/** stat of a snapshot path, or the SourceError that names why it cannot be one. */
async function statSnapshot(path: string) {
  try {
    return await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SourceError(path, code === 'ENOENT' ? 'no such snapshot directory or file' : `cannot read (${code})`);
  }
}

export interface OpenOptions {
  /** the node to read in a `cilium sysdump` (which holds every node); a usage error for any other snapshot */
  node?: string;
  /** `--node` of a command with several inputs (diff): ignored for an input that is not a sysdump */
  nodeOnlyForSysdump?: boolean;
}

/**
 * Opens a snapshot directory or `.tar.gz`, or one node of a `cilium sysdump` (`.zip` or its folder)
 * (SourceError when it is none of them, or is unreadable).
 */
export async function openSnapshot(path: string, opts: OpenOptions = {}): Promise<OpenedSnapshot> {
  const st = await statSnapshot(path);
  const { isSysdumpPath, openSysdump } = await import('./sysdump.js');
  if (isSysdumpPath(path, st.isDirectory())) {
    const s = await openSysdump(path, st.isDirectory(), opts.node);
    return { source: s.source, warnings: s.warnings };
  }
  if (opts.node !== undefined && !opts.nodeOnlyForSysdump)
    throw new UsageError(`--node picks a node of a cilium sysdump; ${path} is a snapshot of one node`);
  if (st.isDirectory()) return { source: dirSource(path), warnings: [] };
  if (!/\.(tar\.gz|tgz)$/.test(path))
    throw new SourceError(path, 'not a directory, a .tar.gz snapshot or a cilium sysdump .zip');
  let gz: Buffer;
  try {
    gz = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SourceError(path, code === 'EACCES' || code === 'EPERM' ? 'permission denied' : `cannot read (${code})`);
  }
  try {
    const { files, skipped } = readTarGz(gz);
    return {
      source: memorySource(rebase(files), path),
      warnings: skipped.map((s) => `${path}: skipped archive member ${s}`),
    };
  } catch (e) {
    if (e instanceof TarError) throw new SourceError(path, e.message);
    throw e;
  }
}

/** `--verbose` for a snapshot: every probe file read (or missing), with its size and how long it took. */
export function loggingSource(source: ProbeSource, log: (line: string) => void): ProbeSource {
  return {
    description: source.description,
    async read(id) {
      const t0 = Date.now();
      const r = await source.read(id);
      log(
        r
          ? `probe ${id}: read ${r.origin}, ${Date.now() - t0} ms, ${byteSize(Buffer.byteLength(r.text))}`
          : `probe ${id}: not in the snapshot`,
      );
      return r;
    },
    async readBytes(id) {
      const t0 = Date.now();
      const r = await readProbeBytes(source, id);
      log(
        r
          ? `probe ${id}: read ${r.origin}, ${Date.now() - t0} ms, ${byteSize(r.bytes.length)}`
          : `probe ${id}: not in the snapshot`,
      );
      return r;
    },
    list: (dir) => source.list(dir),
    manifest: () => source.manifest(),
    ...(source.stream ? { stream: (id: string) => source.stream!(id) } : {}),
  };
}

/**
 * Every file of a snapshot directory or `.tar.gz`, in memory (for rewriting a snapshot, e.g. redacting it).
 * Symbolic links and special files are not followed; sizes are bounded as for reading.
 */
export async function readSnapshotFiles(path: string): Promise<{ files: Map<string, Buffer>; warnings: string[] }> {
  const st = await statSnapshot(path);
  if (!st.isDirectory()) {
    if (!/\.(tar\.gz|tgz)$/.test(path)) throw new SourceError(path, 'not a directory or a .tar.gz snapshot');
    let gz: Buffer;
    try {
      gz = await readFile(path);
    } catch (e) {
      throw new SourceError(
        path,
        (e as NodeJS.ErrnoException).code === 'EACCES'
          ? 'permission denied'
          : `cannot read (${(e as NodeJS.ErrnoException).code})`,
      );
    }
    try {
      const { files, skipped } = readTarGz(gz);
      return { files: rebase(files), warnings: skipped.map((s) => `${path}: skipped archive member ${s}`) };
    } catch (e) {
      if (e instanceof TarError) throw new SourceError(path, e.message);
      throw e;
    }
  }
  const files = new Map<string, Buffer>();
  const warnings: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const dir = rel === '' ? path : join(path, rel);
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (e) {
      throw new SourceError(
        dir,
        (e as NodeJS.ErrnoException).code === 'EACCES'
          ? 'permission denied'
          : `cannot read (${(e as NodeJS.ErrnoException).code})`,
      );
    }
    for (const n of names) {
      const r = rel === '' ? n : `${rel}/${n}`;
      const p = join(path, r);
      const s = await lstat(p);
      if (s.isDirectory()) await walk(r);
      else if (!s.isFile()) warnings.push(`${p}: not a regular file, left out`);
      else if (s.size > MAX_PROBE_FILE_BYTES)
        throw new SourceError(p, `file is ${s.size} bytes, over the ${MAX_PROBE_FILE_BYTES} limit`);
      else {
        try {
          files.set(r, await readFile(p));
        } catch (e) {
          throw new SourceError(
            p,
            (e as NodeJS.ErrnoException).code === 'EACCES'
              ? 'permission denied'
              : `cannot read (${(e as NodeJS.ErrnoException).code})`,
          );
        }
      }
    }
  };
  await walk('');
  return { files, warnings };
}
