import { z } from 'zod';
import type { Trace } from '../model/trace.js';
import type { Diff } from '../model/diff.js';

const evidence = z.object({ probe: z.string(), text: z.string() });
const warning = z.object({ code: z.string(), message: z.string(), source: z.string().optional() });

// ---------------------------------------------------------------------------------------------
// hops: one object per kind (docs/hops.md). Loose objects: a field added within schemaVersion 1 passes.

const str = z.string();
const opt = <T extends z.ZodType>(t: T) => t.optional();
const hopBase = {
  detail: str,
  evidence: z.array(evidence),
  inferred: opt(z.boolean()),
  because: opt(str),
  netns: opt(str),
  explain: opt(
    z.object({
      what: str,
      why: str,
      confirm: z.array(z.object({ command: str, shows: str })),
    }),
  ),
  ciliumRules: opt(z.array(str)),
};
const nextHop = z.object({ gateway: opt(str), dev: opt(str), weight: opt(z.number()) });
const neighbour = z.object({ lladdr: opt(str), state: z.array(str) });
const backendPath = z.object({
  backend: str,
  disposition: z.enum(['delivered', 'forwarded', 'dropped', 'no-route', 'unknown']),
  summary: str,
});
const hopBackend = z.object({ address: str, port: z.number().int(), state: str, probability: opt(z.number()) });
const lbFields = {
  frontend: str,
  source: str,
  backends: z.array(hopBackend),
  backend: str,
  candidateBackends: z.array(str),
  flags: z.looseObject({
    externalTrafficPolicyLocal: opt(z.boolean()),
    internalTrafficPolicyLocal: opt(z.boolean()),
    sessionAffinity: opt(z.boolean()),
    affinityTimeoutSeconds: opt(z.number()),
    dsr: opt(z.boolean()),
    routable: opt(z.boolean()),
    twoScopes: opt(z.boolean()),
  }),
  paths: z.array(backendPath),
  selection: z.object({
    decided: z.enum(['asked', 'conntrack', 'only-candidate', 'not-decided']),
    algorithm: str,
    oneOf: z.array(str),
    affinity: opt(z.boolean()),
    because: str,
  }),
};
const routeOutcome = z.enum([
  'unicast',
  'local',
  'broadcast',
  'blackhole',
  'unreachable',
  'prohibit',
  'no-route',
  'invalid',
  'unknown',
]);
const conntrackEntry = z.object({
  orig: str,
  reply: str,
  state: opt(str),
  flags: z.array(str),
  zone: opt(z.number()),
  dnat: z.boolean(),
  snat: z.boolean(),
});

const hopSchema = z.discriminatedUnion('kind', [
  z.looseObject({
    kind: z.literal('socket-lb'),
    ...hopBase,
    ...lbFields,
    layer: z.literal('socket'),
    program: str,
    attachType: str,
    cgroup: str,
    // socket-LB cases (analysis/trace-socket-lb.ts)
    wildcard: opt(z.object({ connectedTo: str })),
    replyXlate: opt(
      z.object({
        hook: z.literal('recvmsg'),
        attached: z.union([z.boolean(), z.literal('unknown')]),
        program: opt(str),
        attachType: opt(str),
      }),
    ),
  }),
  z.looseObject({
    kind: z.literal('tc-lb'),
    ...hopBase,
    ...lbFields,
    layer: z.enum(['tc', 'xdp']),
    at: z.enum(['cil_from_container', 'cil_from_netdev', 'xdp', 'bpf_host']),
    noSocketLb: opt(str),
    program: opt(str),
    dev: opt(str),
  }),
  z.looseObject({
    kind: z.literal('kube-proxy'),
    ...hopBase,
    ...lbFields,
    layer: z.literal('netfilter'),
    mode: z.enum(['iptables', 'nftables', 'ipvs']),
    natHook: z.enum(['PREROUTING', 'OUTPUT']),
    chain: opt(str),
  }),
  z.looseObject({
    kind: z.literal('bpf'),
    ...hopBase,
    program: str,
    hook: str,
    attachMode: z.enum(['tc', 'tcx', 'xdp', 'netkit']),
    direction: z.enum(['ingress', 'egress']),
    dev: str,
    progId: opt(z.number().int()),
  }),
  z.looseObject({
    kind: z.literal('redirect_peer'),
    ...hopBase,
    helper: z.literal('bpf_redirect_peer'),
    dev: str,
    targetNetns: opt(str),
  }),
  z.looseObject({
    kind: z.literal('redirect_neigh'),
    ...hopBase,
    helper: z.literal('bpf_redirect_neigh'),
    dev: str,
    targetNetns: opt(str),
    nexthop: str,
    onLink: z.boolean(),
    neighbor: opt(neighbour),
    candidates: opt(z.array(nextHop)),
  }),
  z.looseObject({
    kind: z.literal('redirect'),
    ...hopBase,
    helper: z.literal('bpf_redirect'),
    dev: str,
    targetNetns: opt(str),
    why: z.enum(['host-side', 'netkit', 'legacy-host-routing', 'host-routing-unknown', 'nodeport-fib']),
    reason: opt(str),
  }),
  z.looseObject({
    kind: z.literal('stack'),
    ...hopBase,
    why: z.enum(['to-host', 'fib-local', 'legacy-host-routing', 'no-program', 'transit']),
    hooks: z.array(str),
    legacyReasons: opt(z.array(str)),
  }),
  z.looseObject({ kind: z.literal('netfilter'), ...hopBase, hooks: z.array(str), rulesPresent: z.boolean() }),
  z.looseObject({
    kind: z.literal('route'),
    ...hopBase,
    lookup: z.enum(['pod-netns', 'bpf_fib_lookup', 'input', 'output', 'wireguard-outer', 'arrival', 'tunnel-outer']),
    result: routeOutcome,
    dst: str,
    iif: opt(str),
    fwmark: opt(z.number().int()),
    rule: opt(str),
    rulePriority: opt(z.number().int()),
    table: opt(z.number().int()),
    route: opt(str),
    answer: str,
    dev: opt(str),
    gateway: opt(str),
    nexthops: opt(z.array(nextHop)),
    candidates: opt(z.array(nextHop)),
  }),
  z.looseObject({
    kind: z.literal('gateway'),
    ...hopBase,
    gateway: str,
    dev: opt(str),
    encrypted: z.boolean(),
    neighbor: opt(neighbour),
    role: opt(z.literal('router')),
  }),
  z.looseObject({
    kind: z.literal('wireguard'),
    ...hopBase,
    dev: str,
    peer: str,
    allowedIps: str,
    endpoint: opt(str),
    redirectedBy: opt(z.enum(['cil_to_netdev', 'ip-rule'])),
  }),
  // issue 15: tunnel mode
  z.looseObject({
    kind: z.literal('encap'),
    ...hopBase,
    dev: str,
    protocol: z.enum(['vxlan', 'geneve']),
    tunnelEndpoint: str,
    port: z.number().int(),
  }),
  z.looseObject({
    kind: z.literal('masquerade'),
    ...hopBase,
    applied: z.union([z.boolean(), z.literal('unknown')]),
    where: z.enum(['bpf', 'iptables', 'bpf-nodeport', 'disabled', 'unknown']),
    by: opt(str),
    why: z.enum([
      'snat',
      'disabled',
      'family-disabled',
      'excluded',
      'remote-node',
      'other-device',
      'no-to-netdev',
      'no-exclusion-cidr',
      'mode-unknown',
      'nodeport-snat',
      'nodeport-dsr',
      'nodeport-mode-unknown',
      'no-ipcache-entry',
      'ipcache-unknown',
      'ip-masq-agent',
      'ip-masq-agent-unknown',
      'egress-gateway',
      'egress-gateway-unknown',
    ]),
    dev: opt(str),
    snatTo: opt(str),
    exclusionCidr: opt(str),
    devices: opt(z.array(str)),
    nodePortMode: opt(str),
    reason: opt(str),
  }),
  z.looseObject({
    kind: z.literal('conntrack'),
    ...hopBase,
    match: z.enum(['orig', 'reply', 'via-backend', 'none', 'connections', 'reply-connections']),
    entry: opt(conntrackEntry),
    count: opt(z.number().int()),
    translations: opt(z.array(z.object({ translation: str, count: z.number().int() }))),
    backend: opt(str),
    snatTo: opt(str),
  }),
  z.looseObject({
    kind: z.literal('deliver'),
    ...hopBase,
    target: z.enum(['pod', 'local-socket', 'loopback', 'pod-netns', 'l7-proxy']),
    proxyPort: opt(z.number().int()),
    address: str,
    pod: opt(str),
    dev: opt(str),
    addressDev: opt(str),
  }),
  z.looseObject({
    kind: z.literal('drop'),
    ...hopBase,
    reason: str,
    code: str,
    frontend: opt(str),
    backends: opt(z.array(hopBackend)),
    backend: opt(str),
    paths: opt(z.array(backendPath)),
    // a refused system call, not a packet (analysis/trace-socket-lb.ts)
    syscall: opt(z.object({ call: z.enum(['connect', 'sendmsg']), errno: str, errnoOtherwise: str })),
  }),
]);

/** The `--json` contract of `trace` (docs/json.md); additions only within a schemaVersion. */
export const traceJsonSchema = z.object({
  schemaVersion: z.literal(1),
  node: z.string().nullable(),
  flow: z.object({
    src: z.string(),
    dst: z.string(),
    proto: z.enum(['tcp', 'udp', 'icmp', 'sctp']),
    dport: z.number().int().optional(),
    sport: z.number().int().optional(),
    backend: z.string().optional(),
  }),
  src: z.looseObject({ kind: z.string(), ip: z.string(), evidence: z.array(evidence) }),
  dst: z.looseObject({ kind: z.string(), ip: z.string(), evidence: z.array(evidence) }),
  hops: z.array(hopSchema),
  disposition: z.enum(['delivered', 'forwarded', 'dropped', 'no-route', 'unknown']),
  warnings: z.array(warning),
});

/** The contract object of a trace (what `-o json` and `-o yaml` print). */
export function traceContract(trace: Trace): z.infer<typeof traceJsonSchema> {
  return traceJsonSchema.parse(trace);
}

export function renderTraceJson(trace: Trace): string {
  return JSON.stringify(traceContract(trace), null, 2) + '\n';
}

const hopKind = z.enum([
  'socket-lb',
  'tc-lb',
  'kube-proxy',
  'bpf',
  'redirect_peer',
  'redirect_neigh',
  'redirect',
  'stack',
  'netfilter',
  'route',
  'gateway',
  'wireguard',
  'encap',
  'masquerade',
  'conntrack',
  'deliver',
  'drop',
]);
const disposition = z.enum(['delivered', 'forwarded', 'dropped', 'no-route', 'unknown']);
const serviceSource = z.enum(['cilium-bpf', 'cilium-dbg', 'kube-proxy-iptables', 'kube-proxy-nftables', 'ipvs']);
const serviceType = z.enum(['ClusterIP', 'NodePort', 'ExternalIP', 'LoadBalancer', 'HostPort', 'LocalRedirect']);
const l4 = z.enum(['TCP', 'UDP', 'SCTP', 'ANY']);
const frontendSide = z.object({
  type: serviceType,
  name: z.string().optional(),
  layers: z.array(serviceSource).min(1),
  owner: serviceSource,
  programmedAs: z.string(),
  proto: l4,
  backends: z.array(z.string()),
  affinity: z.object({
    enabled: z.union([z.boolean(), z.literal('unknown')]),
    timeoutSeconds: z.number().int().optional(),
  }),
  trafficPolicy: z.enum(['Cluster', 'Local', 'unknown']),
  unknown: z.array(z.object({ field: z.enum(['affinity', 'traffic-policy', 'type']), because: z.string() })).optional(),
  chain: z.string().optional(),
  incomplete: z.string().optional(),
  evidence: z.array(evidence),
});
const pathHop = z.object({
  kind: hopKind,
  label: z.string(),
  detail: z.string(),
  program: z.string().optional(),
  chain: z.string().optional(),
  dev: z.string().optional(),
  hook: z.string().optional(),
  inferred: z.boolean().optional(),
});
const pathSide = z.object({ disposition, hops: z.array(pathHop), warnings: z.array(z.string()) });
const count = z.number().int().nonnegative();

/** The `--json` contract of `diff` (docs/json.md); additions only within a schemaVersion. */
export const diffJsonSchema = z.object({
  schemaVersion: z.literal(1),
  before: z.object({
    source: z.string(),
    node: z.string().nullable(),
    layers: z.array(serviceSource),
    frontends: count,
    cilium: z.object({ version: z.string().optional(), kubeProxyReplacement: z.boolean().optional() }),
  }),
  after: z.object({
    source: z.string(),
    node: z.string().nullable(),
    layers: z.array(serviceSource),
    frontends: count,
    cilium: z.object({ version: z.string().optional(), kubeProxyReplacement: z.boolean().optional() }),
  }),
  summary: z.object({
    verdict: z.enum(['clean', 'regressions']),
    regressions: count,
    services: z.object({
      before: count,
      after: count,
      unchanged: count,
      changed: count,
      added: count,
      removed: count,
      regressions: count,
    }),
    leftovers: z.object({ total: count, acting: count }),
    paths: z.object({ traced: count, candidates: count, sampled: z.boolean(), changed: count, regressions: count }),
    behaviour: count,
    lines: z.array(z.string()).min(1),
  }),
  services: z.array(
    z.object({
      frontend: z.string(),
      address: z.string(),
      port: z.number().int().min(0).max(65535),
      proto: l4,
      type: serviceType,
      name: z.string().optional(),
      status: z.enum(['unchanged', 'changed', 'added', 'removed']),
      regression: z.boolean(),
      summary: z.string(),
      owner: z.object({ before: serviceSource.nullable(), after: serviceSource.nullable() }),
      before: frontendSide.optional(),
      after: frontendSide.optional(),
      changes: z.array(
        z.object({
          field: z.enum(['backends', 'protocol', 'affinity', 'traffic-policy', 'type', 'owner', 'reach']),
          before: z.string(),
          after: z.string(),
          regression: z.boolean(),
          because: z.string().optional(),
        }),
      ),
      notCompared: z
        .array(
          z.object({
            field: z.enum(['affinity', 'traffic-policy', 'type']),
            side: z.enum(['before', 'after', 'both']),
            because: z.string(),
          }),
        )
        .optional(),
    }),
  ),
  leftovers: z.array(
    z.object({
      kind: z.enum(['iptables-chains', 'nft-table', 'ipvs', 'kube-ipvs0', 'ipset', 'conntrack']),
      name: z.string(),
      count,
      actsOnPackets: z.boolean(),
      regression: z.boolean(),
      breaks: z.string(),
      command: z.string(),
      cleanup: z.string().optional(),
      frontends: z.array(z.string()).optional(),
      evidence: z.array(evidence),
    }),
  ),
  paths: z.object({
    sampled: z.boolean(),
    candidates: count,
    note: z.string().optional(),
    flows: z.array(
      z.object({
        id: z.string(),
        category: z.enum(['service-from-pod', 'service-from-host', 'nodeport-from-outside', 'pod-to-pod']),
        label: z.string(),
        flow: z.object({
          src: z.string(),
          dst: z.string(),
          proto: z.enum(['tcp', 'udp', 'icmp', 'sctp']),
          dport: z.number().int().optional(),
          sport: z.number().int().optional(),
        }),
        frontend: z.string().optional(),
        service: z.string().optional(),
        before: pathSide,
        after: pathSide,
        changedKinds: z.object({ removed: z.array(hopKind), added: z.array(hopKind) }),
        steps: z.array(
          z.object({
            change: z.enum(['same', 'removed', 'added', 'replaced']),
            before: pathHop.optional(),
            after: pathHop.optional(),
          }),
        ),
        changed: z.boolean(),
        regression: z.boolean(),
        summary: z.string(),
      }),
    ),
  }),
  behaviour: z.array(
    z.object({
      code: z.enum([
        'icmp-echo',
        'client-source-address',
        'socket-lb',
        'hostport',
        'external-clusterip',
        'host-routing',
        'masquerade',
      ]),
      title: z.string(),
      detail: z.string(),
      regression: z.boolean(),
      frontends: z.array(z.string()).optional(),
      evidence: z.array(evidence),
    }),
  ),
  warnings: z.array(warning),
});

export function diffContract(diff: Diff): z.infer<typeof diffJsonSchema> {
  return diffJsonSchema.parse(diff);
}

export function renderDiffJson(diff: Diff): string {
  return JSON.stringify(diffContract(diff), null, 2) + '\n';
}
