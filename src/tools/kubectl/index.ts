import { z } from 'zod';
import { canonIp } from '../../model/addr.js';
import type { Evidence } from '../../model/types.js';
import { parseJsonText } from '../common.js';
import { ParseError } from '../parse-error.js';

/** The fields netpath reads from `kubectl get … -o json`; everything else in the object is ignored. */

const meta = z.looseObject({ name: z.string(), namespace: z.string().optional() });

const podSchema = z.looseObject({
  kind: z.literal('Pod'),
  metadata: meta,
  spec: z.looseObject({ nodeName: z.string().optional(), hostNetwork: z.boolean().optional() }).optional(),
  status: z
    .looseObject({
      phase: z.string().optional(),
      podIP: z.string().optional(),
      podIPs: z.array(z.looseObject({ ip: z.string() })).optional(),
      hostIP: z.string().optional(),
    })
    .optional(),
});

const servicePort = z.looseObject({
  name: z.string().optional(),
  port: z.number().int().min(1).max(65535),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
});
const serviceSchema = z.looseObject({
  kind: z.literal('Service'),
  metadata: meta,
  spec: z.looseObject({
    type: z.string().optional(),
    clusterIP: z.string().optional(),
    clusterIPs: z.array(z.string()).optional(),
    externalName: z.string().optional(),
    ports: z.array(servicePort).optional(),
  }),
});

const sliceSchema = z.looseObject({
  metadata: meta,
  addressType: z.string(),
  endpoints: z
    .array(
      z.looseObject({
        addresses: z.array(z.string()),
        conditions: z
          .looseObject({
            ready: z.boolean().optional(),
            serving: z.boolean().optional(),
            terminating: z.boolean().optional(),
          })
          .optional(),
        nodeName: z.string().optional(),
        targetRef: z
          .looseObject({ kind: z.string().optional(), name: z.string().optional(), namespace: z.string().optional() })
          .optional(),
      }),
    )
    .nullish(),
  ports: z
    .array(
      z.looseObject({ name: z.string().optional(), port: z.number().int().nullish(), protocol: z.string().optional() }),
    )
    .nullish(),
});
const sliceListSchema = z.looseObject({ items: z.array(sliceSchema) });

export interface KubePod {
  name: string;
  namespace: string | null;
  /** canonical addresses, primary first (`status.podIPs`, or `status.podIP`) */
  ips: string[];
  nodeName?: string;
  hostNetwork: boolean;
  phase?: string;
  evidence: Evidence;
}

export interface KubeService {
  name: string;
  namespace: string | null;
  type: string;
  /** canonical ClusterIPs, primary first; empty for headless and ExternalName Services */
  clusterIPs: string[];
  headless: boolean;
  externalName?: string;
  ports: { name?: string; port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }[];
  evidence: Evidence;
}

export interface KubeEndpoint {
  address: string;
  port?: number;
  protocol?: string;
  /** the slice port's name: the Service port of the same name is the one it backs */
  portName?: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  pod?: string;
  slice: string;
}

function json<T>(text: string, probe: string, schema: z.ZodType<T>, what: string): T {
  const j = parseJsonText(text);
  if (!j.ok) throw new ParseError(probe, j.message);
  const r = schema.safeParse(j.value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ParseError(
      probe,
      `not ${what} (${issue ? `${issue.path.join('.') || 'top level'}: ${issue.message}` : 'unexpected shape'})`,
    );
  }
  return r.data;
}

const canon = (ips: string[]): string[] => [
  ...new Set(ips.map((ip) => canonIp(ip)).filter((ip): ip is string => ip !== null)),
];

/** `kubectl get pod NAME -o json` */
export function parseKubePod(text: string, probe: string): KubePod {
  const p = json(text, probe, podSchema, 'a Pod object');
  const raw = p.status?.podIPs?.map((x) => x.ip) ?? (p.status?.podIP ? [p.status.podIP] : []);
  const ips = canon(raw);
  const ns = p.metadata.namespace ?? null;
  return {
    name: p.metadata.name,
    namespace: ns,
    ips,
    ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
    hostNetwork: p.spec?.hostNetwork === true,
    ...(p.status?.phase ? { phase: p.status.phase } : {}),
    evidence: {
      probe,
      text: `pod ${ns ? `${ns}/` : ''}${p.metadata.name} podIPs ${ips.join(',') || '(none)'}${p.spec?.nodeName ? ` node ${p.spec.nodeName}` : ''}${p.status?.phase ? ` ${p.status.phase}` : ''}`,
    },
  };
}

/** `kubectl get service NAME -o json` */
export function parseKubeService(text: string, probe: string): KubeService {
  const s = json(text, probe, serviceSchema, 'a Service object');
  const rawIps = s.spec.clusterIPs ?? (s.spec.clusterIP ? [s.spec.clusterIP] : []);
  const headless = rawIps.includes('None');
  const clusterIPs = canon(rawIps.filter((ip) => ip !== 'None'));
  const ports = (s.spec.ports ?? []).map((p) => ({
    ...(p.name ? { name: p.name } : {}),
    port: p.port,
    protocol: p.protocol ?? ('TCP' as const),
  }));
  const ns = s.metadata.namespace ?? null;
  const type = s.spec.type ?? 'ClusterIP';
  return {
    name: s.metadata.name,
    namespace: ns,
    type,
    clusterIPs,
    headless,
    ...(s.spec.externalName ? { externalName: s.spec.externalName } : {}),
    ports,
    evidence: {
      probe,
      text: `service ${ns ? `${ns}/` : ''}${s.metadata.name} ${type} clusterIPs ${headless ? 'None' : clusterIPs.join(',') || '(none)'} ports ${ports.map((p) => `${p.port}/${p.protocol}`).join(',') || '(none)'}`,
    },
  };
}

/** `kubectl get endpointslices -l kubernetes.io/service-name=NAME -o json`: every address × port of every slice. */
export function parseKubeEndpointSlices(text: string, probe: string): KubeEndpoint[] {
  const list = json(text, probe, sliceListSchema, 'a list of EndpointSlices');
  const out: KubeEndpoint[] = [];
  for (const s of list.items) {
    if (s.addressType !== 'IPv4' && s.addressType !== 'IPv6') continue; // FQDN slices carry no address to compare
    // a port outside 1-65535 (found by fuzzing: -1) is not one; a slice whose ports are all such says nothing usable
    const ports = (s.ports ?? []).filter((p) => typeof p.port === 'number' && p.port >= 1 && p.port <= 65535);
    if (ports.length === 0 && (s.ports ?? []).some((p) => typeof p.port === 'number')) continue;
    for (const e of s.endpoints ?? []) {
      const c = e.conditions ?? {};
      // the API's rule: a nil ready means ready; serving defaults to ready; terminating to false
      const ready = c.ready !== false;
      const base = {
        ready,
        serving: c.serving ?? ready,
        terminating: c.terminating === true,
        ...(e.nodeName ? { nodeName: e.nodeName } : {}),
        ...(e.targetRef?.kind === 'Pod' && e.targetRef.name
          ? { pod: `${e.targetRef.namespace ?? s.metadata.namespace ?? ''}/${e.targetRef.name}`.replace(/^\//, '') }
          : {}),
        slice: s.metadata.name,
      };
      for (const a of canon(e.addresses)) {
        if (ports.length === 0) out.push({ address: a, ...base });
        for (const p of ports)
          out.push({
            address: a,
            port: p.port!,
            ...(p.protocol ? { protocol: p.protocol } : {}),
            ...(p.name ? { portName: p.name } : {}),
            ...base,
          });
      }
    }
  }
  return out;
}
