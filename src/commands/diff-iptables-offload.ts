import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { IptablesWholeOffload } from '../collect/load-services.js';
import type { ProbeSource } from '../collect/source.js';
import type { IptablesRuleset } from '../model/iptables.js';
import type { ServiceEntry } from '../model/service.js';
import type { Warning } from '../model/types.js';
import { bundleWorkerSource } from '../exec/bundle-worker.js';

/**
 * The before side of a diff reads kube-proxy's whole iptables-save (47 MiB for 10,000 Services) for its
 * Services, and keeps only the chains diffNodes reads of it (readOfBeforeIptables). On a snapshot directory
 * that is done in a worker thread (diff-iptables-worker.ts) started with the diff, while this thread reads
 * both sides' node state and LB maps: the parse, and the garbage it makes, stay off this thread's heap. A
 * worker that fails in any way yields undefined, and loadServices reads the dump itself with the same code.
 */

export type DiffIptablesJob = { path: string; probe: string; family: 4 | 6; lean: boolean };
export type DiffIptablesReply =
  | { ok: false }
  | { ok: true; entries: ServiceEntry[]; warnings: Warning[]; rules: IptablesRuleset };

/**
 * 32 MiB, as offload.ts's workers. The worker's heap comes on top of this thread's: with a threshold of 8 MiB,
 * the scale-0.3 pair (a 14 MiB dump) took 576 → 738 MiB of peak RSS for ~1 s less CPU (bench/RESULTS.md,
 * branch diff3); at 47 MiB the parse is ~6 s of CPU that this thread no longer waits for.
 */
export const DIFF_IPTABLES_MIN_BYTES = 32 * 1024 * 1024;

/** How the worker is started: on a module file, or on source code (eval). */
type WorkerStart = { file: string } | { code: string };

function defaultStart(): WorkerStart | undefined {
  try {
    // the CLI's bundle (main.cjs) has diff-iptables-worker.cjs beside it: run as a CommonJS script with its V8 code
    // cache (scripts/build-bundle.mjs), the worker skips compiling its code and Node's ES module loader
    const cjs = fileURLToPath(new URL('./diff-iptables-worker.cjs', import.meta.url));
    if (existsSync(cjs)) return { code: bundleWorkerSource(cjs) };
    // tsc's output (tests); the TypeScript sources have no compiled worker next to them
    const p = fileURLToPath(new URL('./diff-iptables-worker.js', import.meta.url));
    return existsSync(p) ? { file: p } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the workers for a source of files on disk now (undefined for any other source); loadServices
 * takes their answers. `close` stops a worker whose answer was not taken.
 */
export function diffIptablesOffload(
  source: ProbeSource,
  opts: {
    /** the worker's module file (default: the bundle's diff-iptables-worker.cjs beside this module, else tsc's .js) */
    script?: string;
    minBytes?: number;
    onReply?: (probe: string, ok: boolean) => void;
    /** false: the dump parsed whole (the reference the lean read is tested against); default true */
    lean?: boolean;
    /** dumps not to start a worker for (diff: the same bytes on both sides, parsed once in the main thread) */
    skip?: ReadonlySet<string>;
  } = {},
): { take: IptablesWholeOffload; close: () => Promise<void> } | undefined {
  if (!source.file) return undefined;
  const start: WorkerStart | undefined = opts.script !== undefined ? { file: opts.script } : defaultStart();
  if (start === undefined) return undefined;
  const min = opts.minBytes ?? DIFF_IPTABLES_MIN_BYTES;
  const started = new Map<string, { w: Worker; reply: Promise<DiffIptablesReply | undefined>; origin: string }>();
  for (const [id, family] of [
    ['iptables-save', 4],
    ['ip6tables-save', 6],
  ] as const) {
    const f = source.file(id);
    if (f === undefined || f.size < min || opts.skip?.has(id)) continue;
    let w: Worker;
    try {
      const workerData = { path: f.path, probe: id, family, lean: opts.lean ?? true } satisfies DiffIptablesJob;
      w = 'code' in start ? new Worker(start.code, { eval: true, workerData }) : new Worker(start.file, { workerData });
    } catch {
      continue;
    }
    const reply = new Promise<DiffIptablesReply | undefined>((resolve) => {
      w.once('message', (m: DiffIptablesReply) => resolve(m));
      w.once('error', () => resolve(undefined));
      w.once('exit', () => resolve(undefined));
    });
    started.set(id, { w, reply, origin: f.path });
  }
  return {
    take: (id) => {
      const s = started.get(id);
      if (s === undefined) return undefined;
      started.delete(id);
      return s.reply.then((r) => {
        opts.onReply?.(id, r?.ok === true);
        return r?.ok ? { entries: r.entries, warnings: r.warnings, rules: r.rules, origin: s.origin } : undefined;
      });
    },
    async close() {
      await Promise.all([...started.values()].map((s) => s.w.terminate()));
      started.clear();
    },
  };
}
