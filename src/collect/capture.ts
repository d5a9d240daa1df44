import { BUILD_INFO } from '../build-info.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve, isAbsolute } from 'node:path';
import type { Runner } from '../exec/runner.js';
import { SourceError } from '../errors.js';
import { redactWgDump } from '../tools/wg/redact.js';
import { collectProbes, type ProbeRun } from './live-source.js';

export interface ManifestProbe {
  id: string;
  argv: string[];
  exitCode: number;
  durationMs: number;
  /** first 2 KiB */
  stderr: string;
  failed?: ProbeRun['failed'];
  message?: string;
  /** snapshot file, relative to the snapshot directory */
  file?: string;
  /** the output was over the probe's limit and the file holds its first whole lines only */
  truncated?: boolean;
}

export interface Manifest {
  schemaVersion: 1;
  node: string | null;
  /** `uname -r` of the node */
  kernel: string | null;
  capturedAt: string;
  netpathVersion: string | null;
  /** how the probes reached the node, e.g. `ip netns exec node1` */
  capturedWith?: string;
  probes: ManifestProbe[];
  /** namespaces `ip netns list` showed without an nsid here: nothing of this node's connects to them */
  skippedNetns?: { name: string; reason: string }[];
}

export interface CaptureOptions {
  outDir: string;
  concurrency?: number;
  timeoutMs?: number;
  onProgress?: (probe: string, done: number, total: number) => void;
  /** node name for the manifest; defaults to the node's `uname -n` */
  node?: string;
  /** recorded as `capturedWith` (the runner's prefix, a human description) */
  capturedWith?: string;
}

const STDERR_MAX = 2048;

function netpathVersion(): string | null {
  return BUILD_INFO.version;
}

function unconnectedNetns(text: string | undefined): { name: string; reason: string }[] {
  if (text === undefined) return [];
  try {
    const list = JSON.parse(text) as unknown;
    if (!Array.isArray(list)) return [];
    return list
      .filter((x): x is { name: string } => typeof x?.name === 'string' && typeof x?.id !== 'number')
      .map((x) => ({ name: x.name, reason: "no nsid in this node's namespace: not connected to this node" }));
  } catch {
    return [];
  }
}

export interface CapturedNode {
  /** snapshot file (relative) → content, manifest.json included */
  files: Map<string, string>;
  manifest: Manifest;
}

/**
 * Runs every probe against one node and keeps the snapshot in memory (docs/snapshot.md): one file
 * per probe that printed something, `wg` with its keys redacted, and `manifest.json`. A failing probe is
 * recorded in the manifest, never fatal.
 */
export async function captureNode(runner: Runner, opts: Omit<CaptureOptions, 'outDir'>): Promise<CapturedNode> {
  const collectOpts: Parameters<typeof collectProbes>[1] = {
    // the keys never reach memory that is written out
    transform: (id, s) => (id === 'wg' ? redactWgDump(s) : s),
  };
  if (opts.concurrency !== undefined) collectOpts.concurrency = opts.concurrency;
  if (opts.timeoutMs !== undefined) collectOpts.timeoutMs = opts.timeoutMs;
  if (opts.onProgress) collectOpts.onProgress = opts.onProgress;
  const { files, runs } = await collectProbes(runner, collectOpts);

  const kept = new Map<string, string>();
  for (const [file, text] of files) if (safeRelative(file)) kept.set(file, text);
  const uname = files.get('uname.txt')?.trim();
  const hostname = files.get('hostname.txt')?.trim();
  const skipped = unconnectedNetns(files.get('ip-netns.json'));
  const manifest: Manifest = {
    schemaVersion: 1,
    node: opts.node ?? (hostname || null),
    kernel: uname || null,
    capturedAt: new Date().toISOString(),
    netpathVersion: netpathVersion(),
    ...(opts.capturedWith ? { capturedWith: opts.capturedWith } : {}),
    probes: runs.map((r) => {
      const p: ManifestProbe = {
        id: r.id,
        argv: [...r.argv],
        exitCode: r.exitCode,
        durationMs: r.durationMs,
        stderr: r.stderr.slice(0, STDERR_MAX),
      };
      if (r.failed) p.failed = r.failed;
      if (r.message) p.message = r.message;
      if (r.truncated) p.truncated = true;
      if (r.file && kept.has(r.file)) p.file = r.file;
      return p;
    }),
  };
  if (skipped.length) manifest.skippedNetns = skipped;
  kept.set('manifest.json', JSON.stringify(manifest, null, 2) + '\n');
  return { files: kept, manifest };
}

/** Names come from the node (namespaces, devices): never let one leave the snapshot directory. */
function safeRelative(file: string): boolean {
  const root = resolve('/snapshot');
  const rel = relative(root, resolve(root, file));
  return !(rel === '' || rel.startsWith('..') || isAbsolute(rel) || file.includes('\0'));
}

/** Writes snapshot files under `outDir` (created), refusing any path that would leave it. */
export function writeSnapshotDir(outDir: string, files: Map<string, string>): void {
  const root = resolve(outDir);
  let at = root;
  try {
    mkdirSync(root, { recursive: true });
    for (const [file, text] of files) {
      if (!safeRelative(file)) continue;
      const target = resolve(root, file);
      at = target;
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, text);
    }
  } catch (e) {
    throw writeError(at, e);
  }
}

/** A file system error while writing a snapshot, as one line naming the path (exit 3, not a crash). */
export function writeError(path: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== 'string') return e instanceof Error ? e : new Error(String(e));
  const why: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    ENOTDIR: 'a path component is not a directory',
    EEXIST: 'exists and is not a directory',
    EISDIR: 'is a directory',
  };
  return new SourceError(path, `cannot write the snapshot: ${why[code] ?? code}`);
}

/** captureNode, written to `opts.outDir`. */
export async function captureSnapshot(runner: Runner, opts: CaptureOptions): Promise<Manifest> {
  const { outDir, ...rest } = opts;
  const node = await captureNode(runner, rest);
  writeSnapshotDir(outDir, node.files);
  return node.manifest;
}
