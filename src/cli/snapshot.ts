import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { Cli } from './context.js';
import { execPrefix, redactOption, withExec } from './options.js';

interface SnapshotOptions {
  output: string;
  exec?: string;
  node?: string;
  timeout: string;
  cluster?: boolean;
  nodeExec?: string[];
  concurrency: string;
  kubectl?: boolean;
  redact?: boolean;
  redactKeyFile?: string;
  from?: string;
}

/** `netpath snapshot`: capture a node (or a cluster's nodes), or redact a snapshot taken earlier. */
export function registerSnapshot(program: Command, cli: Cli): void {
  const snapshot = program
    .command('snapshot')
    .description('capture this node (or one reached through --exec) into a snapshot directory or .tar.gz')
    .option('-o, --output <dir|file.tar.gz>', 'where to write the snapshot', 'netpath-snapshot');
  withExec(
    snapshot,
    'run every probe through this prefix, split on spaces, no shell (e.g. "ip netns exec node1", "ssh node1")',
  )
    .option(
      '--node <name>',
      'node name for the manifest (default: uname -n of the node); with --from a cilium sysdump: the node to convert',
    )
    .option('--timeout <ms>', 'per-probe timeout in milliseconds', '20000')
    .option('--cluster', 'capture several nodes into <output>/<node>/ (give each with --node-exec)')
    .option(
      '--node-exec <name=prefix...>',
      'with --cluster: a node and the prefix that reaches it, e.g. node1="ssh node1"',
    )
    .option('--concurrency <n>', 'with --cluster: nodes captured at once', '8')
    .option(
      '--kubectl',
      'with --cluster: find the nodes with kubectl (the Cilium agent pod on each) and probe through kubectl exec',
    )
    .option(
      '--redact',
      'replace addresses (prefix-preserving), MAC addresses, WireGuard public keys and node names, consistently across files and nodes',
    )
    .option(
      '--redact-key-file <file>',
      'with --redact: derive the mapping from this secret file (same file, same placeholders across runs); default: a random key, never stored',
    )
    .option(
      '--from <dir|file.tar.gz>',
      'with --redact: redact an existing snapshot (with --cluster: a directory of node snapshots) instead of probing; a cilium sysdump (.zip or folder, with --node): write that node as a snapshot',
    )
    .addHelpText('after', cli.help('snapshot'))
    .action(async (o: SnapshotOptions) => {
      const { io } = cli;
      // the summary's first line is the verdict: all that --quiet prints
      const summary = (s: string) => io.stdout(`${cli.quiet() ? s.split('\n')[0] : s}\n`);
      if (!/^\d{1,7}$/.test(o.timeout))
        throw new UsageError(`--timeout must be milliseconds, not ${JSON.stringify(o.timeout)}`);
      const redact = await redactOption(o);
      if (o.from !== undefined && (await import('../collect/sysdump.js')).isSysdump(o.from)) {
        if (o.exec !== undefined || o.nodeExec !== undefined || o.kubectl || o.cluster)
          throw new UsageError('--from reads a sysdump: it excludes --exec, --node-exec, --kubectl and --cluster');
        const { convertSysdump } = await import('../commands/snapshot.js');
        const res = await convertSysdump({
          from: o.from,
          node: o.node,
          output: o.output,
          ...(redact ? { redact } : {}),
        });
        summary(res.summary);
        cli.setExit(res.exitCode);
        return;
      }
      if (o.from !== undefined) {
        if (!redact) throw new UsageError('--from needs --redact (it rewrites an existing snapshot redacted)');
        if (o.exec !== undefined || o.nodeExec !== undefined || o.kubectl)
          throw new UsageError('--from reads a snapshot: it excludes --exec, --node-exec and --kubectl');
        const { redactSnapshot } = await import('../commands/snapshot.js');
        const res = await redactSnapshot({ from: o.from, output: o.output, cluster: o.cluster === true, redact });
        summary(res.summary);
        cli.setExit(res.exitCode);
        return;
      }
      if (o.cluster) {
        if (!io.liveRunner) throw new UsageError('live probing is not available in this build');
        if (!/^\d{1,4}$/.test(o.concurrency) || Number(o.concurrency) < 1)
          throw new UsageError('--concurrency must be a positive number');
        const nodes = (o.nodeExec ?? []).map((spec) => {
          const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62})=(.+)$/.exec(spec);
          if (!m) throw new UsageError(`--node-exec takes name=prefix, not ${JSON.stringify(spec)}`);
          const prefix = m[2]!.trim().split(/\s+/);
          return { name: m[1]!, prefix };
        });
        const { takeClusterSnapshot, discoverCiliumNodes } = await import('../commands/snapshot.js');
        if (o.kubectl) nodes.push(...(await discoverCiliumNodes(cli.probeRunner(io.liveRunner([])))));
        if (nodes.length === 0)
          throw new UsageError('--cluster needs --kubectl or at least one --node-exec name=prefix');
        const live = io.liveRunner;
        const res = await takeClusterSnapshot((prefix) => cli.probeRunner(live(prefix), prefix), {
          output: o.output,
          nodes,
          concurrency: Number(o.concurrency),
          timeoutMs: Number(o.timeout),
          ...(redact ? { redact } : {}),
        });
        summary(res.summary);
        // some nodes are missing (exit 3): the first one, on stderr, as for any source that could not be read
        const lost = res.summary.split('\n').filter((l) => / not captured — /.test(l));
        if (lost.length)
          io.stderr(
            `netpath: ${lost[0]}${lost.length > 1 ? ` (and ${lost.length - 1} more node${lost.length > 2 ? 's' : ''})` : ''}\n`,
          );
        cli.setExit(res.exitCode);
        return;
      }
      const prefix = o.exec === undefined ? [] : execPrefix(o.exec);
      if (o.exec !== undefined && prefix.length === 0) throw new UsageError('--exec needs a command prefix');
      if (!io.liveRunner) throw new UsageError('live probing is not available in this build');
      const { takeSnapshot } = await import('../commands/snapshot.js');
      const progress =
        io.isStderrTTY && !cli.quiet() && !cli.verbose()
          ? (id: string, done: number, total: number) => io.stderr(`\r[${done}/${total}] ${id.padEnd(40).slice(0, 40)}`)
          : undefined;
      const res = await takeSnapshot(cli.probeRunner(io.liveRunner(prefix), prefix), {
        output: o.output,
        timeoutMs: Number(o.timeout),
        ...(o.node ? { node: o.node } : {}),
        ...(progress ? { onProgress: progress } : {}),
        ...(redact ? { redact } : {}),
      });
      if (progress) io.stderr('\n');
      summary(res.summary);
      cli.setExit(res.exitCode);
    });
}
