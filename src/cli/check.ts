import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { chooseFormat } from '../render/output.js';
import { type Cli, type Io, notePartial, redacted, sourceFor } from './context.js';
import {
  checkTimeout,
  type Common,
  type Live,
  type Redact,
  redactOption,
  withExec,
  withNoColor,
  withOutput,
  withRedactOutput,
  withSnapshot,
  withTimeout,
} from './options.js';

type CheckOptions = Common & Redact & Live & { cluster?: string; maxFlows?: string };

/**
 * A progress bar on stderr, only for a person watching: stderr is a terminal and the answer is not a machine
 * format (a script reading JSON or a pipe never sees it). Redrawn in place, erased when done.
 */
function progressBar(io: Io, show: boolean): ((done: number, total: number) => void) | undefined {
  if (!show) return undefined;
  let last = -1;
  return (done, total) => {
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    if (pct === last) return;
    last = pct;
    const fill = Math.round(pct / 5);
    io.stderr(
      `\rchecking [${'#'.repeat(fill)}${' '.repeat(20 - fill)}] ${String(pct).padStart(3)}% ${done}/${total} flows`,
    );
    if (done >= total) io.stderr('\r\x1b[2K');
  };
}

/** `netpath check`: every path of a node (or of each node of a cluster snapshot) at once, and what is wrong with them. */
export function registerCheck(program: Command, cli: Cli): void {
  const check = program
    .command('check')
    .description(
      'trace every path that matters on a node and report what breaks them, ranked by how many flows each breaks',
    );
  withSnapshot(check);
  withExec(check, 'probe a node through this prefix, split on spaces, no shell (e.g. "ssh node1")');
  check.option('--cluster <dir>', 'a directory of node snapshots (<dir>/<node>/…): check each node');
  check.option('--max-flows <n>', 'trace at most this many flows per node (Service frontends are cut first)');
  withTimeout(check);
  withOutput(check, 'check');
  withRedactOutput(withNoColor(check), 'addresses, MAC addresses and node names')
    .addHelpText('after', cli.help('check'))
    .action(async (o: CheckOptions) => {
      const format = chooseFormat(o, 'check');
      checkTimeout(o);
      let maxFlows: number | undefined;
      if (o.maxFlows !== undefined) {
        if (!/^\d{1,9}$/.test(o.maxFlows) || Number(o.maxFlows) < 1)
          throw new UsageError(`--max-flows must be a positive number, not ${JSON.stringify(o.maxFlows)}`);
        maxFlows = Number(o.maxFlows);
      }
      const redact = await redactOption(o);
      const nodeName = redact ? { nodeName: (n: string) => redact.redactor.nodeName(n) } : {};
      const progress = progressBar(cli.io, cli.io.isStderrTTY === true && !format.machine && !cli.quiet());
      const opts = { ...nodeName, ...(maxFlows !== undefined ? { maxFlows } : {}), ...(progress ? { progress } : {}) };
      const commands = await import('../commands/check.js');
      let out: Awaited<ReturnType<typeof commands.runCheck>>;
      if (o.cluster !== undefined) {
        if (o.snapshot !== undefined || o.exec !== undefined)
          throw new UsageError('--cluster excludes --snapshot and --exec');
        out = await commands.runClusterCheck(o.cluster, opts);
      } else out = await commands.runCheck(await sourceFor(o, cli.io, cli.sourceOptions()), opts);
      await cli.emit(format, 'check', redacted(redact, out.report), o);
      notePartial(cli.io, out.unreadable, redact);
      cli.setExit(out.exitCode);
    });
}
