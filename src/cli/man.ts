import type { Command } from 'commander';
import { renderMan } from '../render/man.js';
import type { Cli } from './context.js';
import { describeProgram } from './describe.js';

/** `netpath man`: the manual page, generated from the program's commands, options and examples. */
export function registerMan(program: Command, cli: Cli): void {
  program
    .command('man')
    .description('print the manual page (roff), generated from these commands, options and examples')
    .addHelpText('after', cli.help('man'))
    .action(() => {
      cli.io.stdout(renderMan(describeProgram(program)));
    });
}
