import { main } from './cli.js';
import { createLiveRunner } from './exec/live.js';

/** Process entry: wires the real stdout/stderr, environment and live runner into the CLI. */
export function run(opts: { name?: string } = {}): void {
  main(process.argv.slice(2), {
    ...(opts.name ? { programName: opts.name } : {}),
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
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
      process.stderr.write(`netpath: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 70;
    },
  );
}
