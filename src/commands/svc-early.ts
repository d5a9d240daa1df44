import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { bigProbeFile, bundledFile } from './early-files.js';
import { bundleWorkerSource } from '../exec/bundle-worker.js';
import { earlyRegistry } from '../exec/early-workers.js';

/**
 * `svc lookup -s DIR` on a large node waits for its iptables worker (svc-offload.ts), which the CLI starts only once
 * it has loaded and parsed its arguments (~0.2–0.3 s into the run). bin/netpath.js calls startEarly first: for
 * `svc lookup … -s DIR` it starts the same worker on the file dirSource would take for each dump, before the CLI's
 * bundle is loaded. svc-offload adopts a worker started for the path its source gives and ends the others, so the
 * answer is the one a later start gives; a worker nobody adopts does not keep the process alive.
 */

/** Dumps this size or larger are read in a worker (offload.ts's threshold; svc-offload.ts uses this one). */
export const SVC_MIN_BYTES = 32 * 1024 * 1024;

/** A started worker, and a promise settled when it fails or exits (an event that may come before anyone listens). */
export interface StartedWorker {
  w: Worker;
  gone: Promise<void>;
}

const registry = earlyRegistry<StartedWorker>('svc-early');

/** A worker on `start` (a module file, or source code run as an eval worker) for one dump; unref'd. */
export function startWorker(
  start: { file: string } | { code: string },
  workerData: { path: string; probe: string; family: 4 | 6 },
): StartedWorker {
  const w =
    'code' in start ? new Worker(start.code, { eval: true, workerData }) : new Worker(start.file, { workerData });
  const gone = new Promise<void>((resolve) => {
    w.once('error', () => resolve());
    w.once('exit', () => resolve());
  });
  w.unref();
  return { w, gone };
}

/** The dumps a worker reads, with the family each holds (svc-offload.ts starts the same). */
export const DUMPS = [
  ['iptables-save', 4],
  ['ip6tables-save', 6],
] as const;

/** The -s / --snapshot value of `svc lookup` arguments (commander's `-s X`, `--snapshot X`, `--snapshot=X`). */
export function snapshotArg(argv: readonly string[]): string | undefined {
  if (argv[0] !== 'svc' || argv[1] !== 'lookup') return undefined;
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return undefined;
    if ((a === '-s' || a === '--snapshot') && i + 1 < argv.length) return argv[i + 1];
    if (a.startsWith('--snapshot=')) return a.slice('--snapshot='.length);
  }
  return undefined;
}

/**
 * For `svc lookup … -s DIR` (DIR a directory): start the iptables workers on DIR's large dumps now. Anything
 * unexpected starts nothing: the CLI then starts them itself.
 */
export function startEarly(
  argv: readonly string[],
  /** default dist/bundle, beside dist/commands (read here, not at load: the single executable has no import.meta.url) */
  bundle?: string,
  /** tests: smaller dumps too */
  minBytes = SVC_MIN_BYTES,
): void {
  try {
    const dir = snapshotArg(argv);
    if (dir === undefined || statSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) return;
    const cjs = bundledFile('svc-worker.cjs', bundle);
    if (cjs === undefined) return;
    const code = bundleWorkerSource(cjs);
    for (const [id, family] of DUMPS) {
      const path = bigProbeFile(dir, id, minBytes)?.path;
      if (path !== undefined && !registry.has(path))
        registry.set(path, startWorker({ code }, { path, probe: id, family }));
    }
  } catch {
    // a guess only: the CLI starts what it needs
  }
}

/** The early worker started for `path` with this probe, taken out of the registry (svc-offload adopts it). */
export function takeEarly(path: string): StartedWorker | undefined {
  return registry.take(path);
}

/** Ends the early workers nobody adopted (their source took other files). */
export function endEarly(): void {
  registry.end();
}

/** The early workers not yet adopted or ended, by path (tests). */
export function earlyWorkers(): Map<string, StartedWorker> {
  return registry.pending();
}
