import { Worker } from 'node:worker_threads';
import { bundleWorkerSource } from '../exec/bundle-worker.js';
import { earlyRegistry } from '../exec/early-workers.js';
import type { WorkerJob, WorkerReply } from './offload.js';

/**
 * Scan jobs (offload.ts) started before the CLI's bundle loads (commands/trace-early.ts, called by
 * bin/netpath.js): a trace's route and conntrack workers otherwise start only once the CLI has loaded and parsed
 * its arguments, and the second core idles meanwhile. Adoption is by identity, never by a guess: createOffload
 * takes an early worker only for the very job it would start (same worker bundle, same job, compared field by
 * field), and loadForFlow ends the others once its jobs are started. An early worker is unref'd until adopted, so
 * one nobody adopts (a usage error, another command path) never keeps the process alive.
 *
 * Kept free of the scanners and parsers: bin/netpath.js loads it before the bundle.
 */

/** offload.ts's OFFLOAD_MIN_BYTES (see there), here so that the early start need not load the scanners */
export const SCAN_OFFLOAD_MIN_BYTES = 32 * 1024 * 1024;

/** A started early job: its worker, and its reply (undefined when it failed or exited without one). */
export interface EarlyScan {
  w: Worker;
  reply: Promise<WorkerReply | undefined>;
}

const registry = earlyRegistry<EarlyScan>('scan-early');

/** The job as a string with its keys sorted at every level: two jobs asking the same get the same key. */
export function jobKey(script: string, job: WorkerJob): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  return `${script}\n${JSON.stringify(canon(job))}`;
}

/**
 * Starts `jobs` now in workers running the CommonJS bundle `cjs` (dist/bundle/scan-worker.cjs), each recorded as
 * the job a worker on `script` (the stub offload.ts starts, dist/bundle/scan-worker.js) would run.
 */
export function startScansEarly(script: string, cjs: string, jobs: WorkerJob[]): void {
  if (jobs.length === 0) return;
  // an eval worker skips the ES module loader a stub module pays for (exec/bundle-worker.ts)
  const code = bundleWorkerSource(cjs);
  for (const job of jobs) {
    const key = jobKey(script, job);
    if (registry.has(key)) continue;
    const w = new Worker(code, { eval: true, workerData: job });
    // listened to from the start: a reply that comes before the adoption is kept, not lost
    const reply = new Promise<WorkerReply | undefined>((resolve) => {
      w.once('message', (m: WorkerReply) => resolve(m.ok ? m : undefined));
      w.once('error', () => resolve(undefined));
      w.once('exit', () => resolve(undefined));
    });
    // after the listeners, which ref the worker's port again
    w.unref();
    registry.set(key, { w, reply });
  }
}

/** The early worker started for exactly this job on this script, taken out of the registry (ref'd again). */
export function takeScanEarly(script: string, job: WorkerJob): EarlyScan | undefined {
  const s = registry.take(jobKey(script, job));
  if (s === undefined) return undefined;
  // adopted: the process now waits for its answer
  s.w.ref();
  return s;
}

/** Ends the early workers nobody adopted. */
export function endScansEarly(): void {
  registry.end();
}

/** The early workers not yet adopted or ended, by key (tests). */
export function earlyScans(): Map<string, EarlyScan> {
  return registry.pending();
}
