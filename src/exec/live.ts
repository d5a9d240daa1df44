import { auditSpawn } from './audit.js';
import { isAllowed } from './allowlist.js';
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

/** Runs allow-listed probes with execa: no shell, no stdin (but validated route get lines to `ip -batch -`), C locale, killed on timeout. Never throws. */
export function createLiveRunner(opts: LiveRunnerOptions = {}): Runner {
  const prefix = opts.prefix ?? [];
  // through a prefix (ssh, kubectl exec) the probe runs with the node's privileges, not ours
  const caps = prefix.length === 0 ? (opts.capabilities !== undefined ? opts.capabilities : ownCapabilities()) : null;
  return async (argv, run = {}) => {
    const started = Date.now();
    const base = { argv, exitCode: -1, stdout: '', stderr: '' };
    if (!isAllowed(argv, run.input)) {
      return {
        ...base,
        durationMs: 0,
        failed: 'not-allowed',
        message: `${argv[0] ?? '?'}: ${run.input !== undefined ? 'refused: only validated route get lines may be fed to ip -batch' : 'not on the read-only allow-list'}`,
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
    const full = [...prefix, ...argv];
    auditSpawn(argv, prefix, run.input);
    const timeout = run.timeoutMs ?? opts.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    // biome-ignore lint/suspicious/noImplicitAnyLet: typed by TypeScript's control flow from execa's dynamic import below
    let r;
    try {
      // loaded on the first probe: a snapshot command never pays for execa's start-up
      const { execa } = await import('execa');
      r = await execa(full[0]!, full.slice(1), {
        reject: false,
        shell: false,
        ...(run.input !== undefined ? { input: run.input } : { stdin: 'ignore' as const }),
        timeout,
        killSignal: 'SIGKILL',
        maxBuffer: run.maxBytes ?? DEFAULT_MAX_BYTES,
        ...(run.signal ? { cancelSignal: run.signal } : {}),
        env: { LC_ALL: 'C', LANG: 'C', NO_COLOR: '1' },
        extendEnv: true,
        stripFinalNewline: false,
      });
    } catch (e) {
      return {
        ...base,
        durationMs: Date.now() - started,
        failed: 'error',
        message: `${argv[0]}: ${String((e as Error)?.message ?? e).split('\n')[0]}`,
      };
    }
    const out: RawOutput = {
      argv,
      exitCode: typeof r.exitCode === 'number' ? r.exitCode : -1,
      stdout: typeof r.stdout === 'string' ? r.stdout : '',
      stderr: typeof r.stderr === 'string' ? r.stderr : '',
      durationMs: Date.now() - started,
    };
    const code = (r as { code?: string }).code;
    if (r.timedOut) {
      out.failed = 'timeout';
      out.message = `${argv[0]}: no answer within ${timeout} ms (killed)`;
    } else if (r.isMaxBuffer) {
      out.failed = 'too-large';
      out.message = `${argv[0]}: output larger than the limit`;
    } else if (
      code === 'ENOENT' ||
      (prefix.length > 0 &&
        (out.exitCode === 127 ||
          /exec of "[^"]*" failed: No such file or directory|command not found/.test(out.stderr)))
    ) {
      out.failed = 'ENOENT';
      out.message = `${argv[0]}: not installed`;
    } else if (code === 'EACCES' || code === 'EPERM') {
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
    } else if (r.failed && out.exitCode === -1) {
      out.failed = 'error';
      out.message = `${argv[0]}: ${(r.shortMessage ?? 'failed').split('\n')[0]}`;
    }
    return out;
  };
}
