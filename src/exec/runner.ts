/** The one seam between netpath and the outside world: run a fixed argument vector, read-only. */
export interface RawOutput {
  argv: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** set when the command did not run to completion */
  failed?: 'ENOENT' | 'EACCES' | 'timeout' | 'too-large' | 'not-allowed' | 'error';
  /** one line naming what went wrong, when failed is set */
  message?: string;
}

export interface RunOptions {
  timeoutMs?: number;
  /** stdout larger than this is cut and reported as too-large */
  maxBytes?: number;
  signal?: AbortSignal;
  /** text fed on stdin (only the allow-list's stdin entries take one; the allow-list checks it) */
  input?: string;
}

/** Never throws for a non-zero exit or a missing binary: those are data. */
export type Runner = (argv: readonly string[], opts?: RunOptions) => Promise<RawOutput>;

export const DEFAULT_TIMEOUT_MS = 20_000;
export const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;
