import { Argument, Command, CommanderError, Option } from 'commander';
import { canonIp } from './model/addr.js';
import { describeError, exitCodeFor, EXIT, UsageError } from './errors.js';
import { loggingSource, openSnapshot, type ProbeSource } from './collect/source.js';
import { runTrace } from './commands/trace.js';
import {
  chooseFormat,
  formatsFor,
  renderOutput,
  type OutputFormat,
  type OutputKind,
  type Outputs,
} from './render/output.js';
import { safeText } from './render/terminal-safe.js';
import { describeAllowList } from './exec/allowlist.js';
import type { Runner } from './exec/runner.js';
import { BUILD_INFO } from './build-info.js';
import { checkKubeTarget, type KubeTarget } from './collect/kube.js';
import type { Trace } from './model/trace.js';
import { loggingRunner, type ProbeLog } from './exec/verbose.js';
import type { CliSpec, CmdSpec, OptSpec } from './render/cli-spec.js';
import { renderCompletion, SHELLS, type Shell } from './render/completion.js';
import { renderMan } from './render/man.js';

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
  /** the node of a cilium sysdump given as --snapshot */
  node?: string;
  json?: boolean;
  output?: string;
  color?: boolean;
}

/**
 * Examples shown by --help and in the man page. Each one runs as written from the repository root (a test runs
 * them all on the bundled snapshots: exit 0 or 1, never 2 or 3); live examples would need a node.
 */
const EXAMPLES: Record<string, [command: string, comment?: string][]> = {
  trace: [
    [
      'netpath trace 10.244.1.12 10.244.2.7 --port 8080 -s fixtures/snapshots/kind-v4/k1',
      'pod to a pod on another node',
    ],
    [
      'netpath trace default/web-k1a default/web-k1b -s fixtures/snapshots/kind-v4/k1 -o table',
      "pod names, from the node's Cilium endpoints",
    ],
    [
      'netpath trace 10.244.1.12 10.96.0.10 --proto udp --port 53 -s fixtures/snapshots/kind-v4-svc/k1 -o wide',
      'to a Service',
    ],
    ['netpath trace 2001:db8:42::a:5 2001:db8:42::c:9 --cluster fixtures/snapshots/v6-wg -o json', 'node by node'],
    [
      'netpath trace 10.244.1.12 10.244.1.57 -s fixtures/snapshots/kind-v4/k1 --explain',
      'why each hop, and live commands to confirm it',
    ],
    [
      'netpath trace 2001:db8:1::10 2001:db8:77::1 -s fixtures/snapshots/v6-wg/gateway -q',
      'no route: exit 1, one line',
    ],
  ],
  'svc lookup': [
    ['netpath svc lookup 10.96.0.10:53/udp -s fixtures/snapshots/kind-v4-svc/k1'],
    [
      'netpath svc lookup default/web -s fixtures/snapshots/migrate-iptables/before -o wide',
      'by name (kube-proxy rules carry names)',
    ],
    ['netpath svc lookup 10.96.0.99 -s fixtures/snapshots/kind-v4-svc/k1 -q', 'nothing matches: exit 1'],
  ],
  diff: [
    [
      'netpath diff fixtures/snapshots/migrate-iptables/before fixtures/snapshots/migrate-iptables/after',
      'kube-proxy iptables mode → Cilium: clean',
    ],
    [
      'netpath diff fixtures/snapshots/migrate-ipvs/before fixtures/snapshots/migrate-ipvs/after-broken -q',
      'kube-ipvs0 and IPVS left behind: exit 1',
    ],
    [
      'netpath diff fixtures/snapshots/migrate-nft/before fixtures/snapshots/migrate-nft/after-broken -o json',
      'the JSON contract',
    ],
    ['netpath diff fixtures/snapshots/migrate-iptables/before live', 'after the migration, against this node'],
  ],
  node: [
    ['netpath node -s fixtures/snapshots/kind-v4/k1', 'each conclusion with the probe line it rests on'],
    ['netpath node -s fixtures/snapshots/v6-wg/gateway -o json', 'the JSON contract (docs/node.md)'],
  ],
  snapshot: [
    ['netpath snapshot -o /tmp/node1', 'this node, as root'],
    ['netpath snapshot -o node1.tar.gz --exec "ssh node1"', 'a node reached over ssh; nothing is installed there'],
    ['netpath snapshot --cluster -o lab --node-exec "node1=ssh node1" --node-exec "node2=ssh node2"'],
    ['netpath snapshot --redact -o share.tar.gz', 'to share outside the company'],
    [
      'netpath snapshot --redact --from fixtures/snapshots/kind-v4/k1 -o /tmp/k1-redacted',
      'redact a snapshot taken earlier',
    ],
  ],
  commands: [['netpath commands']],
  completion: [
    ['netpath completion bash', 'use: source <(netpath completion bash)'],
    ['netpath completion zsh', 'use: source <(netpath completion zsh)'],
    ['netpath completion fish', 'use: netpath completion fish > ~/.config/fish/completions/netpath.fish'],
  ],
  man: [['netpath man', 'read it: netpath man | man -l -']],
};

const SYSDUMP_NODE =
  'with a cilium sysdump as --snapshot (.zip or its folder): the node to read (node or Cilium pod name)';

const NOTES: Record<string, string> = {
  node: 'Check this before trusting a trace: a fact is known with its evidence (marked inferred when no line states it), or unknown with why. Missing probes are listed with the reason the source gives. Exit codes: 0 reported, 2 usage, 3 nothing could be read.',
  trace:
    'Without --snapshot, --exec or --cluster, netpath probes the node it runs on (as root, for bpftool). Exit codes: 0 delivered/forwarded, 1 dropped/no route, 2 usage, 3 a required source is missing or unreadable.',
  'svc lookup':
    "Sources: Cilium's pinned LB maps (decoded from raw bytes, works with the agent down), cilium-dbg service list / bpf lb list, kube-proxy iptables-save, the kube-proxy nftables table, ipvsadm. A conflict is reported when two layers program the same frontend differently. A namespace/name no node source carries is asked of kubectl, and the API's ready endpoints are compared with the node's backends. Exit 0 found, 1 no frontend matches, 2 usage, 3 no Service source.",
  diff: 'Each side is a snapshot directory, a .tar.gz, or live (this node, or the one --exec reaches). Exit codes: 0 clean migration, 1 regressions (a frontend lost or served differently, a kube-proxy leftover that still acts on packets, a flow that regressed), 2 usage, 3 a side (or a source of one) cannot be read: no verdict.',
  snapshot:
    'WireGuard private and preshared keys are replaced by (redacted) before anything is written. --redact also replaces every address (prefix-preserving), MAC address, WireGuard public key and node name, the same way in every file and on every node (README "Redaction").',
};

function examplesHelp(path: string, name: string): string {
  const ex = EXAMPLES[path] ?? [];
  const notes = NOTES[path];
  const width = Math.max(...ex.map(([c]) => c.length));
  const lines = ex.map(
    ([c, comment]) =>
      `  ${c.replace(/^netpath/, name)}${comment ? `${' '.repeat(width - c.length + 2)}# ${comment}` : ''}`,
  );
  return `${lines.length ? `\nExamples (the snapshots are in the netpath repository):\n${lines.join('\n')}\n` : ''}${notes ? `\n${notes}` : ''}`;
}

// Value placeholders that name paths get file (or directory) completion.
const pathValue = (value: string): OptSpec['complete'] | undefined =>
  /file|\.tar\.gz/.test(value) ? 'file' : /dir/.test(value) ? 'dir' : undefined;

function describeOption(o: Option): OptSpec {
  const value = /<[^>]+>|\[[^\]]+\]/.exec(o.flags)?.[0];
  const complete = value ? pathValue(value) : undefined;
  return {
    ...(o.short ? { short: o.short } : {}),
    long: o.long ?? o.flags,
    ...(value ? { value } : {}),
    ...(o.argChoices ? { choices: [...o.argChoices] } : {}),
    ...(complete ? { complete } : {}),
    description: o.description,
  };
}

/** The commander program as data, for completion scripts and the man page. */
export function describeProgram(program: Command): CliSpec {
  const cmd = (c: Command, parent: string[]): CmdSpec => {
    const path = [...parent, c.name()];
    const key = path.join(' ');
    return {
      name: c.name(),
      path,
      description: c.description(),
      args: c.registeredArguments.map((a) => ({
        name: a.name(),
        required: a.required,
        variadic: a.variadic,
        description: a.description,
        ...(a.argChoices ? { choices: [...a.argChoices] } : {}),
      })),
      options: c.options.map(describeOption),
      subcommands: c.commands.map((s) => cmd(s, path)),
      examples: (EXAMPLES[key] ?? []).map(([command, comment]) => ({ command, ...(comment ? { comment } : {}) })),
      ...(NOTES[key] ? { notes: NOTES[key] } : {}),
    };
  };
  return {
    name: 'netpath',
    version: `${BUILD_INFO.version} (commit ${BUILD_INFO.commit})`,
    description: program.description(),
    options: program.options.filter((o) => o.long !== '--version').map(describeOption),
    commands: program.commands.map((c) => cmd(c, [])),
  };
}

interface Live {
  exec?: string;
  timeout: string;
}

interface Redact {
  redact?: boolean;
  redactKeyFile?: string;
}

/** Parses argv, runs one command, returns the exit code. The only place that knows about argv and exit codes. */
export async function main(argv: string[], io: Io): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return EXIT.ok;
      return EXIT.usage;
    }
    io.stderr(`netpath: ${safeText(describeError(err))}\n`);
    return exitCodeFor(err);
  }
}

/** The command line as data (what completion and the man page are generated from). */
export function cliSpec(): CliSpec {
  return describeProgram(buildProgram({ stdout: () => {}, stderr: () => {}, isTTY: false, env: {} }, () => {}));
}

function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command(io.programName ?? 'netpath')
    .description(
      'Explain how a packet travels through a Cilium native-routing node, from read-only probes or a snapshot.',
    )
    .version(
      `${BUILD_INFO.version} (commit ${BUILD_INFO.commit})`,
      '-V, --version',
      'print the version and the git commit it was built from',
    )
    .exitOverride()
    // a usage error is one line, like every other error: `netpath: unknown option '--frob' (run with --help …)`
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (str, write) =>
        write(
          `netpath: ${str
            .replace(/^error: /, '')
            .split('\n')[0]!
            .trim()} (run with --help for usage)\n`,
        ),
    })
    .configureHelp({ showGlobalOptions: true })
    .option('-q, --quiet', 'print only the result line (and errors)')
    .option('-v, --verbose', 'log every probe on stderr: its command (or file), exit code, duration and output size')
    .hook('preAction', () => {
      if (g().quiet && g().verbose) throw new UsageError('--quiet and --verbose exclude each other');
    });
  const g = () => program.opts<{ quiet?: boolean; verbose?: boolean }>();
  const log: ProbeLog = (line) => io.stderr(`netpath: ${safeText(line)}\n`);
  /** every runner netpath hands a probe to goes through here, so --verbose sees them all */
  const probeRunner = (r: Runner, prefix: readonly string[] = []): Runner =>
    g().verbose ? loggingRunner(r, log, prefix) : r;

  // NO_COLOR (no-color.org): set and not empty disables colour; colour only on a terminal
  const colorFor = (o: Common): boolean => o.color !== false && io.isTTY && !io.env.NO_COLOR;
  const width = io.columns ?? 120;
  /** `-o FORMAT` (and its alias `--json`), offered with every format that renders all of `kinds` */
  const withOutput = (cmd: Command, ...kinds: OutputKind[]): Command => {
    const output = new Option('-o, --output <format>', 'output format (default: text)');
    // listed for --help and completion; checked by chooseFormat, whose error names them all
    output.argChoices = formatsFor(...kinds);
    return cmd.addOption(output).option('--json', 'same as -o json: the versioned JSON contract');
  };
  /** `--context` / `--namespace`, passed through to kubectl when a name has to be resolved */
  const withKube = (cmd: Command): Command =>
    cmd
      .option('--context <name>', 'kubeconfig context kubectl resolves names in')
      .option('-n, --namespace <ns>', "namespace for pod/NAME and svc/NAME (default: kubectl's current one)");
  const kubeFor = (o: Common): KubeTarget => {
    const t: KubeTarget = {
      ...(io.kubectl ? { runner: probeRunner(io.kubectl) } : {}),
      ...(o.context !== undefined ? { context: o.context } : {}),
      ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    };
    checkKubeTarget(t);
    return t;
  };
  const emit = async <K extends OutputKind>(format: OutputFormat, kind: K, value: Outputs[K], o: Common) =>
    io.stdout(await renderOutput(format, kind, value, { color: colorFor(o), width, quiet: g().quiet === true }));
  const sourceOpts = () => ({ quiet: g().quiet === true, verbose: g().verbose === true, probeRunner, log });

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
    )
    .option('-s, --snapshot <dir|file.tar.gz>', 'read a snapshot instead of probing this node')
    .option('--node <name>', SYSDUMP_NODE)
    .option('--exec <prefix>', 'probe a node through this prefix, split on spaces, no shell (e.g. "ssh node1")')
    .option('--cluster <dir>', 'a directory of node snapshots (<dir>/<node>/…): follow the packet from node to node')
    .option('--timeout <ms>', 'probing live or with --exec: per-probe timeout in milliseconds', '20000');
  withKube(withOutput(trace, 'trace', 'journey'))
    .option(
      '--explain',
      'for each hop: what the mechanism is, why it applies here, and live commands (pwru, hubble, tcpdump, ip route get) that would confirm it',
    )
    .option('--no-color', 'never colour the output')
    .option('--redact', 'print addresses, MAC addresses, WireGuard keys and node names redacted (as snapshot --redact)')
    .option(
      '--redact-key-file <file>',
      'with --redact: the mapping of snapshot --redact --redact-key-file with the same file',
    )
    .addHelpText('after', () => examplesHelp('trace', program.name()))
    .action(
      async (
        src: string,
        dst: string,
        o: Common &
          Redact &
          Live & {
            proto: string;
            port?: string;
            sport?: string;
            backend?: string;
            cluster?: string;
            explain?: boolean;
          },
      ) => {
        const explain = o.explain ? (await import('./analysis/explain.js')).explainTrace : (t: Trace) => t;
        const format = chooseFormat(o, 'trace', 'journey');
        checkTimeout(o);
        const redact = await redactOption(o);
        const nodeName = redact ? { nodeName: (n: string) => redact.redactor.nodeName(n) } : {};
        const base = {
          src,
          dst,
          proto: o.proto,
          protoExplicit: trace.getOptionValueSource('proto') !== 'default',
          kube: kubeFor(o),
        };
        if (o.cluster !== undefined) {
          if (o.snapshot !== undefined || o.exec !== undefined)
            throw new UsageError('--cluster excludes --snapshot and --exec');
          const { runClusterTrace } = await import('./commands/trace-cluster.js');
          const {
            journey,
            exitCode: code,
            unreadable,
          } = await runClusterTrace(
            o.cluster,
            {
              ...base,
              ...(o.port !== undefined ? { port: o.port } : {}),
              ...(o.sport !== undefined ? { sport: o.sport } : {}),
              ...(o.backend !== undefined ? { backend: o.backend } : {}),
            },
            nodeName,
          );
          await emit(
            format,
            'journey',
            redacted(redact, { ...journey, legs: journey.legs.map((l) => ({ ...l, trace: explain(l.trace) })) }),
            o,
          );
          notePartial(io, unreadable, redact);
          setExit(code);
          return;
        }
        const source = await sourceFor(o, io, { ...sourceOpts(), defer: traceDefers(src, dst) });
        const {
          trace: t,
          exitCode: code,
          unreadable,
        } = await runTrace(
          source,
          {
            ...base,
            ...(o.port !== undefined ? { port: o.port } : {}),
            ...(o.sport !== undefined ? { sport: o.sport } : {}),
            ...(o.backend !== undefined ? { backend: o.backend } : {}),
          },
          nodeName,
        );
        await emit(format, 'trace', redacted(redact, explain(t)), o);
        notePartial(io, unreadable, redact);
        setExit(code);
      },
    );

  const svc = program.command('svc').description('Services: what a frontend resolves to, and which layer programs it');
  const lookup = svc
    .command('lookup')
    .description(
      'every frontend matching <address[:port][/proto] | namespace/name>, its backends, and the layers that program it',
    )
    .argument('<query>', 'e.g. 10.96.0.10:53/udp, [2001:db8::a]:443, kube-system/kube-dns')
    .option('-s, --snapshot <dir|file.tar.gz>', 'read a snapshot instead of probing this node')
    .option('--node <name>', SYSDUMP_NODE)
    .option('--exec <prefix>', 'probe a node through this prefix (argv, no shell)')
    .option('--timeout <ms>', 'probing live or with --exec: per-probe timeout in milliseconds', '20000');
  withKube(withOutput(lookup, 'svc'))
    .option('--no-color', 'never colour the output')
    .option('--redact', 'print addresses, MAC addresses and node names redacted (as snapshot --redact)')
    .option(
      '--redact-key-file <file>',
      'with --redact: the mapping of snapshot --redact --redact-key-file with the same file',
    )
    .addHelpText('after', () => examplesHelp('svc lookup', program.name()))
    .action(async (query: string, o: Common & Redact & Live) => {
      const format = chooseFormat(o, 'svc');
      checkTimeout(o);
      const redact = await redactOption(o);
      const kube = kubeFor(o);
      const source = await sourceFor(o, io, sourceOpts());
      const { runSvcLookup } = await import('./commands/svc-lookup.js');
      const res = await runSvcLookup(source, query, kube);
      await emit(format, 'svc', redacted(redact, { node: res.node, query, result: res.result }), o);
      notePartial(io, res.unreadable, redact);
      setExit(res.exitCode);
    });

  const diff = program
    .command('diff')
    .description('what changes on a node when kube-proxy is removed: Service parity, leftovers, paths, behaviour')
    .argument('<before>', 'snapshot directory, .tar.gz, or "live"')
    .argument('<after>', 'snapshot directory, .tar.gz, or "live"')
    .option('--exec <prefix>', 'for a "live" side: probe the node through this prefix (argv, no shell)')
    .option('--max-flows <n>', 'trace at most this many representative flows on each side (0: none)', '40')
    .option('--all', 'also list the unchanged frontends and flows')
    .option('--node <name>', 'for a side that is a cilium sysdump (.zip or its folder): the node to read')
    .option('--timeout <ms>', 'for a "live" side: per-probe timeout in milliseconds', '20000');
  withOutput(diff, 'diff')
    .option('--no-color', 'never colour the output')
    .addHelpText('after', () => examplesHelp('diff', program.name()))
    .action(async (beforeSpec: string, afterSpec: string, o: Common & Live & { maxFlows: string; all?: boolean }) => {
      const format = chooseFormat(o, 'diff');
      checkTimeout(o);
      if (!/^\d{1,5}$/.test(o.maxFlows))
        throw new UsageError(`--max-flows must be a number, not ${JSON.stringify(o.maxFlows)}`);
      if (beforeSpec === 'live' && afterSpec === 'live')
        throw new UsageError('before and after cannot both be "live": snapshot the node before the migration');
      const { isSysdump } = await import('./collect/sysdump.js');
      if (o.exec !== undefined && beforeSpec !== 'live' && afterSpec !== 'live')
        throw new UsageError('--exec applies to a "live" side; neither side is live');
      if (o.node !== undefined && ![beforeSpec, afterSpec].some((x) => x !== 'live' && isSysdump(x)))
        throw new UsageError('--node picks the node of a cilium sysdump side; neither side is a sysdump');
      const { openSide, runDiff } = await import('./commands/diff.js');
      const so = sourceOpts();
      const live = async (): Promise<ProbeSource> =>
        sourceFor({ ...(o.exec !== undefined ? { exec: o.exec } : {}), timeout: o.timeout }, io, so);
      const warn = (w: string) => {
        if (!so.quiet) io.stderr(`netpath: warning: ${safeText(String(w))}\n`);
      };
      const side = async (spec: string, label: 'before' | 'after') => {
        const src = await openSide(spec, label, live, warn, o.node);
        return so.verbose && spec !== 'live' ? loggingSource(src, so.log) : src;
      };
      const before = await side(beforeSpec, 'before');
      const after = await side(afterSpec, 'after');
      const { diff: d, exitCode: code, unreadable } = await runDiff(before, after, { maxFlows: Number(o.maxFlows) });
      io.stdout(
        await renderOutput(format, 'diff', d, {
          color: colorFor(o),
          width,
          quiet: so.quiet,
          ...(o.all ? { verbose: true } : {}),
        }),
      );
      notePartial(io, unreadable, undefined);
      setExit(code);
    });

  // `netpath node`: what netpath concluded about the node (src/commands/node.ts, src/render/node.ts)
  const nodeCmd = program
    .command('node')
    .description(
      'what netpath concluded about a node (routing, host routing, kube-proxy replacement, socket LB, masquerade, …), each with its evidence',
    )
    .option('-s, --snapshot <dir|file.tar.gz>', 'read a snapshot instead of probing this node')
    .option('--node <name>', SYSDUMP_NODE)
    .option('--exec <prefix>', 'probe a node through this prefix (argv, no shell)')
    .option('--timeout <ms>', 'probing live or with --exec: per-probe timeout in milliseconds', '20000');
  withOutput(nodeCmd, 'node')
    .option('--no-color', 'never colour the output')
    .addHelpText('after', () => examplesHelp('node', program.name()))
    .action(async (o: Common & Live) => {
      const format = chooseFormat(o, 'node');
      checkTimeout(o);
      const source = await sourceFor(o, io, sourceOpts());
      const { runNode } = await import('./commands/node.js');
      const res = await runNode(source);
      await emit(format, 'node', res.report, o);
      setExit(res.exitCode);
    });

  program
    .command('snapshot')
    .description('capture this node (or one reached through --exec) into a snapshot directory or .tar.gz')
    .option('-o, --output <dir|file.tar.gz>', 'where to write the snapshot', 'netpath-snapshot')
    .option(
      '--exec <prefix>',
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
    .addHelpText('after', () => examplesHelp('snapshot', program.name()))
    .action(
      async (o: {
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
      }) => {
        if (!/^\d{1,7}$/.test(o.timeout))
          throw new UsageError(`--timeout must be milliseconds, not ${JSON.stringify(o.timeout)}`);
        const redact = await redactOption(o);
        if (o.from !== undefined && (await import('./collect/sysdump.js')).isSysdump(o.from)) {
          if (o.exec !== undefined || o.nodeExec !== undefined || o.kubectl || o.cluster)
            throw new UsageError('--from reads a sysdump: it excludes --exec, --node-exec, --kubectl and --cluster');
          const { convertSysdump } = await import('./commands/snapshot.js');
          const res = await convertSysdump({
            from: o.from,
            node: o.node,
            output: o.output,
            ...(redact ? { redact } : {}),
          });
          io.stdout(`${g().quiet ? res.summary.split('\n')[0] : res.summary}\n`);
          setExit(res.exitCode);
          return;
        }
        if (o.from !== undefined) {
          if (!redact) throw new UsageError('--from needs --redact (it rewrites an existing snapshot redacted)');
          if (o.exec !== undefined || o.nodeExec !== undefined || o.kubectl)
            throw new UsageError('--from reads a snapshot: it excludes --exec, --node-exec and --kubectl');
          const { redactSnapshot } = await import('./commands/snapshot.js');
          const res = await redactSnapshot({ from: o.from, output: o.output, cluster: o.cluster === true, redact });
          io.stdout(`${g().quiet ? res.summary.split('\n')[0] : res.summary}\n`);
          setExit(res.exitCode);
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
          const { takeClusterSnapshot, discoverCiliumNodes } = await import('./commands/snapshot.js');
          if (o.kubectl) nodes.push(...(await discoverCiliumNodes(probeRunner(io.liveRunner([])))));
          if (nodes.length === 0)
            throw new UsageError('--cluster needs --kubectl or at least one --node-exec name=prefix');
          const live = io.liveRunner;
          const res = await takeClusterSnapshot((prefix) => probeRunner(live(prefix), prefix), {
            output: o.output,
            nodes,
            concurrency: Number(o.concurrency),
            timeoutMs: Number(o.timeout),
            ...(redact ? { redact } : {}),
          });
          io.stdout(`${g().quiet ? res.summary.split('\n')[0] : res.summary}\n`);
          // some nodes are missing (exit 3): the first one, on stderr, as for any source that could not be read
          const lost = res.summary.split('\n').filter((l) => / not captured — /.test(l));
          if (lost.length)
            io.stderr(
              `netpath: ${lost[0]}${lost.length > 1 ? ` (and ${lost.length - 1} more node${lost.length > 2 ? 's' : ''})` : ''}\n`,
            );
          setExit(res.exitCode);
          return;
        }
        const prefix =
          o.exec === undefined
            ? []
            : o.exec
                .trim()
                .split(/\s+/)
                .filter((x) => x !== '');
        if (o.exec !== undefined && prefix.length === 0) throw new UsageError('--exec needs a command prefix');
        if (!io.liveRunner) throw new UsageError('live probing is not available in this build');
        const { takeSnapshot } = await import('./commands/snapshot.js');
        const progress =
          io.isStderrTTY && !g().quiet && !g().verbose
            ? (id: string, done: number, total: number) =>
                io.stderr(`\r[${done}/${total}] ${id.padEnd(40).slice(0, 40)}`)
            : undefined;
        const res = await takeSnapshot(probeRunner(io.liveRunner(prefix), prefix), {
          output: o.output,
          timeoutMs: Number(o.timeout),
          ...(o.node ? { node: o.node } : {}),
          ...(progress ? { onProgress: progress } : {}),
          ...(redact ? { redact } : {}),
        });
        if (progress) io.stderr('\n');
        io.stdout(`${g().quiet ? res.summary.split('\n')[0] : res.summary}\n`);
        setExit(res.exitCode);
      },
    );

  program
    .command('commands')
    .description('list every command netpath may run on a node (the read-only allow-list)')
    .addHelpText('after', () => examplesHelp('commands', program.name()))
    .action(() => {
      io.stdout(describeAllowList().join('\n') + '\n');
    });

  program
    .command('completion')
    .description('print a shell completion script, generated from these commands and options')
    .addArgument(new Argument('<shell>', 'the shell').choices([...SHELLS]))
    .addHelpText('after', () => examplesHelp('completion', program.name()))
    .action((shell: Shell) => {
      io.stdout(renderCompletion(shell, describeProgram(program)));
    });

  program
    .command('man')
    .description('print the manual page (roff), generated from these commands, options and examples')
    .addHelpText('after', () => examplesHelp('man', program.name()))
    .action(() => {
      io.stdout(renderMan(describeProgram(program)));
    });

  return program;
}

/**
 * --redact on a command's answer: the value is redacted before any format renders it (every string as text,
 * prefixes and node-name fields as such), so text, JSON, YAML, tables and diagrams all show the placeholders.
 */
function redacted<T>(r: import('./commands/snapshot.js').RedactOption | undefined, value: T): T {
  if (!r) return value;
  const plain = JSON.stringify(value);
  r.redactor.learnKeys(plain);
  return r.redactor.json(JSON.parse(plain)) as T;
}

function checkTimeout(o: { timeout: string }): void {
  if (!/^\d{1,7}$/.test(o.timeout) || Number(o.timeout) < 1)
    throw new UsageError(`--timeout must be milliseconds, not ${JSON.stringify(o.timeout)}`);
}

/**
 * The answer stands but some source it could have used was unreadable or unparseable: one line on stderr names
 * the first (the answer's warnings list them all), so a script reading the JSON still sees it.
 */
function notePartial(io: Io, unreadable: string[], r: import('./commands/snapshot.js').RedactOption | undefined): void {
  if (unreadable.length === 0) return;
  const line = `netpath: warning: ${unreadable[0]}${unreadable.length > 1 ? ` (and ${unreadable.length - 1} more unreadable source${unreadable.length > 2 ? 's' : ''}, listed in the warnings)` : ''}`;
  io.stderr(`${r ? r.redactor.text(line) : line}\n`);
}

/** --redact / --redact-key-file: the Redactor, or undefined when neither is given. */
async function redactOption(o: {
  redact?: boolean;
  redactKeyFile?: string;
}): Promise<import('./commands/snapshot.js').RedactOption | undefined> {
  if (!o.redact && o.redactKeyFile === undefined) return undefined;
  const { Redactor } = await import('./redact/redactor.js');
  return o.redactKeyFile !== undefined
    ? { redactor: Redactor.fromKeyFile(o.redactKeyFile), keySource: 'key-file' }
    : { redactor: new Redactor(), keySource: 'random' };
}

/**
 * Live probes a trace between two addresses reads only if its path needs them (loadForFlow): the
 * other family's route table, and pod namespaces' links and routes; they run when first read.
 * Names need the whole node: nothing is deferred.
 */
function traceDefers(src: string, dst: string): ((id: string) => boolean) | undefined {
  const a = canonIp(src);
  const b = canonIp(dst);
  if (a === null || b === null) return undefined;
  const other = b.includes(':') ? 'ip-route4' : 'ip-route6';
  return (id) => id === other || /^netns\/[^/]+\/(ip-link|ip-route4|ip-route6)$/.test(id);
}

async function sourceFor(
  o: Common & { exec?: string; timeout?: string },
  io: Io,
  s: {
    quiet: boolean;
    verbose: boolean;
    probeRunner: (r: Runner, prefix?: readonly string[]) => Runner;
    log: ProbeLog;
    defer?: ((id: string) => boolean) | undefined;
  },
): Promise<ProbeSource> {
  if (o.snapshot !== undefined && o.exec !== undefined)
    throw new UsageError('--snapshot and --exec exclude each other');
  if (o.node !== undefined && o.snapshot === undefined)
    throw new UsageError('--node picks a node of a cilium sysdump: give the sysdump with --snapshot');
  const timing = o.timeout !== undefined ? { timeoutMs: Number(o.timeout) } : {};
  if (o.exec !== undefined) {
    const prefix = o.exec
      .trim()
      .split(/\s+/)
      .filter((x) => x !== '');
    if (prefix.length === 0 || !io.liveRunner) throw new UsageError('--exec needs a command prefix');
    const { liveSource } = await import('./collect/live-source.js');
    return liveSource(s.probeRunner(io.liveRunner(prefix), prefix), {
      ...timing,
      ...(s.defer ? { defer: s.defer } : {}),
    });
  }
  if (o.snapshot !== undefined) {
    const opened = await openSnapshot(o.snapshot, o.node !== undefined ? { node: o.node } : {});
    if (!s.quiet) for (const w of opened.warnings) io.stderr(`netpath: warning: ${safeText(String(w))}\n`);
    return s.verbose ? loggingSource(opened.source, s.log) : opened.source;
  }
  if (!io.runner) throw new UsageError('live probing is not available in this build; use --snapshot');
  const { liveSource } = await import('./collect/live-source.js');
  return liveSource(s.probeRunner(await io.runner()), { ...timing, ...(s.defer ? { defer: s.defer } : {}) });
}
