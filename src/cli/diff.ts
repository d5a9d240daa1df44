import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { loggingSource, type ProbeSource } from '../collect/source.js';
import { chooseFormat, renderOutput } from '../render/output.js';
import { safeText } from '../render/terminal-safe.js';
import { type Cli, notePartial, sourceFor } from './context.js';
import { checkTimeout, type Common, type Live, withExec, withNoColor, withOutput, withTimeout } from './options.js';
import type { Diff } from '../model/diff.js';

/**
 * What a human format shows of a diff: without --all the text renderer lists no unchanged frontend (one is never a
 * regression; the summary counts them), so they are left out before renderOutput makes its terminal-safe copy of
 * the model, which on a 10,000-Service node copied every frontend's sides, backends and evidence to show none.
 */
export function diffForHuman(d: Diff, all: boolean): Diff {
  return all ? d : { ...d, services: d.services.filter((s) => s.status !== 'unchanged') };
}

/** `netpath diff <before> <after>`: what removing kube-proxy changed, between two snapshots or one and this node. */
export function registerDiff(program: Command, cli: Cli): void {
  const diff = program
    .command('diff')
    .description('what changes on a node when kube-proxy is removed: Service parity, leftovers, paths, behaviour')
    .argument('<before>', 'snapshot directory, .tar.gz, or "live"')
    .argument('<after>', 'snapshot directory, .tar.gz, or "live"');
  withExec(diff, 'for a "live" side: probe the node through this prefix (argv, no shell)')
    .option('--max-flows <n>', 'trace at most this many representative flows on each side (0: none)', '40')
    .option('--all', 'also list the unchanged frontends and flows')
    .option('--node <name>', 'for a side that is a cilium sysdump (.zip or its folder): the node to read');
  withTimeout(diff, 'for a "live" side: per-probe timeout in milliseconds');
  withNoColor(withOutput(diff, 'diff'))
    .addHelpText('after', cli.help('diff'))
    .action(async (beforeSpec: string, afterSpec: string, o: Common & Live & { maxFlows: string; all?: boolean }) => {
      const format = chooseFormat(o, 'diff');
      checkTimeout(o);
      if (!/^\d{1,5}$/.test(o.maxFlows))
        throw new UsageError(`--max-flows must be a number, not ${JSON.stringify(o.maxFlows)}`);
      if (beforeSpec === 'live' && afterSpec === 'live')
        throw new UsageError('before and after cannot both be "live": snapshot the node before the migration');
      if (o.exec !== undefined && beforeSpec !== 'live' && afterSpec !== 'live')
        throw new UsageError('--exec applies to a "live" side; neither side is live');
      const { isSysdump } = await import('../collect/sysdump.js');
      if (o.node !== undefined && ![beforeSpec, afterSpec].some((x) => x !== 'live' && isSysdump(x)))
        throw new UsageError('--node picks the node of a cilium sysdump side; neither side is a sysdump');
      const { openSide, runDiff } = await import('../commands/diff.js');
      const so = cli.sourceOptions();
      const live = async (): Promise<ProbeSource> =>
        sourceFor({ ...(o.exec !== undefined ? { exec: o.exec } : {}), timeout: o.timeout }, cli.io, so);
      const warn = (w: string) => {
        if (!so.quiet) cli.io.stderr(`netpath: warning: ${safeText(String(w))}\n`);
      };
      const side = async (spec: string, label: 'before' | 'after') => {
        const src = await openSide(spec, label, live, warn, o.node);
        return so.verbose && spec !== 'live' ? loggingSource(src, so.log) : src;
      };
      const before = await side(beforeSpec, 'before');
      const after = await side(afterSpec, 'after');
      const { diff: d, exitCode, unreadable } = await runDiff(before, after, { maxFlows: Number(o.maxFlows) });
      // --all shows the unchanged entries too: the renderers' verbose mode
      const opts = { color: cli.color(o), width: cli.width, quiet: so.quiet, ...(o.all ? { verbose: true } : {}) };
      cli.io.stdout(await renderOutput(format, 'diff', format.machine ? d : diffForHuman(d, o.all === true), opts));
      notePartial(cli.io, unreadable, undefined);
      cli.setExit(exitCode);
    });
}
