import { iptablesNeedsNft, type ModuleNeed } from './module-gate.js';

/**
 * The probes of the snapshot layout (docs/snapshot.md). A probe id is also its file
 * name in a snapshot, without extension; `.json` holds the tool's JSON mode, `.txt` its text.
 */
export interface ProbeSpec {
  id: string;
  /** argument vector of the live command (JSON mode when the tool has one) */
  argv: string[];
  ext: 'json' | 'txt';
  /** a node without this tool is normal (no Cilium agent, no WireGuard, ...) */
  optional: boolean;
  /** alternative command when the first binary is missing (`cilium` in older agents: cilium-rules cilium-dbg-binary) */
  fallbackArgv?: string[];
  /** output limit other than the runner's default */
  maxBytes?: number;
  timeoutMs?: number;
  /** output over maxBytes is kept up to its last whole line (and marked truncated), not dropped */
  keepPartial?: boolean;
  /**
   * Run only when the kernel already has what the tool would otherwise load (collect/live-source.ts gate):
   * `path`, a /proc file that exists exactly when the feature is in the kernel (missing: the layer is absent,
   * `absentMeans`); or `modules`, the modules its netlink requests would make the kernel load
   * (collect/module-gate.ts; missing and loadable: not run, the layer unknown). `because`: what the tool would do.
   * Both go in the record.
   */
  onlyIfPresent?: { path: string; absentMeans: string; because: string } | (ModuleNeed & { because: string });
}

/**
 * The conntrack table of a busy node is large (a million entries is ~200 MB of `-o extended`).
 * Its probe keeps up to this much, cut at a line, and says so; a trace only ever stream-filters it.
 */
export const CONNTRACK_MAX_BYTES = 256 * 1024 * 1024;
export const CONNTRACK_TIMEOUT_MS = 60_000;

/** sysctl keys that change how the kernel forwards and filters what netpath traces. */
export const SYSCTL_KEYS = [
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.ipv4.conf.all.rp_filter',
  'net.ipv4.conf.default.rp_filter',
  'net.ipv4.conf.all.accept_local',
  'net.ipv4.conf.all.route_localnet',
  'net.ipv4.conf.all.forwarding',
  'net.ipv4.fib_multipath_hash_policy',
  'net.ipv6.fib_multipath_hash_policy',
  'net.ipv4.ip_local_port_range',
  'net.bridge.bridge-nf-call-iptables',
  'net.core.bpf_jit_enable',
];

/**
 * Every IPv4 device's own settings (`net.ipv4.conf.<dev>.*`, `all` and `default` among them): `sysctl` prints the
 * whole subtree of a directory key. The kernel filters reverse paths by the larger of `all` and the arrival
 * device's rp_filter (include/linux/inetdevice.h IN_DEV_RPFILTER = IN_DEV_MAXCONF), so `all` alone decides
 * nothing when it is 0. One fixed argument: the device names need no validation.
 */
export const SYSCTL_CONF4_SUBTREE = 'net.ipv4.conf';

export const CILIUM_CGROUP_ROOT = '/run/cilium/cgroupv2';

/** Cilium's LB maps, read by pinned path (kernel names are cut to 15 characters and collide). */
export const LB_MAPS = [
  'cilium_lb4_services_v2',
  'cilium_lb4_backends_v3',
  'cilium_lb4_reverse_nat',
  'cilium_lb6_services_v2',
  'cilium_lb6_backends_v3',
  'cilium_lb6_reverse_nat',
] as const;

/** Cilium's ipcache map: `cilium_ipcache_v2` from 1.18, `cilium_ipcache` before (and next to it during upgrade). */
export const IPCACHE_MAPS = ['cilium_ipcache_v2', 'cilium_ipcache'] as const;

/** ip-masq-agent's non-masquerade CIDRs (bpf/lib/nat.h IP_MASQ_AGENT_IPV4/6), pinned when the agent is on. */
export const IPMASQ_MAPS = ['cilium_ipmasq_v4', 'cilium_ipmasq_v6'] as const;

/**
 * The ipcache holds up to 512000 entries (pkg/maps/ipcache MaxEntries): ~50 MB of `bpf ipcache list`, ~200 MB of
 * `bpftool -j`. Its probes get conntrack's limits, but no partial keep: a cut longest-prefix table would answer
 * lookups wrongly, so an oversized one fails (and says so) instead.
 */
const IPCACHE_LIMITS = { maxBytes: CONNTRACK_MAX_BYTES, timeoutMs: CONNTRACK_TIMEOUT_MS };

/**
 * The modules a probe's netlink requests make the kernel load when they are missing (docs/safety.md, "Kernel
 * modules"): opening a NETLINK_NETFILTER socket loads nfnetlink (af_netlink.c netlink_create asks for
 * net-pf-16-proto-12), a request to one of its subsystems loads that subsystem's module (nfnetlink.c
 * nfnetlink_rcv_msg asks for nfnetlink-subsys-N: nf_tables, nf_conntrack_netlink, ip_set), a NETLINK_XFRM socket
 * loads xfrm_user (net-pf-16-proto-6).
 */
const NETLINK_LOADS = 'its netlink requests would make the kernel load what is missing';
const NFT_NEEDS = { modules: ['nfnetlink', 'nf_tables'], because: NETLINK_LOADS };
const CONNTRACK_NEEDS = { modules: ['nfnetlink', 'nf_conntrack_netlink'], because: NETLINK_LOADS };
const IPSET_NEEDS = { modules: ['nfnetlink', 'ip_set'], because: NETLINK_LOADS };
const XFRM_NEEDS = { modules: ['xfrm_user'], because: NETLINK_LOADS };
/**
 * iptables-save of the nf_tables build lists over nftables netlink and asks the kernel about every extension it
 * prints (NFT_COMPAT GET: strace of iptables-nft-save 1.8.9), which loads nft_compat (nfnetlink-subsys-11); the
 * legacy build only reads tables /proc/net/ip_tables_names lists. `-V` tells them apart and opens no socket.
 */
const iptablesNeeds = (tool: 'iptables-save' | 'ip6tables-save') => ({
  modules: ['nfnetlink', 'nf_tables', 'nft_compat'],
  variant: { argv: [tool, '-V'], needs: iptablesNeedsNft, name: 'the nf_tables build' },
  because: NETLINK_LOADS,
});

export const NODE_PROBES: ProbeSpec[] = [
  { id: 'uname', argv: ['uname', '-r'], ext: 'txt', optional: false },
  { id: 'hostname', argv: ['uname', '-n'], ext: 'txt', optional: true },
  { id: 'ip-link', argv: ['ip', '-j', '-d', 'link', 'show'], ext: 'json', optional: false },
  { id: 'ip-addr', argv: ['ip', '-j', 'addr', 'show'], ext: 'json', optional: false },
  { id: 'ip-route4', argv: ['ip', '-4', '-j', '-d', 'route', 'show', 'table', 'all'], ext: 'json', optional: false },
  { id: 'ip-route6', argv: ['ip', '-6', '-j', '-d', 'route', 'show', 'table', 'all'], ext: 'json', optional: false },
  { id: 'ip-rule4', argv: ['ip', '-4', '-j', 'rule', 'show'], ext: 'json', optional: false },
  { id: 'ip-rule6', argv: ['ip', '-6', '-j', 'rule', 'show'], ext: 'json', optional: false },
  { id: 'ip-neigh', argv: ['ip', '-j', 'neigh', 'show'], ext: 'json', optional: false },
  { id: 'ip-netns', argv: ['ip', '-j', 'netns', 'list'], ext: 'json', optional: true },
  { id: 'tc-qdisc', argv: ['tc', '-j', 'qdisc', 'show'], ext: 'json', optional: false },
  { id: 'bpftool-net', argv: ['bpftool', '-j', 'net', 'show'], ext: 'json', optional: false },
  { id: 'bpftool-prog', argv: ['bpftool', '-j', 'prog', 'show'], ext: 'json', optional: false },
  { id: 'bpftool-link', argv: ['bpftool', '-j', 'link', 'show'], ext: 'json', optional: true },
  { id: 'bpftool-cgroup', argv: ['bpftool', '-j', 'cgroup', 'tree', CILIUM_CGROUP_ROOT], ext: 'json', optional: true },
  { id: 'nft-ruleset', argv: ['nft', '-j', 'list', 'ruleset'], ext: 'json', optional: true, onlyIfPresent: NFT_NEEDS },
  {
    id: 'iptables-save',
    argv: ['iptables-save'],
    ext: 'txt',
    optional: true,
    onlyIfPresent: iptablesNeeds('iptables-save'),
  },
  {
    id: 'ip6tables-save',
    argv: ['ip6tables-save'],
    ext: 'txt',
    optional: true,
    onlyIfPresent: iptablesNeeds('ip6tables-save'),
  },
  { id: 'wg', argv: ['wg', 'show', 'all', 'dump'], ext: 'txt', optional: true },
  { id: 'sysctl', argv: ['sysctl', '-e', ...SYSCTL_KEYS], ext: 'txt', optional: true },
  { id: 'sysctl-conf4', argv: ['sysctl', '-e', SYSCTL_CONF4_SUBTREE], ext: 'txt', optional: true },
  {
    id: 'cilium-status',
    argv: ['cilium-dbg', 'status', '--verbose'],
    fallbackArgv: ['cilium', 'status', '--verbose'],
    ext: 'txt',
    optional: true,
  },
  {
    id: 'cilium-endpoints',
    argv: ['cilium-dbg', 'endpoint', 'list', '-o', 'json'],
    fallbackArgv: ['cilium', 'endpoint', 'list', '-o', 'json'],
    ext: 'json',
    optional: true,
  },
  {
    id: 'cilium-service-list',
    argv: ['cilium-dbg', 'service', 'list', '-o', 'json'],
    fallbackArgv: ['cilium', 'service', 'list', '-o', 'json'],
    ext: 'json',
    optional: true,
  },
  {
    id: 'cilium-lb-list',
    argv: ['cilium-dbg', 'bpf', 'lb', 'list'],
    fallbackArgv: ['cilium', 'bpf', 'lb', 'list'],
    ext: 'txt',
    optional: true,
  },
  {
    id: 'ipvsadm',
    argv: ['ipvsadm', '-Sn'],
    ext: 'txt',
    optional: true,
    // ipvsadm runs `modprobe -- ip_vs` when the kernel has no IPVS (strace; fixtures/tools/errors), which would load
    // a module; /proc/net/ip_vs exists exactly when IPVS is in the kernel (built in or loaded)
    onlyIfPresent: {
      path: '/proc/net/ip_vs',
      absentMeans: 'IPVS is not in this kernel',
      because: 'ipvsadm would load the ip_vs module to look',
    },
  },
  ...([4, 6] as const).map((f) => ({
    id: `conntrack${f}`,
    argv: ['conntrack', '-L', '-f', f === 4 ? 'ipv4' : 'ipv6', '-o', 'extended'],
    ext: 'txt' as const,
    optional: true,
    maxBytes: CONNTRACK_MAX_BYTES,
    timeoutMs: CONNTRACK_TIMEOUT_MS,
    keepPartial: true,
    onlyIfPresent: CONNTRACK_NEEDS,
  })),
  // kube-proxy IPVS mode matches its ClusterIPs, NodePorts and hairpin tuples through these sets
  { id: 'ipset', argv: ['ipset', 'save'], ext: 'txt', optional: true, onlyIfPresent: IPSET_NEEDS },
  ...LB_MAPS.map((name) => ({
    id: `bpf-map/${name}`,
    argv: ['bpftool', '-j', 'map', 'dump', 'pinned', `/sys/fs/bpf/tc/globals/${name}`],
    ext: 'json' as const,
    optional: true,
  })),
  ...IPCACHE_MAPS.map((name) => ({
    id: `bpf-map/${name}`,
    argv: ['bpftool', '-j', 'map', 'dump', 'pinned', `/sys/fs/bpf/tc/globals/${name}`],
    ext: 'json' as const,
    optional: true,
    ...IPCACHE_LIMITS,
  })),
  ...IPMASQ_MAPS.map((name) => ({
    id: `bpf-map/${name}`,
    argv: ['bpftool', '-j', 'map', 'dump', 'pinned', `/sys/fs/bpf/tc/globals/${name}`],
    ext: 'json' as const,
    optional: true,
  })),
  {
    id: 'cilium-ipcache',
    argv: ['cilium-dbg', 'bpf', 'ipcache', 'list'],
    fallbackArgv: ['cilium', 'bpf', 'ipcache', 'list'],
    ext: 'txt',
    optional: true,
    ...IPCACHE_LIMITS,
  },
  {
    id: 'cilium-encrypt-status',
    argv: ['cilium-dbg', 'encrypt', 'status'],
    fallbackArgv: ['cilium', 'encrypt', 'status'],
    ext: 'txt',
    optional: true,
  },
  {
    id: 'cilium-egress-list',
    argv: ['cilium-dbg', 'bpf', 'egress', 'list'],
    fallbackArgv: ['cilium', 'bpf', 'egress', 'list'],
    ext: 'txt',
    optional: true,
  },
  // key material is replaced by `(redacted)` on capture (src/tools/xfrm/redact.ts), like WireGuard's private keys
  { id: 'ip-xfrm-state', argv: ['ip', 'xfrm', 'state'], ext: 'txt', optional: true, onlyIfPresent: XFRM_NEEDS },
  { id: 'ip-xfrm-policy', argv: ['ip', 'xfrm', 'policy'], ext: 'txt', optional: true, onlyIfPresent: XFRM_NEEDS },
  {
    id: 'cilium-config',
    argv: ['cilium-dbg', 'config', '-a'],
    fallbackArgv: ['cilium', 'config', '-a'],
    ext: 'txt',
    optional: true,
  },
];

/** Per pod namespace: `netns/<name>/<id>` in a snapshot, `ip -n <name> ...` live. */
export function netnsProbes(name: string): ProbeSpec[] {
  return [
    { id: `netns/${name}/ip-link`, argv: ['ip', '-n', name, '-j', '-d', 'link', 'show'], ext: 'json', optional: true },
    { id: `netns/${name}/ip-addr`, argv: ['ip', '-n', name, '-j', 'addr', 'show'], ext: 'json', optional: true },
    {
      id: `netns/${name}/ip-route4`,
      argv: ['ip', '-n', name, '-4', '-j', '-d', 'route', 'show', 'table', 'all'],
      ext: 'json',
      optional: true,
    },
    {
      id: `netns/${name}/ip-route6`,
      argv: ['ip', '-n', name, '-6', '-j', '-d', 'route', 'show', 'table', 'all'],
      ext: 'json',
      optional: true,
    },
  ];
}

/** Per device with a clsact qdisc: `tc-filter/<dev>.<dir>`. */
export function tcFilterProbes(dev: string): ProbeSpec[] {
  return (['ingress', 'egress'] as const).map((dir) => ({
    id: `tc-filter/${dev}.${dir}`,
    argv: ['tc', '-j', 'filter', 'show', 'dev', dev, dir],
    ext: 'json' as const,
    optional: true,
  }));
}
