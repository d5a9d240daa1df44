import { type Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import type { Trace } from '../model/trace.js';
import type { Runner } from '../exec/runner.js';
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

type TraceOptions = Common &
  Redact &
  Live & {
    proto: string;
    port?: string;
    sport?: string;
    backend?: string;
    cluster?: string;
    explain?: boolean;
    /** false with --no-kernel-routes */
    kernelRoutes?: boolean;
  };

/** `netpath trace <src> <dst>`: one node (live, --exec or --snapshot), or node to node over --cluster. */
export function registerTrace(program: Command, cli: Cli): void {
  const trace = program
    .command('trace')
    .description('reconstruct the path of a packet from <src> to <dst> on this node (or in a snapshot)')
    .argument('<src>', 'source: an IP address, NAMESPACE/POD or pod/[NAMESPACE/]NAME')
    .argument('<dst>', 'destination: an IP address, NAMESPACE/POD, pod/[NAMESPACE/]NAME or svc/[NAMESPACE/]NAME')
    .addOption(
      new Option('--proto <proto>', 'transport protocol').choices(['tcp', 'udp', 'icmp', 'sctp']).default('tcp'),
    )
    .option('--port <port>', 'destination port')
    .option('--sport <port>', 'source port')
    .option(
      '--backend <addr[:port]>',
      'for a Service destination: the backend to follow (default: the first active one)',
    );
  withSnapshot(trace);
  withExec(trace, 'probe a node through this prefix, split on spaces, no shell (e.g. "ssh node1")');
  trace.option(
    '--cluster <dir>',
    'a directory of node snapshots (<dir>/<node>/…): follow the packet from node to node',
  );
  withTimeout(trace);
  trace.option(
    '--no-kernel-routes',
    'live: read every route table even when one is large (by default, over 50,000 routes the kernel answers the route lookups: ip route get)',
  );
  withKube(withOutput(trace, 'trace', 'journey')).option(
    '--explain',
    'for each hop: what the mechanism is, why it applies here, and live commands (pwru, hubble, tcpdump, ip route get) that would confirm it',
  );
  withRedactOutput(withNoColor(trace), 'addresses, MAC addresses, WireGuard keys and node names')
    .addHelpText('after', cli.help('trace'))
    .action(async (src: string, dst: string, o: TraceOptions) => {
      const explain = o.explain ? (await import('../analysis/explain.js')).explainTrace : (t: Trace) => t;
      const format = chooseFormat(o, 'trace', 'journey');
      checkTimeout(o);
      const redact = await redactOption(o);
      const nodeName = redact ? { nodeName: (n: string) => redact.redactor.nodeName(n) } : {};
      const request = {
        src,
        dst,
        proto: o.proto,
        protoExplicit: trace.getOptionValueSource('proto') !== 'default',
        kube: cli.kube(o),
        ...(o.port !== undefined ? { port: o.port } : {}),
        ...(o.sport !== undefined ? { sport: o.sport } : {}),
        ...(o.backend !== undefined ? { backend: o.backend } : {}),
      };
      if (o.cluster !== undefined) {
        if (o.snapshot !== undefined || o.exec !== undefined)
          throw new UsageError('--cluster excludes --snapshot and --exec');
        const { runClusterTrace } = await import('../commands/trace-cluster.js');
        const { journey, exitCode, unreadable } = await runClusterTrace(o.cluster, request, nodeName);
        const legs = journey.legs.map((l) => ({ ...l, trace: explain(l.trace) }));
        await cli.emit(format, 'journey', redacted(redact, { ...journey, legs }), o);
        notePartial(cli.io, unreadable, redact);
        cli.setExit(exitCode);
        return;
      }
      // trace-defers imports no parser: the command and every parser (zod builds its schemas as they load: ~40 ms
      // of CPU on the bench, bench/RESULTS.md live7) load once the live probes have started (setImmediate runs
      // after their spawns), while they run
      const { traceDefers } = await import('../collect/trace-defers.js');
      // live, the route tables are read only if the kernel does not answer (they may be large)
      const kernelRoutes = o.kernelRoutes !== false && o.snapshot === undefined;
      const early = kernelRoutes ? await kernelRoutesEarly(src, dst) : undefined;
      const command = new Promise((loaded) => setImmediate(loaded)).then(() => import('../commands/trace.js'));
      // awaited below; a failed load must not count as unhandled meanwhile
      command.catch(() => {});
      const source = await sourceFor(o, cli.io, {
        ...cli.sourceOptions(),
        defer: traceDefers(src, dst, kernelRoutes),
        early,
      });
      const { runTrace } = await command;
      const { trace: t, exitCode, unreadable } = await runTrace(source, request, { ...nodeName, kernelRoutes });
      await cli.emit(format, 'trace', redacted(redact, explain(t)), o);
      notePartial(cli.io, unreadable, redact);
      cli.setExit(exitCode);
    });
}

/**
 * A live trace between two addresses starts the kernel-route reads of the destination's family with the node
 * probes (collect/kernel-routes.ts startKernelRoutes); a name is resolved first and reads the whole node instead.
 */
async function kernelRoutesEarly(src: string, dst: string): Promise<((run: Runner) => void) | undefined> {
  const { canonIp } = await import('../model/addr.js');
  const d = canonIp(dst);
  if (canonIp(src) === null || d === null) return undefined;
  const { startKernelRoutes } = await import('../collect/kernel-routes.js');
  return (run) => startKernelRoutes(run, d.includes(':') ? 6 : 4, { src: canonIp(src)!, dst: d });
}
