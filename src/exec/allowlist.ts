/**
 * The exact commands netpath may run. Each entry is a fixed argument vector; a few positions take
 * a parameter (a device, a namespace, a map name, a cgroup path) that must match a strict pattern
 * and can never start with "-", so no parameter can become a flag. Nothing here writes state.
 */

import { routeGetInput } from './route-get-input.js';
import { validIpProbeBatchInput } from './ip-batch-input.js';
import { validTcBatchInput } from './tc-batch-input.js';

type Slot = string | { param: 'dev' | 'netns' | 'map' | 'cgroup' | 'sysctl-key' | 'table' | 'modules-builtin' };

const DEV = { param: 'dev' } as const;
const NETNS = { param: 'netns' } as const;
const _MAP = { param: 'map' } as const;
const CGROUP = { param: 'cgroup' } as const;
const TABLE = { param: 'table' } as const;

const PARAM_PATTERNS: Record<string, RegExp> = {
  // IFNAMSIZ is 16 including NUL; the kernel forbids '/', ':' and whitespace in names.
  dev: /^[A-Za-z0-9_.@+][A-Za-z0-9_.@+-]{0,14}$/,
  netns: /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,127}$/,
  map: /^cilium_[A-Za-z0-9_]{1,64}$/,
  cgroup: /^\/(run|sys\/fs)\/[A-Za-z0-9_./-]{0,200}$/,
  'sysctl-key': /^net\.[A-Za-z0-9_.-]{1,120}$/,
  // a routing table by number (1..2^32-1) or by the names iproute2 always knows
  table: /^(local|main|default|[1-9]\d{0,9})$/,
  // the built-in module list of one kernel release (collect/module-gate.ts RELEASE: a leading digit, no '/')
  'modules-builtin': /^\/lib\/modules\/[0-9][A-Za-z0-9._+~-]{0,63}\/modules\.builtin$/,
};

const IP_QUERIES: Slot[][] = [
  ['ip', '-j', '-d', 'link', 'show'],
  ['ip', '-d', 'link', 'show'],
  ['ip', '-j', 'addr', 'show'],
  ['ip', 'addr', 'show'],
  ['ip', '-4', '-j', '-d', 'route', 'show', 'table', 'all'],
  ['ip', '-6', '-j', '-d', 'route', 'show', 'table', 'all'],
  ['ip', '-4', '-d', 'route', 'show', 'table', 'all'],
  ['ip', '-6', '-d', 'route', 'show', 'table', 'all'],
  ['ip', '-4', '-j', 'rule', 'show'],
  ['ip', '-6', '-j', 'rule', 'show'],
  ['ip', '-4', 'rule', 'show'],
  ['ip', '-6', 'rule', 'show'],
  ['ip', '-j', 'neigh', 'show'],
  ['ip', 'neigh', 'show'],
  ['ip', '-j', 'netns', 'list'],
  ['ip', 'netns', 'list'],
  ['ip', '-V'],
  // one table (the kernel filters the dump by table): the small tables of a node whose big ones the kernel answers
  ['ip', '-4', '-j', '-d', 'route', 'show', 'table', TABLE],
  ['ip', '-6', '-j', '-d', 'route', 'show', 'table', TABLE],
  // IPsec: iproute2 has no JSON for xfrm (`-j` prints the same text), so only the text forms
  ['ip', 'xfrm', 'state'],
  ['ip', 'xfrm', 'policy'],
];

const ENTRIES: Slot[][] = [
  ...IP_QUERIES,
  // the same queries inside a named namespace (`ip -n NAME ...` only reads)
  ...IP_QUERIES.filter((a) => a[1] !== '-V' && a[2] !== 'netns' && a[1] !== 'netns' && a[1] !== 'xfrm').map((a) => [
    'ip',
    '-n',
    NETNS,
    ...a.slice(1),
  ]),
  // how many routes each IPv4 table holds, and how many IPv6 routes there are: whether to dump or to ask
  ['cat', '/proc/net/fib_triestat'],
  ['cat', '/proc/net/rt6_stats'],
  // whether IPVS is in the kernel, before ipvsadm is run (collect/probes.ts onlyIfPresent)
  ['cat', '/proc/net/ip_vs'],
  // which kernel modules are loaded, whether any may be loaded, and which are built in, before a probe whose
  // netlink requests would load one (collect/module-gate.ts)
  ['cat', '/proc/modules'],
  ['cat', '/proc/sys/kernel/modules_disabled'],
  ['cat', '/proc/sys/kernel/osrelease'],
  ['cat', { param: 'modules-builtin' }],
  ['tc', '-j', 'qdisc', 'show'],
  ['tc', 'qdisc', 'show'],
  ['tc', '-j', 'filter', 'show', 'dev', DEV, 'ingress'],
  ['tc', '-j', 'filter', 'show', 'dev', DEV, 'egress'],
  ['tc', 'filter', 'show', 'dev', DEV, 'ingress'],
  ['tc', 'filter', 'show', 'dev', DEV, 'egress'],
  ['bpftool', '-j', 'net', 'show'],
  ['bpftool', '-j', 'prog', 'show'],
  ['bpftool', '-j', 'link', 'show'],
  ['bpftool', '-j', 'map', 'show'],
  ['bpftool', '-j', 'cgroup', 'tree', CGROUP],
  ['bpftool', '-j', 'map', 'dump', 'pinned', { param: 'map' }],
  ['bpftool', 'version'],
  ['nft', '-j', 'list', 'ruleset'],
  ['nft', 'list', 'ruleset'],
  ['nft', '-v'],
  ['iptables-save'],
  ['ip6tables-save'],
  // which build runs, legacy or nf_tables (exits before it opens a socket)
  ['iptables-save', '-V'],
  ['ip6tables-save', '-V'],
  ['ipvsadm', '-Sn'],
  ['ipvsadm', '-Ln'],
  // kube-proxy IPVS mode's sets (`ipset save` lists every set of the namespace; `ipset list` is the same, wordier)
  ['ipset', 'save'],
  ['conntrack', '-L', '-f', 'ipv4', '-o', 'extended'],
  ['conntrack', '-L', '-f', 'ipv6', '-o', 'extended'],
  ['conntrack', '--version'],
  ['wg', 'show', 'all', 'dump'],
  ['uname', '-r'],
  ['uname', '-n'],
  ['cilium-dbg', 'status', '--verbose'],
  ['cilium-dbg', 'service', 'list', '-o', 'json'],
  ['cilium-dbg', 'bpf', 'lb', 'list'],
  ['cilium-dbg', 'endpoint', 'list', '-o', 'json'],
  ['cilium-dbg', 'config', '-a'],
  ['cilium-dbg', 'version'],
  ['cilium-dbg', 'bpf', 'ipcache', 'list'],
  ['cilium-dbg', 'encrypt', 'status'],
  ['cilium-dbg', 'bpf', 'egress', 'list'],
  ['cilium', 'bpf', 'ipcache', 'list'],
  ['cilium', 'encrypt', 'status'],
  ['cilium', 'bpf', 'egress', 'list'],
  ['cilium', 'status', '--verbose'],
  ['cilium', 'service', 'list', '-o', 'json'],
  ['cilium', 'bpf', 'lb', 'list'],
  ['cilium', 'endpoint', 'list', '-o', 'json'],
  ['cilium', 'config', '-a'],
  // cluster discovery (`snapshot --cluster --kubectl`): which Cilium agent pod runs on which node
  ['kubectl', '-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=cilium', '-o', 'json'],
];

/** `sysctl` takes a variable list of keys: only `net.*` reads, never `-w` or `key=value`. */
function isAllowedSysctl(argv: readonly string[]): boolean {
  return (
    argv[0] === 'sysctl' &&
    argv.length >= 2 &&
    argv.length <= 200 &&
    argv.slice(1).every((k) => k === '-e' || PARAM_PATTERNS['sysctl-key']!.test(k))
  );
}

/**
 * Kubernetes names (apimachinery validation): a namespace is a DNS-1123 label, a pod name a DNS-1123
 * subdomain, a Service name a DNS-1035 label. None can start with "-", so none can become a flag.
 * A kubeconfig context name is free text upstream; netpath accepts a safe subset and passes it as
 * one `--context=NAME` argument.
 */
const K8S = {
  namespace: /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
  pod: /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
  service: /^(?=.{1,63}$)[a-z]([-a-z0-9]*[a-z0-9])?$/,
  context: /^[A-Za-z0-9_][A-Za-z0-9_.:@/+-]{0,252}$/,
} as const;

/**
 * Read-only kubectl lookups that turn a name into addresses: `kubectl [--context=C] [-n NS] get
 * pod|service NAME -o json` and the EndpointSlices of one Service. Only the names vary.
 */
function isAllowedKubectl(argv: readonly string[]): boolean {
  if (argv[0] !== 'kubectl') return false;
  let i = 1;
  if (argv[i]?.startsWith('--context=')) {
    if (!K8S.context.test(argv[i]!.slice('--context='.length))) return false;
    i++;
  }
  let ns: string | undefined;
  if (argv[i] === '-n') {
    ns = argv[i + 1];
    if (ns === undefined || !K8S.namespace.test(ns)) return false;
    i += 2;
  }
  const rest = argv.slice(i);
  if (rest.length !== 5 || rest[0] !== 'get' || rest[3] !== '-o' || rest[4] !== 'json') return false;
  if (rest[1] === 'pod') return K8S.pod.test(rest[2]!);
  if (rest[1] === 'service') return K8S.service.test(rest[2]!);
  if (rest[1] === 'endpointslices' && ns !== undefined) {
    // `-l kubernetes.io/service-name=NAME` is spelled as one argument so the shape stays fixed
    const m = /^--selector=kubernetes\.io\/service-name=(.*)$/.exec(rest[2]!);
    return m !== null && K8S.service.test(m[1]!);
  }
  return false;
}

/** bpftool map dump takes the full pinned path; the map name is the only variable part. */
function slotMatches(slot: Slot, value: string, prev: string | undefined): boolean {
  if (typeof slot === 'string') return slot === value;
  if (slot.param === 'map' && prev === 'pinned') {
    const m = /^\/sys\/fs\/bpf\/tc\/globals\/(.+)$/.exec(value);
    return m !== null && PARAM_PATTERNS.map!.test(m[1]!);
  }
  if (slot.param === 'table' && /^\d/.test(value) && Number(value) > 0xffffffff) return false;
  return PARAM_PATTERNS[slot.param]!.test(value);
}

/**
 * Commands that read stdin, and what they may be fed: `ip -d -j -force -batch -` only `route get` lines
 * (exec/route-get-input.ts validRouteGetLine: addresses, device names, numbers in range, a line cap);
 * `ip -j -force -batch -` only the four node probes' fixed text (exec/ip-batch-input.ts);
 * `tc -batch -` only `filter show dev DEV ingress|egress` lines (exec/tc-batch-input.ts).
 */
const STDIN_ENTRIES: { argv: Slot[]; input: (text: string) => boolean }[] = [
  ...[
    ['ip', '-d', '-j', '-force', '-batch', '-'],
    ['ip', '-n', NETNS, '-d', '-j', '-force', '-batch', '-'],
  ].map((argv) => ({
    argv,
    input: (text: string) => {
      if (!text.endsWith('\n')) return false;
      const lines = text.slice(0, -1).split('\n');
      return routeGetInput(lines) === text;
    },
  })),
  { argv: ['ip', '-j', '-force', '-batch', '-'], input: validIpProbeBatchInput },
  { argv: ['tc', '-j', '-force', '-batch', '-'], input: validTcBatchInput },
];

const fits = (entry: Slot[], argv: readonly string[]) =>
  entry.length === argv.length && entry.every((slot, i) => slotMatches(slot, argv[i]!, argv[i - 1]));

/** Whether argv may run, fed `input` on stdin (undefined: no stdin; only the batch entries take one). */
export function isAllowed(argv: readonly string[], input?: string): boolean {
  const stdin = STDIN_ENTRIES.find((e) => fits(e.argv, argv));
  if (stdin) return input !== undefined && stdin.input(input);
  if (input !== undefined) return false;
  if (isAllowedSysctl(argv) || isAllowedKubectl(argv)) return true;
  return ENTRIES.some(
    (entry) => entry.length === argv.length && entry.every((slot, i) => slotMatches(slot, argv[i]!, argv[i - 1])),
  );
}

/** Human-readable allow-list, for docs/safety.md and `netpath commands`. */
export function describeAllowList(): string[] {
  const show = (s: Slot): string =>
    typeof s === 'string'
      ? s
      : s.param === 'modules-builtin'
        ? '/lib/modules/<release>/modules.builtin'
        : `<${s.param}>`;
  return [
    ...ENTRIES.map((e) => e.map(show).join(' ')),
    // fed on stdin only `route get` / `filter show` lines (docs/safety.md says so beside the list)
    ...STDIN_ENTRIES.map((e) => e.argv.map(show).join(' ')),
    'sysctl [-e] <net.* key>...',
    'kubectl [--context=<context>] [-n <namespace>] get pod <pod> -o json',
    'kubectl [--context=<context>] [-n <namespace>] get service <service> -o json',
    'kubectl [--context=<context>] -n <namespace> get endpointslices --selector=kubernetes.io/service-name=<service> -o json',
  ];
}

export { PARAM_PATTERNS, K8S as K8S_NAME_PATTERNS };
