import { main, type Io } from '../../src/cli.js';
import { createLiveRunner } from '../../src/exec/live.js';

/** The CLI in-process: no TTY, an empty environment unless `extra` says otherwise; what it printed, and its exit code. */
export async function runCli(
  argv: string[],
  extra: Partial<Io> = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    isTTY: false,
    env: {},
    ...extra,
  });
  return { code, out, err };
}

/** runCli reading a live node: its commands go through the real (read-only, allow-listed) runner. */
export function runCliLive(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCli(argv, { liveRunner: (prefix) => createLiveRunner({ prefix }) });
}
