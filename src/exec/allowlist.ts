/**
 * The exact commands netpath may run. Each entry is a fixed argument vector; a few positions take
 * a parameter (a device, a namespace, a map name, a cgroup path) that must match a strict pattern
 * and can never start with "-", so no parameter can become a flag. Nothing here writes state.
 */

type Slot = string | { param: 'dev' | 'netns' | 'map' | 'cgroup' | 'sysctl-key' };

const DEV = { param: 'dev' } as const;
const NETNS = { param: 'netns' } as const;
const _MAP = { param: 'map' } as const;
const CGROUP = { param: 'cgroup' } as const;

const PARAM_PATTERNS: Record<string, RegExp> = {
  // IFNAMSIZ is 16 including NUL; the kernel forbids '/', ':' and whitespace in names.
  dev: /^[A-Za-z0-9_.@+][A-Za-z0-9_.@+-]{0,14}$/,
  netns: /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,127}$/,
  map: /^cilium_[A-Za-z0-9_]{1,64}$/,
  cgroup: /^\/(run|sys\/fs)\/[A-Za-z0-9_./-]{0,200}$/,
  'sysctl-key': /^net\.[A-Za-z0-9_.-]{1,120}$/,
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
];

const ENTRIES: Slot[][] = [
  ...IP_QUERIES,
  // the same queries inside a named namespace (`ip -n NAME ...` only reads)
  ...IP_QUERIES.filter((a) => a[1] !== '-V' && a[2] !== 'netns' && a[1] !== 'netns').map((a) => [
    'ip',
    '-n',
    NETNS,
    ...a.slice(1),
  ]),
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
  return PARAM_PATTERNS[slot.param]!.test(value);
}

export function isAllowed(argv: readonly string[]): boolean {
  if (isAllowedSysctl(argv) || isAllowedKubectl(argv)) return true;
  return ENTRIES.some(
    (entry) => entry.length === argv.length && entry.every((slot, i) => slotMatches(slot, argv[i]!, argv[i - 1])),
  );
}

/** Human-readable allow-list, for docs/safety.md and `netpath commands`. */
export function describeAllowList(): string[] {
  const show = (s: Slot): string => (typeof s === 'string' ? s : `<${s.param}>`);
  return [
    ...ENTRIES.map((e) => e.map(show).join(' ')),
    'sysctl [-e] <net.* key>...',
    'kubectl [--context=<context>] [-n <namespace>] get pod <pod> -o json',
    'kubectl [--context=<context>] [-n <namespace>] get service <service> -o json',
    'kubectl [--context=<context>] -n <namespace> get endpointslices --selector=kubernetes.io/service-name=<service> -o json',
  ];
}

export { PARAM_PATTERNS, K8S as K8S_NAME_PATTERNS };
