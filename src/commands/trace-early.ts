import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { canonIp } from '../model/addr.js';
import type { Flow } from '../model/trace.js';
import type { WorkerJob } from '../collect/offload.js';
import { SCAN_OFFLOAD_MIN_BYTES, startScansEarly } from '../collect/scan-early.js';
import { bigProbeFile, bundledFile } from './early-files.js';

/**
 * `trace SRC DST -s DIR` between two addresses: loadForFlow's first two jobs (the destination family's route table,
 * the flow's conntrack tuples to any destination) depend on the flow and the snapshot's files only, both known from
 * the command line. bin/netpath.js calls startTraceEarly before the CLI's bundle loads, so their workers scan while
 * the main thread loads (~0.2–0.3 s). The jobs are built as loadForFlow builds them and adopted only when equal
 * (collect/scan-early.ts); anything this parser does not know starts nothing, and the CLI starts the jobs itself.
 */

/** flow-conntrack.ts SOURCE_SCAN_MAX (test/commands/trace-early.test.ts holds them equal): that module loads the scanner */
export const EARLY_SOURCE_SCAN_MAX = 16_000;

// trace's options (cli/trace.ts, cli/options.ts) that take a value, and those that do not; --cluster, --exec and
// --node are left out on purpose: with them the trace reads other files, or none
const VALUED = new Set([
  '--proto',
  '--port',
  '--sport',
  '--backend',
  '-s',
  '--snapshot',
  '--timeout',
  '-o',
  '--output',
  '--context',
  '-n',
  '--namespace',
  '--redact-key-file',
]);
const FLAGS = new Set([
  '--no-kernel-routes',
  '--json',
  '--explain',
  '--no-color',
  '--redact',
  '-q',
  '--quiet',
  '-v',
  '--verbose',
]);

export interface TraceArgs {
  dir: string;
  flow: Flow;
}

/**
 * The snapshot and the flow of `trace SRC DST … -s DIR` as parseFlow would build them, or undefined for any other
 * command line (a name, an option this parser does not know, a value parseFlow would refuse).
 */
export function traceArgs(argv: readonly string[]): TraceArgs | undefined {
  if (argv[0] !== 'trace') return undefined;
  const pos: string[] = [];
  const opt = new Map<string, string>();
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') {
      pos.push(a);
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (FLAGS.has(name) && eq < 0) continue;
    if (!VALUED.has(name)) return undefined;
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) return undefined;
    opt.set(name === '-s' ? '--snapshot' : name, value);
  }
  const dir = opt.get('--snapshot');
  if (pos.length !== 2 || dir === undefined) return undefined;
  const src = canonIp(pos[0]!);
  const dst = canonIp(pos[1]!);
  if (src === null || dst === null || src.includes(':') !== dst.includes(':')) return undefined;
  const proto = opt.get('--proto') ?? 'tcp';
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'icmp' && proto !== 'sctp') return undefined;
  const flow: Flow = { src, dst, proto };
  for (const [flag, key] of [
    ['--port', 'dport'],
    ['--sport', 'sport'],
  ] as const) {
    const v = opt.get(flag);
    if (v === undefined) continue;
    if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) return undefined;
    flow[key] = Number(v);
  }
  const backend = opt.get('--backend');
  if (backend !== undefined) flow.backend = backend;
  if (proto === 'icmp' && (flow.dport !== undefined || flow.sport !== undefined)) return undefined;
  return { dir, flow };
}

/** loadForFlow's first jobs for this flow on the snapshot directory `dir` (its offload, its size threshold). */
export function earlyTraceJobs(dir: string, flow: Flow, minBytes = SCAN_OFFLOAD_MIN_BYTES): WorkerJob[] {
  const family = flow.dst.includes(':') ? 6 : 4;
  const jobs: WorkerJob[] = [];
  const routes = bigProbeFile(dir, `ip-route${family}`, minBytes);
  // offload.ts scans a route table in a worker only in its JSON form
  if (routes?.ext === 'json') jobs.push({ kind: 'routes', path: routes.path, probe: `ip-route${family}`, family });
  const ct = bigProbeFile(dir, `conntrack${family}`, minBytes);
  if (ct)
    jobs.push({
      kind: 'conntrack',
      path: ct.path,
      probe: `conntrack${family}`,
      query: { kind: 'flow-source', flow, family },
      maxEntries: EARLY_SOURCE_SCAN_MAX,
    });
  return jobs;
}

/**
 * For `trace SRC DST … -s DIR` (DIR a directory): start the trace's scan workers on DIR's large files now.
 * Anything unexpected starts nothing.
 */
export function startTraceEarly(
  argv: readonly string[],
  /** default dist/bundle, beside dist/commands (read here: the single executable has no import.meta.url) */
  bundle?: string,
  /** tests: smaller files too */
  minBytes = SCAN_OFFLOAD_MIN_BYTES,
): void {
  try {
    const args = traceArgs(argv);
    if (args === undefined || statSync(args.dir, { throwIfNoEntry: false })?.isDirectory() !== true) return;
    const cjs = bundledFile('scan-worker.cjs', bundle);
    if (cjs === undefined) return;
    // recorded as the jobs of offload.ts's worker script, the stub beside the bundle
    startScansEarly(join(dirname(cjs), 'scan-worker.js'), cjs, earlyTraceJobs(args.dir, args.flow, minBytes));
  } catch {
    // a guess only: the CLI starts what it needs
  }
}
