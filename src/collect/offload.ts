import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Family } from '../model/types.js';
import type { Flow } from '../model/trace.js';
import { routesFromFile, type FileStamp, type RouteScanData, type ScannedRoutes } from '../tools/ip/route-scan.js';
import type { ConntrackQuery, ScanResult } from '../tools/conntrack/index.js';
import type { ProbeSource } from './source.js';
import { SCAN_OFFLOAD_MIN_BYTES, takeScanEarly } from './scan-early.js';

/**
 * The two large reads of a trace (the route table, the conntrack table) are plain byte scans of one
 * file each, and nothing else in the trace depends on them until its route lookups and its conntrack
 * hop. On a snapshot directory they run in worker threads while this thread reads the rest of the
 * node: on two cores a trace of a million-route node waits for the slower of them, not for their sum.
 *
 * Only the answer crosses over, never a guess: a worker that fails in any way (an unusual file, an
 * error, no worker support) yields undefined, and the caller reads the probe itself, in this thread,
 * with the same code, so results, warnings and error messages are what they would have been.
 */

/** A conntrack query a worker can rebuild: plain fields, or a trace's own tuples (flowQuery). */
export type CtJobQuery =
  | { kind: 'plain'; q: Omit<ConntrackQuery, 'where'> }
  | { kind: 'flow'; flow: Flow; family: Family; alsoDst: { address: string; port: number }[] }
  /** flow-conntrack.ts flowSourceQuery: the flow's tuples to any destination, asked before the backends are known */
  | { kind: 'flow-source'; flow: Flow; family: Family };

export type WorkerJob =
  | { kind: 'routes'; path: string; probe: string; family: 4 | 6 }
  /** a diff's before and after file of one route probe (tools/ip/route-pair.ts) */
  | { kind: 'route-pair'; before: string; after: string; probe: string; family: 4 | 6 }
  | {
      kind: 'conntrack';
      path: string;
      probe: string;
      query: CtJobQuery;
      maxEntries?: number;
      /** the matching entries counted, not kept nor sent back (ScanOptions.onEntry): `matched`, `cut`, warnings */
      countOnly?: boolean;
    };

export type WorkerReply =
  | { ok: false }
  | {
      ok: true;
      kind: 'route-pair';
      before?: { data: RouteScanData; stamp: FileStamp };
      after?: { data: RouteScanData; stamp: FileStamp };
    }
  | { ok: true; kind: 'routes'; data: RouteScanData; stamp: FileStamp }
  | { ok: true; kind: 'conntrack'; result: ScanResult };

/** A route probe's scan, as a reader of the node state takes it. */
export type RouteScan = { scanned: ScannedRoutes; origin: string };

export interface Offload {
  /** a scan of this route probe, started now; undefined when it is not worth a thread */
  routes(id: string, family: 4 | 6): Promise<{ scanned: ScannedRoutes; origin: string } | undefined> | undefined;
  conntrack(
    id: string,
    query: CtJobQuery,
    maxEntries?: number,
    countOnly?: boolean,
  ): Promise<{ result: ScanResult; origin: string } | undefined> | undefined;
  /**
   * A diff's two sides of this route probe in one worker: the after side made from the before side's
   * scan where the files are the same bytes (route-pair.ts). undefined when either file is not worth a
   * thread; a side the worker could not answer is undefined, and its reader parses it.
   */
  routePair(
    id: string,
    family: 4 | 6,
    after: ProbeSource,
  ): { before: Promise<RouteScan | undefined>; after: Promise<RouteScan | undefined> } | undefined;
  /** stops every worker still running (their answers are no longer wanted) */
  close(): Promise<void>;
}

export interface OffloadOptions {
  /** the worker script (default: scan-worker.js next to this module, when it is there) */
  script?: string;
  /** files smaller than this are read in this thread: a worker's start costs more than their scan */
  minBytes?: number;
  /** told of every worker's answer (tests: that a worker, not the fallback, gave the result) */
  onReply?: (kind: WorkerJob['kind'], ok: boolean) => void;
  /** told of every job started: whether a worker bin/netpath.js started for it was adopted (scan-early.ts) */
  onStart?: (kind: WorkerJob['kind'], early: boolean) => void;
}

/**
 * 32 MiB. A worker costs ~0.1 s of CPU before it reads a byte (a Node environment, and the parser
 * modules with zod); measured on the bench snapshots (2 cores), a trace with workers was 0.1 s slower
 * at a 14 MiB route table and 22 MiB conntrack table, even at 42/68 MiB, and 22% faster at 134/219 MiB.
 */
export const OFFLOAD_MIN_BYTES = SCAN_OFFLOAD_MIN_BYTES;

function defaultScript(): string | undefined {
  try {
    // a bundle (the single executable) or TypeScript sources have no compiled worker next to them
    const p = fileURLToPath(new URL('./scan-worker.js', import.meta.url));
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Workers for a source that is files on disk; undefined for any other source. */
export function createOffload(source: ProbeSource, opts: OffloadOptions = {}): Offload | undefined {
  if (!source.file) return undefined;
  const script = opts.script ?? defaultScript();
  if (script === undefined) return undefined;
  const min = opts.minBytes ?? OFFLOAD_MIN_BYTES;
  const running = new Set<Worker>();
  const start = (job: WorkerJob): Promise<WorkerReply | undefined> =>
    new Promise<WorkerReply | undefined>((resolve) => {
      // the same job, started from the command line before the CLI loaded (scan-early.ts): its answer is this one's
      const early = takeScanEarly(script, job);
      opts.onStart?.(job.kind, early !== undefined);
      if (early) {
        running.add(early.w);
        void early.reply.then((r) => {
          running.delete(early.w);
          resolve(r);
        });
        return;
      }
      let w: Worker;
      try {
        w = new Worker(script, { workerData: job });
      } catch {
        resolve(undefined);
        return;
      }
      running.add(w);
      const done = (r: WorkerReply | undefined) => {
        running.delete(w);
        resolve(r);
      };
      w.once('message', (m: WorkerReply) => done(m.ok ? m : undefined));
      w.once('error', () => done(undefined));
      w.once('exit', () => done(undefined));
    }).then((r) => {
      opts.onReply?.(job.kind, r !== undefined);
      return r;
    });
  const fileFor = (id: string) => {
    const f = source.file!(id);
    return f !== undefined && f.size >= min ? f : undefined;
  };
  return {
    routes(id, family) {
      const f = fileFor(id);
      if (f?.ext !== 'json') return undefined;
      return start({ kind: 'routes', path: f.path, probe: id, family }).then((r) => {
        if (!r?.ok || r.kind !== 'routes') return undefined;
        return { scanned: routesFromFile(f.path, r.data, id, r.stamp), origin: f.path };
      });
    },
    conntrack(id, query, maxEntries, countOnly) {
      const f = fileFor(id);
      if (!f) return undefined;
      return start({
        kind: 'conntrack',
        path: f.path,
        probe: id,
        query,
        ...(maxEntries !== undefined ? { maxEntries } : {}),
        ...(countOnly ? { countOnly } : {}),
      }).then((r) => (r?.ok && r.kind === 'conntrack' ? { result: r.result, origin: f.path } : undefined));
    },
    routePair(id, family, afterSource) {
      const fb = fileFor(id);
      const fa = afterSource.file?.(id);
      if (fb?.ext !== 'json' || fa?.ext !== 'json' || fa.size < min) return undefined;
      const job = start({ kind: 'route-pair', before: fb.path, after: fa.path, probe: id, family });
      const side = (which: 'before' | 'after', path: string) =>
        job.then((r) => {
          const got = r?.ok && r.kind === 'route-pair' ? r[which] : undefined;
          return got && { scanned: routesFromFile(path, got.data, id, got.stamp), origin: path };
        });
      return { before: side('before', fb.path), after: side('after', fa.path) };
    },
    async close() {
      await Promise.all([...running].map((w) => w.terminate()));
      running.clear();
    },
  };
}
