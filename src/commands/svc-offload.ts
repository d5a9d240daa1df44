import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { bundleWorkerSource } from '../exec/bundle-worker.js';
import { DUMPS, endEarly, startWorker, SVC_MIN_BYTES, takeEarly } from './svc-early.js';
import type { IptablesOffload } from '../collect/load-services.js';
import type { Narrow } from '../collect/iptables-services.js';
import type { ProbeSource } from '../collect/source.js';
import type { ServiceEntry, ServiceQuery } from '../model/service.js';
import type { Warning } from '../model/types.js';

/**
 * `svc lookup` on a large node spends most of its time on two sources that do not depend on each
 * other: iptables-save (the largest file) and the pinned LB maps. On a snapshot directory the
 * iptables-save dumps are read and searched in a worker thread (svc-worker.ts), started before the
 * first read, while this thread reads the maps. Only an answer crosses over: a worker that fails in any
 * way yields undefined and loadServices reads the dump itself with the same code (offload.ts's rule).
 * The worker loads the iptables parser and kube-proxy's reading of it only (no zod).
 */

export type IptablesJob = { path: string; probe: string; family: 4 | 6 };
export type IptablesAsk = { only: ServiceQuery[]; narrow: Narrow };
export type IptablesReply = { ok: false } | { ok: true; entries: ServiceEntry[]; warnings: Warning[] };

export interface SvcOffloadOptions {
  /**
   * the worker script (default: the bundle's svc-worker.cjs next to this module, run with its code cache, else the
   * compiled svc-worker.js next to it, when one is there)
   */
  script?: string;
  /** smaller files are read in the main thread (default: SVC_OFFLOAD_MIN_BYTES) */
  minBytes?: number;
  /** told of every worker started for a dump, and whether it is one bin/netpath.js started early (tests) */
  onStart?: (probe: string, early: boolean) => void;
  /** told of every worker's answer (tests: that the worker, not the fallback, gave the result) */
  onReply?: (probe: string, ok: boolean) => void;
}

/**
 * 32 MiB, offload.ts's threshold (measured there for route and conntrack scans; not measured again
 * for this worker, whose start is cheaper: it loads no zod). The early start (svc-early.ts) uses the same.
 */
export const SVC_OFFLOAD_MIN_BYTES = SVC_MIN_BYTES;

/** How a worker is started: on a module file, or on source code (eval). */
type WorkerStart = { file: string } | { code: string };

function defaultStart(): WorkerStart | undefined {
  try {
    // the CLI's bundle (main.cjs) has svc-worker.cjs beside it: run as a CommonJS script with its V8 code cache
    // (scripts/build-bundle.mjs), it skips compiling the worker and Node's ES module loader
    const cjs = fileURLToPath(new URL('./svc-worker.cjs', import.meta.url));
    if (existsSync(cjs)) return { code: bundleWorkerSource(cjs) };
    // tsc's output (tests); the TypeScript sources have no compiled worker next to them
    const p = fileURLToPath(new URL('./svc-worker.js', import.meta.url));
    return existsSync(p) ? { file: p } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The iptables-save workers for a source of files on disk (undefined for any other source). They start
 * now, read their dump and find its lines before the question is known: call this as early as the
 * source is. Each started worker answers one question; a later one starts a new worker. Workers waiting
 * for a question do not keep the process alive.
 */
export function iptablesOffload(source: ProbeSource, opts: SvcOffloadOptions = {}): IptablesOffload | undefined {
  if (!source.file) return undefined;
  const how = opts.script !== undefined ? { file: opts.script } : defaultStart();
  if (how === undefined) {
    endEarly();
    return undefined;
  }
  const min = opts.minBytes ?? SVC_OFFLOAD_MIN_BYTES;
  type Started = { w: Worker; reply: Promise<IptablesReply | undefined>; origin: string };
  const start = (id: string, family: 4 | 6): Started | undefined => {
    const f = source.file!(id);
    if (f === undefined || f.size < min) return undefined;
    // a worker bin/netpath.js started for this very file (svc-early.ts) is this one
    let s = takeEarly(f.path);
    const wasEarly = s !== undefined;
    if (s === undefined)
      try {
        s = startWorker(how, { path: f.path, probe: id, family } satisfies IptablesJob);
      } catch {
        return undefined;
      }
    opts.onStart?.(id, wasEarly);
    const { w, gone } = s;
    const reply = new Promise<IptablesReply | undefined>((resolve) => {
      w.once('message', (m: IptablesReply) => resolve(m));
      void gone.then(() => resolve(undefined));
    });
    // after the listener: a 'message' listener refs the worker's port again
    w.unref();
    return { w, reply, origin: f.path };
  };
  const early = new Map<string, Started | undefined>();
  for (const [id, family] of DUMPS) early.set(id, start(id, family));
  // early workers for files this source does not take (another node of the snapshot, ...)
  endEarly();
  return (id, family, only, narrow) => {
    const s = early.has(id) ? early.get(id) : start(id, family);
    early.delete(id);
    if (s === undefined) return undefined;
    // asked: the process now waits for this answer
    s.w.ref();
    s.w.postMessage({ only, narrow } satisfies IptablesAsk);
    return s.reply.then((r) => {
      s.w.unref();
      opts.onReply?.(id, r?.ok === true);
      return r?.ok ? { entries: r.entries, warnings: r.warnings, origin: s.origin } : undefined;
    });
  };
}
