import type { Command } from 'commander';
import { chooseFormat } from '../render/output.js';
import { type Cli, sourceFor } from './context.js';
import {
  checkTimeout,
  type Common,
  type Live,
  withExec,
  withNoColor,
  withOutput,
  withSnapshot,
  withTimeout,
} from './options.js';

/** `netpath node`: what netpath concluded about the node (src/commands/node.ts, src/render/node.ts). */
export function registerNode(program: Command, cli: Cli): void {
  const node = program
    .command('node')
    .description(
      'what netpath concluded about a node (routing, host routing, kube-proxy replacement, socket LB, masquerade, …), each with its evidence',
    );
  withTimeout(withExec(withSnapshot(node), 'probe a node through this prefix (argv, no shell)'));
  withNoColor(withOutput(node, 'node'))
    .addHelpText('after', cli.help('node'))
    .action(async (o: Common & Live) => {
      const format = chooseFormat(o, 'node');
      checkTimeout(o);
      const source = await sourceFor(o, cli.io, cli.sourceOptions());
      const { runNode } = await import('../commands/node.js');
      const res = await runNode(source);
      await cli.emit(format, 'node', res.report, o);
      cli.setExit(res.exitCode);
    });
}
