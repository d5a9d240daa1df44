import { Command, CommanderError, Option } from 'commander';
import { describeError, exitCodeFor, EXIT, UsageError } from './errors.js';
import { openSnapshot, type ProbeSource } from './collect/source.js';
import { runTrace } from './commands/trace.js';
import { chooseFormat, formatsFor, renderOutput, type OutputFormat, type OutputKind, type Outputs } from './render/output.js';
import { describeAllowList } from './exec/allowlist.js';
import type { Runner } from './exec/runner.js';
import { BUILD_INFO } from './build-info.js';
import { checkKubeTarget, type KubeTarget } from './collect/kube.js';
import type { Trace } from './model/trace.js';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  columns?: number;
  /** live probes; injected so tests never touch the real node by accident */
  runner?: () => Promise<Runner>;
  /** a live runner with an exec prefix, for `snapshot` */
  liveRunner?: (prefix: string[]) => Runner;
  isStderrTTY?: boolean;
  /** runs kubectl on this machine (never through --exec) to turn pod and Service names into addresses */
  kubectl?: Runner;
  /** `kubectl netpath` when run as a kubectl plugin, for usage and help */
  programName?: string;
}

interface Common {
  context?: string;
  namespace?: string;
  snapshot?: string;
  json?: boolean;
  output?: string;
  color?: boolean;
}


/** Parses argv, runs one command, returns the exit code. The only place that knows about argv and exit codes. */
export async function main(argv: string[], io: Io): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command(io.programName ?? 'netpath')
    .description('Explain how a packet travels through a Cilium native-routing node, from read-only probes or a snapshot.')
    .version(`${BUILD_INFO.version} (commit ${BUILD_INFO.commit})`, '-V, --version', 'print the version and the git commit it was built from')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  const colorFor = (o: Common): boolean => o.color !== false && io.isTTY && io.env.NO_COLOR === undefined;
  const width = io.columns ?? 120;
  /** `-o FORMAT` (and its alias `--json`), offered with every format that renders all of `kinds` */
  const withOutput = (cmd: Command, ...kinds: OutputKind[]): Command =>
    cmd
      .option('-o, --output <format>', `output format: ${formatsFor(...kinds).join('|')}`)
      .option('--json', 'same as -o json: the versioned JSON contract');
  /** `--context` / `--namespace`, passed through to kubectl when a name has to be resolved */
  const withKube = (cmd: Command): Command =>
    cmd
      .option('--context <name>', 'kubeconfig context kubectl resolves names in')
      .option('-n, --namespace <ns>', 'namespace for pod/NAME and svc/NAME (default: kubectl\'s current one)');
  const kubeFor = (o: Common): KubeTarget => {
    const t: KubeTarget = { ...(io.kubectl ? { runner: io.kubectl } : {}), ...(o.context !== undefined ? { context: o.context } : {}), ...(o.namespace !== undefined ? { namespace: o.namespace } : {}) };
    checkKubeTarget(t);
    return t;
  };
  const emit = async <K extends OutputKind>(format: OutputFormat, kind: K, value: Outputs[K], o: Common) =>
    io.stdout(await renderOutput(format, kind, value, { color: colorFor(o), width }));

  const trace = program
    .command('trace')
    .description('reconstruct the path of a packet from <src> to <dst> on this node (or in a snapshot)')
    .argument('<src>', 'source: an IP address, NAMESPACE/POD or pod/[NAMESPACE/]NAME')
    .argument('<dst>', 'destination: an IP address, NAMESPACE/POD, pod/[NAMESPACE/]NAME or svc/[NAMESPACE/]NAME')
    .addOption(new Option('--proto <proto>', 'transport protocol').choices(['tcp', 'udp', 'icmp', 'sctp']).default('tcp'))
    .option('--port <port>', 'destination port')
    .option('--sport <port>', 'source port')
    .option('--backend <addr[:port]>', 'for a Service destination: the backend to follow (default: the first active one)')
    .option('-s, --snapshot <dir|file.tar.gz>', 'read a snapshot instead of probing this node')
    .option('--exec <prefix>', 'probe a node through this prefix, split on spaces, no shell (e.g. "ssh node1")')
    .option('--cluster <dir>', 'a directory of node snapshots (<dir>/<node>/…): follow the packet from node to node');
  withKube(withOutput(trace, 'trace', 'journey'))
    .option('--explain', 'for each hop: what the mechanism is, why it applies here, and live commands (pwru, hubble, tcpdump, ip route get) that would confirm it')
    .option('--no-color', 'never colour the output')
    .addHelpText(
      'after',
      `
Examples:
  netpath trace 10.244.1.12 10.244.2.7 --snapshot fixtures/snapshots/kind-v4/k1
  netpath trace 10.244.1.12 1.1.1.1 --proto udp --port 53 --json
  netpath trace 2001:db8:42::a:5 2001:db8:42::c:9 -s node-a.tar.gz
  netpath trace 2001:db8:42::a:5 2001:db8:42::c:9 --cluster fixtures/snapshots/v6-wg   # node by node

Exit codes: 0 delivered/forwarded, 1 dropped/no route, 2 usage, 3 a required source is missing or unreadable.`,
    )
    .action(async (src: string, dst: string, o: Common & { proto: string; port?: string; sport?: string; backend?: string; cluster?: string; exec?: string; explain?: boolean }) => {
      const explain = o.explain ? (await import('./analysis/explain.js')).explainTrace : (t: Trace) => t;
      const format = chooseFormat(o, 'trace', 'journey');
      const base = { src, dst, proto: o.proto, protoExplicit: trace.getOptionValueSource('proto') !== 'default', kube: kubeFor(o) };
      if (o.cluster !== undefined) {
        if (o.snapshot !== undefined || o.exec !== undefined) throw new UsageError('--cluster excludes --snapshot and --exec');
        const { runClusterTrace } = await import('./commands/trace-cluster.js');
        const { journey, exitCode: code } = await runClusterTrace(o.cluster, { ...base, ...(o.port !== undefined ? { port: o.port } : {}), ...(o.sport !== undefined ? { sport: o.sport } : {}), ...(o.backend !== undefined ? { backend: o.backend } : {}) });
        await emit(format, 'journey', { ...journey, legs: journey.legs.map((l) => ({ ...l, trace: explain(l.trace) })) }, o);
        exitCode = code;
        return;
      }
      const source = await sourceFor(o, io);
      const { trace: t, exitCode: code } = await runTrace(source, { ...base, ...(o.port !== undefined ? { port: o.port } : {}), ...(o.sport !== undefined ? { sport: o.sport } : {}), ...(o.backend !== undefined ? { backend: o.backend } : {}) });
      await emit(format, 'trace', explain(t), o);
      exitCode = code;
    });

  const svc = program.command('svc').description('Services: what a frontend resolves to, and which layer programs it');
  const lookup = svc
    .command('lookup')
    .description('every frontend matching <address[:port][/proto] | namespace/name>, its backends, and the layers that program it')
    .argument('<query>', 'e.g. 10.96.0.10:53/udp, [2001:db8::a]:443, kube-system/kube-dns')
    .option('-s, --snapshot <dir|file.tar.gz>', 'read a snapshot instead of probing this node')
    .option('--exec <prefix>', 'probe a node through this prefix (argv, no shell)');
  withKube(withOutput(lookup, 'svc'))
    .option('--no-color', 'never colour the output')
    .addHelpText(
      'after',
      `
Examples:
  netpath svc lookup 10.96.0.10:53/udp --snapshot node1/
  netpath svc lookup kube-system/kube-dns --json

Sources: Cilium's pinned LB maps (decoded from raw bytes, works with the agent down), cilium-dbg service list /
bpf lb list, kube-proxy iptables-save, the kube-proxy nftables table, ipvsadm. A conflict is reported when two
layers program the same frontend differently. Exit 0 found, 1 no frontend matches, 2 usage, 3 no Service source.`,
    )
    .action(async (query: string, o: Common & { exec?: string }) => {
      const format = chooseFormat(o, 'svc');
      const kube = kubeFor(o);
      const source = await sourceFor(o, io);
      const { runSvcLookup } = await import('./commands/svc-lookup.js');
      const res = await runSvcLookup(source, query, kube);
      await emit(format, 'svc', { node: res.node, query, result: res.result }, o);
      exitCode = res.exitCode;
    });

  program
    .command('snapshot')
    .description('capture this node (or one reached through --exec) into a snapshot directory or .tar.gz')
    .option('-o, --output <dir|file.tar.gz>', 'where to write the snapshot', 'netpath-snapshot')
    .option('--exec <prefix>', 'run every probe through this prefix, split on spaces, no shell (e.g. "ip netns exec node1", "ssh node1")')
    .option('--node <name>', 'node name for the manifest (default: uname -n of the node)')
    .option('--timeout <ms>', 'per-probe timeout in milliseconds', '20000')
    .option('--cluster', 'capture several nodes into <output>/<node>/ (give each with --node-exec)')
    .option('--node-exec <name=prefix...>', 'with --cluster: a node and the prefix that reaches it, e.g. node1="ssh node1"')
    .option('--concurrency <n>', 'with --cluster: nodes captured at once', '8')
    .option('--kubectl', 'with --cluster: find the nodes with kubectl (the Cilium agent pod on each) and probe through kubectl exec')
    .addHelpText(
      'after',
      `
Examples:
  netpath snapshot -o /tmp/node1                      # this node
  netpath snapshot -o node1.tar.gz --exec "ssh node1"  # a node reached over ssh; nothing is installed there
  netpath snapshot -o n1 --exec "ip netns exec lab-n1"

WireGuard private and preshared keys are replaced by (redacted) before anything is written.`,
    )
    .action(async (o: { output: string; exec?: string; node?: string; timeout: string; cluster?: boolean; nodeExec?: string[]; concurrency: string; kubectl?: boolean }) => {
      if (!/^\d{1,7}$/.test(o.timeout)) throw new UsageError(`--timeout must be milliseconds, not ${JSON.stringify(o.timeout)}`);
      if (o.cluster) {
        if (!io.liveRunner) throw new UsageError('live probing is not available in this build');
        if (!/^\d{1,4}$/.test(o.concurrency) || Number(o.concurrency) < 1) throw new UsageError('--concurrency must be a positive number');
        const nodes = (o.nodeExec ?? []).map((spec) => {
          const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62})=(.+)$/.exec(spec);
          if (!m) throw new UsageError(`--node-exec takes name=prefix, not ${JSON.stringify(spec)}`);
          const prefix = m[2]!.trim().split(/\s+/);
          return { name: m[1]!, prefix };
        });
        const { takeClusterSnapshot, discoverCiliumNodes } = await import('./commands/snapshot.js');
        if (o.kubectl) nodes.push(...(await discoverCiliumNodes(io.liveRunner([]))));
        if (nodes.length === 0) throw new UsageError('--cluster needs --kubectl or at least one --node-exec name=prefix');
        const live = io.liveRunner;
        const res = await takeClusterSnapshot((prefix) => live(prefix), { output: o.output, nodes, concurrency: Number(o.concurrency), timeoutMs: Number(o.timeout) });
        io.stdout(`${res.summary}\n`);
        exitCode = res.exitCode;
        return;
      }
      const prefix = o.exec === undefined ? [] : o.exec.trim().split(/\s+/).filter((x) => x !== '');
      if (o.exec !== undefined && prefix.length === 0) throw new UsageError('--exec needs a command prefix');
      if (!io.liveRunner) throw new UsageError('live probing is not available in this build');
      const { takeSnapshot } = await import('./commands/snapshot.js');
      const progress = io.isStderrTTY ? (id: string, done: number, total: number) => io.stderr(`\r[${done}/${total}] ${id.padEnd(40).slice(0, 40)}`) : undefined;
      const res = await takeSnapshot(io.liveRunner(prefix), { output: o.output, timeoutMs: Number(o.timeout), ...(o.node ? { node: o.node } : {}), ...(progress ? { onProgress: progress } : {}) });
      if (progress) io.stderr('\n');
      io.stdout(`${res.summary}\n`);
      exitCode = res.exitCode;
    });

  program
    .command('commands')
    .description('list every command netpath may run on a node (the read-only allow-list)')
    .action(() => {
      io.stdout(describeAllowList().join('\n') + '\n');
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    io.stderr(`netpath: ${describeError(err)}\n`);
    return exitCodeFor(err);
  }
}

async function sourceFor(o: Common & { exec?: string }, io: Io): Promise<ProbeSource> {
  if (o.snapshot !== undefined && o.exec !== undefined) throw new UsageError('--snapshot and --exec exclude each other');
  if (o.exec !== undefined) {
    const prefix = o.exec.trim().split(/\s+/).filter((x) => x !== '');
    if (prefix.length === 0 || !io.liveRunner) throw new UsageError('--exec needs a command prefix');
    const { liveSource } = await import('./collect/live-source.js');
    return liveSource(io.liveRunner(prefix));
  }
  if (o.snapshot !== undefined) {
    const opened = await openSnapshot(o.snapshot);
    for (const w of opened.warnings) io.stderr(`netpath: warning: ${w}\n`);
    return opened.source;
  }
  if (!io.runner) throw new UsageError('live probing is not available in this build; use --snapshot');
  const { liveSource } = await import('./collect/live-source.js');
  return liveSource(await io.runner());
}
