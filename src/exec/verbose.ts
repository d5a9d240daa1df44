import type { Runner } from './runner.js';

/** `--verbose`: one line on stderr per probe run. */
export type ProbeLog = (line: string) => void;

export function byteSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** argv as a person would type it: words with spaces or quotes are single-quoted. */
export function showArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Wraps a runner so every probe is logged with its argv (prefix included), exit code, duration and output size. */
export function loggingRunner(runner: Runner, log: ProbeLog, prefix: readonly string[] = []): Runner {
  return async (argv, opts) => {
    const r = await runner(argv, opts);
    const outcome = r.failed ? `${r.failed}${r.message ? ` (${r.message})` : ''}` : `exit ${r.exitCode}`;
    const err = r.stderr ? `, stderr ${byteSize(Buffer.byteLength(r.stderr))}` : '';
    log(
      `probe ${showArgv([...prefix, ...argv])}: ${outcome}, ${r.durationMs} ms, stdout ${byteSize(Buffer.byteLength(r.stdout))}${err}`,
    );
    return r;
  };
}
