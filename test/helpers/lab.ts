import { spawn } from 'node:child_process';

export interface LabRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** the last lines of stdout and stderr together: what a lab that stopped said last */
  tail: string;
}

/**
 * Runs a lab script without blocking this worker: a lab takes minutes on a loaded machine, and a worker blocked
 * in spawnSync that long misses vitest's own RPC deadline ("Timeout calling onTaskUpdate"), which fails the run.
 */
export function runLab(
  argv: string[],
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; lines?: number },
): Promise<LabRun> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let both = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      both += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      both += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const tail = both
        .trim()
        .split('\n')
        .slice(-(opts.lines ?? 25))
        .join('\n');
      resolve({ status, signal, stdout, stderr, tail });
    });
  });
}
