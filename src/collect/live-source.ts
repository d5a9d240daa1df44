import type { Runner, RawOutput } from '../exec/runner.js';
import { DEFAULT_TIMEOUT_MS } from '../exec/runner.js';
import { NODE_PROBES, netnsProbes, tcFilterProbes, type ProbeSpec } from './probes.js';
import { memorySource, type ProbeSource } from './source.js';
import { looksLikeJson } from '../tools/common.js';
import { redactSecrets } from '../tools/secrets.js';
import { toolErrorText } from '../tools/tool-error.js';
import { splitTcBatch, TC_BATCH_ARGV, tcBatchInput, tcFilterLine } from '../exec/tc-batch-input.js';
import {
  IP_PROBE_BATCH,
  IP_PROBE_BATCH_ARGV,
  IP_PROBE_BATCH_INPUT,
  splitIpProbeBatch,
} from '../exec/ip-batch-input.js';
import { byCodeUnit } from '../model/order.js';
import { isAre, moduleGate, names } from './module-gate.js';

export interface ProbeRun {
  id: string;
  argv: readonly string[];
  exitCode: number;
  durationMs: number;
  stderr: string;
  failed?: RawOutput['failed'];
  message?: string;
  /** snapshot file written for it (relative), when it produced output */
  file?: string;
  /** the output was over the probe's limit and was cut at its last whole line */
  truncated?: boolean;
}

export interface Collected {
  files: Map<string, string>;
  runs: ProbeRun[];
  /** probes `defer` held back, by id: `run` runs one on demand (its file lands in `files`) */
  deferred: Map<string, ProbeSpec>;
  run: (p: ProbeSpec) => Promise<void>;
}

export interface CollectOptions {
  concurrency?: number;
  timeoutMs?: number;
  /** applied to a probe's stdout before it is kept (redaction of secrets) */
  transform?: (id: string, stdout: string) => string;
  onProgress?: (probe: string, done: number, total: number) => void;
  /** probes not run up front: a question that never reads them never pays for them */
  defer?: (id: string) => boolean;
  /** called with the runner before the probes start: a command starts its own first reads (commands/trace.ts) */
  early?: (run: Runner) => void;
}

/** Runs `tasks` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

/**
 * Runs the node probes, then the follow-ups they reveal (pod namespaces, devices with a clsact
 * qdisc), keeping each output in memory under its snapshot file name. A failing probe is recorded,
 * never fatal.
 */
export async function collectProbes(runner: Runner, opts: CollectOptions = {}): Promise<Collected> {
  const files = new Map<string, string>();
  const runs: ProbeRun[] = [];
  const concurrency = opts.concurrency ?? 8;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let done = 0;
  let total = NODE_PROBES.length;

  // a probe whose tool would change this node to answer is not run; its record says why (probes.ts onlyIfPresent)
  const modules = moduleGate(runner, timeoutMs);
  const gate = async (p: ProbeSpec, timeout: number): Promise<RawOutput | undefined> => {
    const need = p.onlyIfPresent;
    if (!need) return undefined;
    const notRun = (failed: 'ENOENT' | 'error', message: string, durationMs = 0): RawOutput => ({
      argv: p.argv,
      exitCode: -1,
      stdout: '',
      stderr: '',
      durationMs,
      failed,
      message,
    });
    if ('modules' in need) {
      const v = await modules.verdict(need.modules);
      if (v.run) return undefined;
      const tool = p.argv[0]!;
      const yourself = (ms: readonly string[]) =>
        `run \`${p.argv.join(' ')}\` on the node yourself if loading ${names(ms)} is acceptable`;
      // one build of the tool needs them (iptables-save): the build that runs may not
      const needs = need.variant ? await modules.needsModules(need.variant) : true;
      if (needs === false) return undefined;
      if ('cannotTell' in v)
        return notRun(
          'error',
          `${tool}: not run: could not tell ${v.cannotTell}, and ${need.because}; ${yourself(need.modules)}`,
        );
      const what = `${names(v.missing)} ${isAre(v.missing)} neither loaded nor built in (${v.where})`;
      if (typeof needs === 'string')
        return notRun(
          'error',
          `${tool}: not run: ${what}, and whether ${tool} is ${need.variant!.name}, which would load ${v.missing.length > 1 ? 'them' : 'it'}, is unknown (${needs}); ${yourself(v.missing)}`,
        );
      return notRun('error', `${tool}: not run: ${what}, and ${need.because}; ${yourself(v.missing)}`);
    }
    const seen = await runner(['cat', need.path], { timeoutMs: timeout, maxBytes: 64 * 1024 });
    // a file over the limit exists all the same
    if ((!seen.failed && seen.exitCode === 0) || seen.failed === 'too-large') return undefined;
    const missing = !seen.failed && /No such file or directory/.test(seen.stderr);
    const why = seen.message ?? (seen.stderr.trim().split('\n')[0] || `cat exited ${seen.exitCode}`);
    return missing
      ? notRun(
          'ENOENT',
          `${p.argv[0]}: not run: ${need.path} does not exist, so ${need.absentMeans} (${need.because})`,
          seen.durationMs,
        )
      : notRun(
          'error',
          `${p.argv[0]}: not run: could not tell whether ${need.path} exists (${why}), and ${need.because}`,
          seen.durationMs,
        );
  };

  // `got`: the probe's output from a batch that ran it among others (runTcBatch)
  const runOne = async (p: ProbeSpec, got?: RawOutput): Promise<void> => {
    const limits = {
      timeoutMs: p.timeoutMs ?? timeoutMs,
      ...(p.maxBytes !== undefined ? { maxBytes: p.maxBytes } : {}),
    };
    let out = got ?? (await gate(p, limits.timeoutMs)) ?? (await runner(p.argv, limits));
    if (out.failed === 'ENOENT' && p.fallbackArgv) out = await runner(p.fallbackArgv, limits);
    const run: ProbeRun = {
      id: p.id,
      argv: out.argv,
      exitCode: out.exitCode,
      durationMs: out.durationMs,
      stderr: out.stderr.slice(0, 2048),
    };
    if (out.failed === 'too-large' && p.keepPartial) {
      // a cut line could read as a different entry: keep whole lines only
      const nl = out.stdout.lastIndexOf('\n');
      out = { ...out, stdout: nl < 0 ? '' : out.stdout.slice(0, nl + 1) };
      delete out.failed;
      run.truncated = true;
      run.message = `${p.argv[0]}: output over ${p.maxBytes} bytes, cut at its last whole line; what came after was not read`;
    }
    if (out.failed) run.failed = out.failed;
    if (out.message && !run.truncated) run.message = out.message;
    // bpftool -j reports its errors on stdout with a non-zero exit, as {"error":"…"} or, inside the list it had
    // opened, [{"error":"…"}]: the tool's answer, not output to keep
    const jsonError = out.exitCode !== 0 && looksLikeJson(out.stdout) ? toolErrorText(out.stdout) : undefined;
    if (jsonError !== undefined && !out.failed) {
      // the LB maps of a node without Cilium are absent like a tool that is not installed
      const absent = /^bpf obj get .*No such file or directory$/.test(jsonError);
      run.failed = absent ? 'ENOENT' : 'error';
      run.message = absent ? `${p.argv[0]}: no such pinned map on this node` : `${commandName(p.argv)}: ${jsonError}`;
    }
    if (!out.failed && jsonError === undefined && out.stdout.trim() !== '') {
      const text = opts.transform ? opts.transform(p.id, out.stdout) : out.stdout;
      const ext = p.ext === 'json' && looksLikeJson(text) ? 'json' : 'txt';
      run.file = `${p.id}.${ext}`;
      files.set(run.file, text);
    }
    runs.push(run);
    opts.onProgress?.(p.id, ++done, total);
  };

  const deferred = new Map<string, ProbeSpec>();
  const now = (ps: ProbeSpec[]) =>
    ps.filter((p) => {
      if (!opts.defer?.(p.id)) return true;
      deferred.set(p.id, p);
      total--;
      return false;
    });
  const due = now(NODE_PROBES);
  // four ip probes as one process when all four run now (exec/ip-batch-input.ts); it starts first
  const batch = IP_PROBE_BATCH.map((b) => due.find((p) => p.id === b.id && p.argv.join(' ') === b.argv.join(' ')));
  const batched4 = batch.every((p) => p !== undefined) ? (batch as ProbeSpec[]) : [];
  const items: (ProbeSpec | ProbeSpec[])[] = [
    ...(batched4.length > 0 ? [batched4] : []),
    ...due.filter((p) => !batched4.includes(p)),
  ];
  await pool(items, concurrency, async (p) => {
    if (!Array.isArray(p)) return runOne(p);
    const got = await runIpProbeBatch(runner, timeoutMs);
    // a batch that does not split back: each probe runs alone, as without it
    await Promise.all(p.map((q, i) => runOne(q, got?.[i])));
  });

  const follow: ProbeSpec[] = [];
  const netns = files.get('ip-netns.json');
  if (netns !== undefined) {
    for (const ns of connectedNetns(netns)) follow.push(...netnsProbes(ns));
  }
  const qdisc = files.get('tc-qdisc.json');
  if (qdisc !== undefined) {
    for (const dev of clsactDevices(qdisc)) follow.push(...tcFilterProbes(dev));
  }
  total += follow.length;
  const later = now(follow);
  // the per-device `tc filter show` probes (two per clsact device) as one process when its output splits back
  const batched = await runTcBatch(
    runner,
    later.filter((p) => p.id.startsWith('tc-filter/')),
    timeoutMs,
  );
  for (const [p, out] of batched) await runOne(p, out);
  await pool(
    later.filter((p) => !batched.has(p)),
    concurrency,
    (p) => runOne(p),
  );
  runs.sort((a, b) => byCodeUnit(a.id, b.id));
  return { files, runs, deferred, run: runOne };
}

/** Fewer probes than this are run one by one: a batch saves nothing on a node with one clsact device. */
const TC_BATCH_MIN = 3;

/**
 * Runs the `tc -j filter show dev DEV DIR` probes as one `tc -j -force -batch -` (exec/tc-batch-input.ts) and
 * returns each probe's output as if it had run alone: the same stdout bytes, exit 0, the batch's duration, and
 * the batch's argv (what ran). Empty when the batch is not worth it, or its output does not split back
 * unambiguously (a command failed, stderr was written): then every probe runs alone, as without the batch.
 */
async function runTcBatch(runner: Runner, specs: ProbeSpec[], timeoutMs: number): Promise<Map<ProbeSpec, RawOutput>> {
  const got = new Map<ProbeSpec, RawOutput>();
  if (specs.length < TC_BATCH_MIN) return got;
  let lines: string[];
  try {
    lines = specs.map((p) => {
      const [tool, j, filter, show, dev, name, dir] = p.argv;
      if (p.argv.length !== 7 || tool !== 'tc' || j !== '-j' || filter !== 'filter' || show !== 'show' || dev !== 'dev')
        throw new Error('not a tc filter probe');
      if (dir !== 'ingress' && dir !== 'egress') throw new Error('not a tc filter probe');
      return tcFilterLine(name!, dir);
    });
  } catch {
    return got;
  }
  const input = tcBatchInput(lines);
  if (input === null) return got;
  const out = await runner(TC_BATCH_ARGV, { input, timeoutMs });
  const parts = splitTcBatch(specs.length, out);
  if (!parts) return got;
  for (const [i, p] of specs.entries())
    got.set(p, { argv: TC_BATCH_ARGV, exitCode: 0, stdout: parts[i]!, stderr: '', durationMs: out.durationMs });
  return got;
}

/**
 * Runs ip-addr, ip-rule4, ip-neigh and ip-netns as one `ip -j -force -batch -` and returns each probe's output as
 * if it had run alone (the same stdout bytes, exit 0, the batch's duration and argv), in IP_PROBE_BATCH order; or
 * undefined when the output does not split back unambiguously: then each probe runs alone.
 */
async function runIpProbeBatch(runner: Runner, timeoutMs: number): Promise<RawOutput[] | undefined> {
  const out = await runner(IP_PROBE_BATCH_ARGV, { input: IP_PROBE_BATCH_INPUT, timeoutMs });
  const parts = splitIpProbeBatch(out);
  return parts?.map((stdout) => ({
    argv: IP_PROBE_BATCH_ARGV,
    exitCode: 0,
    stdout,
    stderr: '',
    durationMs: out.durationMs,
  }));
}

/** `bpftool cgroup` for `bpftool -j cgroup tree …`: the tool and the object it was asked about, as in its errors. */
function commandName(argv: readonly string[]): string {
  if (argv[0] !== 'bpftool') return argv[0] ?? '?';
  const object = argv.slice(1).find((a) => !a.startsWith('-'));
  return object === undefined ? 'bpftool' : `bpftool ${object}`;
}

/** Namespaces with an nsid in the node's namespace: the ones something (a veth) connects to it. */
export function connectedNetns(text: string): string[] {
  try {
    const list = JSON.parse(text) as unknown;
    if (!Array.isArray(list)) return [];
    return list
      .filter((x): x is { name: string; id: number } => typeof x?.name === 'string' && typeof x?.id === 'number')
      .map((x) => x.name)
      .filter((n) => /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,127}$/.test(n));
  } catch {
    return [];
  }
}

export function clsactDevices(text: string): string[] {
  try {
    const list = JSON.parse(text) as unknown;
    if (!Array.isArray(list)) return [];
    const devs = list
      .filter((q): q is { kind: string; dev: string } => q?.kind === 'clsact' && typeof q?.dev === 'string')
      .map((q) => q.dev);
    return [...new Set(devs)].sort();
  } catch {
    return [];
  }
}

/** Live node state as a snapshot in memory. */
export async function liveSource(runner: Runner, opts: CollectOptions = {}): Promise<ProbeSource> {
  opts.early?.(runner);
  // keys never stay in memory, even for a live trace
  const { files, runs, deferred, run } = await collectProbes(runner, {
    transform: redactSecrets,
    ...opts,
  });
  // written again after each deferred run, or a deferred probe that failed would read as never run
  const writeManifest = () => {
    runs.sort((a, b) => byCodeUnit(a.id, b.id));
    files.set('manifest.json', JSON.stringify({ schemaVersion: 1, probes: runs }));
  };
  writeManifest();
  const mem = { ...memorySource(files, 'live node'), live: true, kernel: runner };
  if (deferred.size === 0) return mem;
  // a deferred probe runs when it is first read, once
  const started = new Map<string, Promise<void>>();
  const ensure = async (id: string): Promise<void> => {
    const spec = deferred.get(id);
    if (!spec) return;
    let p = started.get(id);
    if (!p) {
      // a deferred `ip` that is not installed must say so, like the probes that ran up front
      p = run(spec).then(writeManifest);
      started.set(id, p);
    }
    await p;
  };
  return {
    ...mem,
    read: async (id) => {
      await ensure(id);
      return mem.read(id);
    },
    readBytes: async (id) => {
      await ensure(id);
      return mem.readBytes!(id);
    },
    stream: async (id) => {
      await ensure(id);
      return mem.stream!(id);
    },
  };
}
