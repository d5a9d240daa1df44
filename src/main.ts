import { main } from './cli.js';
import { createLiveRunner } from './exec/live.js';

/**
 * Process entry: wires the real stdout/stderr, environment and live runner into the CLI. Settles when the command
 * has finished and set process.exitCode (the build's code-cache warm-up runs several commands one after another).
 */
export function run(opts: { name?: string } = {}): Promise<void> {
  // a reader that went away (`netpath … | head`) is not an error of netpath's: stop writing to it, finish, and
  // exit with the command's own code; an unhandled EPIPE would print a stack trace
  const gone = { stdout: false, stderr: false };
  for (const k of ['stdout', 'stderr'] as const)
    process[k].on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      gone[k] = true;
    });
  return main(process.argv.slice(2), {
    ...(opts.name ? { programName: opts.name } : {}),
    stdout: (s) => {
      if (!gone.stdout) process.stdout.write(s);
    },
    stderr: (s) => {
      if (!gone.stderr) process.stderr.write(s);
    },
    isTTY: process.stdout.isTTY === true,
    env: process.env,
    ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
    runner: async () => createLiveRunner(),
    liveRunner: (prefix) => createLiveRunner({ prefix }),
    isStderrTTY: process.stderr.isTTY === true,
    kubectl: createLiveRunner(),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (!gone.stderr)
        process.stderr.write(`netpath: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 70;
    },
  );
}
