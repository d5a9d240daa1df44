/** Exit codes of the contract in docs/json.md ("Exit codes"). */
export const EXIT = {
  ok: 0,
  /** answered, and the answer is bad: dropped / no route; a diff with regressions */
  bad: 1,
  usage: 2,
  /** could not answer: a required source is missing, unreadable or unparseable */
  source: 3,
  /** a bug in netpath */
  internal: 70,
} as const;

export class NetpathError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flag, an argument that is not an address, an unknown command. */
export class UsageError extends NetpathError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** A source the answer needs is missing, unreadable or unparseable. `source` names it. */
export class SourceError extends NetpathError {
  constructor(
    readonly source: string,
    /** the message without the source prefix */
    readonly detail: string,
  ) {
    super(`${source}: ${detail}`, EXIT.source);
  }
}

/** A command outside the read-only allow-list was about to run. Always a bug or an attack. */
export class NotAllowedError extends NetpathError {
  constructor(readonly argv: readonly string[]) {
    super(`refusing to run a command that is not on the read-only allow-list: ${JSON.stringify(argv)}`, EXIT.internal);
  }
}

export function exitCodeFor(err: unknown): number {
  return err instanceof NetpathError ? err.exitCode : EXIT.internal;
}

/** One line, no stack: what the CLI prints for any error. */
export function describeError(err: unknown): string {
  if (err instanceof NetpathError) return err.message.split('\n')[0]!;
  const msg = err instanceof Error ? err.message : String(err);
  return `internal error (a bug in netpath, please report it): ${msg.split('\n')[0]}`;
}

/** One line for a warning about a source that failed: what it said, never a stack or a second line. */
export function errorLine(e: unknown): string {
  return e instanceof SourceError
    ? e.detail
    : e instanceof NetpathError
      ? e.message
      : e instanceof Error
        ? e.message.split('\n')[0]!
        : String(e);
}
