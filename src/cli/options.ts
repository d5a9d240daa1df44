import { type Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import type { RedactOption } from '../commands/snapshot.js';
import { formatsFor, type OutputKind } from '../render/output.js';

// Options more than one command takes, declared once: the flag, its value placeholder, its default, and how its
// value is checked. Where commands describe an option in their own words (what --exec reaches differs between
// trace and diff), the command passes its description; --help prints it as given.

/** Values of the shared options, as commander hands them to an action. */
export interface Common {
  context?: string;
  namespace?: string;
  snapshot?: string;
  /** the node of a cilium sysdump given as --snapshot */
  node?: string;
  json?: boolean;
  output?: string;
  color?: boolean;
}

export interface Live {
  exec?: string;
  timeout: string;
}

export interface Redact {
  redact?: boolean;
  redactKeyFile?: string;
}

/** The global flags, on the program: every command reads them when it runs. */
export function withGlobal(program: Command): Command {
  return program
    .option('-q, --quiet', 'print only the result line (and errors)')
    .option('-v, --verbose', 'log every probe on stderr: its command (or file), exit code, duration and output size');
}

/** `-o FORMAT` (and its alias `--json`), offered with every format that renders all of `kinds` */
export function withOutput(cmd: Command, ...kinds: OutputKind[]): Command {
  const output = new Option('-o, --output <format>', 'output format (default: text)');
  // listed for --help and completion; checked by chooseFormat, whose error names them all
  output.argChoices = formatsFor(...kinds);
  return cmd.addOption(output).option('--json', 'same as -o json: the versioned JSON contract');
}

/** `--context` / `--namespace`, passed through to kubectl when a name has to be resolved */
export function withKube(cmd: Command): Command {
  return cmd
    .option('--context <name>', 'kubeconfig context kubectl resolves names in')
    .option('-n, --namespace <ns>', "namespace for pod/NAME and svc/NAME (default: kubectl's current one)");
}

export const SYSDUMP_NODE =
  'with a cilium sysdump as --snapshot (.zip or its folder): the node to read (node or Cilium pod name)';

export function withSnapshot(cmd: Command): Command {
  return cmd
    .option('-s, --snapshot <dir|file.tar.gz>', 'read a snapshot instead of probing this node')
    .option('--node <name>', SYSDUMP_NODE);
}

export function withExec(cmd: Command, description: string): Command {
  return cmd.option('--exec <prefix>', description);
}

export function withTimeout(
  cmd: Command,
  description = 'probing live or with --exec: per-probe timeout in milliseconds',
): Command {
  return cmd.option('--timeout <ms>', description, '20000');
}

export function withNoColor(cmd: Command): Command {
  return cmd.option('--no-color', 'never colour the output');
}

/** `--redact` / `--redact-key-file` on a command that prints an answer; `what` says what gets replaced. */
export function withRedactOutput(cmd: Command, what: string): Command {
  return cmd
    .option('--redact', `print ${what} redacted (as snapshot --redact)`)
    .option(
      '--redact-key-file <file>',
      'with --redact: the mapping of snapshot --redact --redact-key-file with the same file',
    );
}

export function checkTimeout(o: { timeout: string }): void {
  if (!/^\d{1,7}$/.test(o.timeout) || Number(o.timeout) < 1)
    throw new UsageError(`--timeout must be milliseconds, not ${JSON.stringify(o.timeout)}`);
}

/** --exec's prefix as argv: split on spaces, no shell. */
export function execPrefix(exec: string): string[] {
  return exec
    .trim()
    .split(/\s+/)
    .filter((x) => x !== '');
}

/** --redact / --redact-key-file: the Redactor, or undefined when neither is given. */
export async function redactOption(o: Redact): Promise<RedactOption | undefined> {
  if (!o.redact && o.redactKeyFile === undefined) return undefined;
  const { Redactor } = await import('../redact/redactor.js');
  return o.redactKeyFile !== undefined
    ? { redactor: Redactor.fromKeyFile(o.redactKeyFile), keySource: 'key-file' }
    : { redactor: new Redactor(), keySource: 'random' };
}
