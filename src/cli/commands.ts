import type { Command } from 'commander';
import { describeAllowList } from '../exec/allowlist.js';
import type { Cli } from './context.js';

/** `netpath commands`: the read-only allow-list, every command netpath may run on a node. */
export function registerCommands(program: Command, cli: Cli): void {
  program
    .command('commands')
    .description('list every command netpath may run on a node (the read-only allow-list)')
    .addHelpText('after', cli.help('commands'))
    .action(() => {
      cli.io.stdout(`${describeAllowList().join('\n')}\n`);
    });
}
