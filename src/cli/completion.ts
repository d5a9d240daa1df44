import { Argument, type Command } from 'commander';
import { renderCompletion, SHELLS, type Shell } from '../render/completion.js';
import type { Cli } from './context.js';
import { describeProgram } from './describe.js';

/** `netpath completion <shell>`: generated from the program itself, so it never drifts from what it accepts. */
export function registerCompletion(program: Command, cli: Cli): void {
  program
    .command('completion')
    .description('print a shell completion script, generated from these commands and options')
    .addArgument(new Argument('<shell>', 'the shell').choices([...SHELLS]))
    .addHelpText('after', cli.help('completion'))
    .action((shell: Shell) => {
      cli.io.stdout(renderCompletion(shell, describeProgram(program)));
    });
}
