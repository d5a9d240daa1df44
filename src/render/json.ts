import { z } from 'zod';
import type { Trace } from '../model/trace.js';
import type { Diff } from '../model/diff.js';

const evidence = z.object({ probe: z.string(), text: z.string() });
const warning = z.object({ code: z.string(), message: z.string(), source: z.string().optional() });

/** The `--json` contract of `trace` (README "JSON output"); additions only within a schemaVersion. */
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
  hops: z.array(
    z.looseObject({
      kind: z.enum([
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
        'masquerade',
        'conntrack',
        'deliver',
        'drop',
      ]),
      detail: z.string(),
      evidence: z.array(evidence),
      inferred: z.boolean().optional(),
      because: z.string().optional(),
      explain: z
        .object({
          what: z.string(),
          why: z.string(),
          confirm: z.array(z.object({ command: z.string(), shows: z.string() })),
        })
        .optional(),
    }),
  ),
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

/** The `--json` contract of `diff` (README "Migrating from kube-proxy"); additions only within a schemaVersion. */
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
