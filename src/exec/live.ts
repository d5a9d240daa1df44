import { closeSync, openSync, read, readFileSync, readSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { hostname, release } from 'node:os';
import { auditSpawn } from './audit.js';
import { isAllowed, PARAM_PATTERNS } from './allowlist.js';
import { DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_MS, type RawOutput, type Runner } from './runner.js';
import { describeNeed, missingCaps, needOf, ownCapabilities } from './privilege.js';

// conntrack says "you must be root or get CAP_NET_ADMIN capability", nft and iptables "(you must be root)"
const DENIED = /Operation not permitted|Permission denied|must be root|get CAP_[A-Z_]+ capability/i;

export interface LiveRunnerOptions {
  /** argv run before each probe (`ip netns exec node1`, `ssh node1`); the probe itself is what is checked */
  prefix?: string[];
  defaultTimeoutMs?: number;
  /** netpath's effective capabilities (default: read from /proc/self/status); null when unknown */
  capabilities?: Set<string> | null;
  /** false: start a program to learn it is missing, instead of looking for it on PATH first (tests compare the two) */
  lookPath?: boolean;
}

/** ` (netpath lacks CAP_X)`: what of `need` this process does not have, when that is known. */
function lacking(need: ReturnType<typeof needOf>, caps: Set<string> | null, remote: boolean): string {
  if (caps === null) return remote ? ' on the node' : '';
  const miss = missingCaps(need, caps);
  if (miss.length === 0) return need.caps.length ? ` (netpath has ${need.caps.length > 1 ? 'them' : 'it'})` : '';
  return miss.length === need.caps.length && miss.length > 1
    ? ' (netpath has neither)'
    : ` (netpath lacks ${miss.join(' and ')})`;
}

/** Runs allow-listed probes with execa: no shell, no stdin (but validated lines to `ip -batch -` / `tc -batch -`), C locale, killed on timeout. Never throws. */
export function createLiveRunner(opts: LiveRunnerOptions = {}): Runner {
  const prefix = opts.prefix ?? [];
  // through a prefix (ssh, kubectl exec) the probe runs with the node's privileges, not ours
  const caps = prefix.length === 0 ? (opts.capabilities !== undefined ? opts.capabilities : ownCapabilities()) : null;
  // program name -> whether its first start failed with ENOENT (through a prefix, the node's PATH decides: not kept)
  const missing = new Map<string, Promise<boolean>>();
  return async (argv, run = {}) => {
    const started = Date.now();
    const base = { argv, exitCode: -1, stdout: '', stderr: '' };
    if (!isAllowed(argv, run.input)) {
      return {
        ...base,
        durationMs: 0,
        failed: 'not-allowed',
        message: `${argv[0] ?? '?'}: ${run.input !== undefined ? `refused: only validated ${argv[0] === 'tc' ? 'filter show lines may be fed to tc' : "route get lines (or the node probes' fixed lines) may be fed to ip"} -batch` : 'not on the read-only allow-list'}`,
      };
    }
    const need = needOf(argv);
    if (need.silentWithout && caps !== null && !caps.has(need.silentWithout)) {
      // it would exit 0 with an empty answer: say why instead of asking it
      return {
        ...base,
        durationMs: 0,
        failed: 'EACCES',
        message: `${argv[0]}: not run: ${describeNeed(need)}${lacking(need, caps, false)}; without ${need.silentWithout} it exits 0 and lists no programs`,
      };
    }
    if (prefix.length === 0) {
      const own = await inProcess(argv);
      if (own) return { ...base, ...own, durationMs: Date.now() - started };
    }
    const full = [...prefix, ...argv];
    const tool = argv[0]!;
    // a program this process found missing on PATH stays missing for the run: it is not looked for again
    // (a node without Cilium would start every `cilium-dbg` probe and its `cilium` fallback: 12 processes)
    let known = prefix.length === 0 ? missing.get(tool) : undefined;
    // on this node, a program no PATH directory holds is missing without a fork of this (~70 MB) process to
    // find out: a node without the Cilium CLI on the host started `cilium-dbg` and its `cilium` fallback
    if (known === undefined && prefix.length === 0 && opts.lookPath !== false && absentFromPath(tool)) {
      known = Promise.resolve(true);
      missing.set(tool, known);
    }
    if (known !== undefined && (await known))
      return { ...base, durationMs: Date.now() - started, failed: 'ENOENT', message: `${tool}: not installed` };
    auditSpawn(argv, prefix, run.input);
    const timeout = run.timeoutMs ?? opts.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const spawned = spawnOnce(full, run.input, timeout, run.maxBytes ?? DEFAULT_MAX_BYTES, run.signal);
    if (prefix.length === 0 && known === undefined)
      missing.set(
        tool,
        spawned.then((x) => x.code === 'ENOENT'),
      );
    const r = await spawned;
    if (r.error !== undefined && r.code !== 'ENOENT' && r.code !== 'EACCES' && r.code !== 'EPERM') {
      return { ...base, durationMs: Date.now() - started, failed: 'error', message: `${argv[0]}: ${r.error}` };
    }
    const out: RawOutput = {
      argv,
      exitCode: r.exitCode ?? -1,
      stdout: r.stdout,
      stderr: r.stderr,
      durationMs: Date.now() - started,
    };
    if (r.timedOut) {
      out.failed = 'timeout';
      out.message = r.stillWriting
        ? `${argv[0]}: still writing after ${timeout * CEILING_FACTOR} ms (killed)`
        : r.fellSilent
          ? `${argv[0]}: wrote nothing more for ${timeout} ms (killed)`
          : `${argv[0]}: no answer within ${timeout} ms (killed)`;
    } else if (r.tooLarge) {
      out.failed = 'too-large';
      out.message = `${argv[0]}: output larger than the limit`;
    } else if (
      r.code === 'ENOENT' ||
      (prefix.length > 0 &&
        (out.exitCode === 127 ||
          /exec of "[^"]*" failed: No such file or directory|command not found/.test(out.stderr)))
    ) {
      out.failed = 'ENOENT';
      out.message = `${argv[0]}: not installed`;
    } else if (r.code === 'EACCES' || r.code === 'EPERM') {
      // the program itself could not be started: its file, or a directory on PATH, is not accessible
      out.failed = 'EACCES';
      out.message = `${argv[0]}: cannot be started: permission denied (the program, or a directory on PATH, is not accessible to this user)`;
    } else if (
      // `ip -batch` route gets print the kernel's answer to each failing line on stderr ("Permission denied"
      // from a prohibit route): answers, not a privilege the command lacked
      (out.exitCode !== 0 && run.input === undefined && DENIED.test(out.stderr)) ||
      // bpftool -j reports its errors as JSON on stdout: [{"error":"can't get next program: Operation not permitted"}]
      (out.exitCode !== 0 && /^\s*\[?\s*\{\s*"error"\s*:/.test(out.stdout) && DENIED.test(out.stdout))
    ) {
      out.failed = 'EACCES';
      out.message = `${argv[0]}: permission denied: ${describeNeed(need)}${lacking(need, caps, prefix.length > 0)}`;
    } else if (out.exitCode === -1) {
      out.failed = 'error';
      out.message = `${argv[0]}: ${r.canceled ? 'canceled' : `killed by ${r.signal ?? 'a signal'}`}`;
    }
    return out;
  };
}

/**
 * Whether starting `tool` would fail with ENOENT: the child's PATH (execa passes this process's) is searched the
 * way execvp searches it, every directory on it answers ENOENT or ENOTDIR for the name (a dangling symlink too:
 * execve follows it), and the last ENOENT (execvp fails with the last entry's error). Anything else (a file there, even one that cannot run; a directory that cannot be
 * searched; no PATH, whose default search is libc's) is left to the start itself: false.
 */
export function absentFromPath(tool: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const path = env.PATH;
  if (path === undefined || path === '' || tool === '' || tool.includes('/')) return false;
  let last: string | undefined;
  for (const dir of path.split(delimiter)) {
    try {
      // an empty entry is the current directory, as for execvp
      statSync(join(dir === '' ? '.' : dir, tool));
      return false;
    } catch (e) {
      last = (e as NodeJS.ErrnoException).code;
      if (last !== 'ENOENT' && last !== 'ENOTDIR') return false;
    }
  }
  // the start fails with the last directory's error: ENOTDIR there is not "not installed"
  return last === 'ENOENT';
}

/** The pinned maps a Cilium node may lack (read by path; see collect/probes.ts LB_MAPS, IPCACHE_MAPS, IPMASQ_MAPS). */
const PINNED = /^\/sys\/fs\/bpf\/tc\/globals\/cilium_[A-Za-z0-9_]+$/;

/**
 * Probes answered without a process on this node (no prefix): the same bytes the command would print, read the
 * way it reads them: `uname -r` / `uname -n` are uname(2)'s release and nodename (what os.release() and
 * os.hostname() return), `cat` of the files it may read is the file (a missing one as cat tells it), `sysctl -e KEY…` of one-line keys is
 * their files (sysctlKeys: one process fewer per trace). `bpftool map dump pinned PATH` of a
 * path that does not exist fails as bpftool would (bpf_obj_get finds no file), told as collect/live-source.ts
 * tells bpftool's answer. A node without Cilium saves ten bpftool processes; anything else (a read error, a pin
 * that exists, a path netpath may not look at) runs the command. Undefined: run it.
 */
async function inProcess(argv: readonly string[]): Promise<Omit<RawOutput, 'argv' | 'durationMs'> | undefined> {
  const ok = (stdout: string) => ({ exitCode: 0, stdout, stderr: '' });
  const [tool, a1, a2] = argv;
  if (tool === 'uname' && argv.length === 2) {
    if (a1 === '-r') return ok(`${release()}\n`);
    if (a1 === '-n') return ok(`${hostname()}\n`);
    return undefined;
  }
  // a missing file as cat tells it (/proc/net/ip_vs is missing without IPVS: collect/probes.ts onlyIfPresent)
  if (tool === 'cat' && argv.length === 2 && catInPlace(a1!))
    return readProcFile(a1!).then(ok, (e: NodeJS.ErrnoException) =>
      e.code === 'ENOENT' ? { exitCode: 1, stdout: '', stderr: `cat: ${a1}: No such file or directory\n` } : undefined,
    );
  if (tool === 'sysctl' && a1 === '-e' && argv.length > 2) return sysctlKeys(argv.slice(2));
  if (tool === 'bpftool' && a2 === 'map' && argv[3] === 'dump' && argv[4] === 'pinned' && argv.length === 6) {
    const path = argv[5]!;
    if (!PINNED.test(path)) return undefined;
    const gone = await stat(path).then(
      () => false,
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
    );
    if (gone)
      return {
        exitCode: -1,
        stdout: '',
        stderr: '',
        failed: 'ENOENT',
        message: 'bpftool: no such pinned map on this node',
      };
  }
  return undefined;
}

/**
 * The files netpath may `cat` (exec/allowlist.ts): the two route counters, whether IPVS is in the kernel, and
 * what tells whether a probe would load a kernel module (collect/module-gate.ts).
 */
const PROC_FILES = new Set([
  '/proc/net/fib_triestat',
  '/proc/net/rt6_stats',
  '/proc/net/ip_vs',
  '/proc/modules',
  '/proc/sys/kernel/modules_disabled',
  '/proc/sys/kernel/osrelease',
]);
const catInPlace = (path: string) => PROC_FILES.has(path) || PARAM_PATTERNS['modules-builtin']!.test(path);

/** A key sysctl reads as one file: no '/', no empty part (a directory key such as net.ipv4.conf fails as EISDIR) */
const SYSCTL_FILE_KEY = /^net(\.[A-Za-z0-9_-]+)+$/;

/**
 * `sysctl -e KEY…` as procps-ng prints it: `KEY = VALUE` a line, VALUE the file /proc/sys/KEY (dots as slashes)
 * as read, tabs kept (net.ipv4.ip_local_port_range); a key whose file does not exist prints nothing (-e). Only
 * for one-line values; anything else (a directory, an empty or multi-line file, a read error other than ENOENT)
 * runs the command. Synchronous: a dozen small files, each a few microseconds.
 */
function sysctlKeys(keys: readonly string[]): Omit<RawOutput, 'argv' | 'durationMs'> | undefined {
  let out = '';
  for (const key of keys) {
    if (!SYSCTL_FILE_KEY.test(key)) return undefined;
    let text: string;
    try {
      text = readFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      return undefined;
    }
    if (text.length < 2 || text.indexOf('\n') !== text.length - 1) return undefined;
    out += `${key} = ${text}`;
  }
  return { exitCode: 0, stdout: out, stderr: '' };
}

/** The first read of a /proc file: 256 KiB, more than fib_triestat prints for a thousand tables. */
const PROC_FIRST_READ = 256 * 1024;

/**
 * A /proc file read with one trip through the thread pool: fs.readFile takes five (open, fstat, two reads,
 * close), each waiting for a main thread that a live trace keeps busy starting its probes (on the loaded bench VM
 * the counters took 0.7–1.4 s of wall for ~0.11 s of kernel CPU). The kernel writes a seq_file whole at its
 * first read (fib_triestat walks every table then): that read runs in the pool; opening, the reads of the rest of
 * the text it already holds, and closing take microseconds, done in place.
 */
export async function readProcFile(path: string): Promise<string> {
  const fd = openSync(path, 'r');
  try {
    const first = Buffer.allocUnsafe(PROC_FIRST_READ);
    const n = await new Promise<number>((done, fail) =>
      read(fd, first, 0, first.length, null, (e, got) => (e ? fail(e) : done(got))),
    );
    const parts = [first.subarray(0, n)];
    if (n > 0)
      for (;;) {
        const more = Buffer.allocUnsafe(PROC_FIRST_READ);
        const m = readSync(fd, more, 0, more.length, null);
        if (m === 0) break;
        parts.push(more.subarray(0, m));
      }
    return Buffer.concat(parts).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

interface Spawned {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  tooLarge: boolean;
  canceled: boolean;
  /** timed out at the ceiling, still writing (CEILING_FACTOR) */
  stillWriting?: boolean;
  /** timed out silent after it had written something */
  fellSilent?: boolean;
  /** the process could not be started (code ENOENT, EACCES, ...) */
  code?: string;
  error?: string;
}

/**
 * A probe's timeout is a silence: it is killed when it has written nothing (stdout or stderr) for `timeoutMs`, not
 * when it has run that long. A probe that writes is answering: `ip -4 -j -d route show table all` of 1.2M routes
 * writes 140 MB for 17 s at load ~17 on 2 cores (5.6 s of CPU), and a 55,000-route dump passed 20 s at load ~18
 * in test/kernel/kernel-routes.test.ts (the trace that read it said `unknown`, the one the kernel answered did
 * not). Only a probe still writing at CEILING_FACTOR × the timeout (300 s by default: twice that dump's CPU at
 * load 28, 14 runnable tasks per core) is killed for its length; its output is bounded by maxBytes anyway.
 */
export const CEILING_FACTOR = 15;

/** setTimeout's longest delay (a longer one fires at once) */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Kills `sub` (SIGKILL) once it has been silent for `ms`. The timer's callback does not decide alone: after a
 * main thread busy for longer than `ms` (a large parse), the timers run before the pending output is read, so
 * the verdict waits for setImmediate, which runs after the event loop has read what is waiting in the pipes.
 */
function watchSilence(
  sub: { stdout: Readable | null; stderr: Readable | null; kill: (s: NodeJS.Signals) => boolean },
  ms: number,
): { fired: boolean; spoke: boolean; stop: () => void } {
  let last = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const state = {
    fired: false,
    spoke: false,
    stop: () => {
      clearTimeout(timer);
      clearImmediate(immediate);
      sub.stdout?.off('data', heard);
      sub.stderr?.off('data', heard);
    },
  };
  function heard() {
    last = performance.now();
    state.spoke = true;
  }
  const arm = (delay: number) => {
    timer = setTimeout(() => {
      immediate = setImmediate(() => {
        const quiet = performance.now() - last;
        if (quiet < ms) return arm(Math.min(ms - quiet, MAX_TIMER_MS));
        state.fired = true;
        sub.kill('SIGKILL');
      });
    }, delay);
    timer.unref();
  };
  sub.stdout?.on('data', heard);
  sub.stderr?.on('data', heard);
  arm(Math.min(ms, MAX_TIMER_MS));
  return state;
}

/**
 * One process through execa, no shell, C locale: stdin is the validated input or nothing, output kept up to
 * `maxBytes` (then the process is killed), SIGKILL on a timeout (watchSilence) or cancel. execa is the project's fixed process
 * library; it is imported on the first probe, so a snapshot command never pays its start-up (~0.16 s of CPU,
 * plus ~4 ms per process against ~1.5 ms for a bare spawn: docs/performance.md, the live row).
 */
async function spawnOnce(
  argv: readonly string[],
  input: string | undefined,
  timeoutMs: number,
  maxBytes: number,
  signal: AbortSignal | undefined,
): Promise<Spawned> {
  const res: Spawned = {
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: '',
    timedOut: false,
    tooLarge: false,
    canceled: false,
  };
  try {
    const { execa } = await import('execa');
    const sub = execa(argv[0]!, argv.slice(1), {
      reject: false,
      shell: false,
      ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
      // the ceiling; the timeout proper is the silence below
      timeout: Math.min(timeoutMs * CEILING_FACTOR, MAX_TIMER_MS),
      killSignal: 'SIGKILL',
      maxBuffer: maxBytes,
      ...(signal ? { cancelSignal: signal } : {}),
      env: { LC_ALL: 'C', LANG: 'C', NO_COLOR: '1' },
      extendEnv: true,
      stripFinalNewline: false,
    });
    const silence = watchSilence(sub, timeoutMs);
    const r = await sub;
    silence.stop();
    const code = (r as { code?: string }).code;
    const out: Spawned = {
      exitCode: typeof r.exitCode === 'number' ? r.exitCode : null,
      signal: r.signal ?? null,
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : '',
      timedOut: r.timedOut || silence.fired,
      tooLarge: r.isMaxBuffer,
      canceled: r.isCanceled,
    };
    if (code !== undefined) out.code = code;
    if (r.timedOut) out.stillWriting = true;
    else if (silence.fired && silence.spoke) out.fellSilent = true;
    // not started at all (and not for a reason the caller names itself)
    if (r.failed && out.exitCode === null && out.signal === null && !out.timedOut && !r.isMaxBuffer && !r.isCanceled)
      out.error = (r.shortMessage ?? 'failed').split('\n')[0];
    return out;
  } catch (e) {
    return { ...res, error: String((e as Error)?.message ?? e).split('\n')[0] };
  }
}
