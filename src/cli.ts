import { Command, CommanderError } from 'commander';
import { BUILD_INFO } from './build-info.js';
import { describeError, EXIT, exitCodeFor, UsageError } from './errors.js';
import type { CliSpec } from './render/cli-spec.js';
import { safeText } from './render/terminal-safe.js';
import { registerCheck } from './cli/check.js';
import { registerCommands } from './cli/commands.js';
import { registerCompletion } from './cli/completion.js';
import { createCli, type Cli, type Io } from './cli/context.js';
import { describeProgram } from './cli/describe.js';
import { registerDiff } from './cli/diff.js';
import { PROGRAM_DESCRIPTION } from './cli/help.js';
import { registerMan } from './cli/man.js';
import { registerNode } from './cli/node.js';
import { withGlobal } from './cli/options.js';
import { registerSnapshot } from './cli/snapshot.js';
import { registerSvc } from './cli/svc.js';
import { registerTrace } from './cli/trace.js';

export type { Io } from './cli/context.js';
export { describeProgram } from './cli/describe.js';

/** Each command's file registers it; this order is the order of `--help`, completion and the man page. */
const COMMANDS: ((program: Command, cli: Cli) => void)[] = [
  registerTrace,
  registerSvc,
  registerDiff,
  registerNode,
  registerCheck,
  registerSnapshot,
  registerCommands,
  registerCompletion,
  registerMan,
];

/** Parses argv, runs one command, returns the exit code. With src/cli/, the only code that knows argv and exit codes. */
export async function main(argv: string[], io: Io): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return EXIT.ok;
      return EXIT.usage;
    }
    io.stderr(`netpath: ${safeText(describeError(err))}\n`);
    return exitCodeFor(err);
  }
}

/** The command line as data (what completion and the man page are generated from). */
export function cliSpec(): CliSpec {
  return describeProgram(buildProgram({ stdout: () => {}, stderr: () => {}, isTTY: false, env: {} }, () => {}));
}

function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command(io.programName ?? 'netpath')
    .description(PROGRAM_DESCRIPTION)
    .version(
      `${BUILD_INFO.version} (commit ${BUILD_INFO.commit})`,
      '-V, --version',
      'print the version and the git commit it was built from',
    )
    .exitOverride()
    // a usage error is one line, like every other error: `netpath: unknown option '--frob' (run with --help …)`
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (str, write) =>
        write(
          `netpath: ${str
            .replace(/^error: /, '')
            .split('\n')[0]!
            .trim()} (run with --help for usage)\n`,
        ),
    })
    .configureHelp({ showGlobalOptions: true });
  withGlobal(program).hook('preAction', () => {
    const g = program.opts<{ quiet?: boolean; verbose?: boolean }>();
    if (g.quiet && g.verbose) throw new UsageError('--quiet and --verbose exclude each other');
  });
  const cli = createCli(program, io, setExit);
  for (const register of COMMANDS) register(program, cli);
  return program;
}
