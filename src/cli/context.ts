import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { checkKubeTarget, type KubeTarget } from '../collect/kube.js';
import { loggingSource, openSnapshot, type ProbeSource } from '../collect/source.js';
import type { RedactOption } from '../commands/snapshot.js';
import type { Runner } from '../exec/runner.js';
import { loggingRunner, type ProbeLog } from '../exec/verbose.js';
import { renderOutput, type OutputFormat, type OutputKind, type Outputs } from '../render/output.js';
import { safeText } from '../render/terminal-safe.js';
import { examplesHelp } from './help.js';
import { execPrefix, type Common } from './options.js';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  columns?: number;
  /** live probes; injected so tests never touch the real node by accident */
  runner?: () => Promise<Runner>;
  /** a live runner with an exec prefix, for `snapshot` */
  liveRunner?: (prefix: string[]) => Runner;
  isStderrTTY?: boolean;
  /** runs kubectl on this machine (never through --exec) to turn pod and Service names into addresses */
  kubectl?: Runner;
  /** `kubectl netpath` when run as a kubectl plugin, for usage and help */
  programName?: string;
}

/** How probes are run and logged, as the global flags ask. */
export interface SourceOptions {
  quiet: boolean;
  verbose: boolean;
  probeRunner: (r: Runner, prefix?: readonly string[]) => Runner;
  log: ProbeLog;
  /** live probes that run only when first read (collect/flow-plan.ts) */
  defer?: ((id: string) => boolean) | undefined;
  /** live: the command's own first reads, started with the probes (collect/live-source.ts) */
  early?: ((run: Runner) => void) | undefined;
}

/** What every command file gets: the process's streams, the global flags, and the helpers built on them. */
export interface Cli {
  io: Io;
  /** the root program (`netpath`, or `kubectl netpath`) */
  program: Command;
  /** the exit code main() returns */
  setExit: (code: number) => void;
  quiet: () => boolean;
  verbose: () => boolean;
  /** every runner netpath hands a probe to goes through here, so --verbose sees them all */
  probeRunner: (r: Runner, prefix?: readonly string[]) => Runner;
  sourceOptions: () => SourceOptions;
  /** colour only on a terminal, unless --no-color or NO_COLOR */
  color: (o: Common) => boolean;
  width: number;
  /** renders an answer in the chosen format on stdout */
  emit: <K extends OutputKind>(format: OutputFormat, kind: K, value: Outputs[K], o: Common) => Promise<void>;
  /** kubectl, with --context / --namespace, for turning names into addresses */
  kube: (o: Common) => KubeTarget;
  /** `addHelpText('after', …)` of the command at `path` (help.ts) */
  help: (path: string) => () => string;
}

export function createCli(program: Command, io: Io, setExit: (code: number) => void): Cli {
  const g = () => program.opts<{ quiet?: boolean; verbose?: boolean }>();
  const quiet = () => g().quiet === true;
  const verbose = () => g().verbose === true;
  const log: ProbeLog = (line) => io.stderr(`netpath: ${safeText(line)}\n`);
  const probeRunner = (r: Runner, prefix: readonly string[] = []): Runner =>
    verbose() ? loggingRunner(r, log, prefix) : r;
  // NO_COLOR (no-color.org): set and not empty disables colour; colour only on a terminal
  const color = (o: Common): boolean => o.color !== false && io.isTTY && !io.env.NO_COLOR;
  const width = io.columns ?? 120;
  return {
    io,
    program,
    setExit,
    quiet,
    verbose,
    probeRunner,
    sourceOptions: () => ({ quiet: quiet(), verbose: verbose(), probeRunner, log }),
    color,
    width,
    emit: async (format, kind, value, o) =>
      io.stdout(await renderOutput(format, kind, value, { color: color(o), width, quiet: quiet() })),
    kube: (o) => {
      const t: KubeTarget = {
        ...(io.kubectl ? { runner: probeRunner(io.kubectl) } : {}),
        ...(o.context !== undefined ? { context: o.context } : {}),
        ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
      };
      checkKubeTarget(t);
      return t;
    },
    help: (path) => () => examplesHelp(path, program.name()),
  };
}

/** The node a command reads: a snapshot (--snapshot), a node through a prefix (--exec), or this node. */
export async function sourceFor(
  o: Common & { exec?: string; timeout?: string },
  io: Io,
  s: SourceOptions,
): Promise<ProbeSource> {
  if (o.snapshot !== undefined && o.exec !== undefined)
    throw new UsageError('--snapshot and --exec exclude each other');
  if (o.node !== undefined && o.snapshot === undefined)
    throw new UsageError('--node picks a node of a cilium sysdump: give the sysdump with --snapshot');
  const timing = o.timeout !== undefined ? { timeoutMs: Number(o.timeout) } : {};
  if (o.exec !== undefined) {
    const prefix = execPrefix(o.exec);
    if (prefix.length === 0 || !io.liveRunner) throw new UsageError('--exec needs a command prefix');
    const { liveSource } = await import('../collect/live-source.js');
    return liveSource(s.probeRunner(io.liveRunner(prefix), prefix), {
      ...timing,
      ...(s.defer ? { defer: s.defer } : {}),
      ...(s.early ? { early: s.early } : {}),
    });
  }
  if (o.snapshot !== undefined) {
    const opened = await openSnapshot(o.snapshot, o.node !== undefined ? { node: o.node } : {});
    if (!s.quiet) for (const w of opened.warnings) io.stderr(`netpath: warning: ${safeText(String(w))}\n`);
    return s.verbose ? loggingSource(opened.source, s.log) : opened.source;
  }
  if (!io.runner) throw new UsageError('live probing is not available in this build; use --snapshot');
  const { liveSource } = await import('../collect/live-source.js');
  return liveSource(s.probeRunner(await io.runner()), {
    ...timing,
    ...(s.defer ? { defer: s.defer } : {}),
    ...(s.early ? { early: s.early } : {}),
  });
}

/**
 * --redact on a command's answer: the value is redacted before any format renders it (every string as text,
 * prefixes and node-name fields as such), so text, JSON, YAML, tables and diagrams all show the placeholders.
 */
export function redacted<T>(r: RedactOption | undefined, value: T): T {
  if (!r) return value;
  const plain = JSON.stringify(value);
  r.redactor.learnKeys(plain);
  return r.redactor.json(JSON.parse(plain)) as T;
}

/**
 * The answer stands but some source it could have used was unreadable or unparseable: one line on stderr names
 * the first (the answer's warnings list them all), so a script reading the JSON still sees it.
 */
export function notePartial(io: Io, unreadable: string[], r: RedactOption | undefined): void {
  if (unreadable.length === 0) return;
  const line = `netpath: warning: ${unreadable[0]}${unreadable.length > 1 ? ` (and ${unreadable.length - 1} more unreadable source${unreadable.length > 2 ? 's' : ''}, listed in the warnings)` : ''}`;
  io.stderr(`${r ? r.redactor.text(line) : line}\n`);
}
