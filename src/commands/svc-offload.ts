import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
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

export type IptablesJob = { path: string; probe: string; family: 4 | 6; only: ServiceQuery[]; narrow: Narrow };
export type IptablesReply = { ok: false } | { ok: true; entries: ServiceEntry[]; warnings: Warning[] };

export interface SvcOffloadOptions {
  /** the worker script (default: svc-worker.js next to this module, when it is there) */
  script?: string;
  /** smaller files are read in the main thread (default: SVC_OFFLOAD_MIN_BYTES) */
  minBytes?: number;
  /** told of every worker's answer (tests: that the worker, not the fallback, gave the result) */
  onReply?: (probe: string, ok: boolean) => void;
}

/**
 * 32 MiB, offload.ts's threshold (measured there for route and conntrack scans; not measured again
 * for this worker, whose start is cheaper: it loads no zod).
 */
export const SVC_OFFLOAD_MIN_BYTES = 32 * 1024 * 1024;

function defaultScript(): string | undefined {
  try {
    // a bundle or the TypeScript sources have no compiled worker next to them
    const p = fileURLToPath(new URL('./svc-worker.js', import.meta.url));
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

/** The iptables-save worker for a source of files on disk; undefined for any other source. */
export function iptablesOffload(source: ProbeSource, opts: SvcOffloadOptions = {}): IptablesOffload | undefined {
  if (!source.file) return undefined;
  const script = opts.script ?? defaultScript();
  if (script === undefined) return undefined;
  const min = opts.minBytes ?? SVC_OFFLOAD_MIN_BYTES;
  return (id, family, only, narrow) => {
    const f = source.file!(id);
    if (f === undefined || f.size < min) return undefined;
    const job: IptablesJob = { path: f.path, probe: id, family, only, narrow };
    return new Promise<IptablesReply | undefined>((resolve) => {
      let w: Worker;
      try {
        w = new Worker(script, { workerData: job });
      } catch {
        resolve(undefined);
        return;
      }
      w.once('message', (m: IptablesReply) => resolve(m));
      w.once('error', () => resolve(undefined));
      w.once('exit', () => resolve(undefined));
    }).then((r) => {
      opts.onReply?.(id, r?.ok === true);
      return r?.ok ? { entries: r.entries, warnings: r.warnings, origin: f.path } : undefined;
    });
  };
}
