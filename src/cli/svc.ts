import type { Command } from 'commander';
import { chooseFormat } from '../render/output.js';
import { type Cli, notePartial, redacted, sourceFor } from './context.js';
import {
  checkTimeout,
  type Common,
  type Live,
  type Redact,
  redactOption,
  withExec,
  withKube,
  withNoColor,
  withOutput,
  withRedactOutput,
  withSnapshot,
  withTimeout,
} from './options.js';

/** `netpath svc lookup <query>`: a frontend, its backends, and every layer that programs it. */
export function registerSvc(program: Command, cli: Cli): void {
  const svc = program.command('svc').description('Services: what a frontend resolves to, and which layer programs it');
  const lookup = svc
    .command('lookup')
    .description(
      'every frontend matching <address[:port][/proto] | namespace/name>, its backends, and the layers that program it',
    )
    .argument('<query>', 'e.g. 10.96.0.10:53/udp, [2001:db8::a]:443, kube-system/kube-dns');
  withTimeout(withExec(withSnapshot(lookup), 'probe a node through this prefix (argv, no shell)'));
  withRedactOutput(withNoColor(withKube(withOutput(lookup, 'svc'))), 'addresses, MAC addresses and node names')
    .addHelpText('after', cli.help('svc lookup'))
    .action(async (query: string, o: Common & Redact & Live) => {
      const format = chooseFormat(o, 'svc');
      checkTimeout(o);
      const redact = await redactOption(o);
      const kube = cli.kube(o);
      const source = await sourceFor(o, cli.io, cli.sourceOptions());
      // iptables-save's worker reads the dump while this thread loads the look-up's modules
      const { iptablesOffload } = await import('../commands/svc-offload.js');
      const offload = iptablesOffload(source);
      const { runSvcLookup } = await import('../commands/svc-lookup.js');
      const res = await runSvcLookup(source, query, kube, offload);
      await cli.emit(format, 'svc', redacted(redact, { node: res.node, query, result: res.result }), o);
      notePartial(cli.io, res.unreadable, redact);
      cli.setExit(res.exitCode);
    });
}
