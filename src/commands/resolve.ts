import { UsageError } from '../errors.js';
import { K8S_NAME_PATTERNS as K8S } from '../exec/allowlist.js';
import { canonIp, familyOf } from '../model/addr.js';
import type { ServiceEntry } from '../model/service.js';
import type { Evidence, NodeState, Warning } from '../model/types.js';
import { kubeGetPod, kubeGetService, type KubeTarget } from '../collect/kube.js';

/**
 * Names instead of addresses, as kubectl spells them: `NS/NAME` is a pod, `pod/NS/NAME` and `svc/NS/NAME`
 * (or `service/…`) say the kind, `pod/NAME` and `svc/NAME` take the namespace from `--namespace` (else
 * kubectl's current one).
 */
export interface NameRef {
  kind: 'pod' | 'service';
  namespace?: string;
  name: string;
}

const POD_WORDS = new Set(['pod', 'pods', 'po']);
const SVC_WORDS = new Set(['svc', 'service', 'services']);

export const NAME_FORMS = 'an IP address, NAMESPACE/POD, pod/[NAMESPACE/]NAME or svc/[NAMESPACE/]NAME';

/** null for an address; a UsageError for something that is neither an address nor a valid name. */
export function parseNameRef(arg: string): NameRef | null {
  if (canonIp(arg) !== null || !arg.includes('/')) return null;
  const parts = arg.split('/');
  let ref: NameRef;
  if (parts.length === 2 && POD_WORDS.has(parts[0]!)) ref = { kind: 'pod', name: parts[1]! };
  else if (parts.length === 2 && SVC_WORDS.has(parts[0]!)) ref = { kind: 'service', name: parts[1]! };
  else if (parts.length === 2) ref = { kind: 'pod', namespace: parts[0]!, name: parts[1]! };
  else if (parts.length === 3 && (POD_WORDS.has(parts[0]!) || SVC_WORDS.has(parts[0]!)))
    ref = { kind: POD_WORDS.has(parts[0]!) ? 'pod' : 'service', namespace: parts[1]!, name: parts[2]! };
  else throw new UsageError(`${JSON.stringify(arg)} is not ${NAME_FORMS}`);
  if (ref.namespace !== undefined && !K8S.namespace.test(ref.namespace))
    throw new UsageError(
      `${JSON.stringify(arg)}: ${JSON.stringify(ref.namespace)} is not a Kubernetes namespace name (RFC 1123 label)`,
    );
  const ok = ref.kind === 'pod' ? K8S.pod.test(ref.name) : K8S.service.test(ref.name);
  if (!ok)
    throw new UsageError(
      `${JSON.stringify(arg)}: ${JSON.stringify(ref.name)} is not a valid ${ref.kind === 'pod' ? 'pod name (RFC 1123 subdomain)' : 'Service name (RFC 1035 label)'}`,
    );
  return ref;
}

export interface Resolved {
  ref: NameRef;
  /** `default/web` (namespace as resolved; none when kubectl's current namespace was used) */
  display: string;
  ips: string[];
  ports: { port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }[];
  via: 'node state' | 'kubectl';
  evidence: Evidence;
  nodeName?: string;
}

export interface ResolveContext {
  state?: NodeState;
  services?: ServiceEntry[];
  kube: KubeTarget;
}

/** The node state first (this node's endpoints and Services, so a snapshot answers offline), then kubectl. */
export async function resolveName(ref: NameRef, ctx: ResolveContext): Promise<Resolved> {
  const ns = ref.namespace ?? ctx.kube.namespace;
  const key = ns !== undefined ? `${ns}/${ref.name}` : undefined;
  if (key !== undefined && ref.kind === 'pod') {
    const ep = ctx.state?.cilium.endpoints?.find((e) => e.name === key && (e.ipv4 || e.ipv6));
    if (ep)
      return {
        ref,
        display: key,
        ips: [ep.ipv4, ep.ipv6].filter((x): x is string => x !== undefined),
        ports: [],
        via: 'node state',
        evidence: ep.source,
      };
  }
  if (key !== undefined && ref.kind === 'service') {
    const named = (ctx.services ?? []).filter(
      (e) => e.type === 'ClusterIP' && (e.name === key || e.name?.startsWith(`${key}:`)),
    );
    if (named.length > 0) {
      const ips = [...new Set(named.map((e) => e.frontend.address))];
      const ports = dedupePorts(
        named
          .filter((e) => e.frontend.proto !== 'ANY')
          .map((e) => ({ port: e.frontend.port, protocol: e.frontend.proto as 'TCP' | 'UDP' | 'SCTP' })),
      );
      return {
        ref,
        display: key,
        ips,
        ports,
        via: 'node state',
        evidence: named[0]!.evidence[0] ?? { probe: named[0]!.source, text: key },
      };
    }
  }
  if (ref.kind === 'pod') {
    const p = await kubeGetPod(ctx.kube, ns, ref.name);
    if (p.ips.length === 0)
      throw new UsageError(
        `pod ${p.namespace ?? ns ?? ''}/${p.name} has no IP address yet (phase ${p.phase ?? 'unknown'})`.replace(
          ' /',
          ' ',
        ),
      );
    const display = `${p.namespace ?? ns ?? ''}/${p.name}`.replace(/^\//, '');
    return {
      ref,
      display,
      ips: p.ips,
      ports: [],
      via: 'kubectl',
      evidence: p.evidence,
      ...(p.nodeName ? { nodeName: p.nodeName } : {}),
    };
  }
  const s = await kubeGetService(ctx.kube, ns, ref.name);
  const display = `${s.namespace ?? ns ?? ''}/${s.name}`.replace(/^\//, '');
  if (s.externalName !== undefined)
    throw new UsageError(`service ${display} is an ExternalName (${s.externalName}): it has no address of its own`);
  if (s.headless || s.clusterIPs.length === 0)
    throw new UsageError(`service ${display} is headless (no ClusterIP): trace to one of its pods instead`);
  return {
    ref,
    display,
    ips: s.clusterIPs,
    ports: s.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
    via: 'kubectl',
    evidence: s.evidence,
  };
}

function dedupePorts<T extends { port: number; protocol: string }>(ps: T[]): T[] {
  const seen = new Set<string>();
  return ps.filter((p) => !seen.has(`${p.port}/${p.protocol}`) && seen.add(`${p.port}/${p.protocol}`));
}

export interface ResolvedEnds {
  src: string;
  dst: string;
  /** set from a Service's only port when none was given */
  port?: number;
  proto?: string;
  warnings: Warning[];
  srcName?: Resolved;
  dstName?: Resolved;
}

/**
 * Both ends as addresses of one family (the source's primary family first, as dual-stack pods list it),
 * and the destination Service's port and protocol when the request leaves them open.
 */
export function pickEnds(
  req: { src: string; dst: string; port?: string | number; proto?: string; protoExplicit?: boolean },
  srcName: Resolved | undefined,
  dstName: Resolved | undefined,
): ResolvedEnds {
  const srcIps = srcName ? srcName.ips : [req.src];
  const dstIps = dstName ? dstName.ips : [req.dst];
  let pair: [string, string] | undefined;
  for (const s of srcIps) {
    const d = dstIps.find((x) => familyOf(x) === familyOf(s));
    if (d !== undefined && familyOf(s) !== null) {
      pair = [s, d];
      break;
    }
  }
  // no common family: leave it to the flow parser, which names both addresses
  const [src, dst] = pair ?? [srcIps[0]!, dstIps[0]!];
  const out: ResolvedEnds = {
    src,
    dst,
    warnings: [],
    ...(srcName ? { srcName } : {}),
    ...(dstName ? { dstName } : {}),
  };
  for (const [end, r, ip] of [
    ['source', srcName, src],
    ['destination', dstName, dst],
  ] as const) {
    if (!r) continue;
    const other = r.ips.filter((x) => x !== ip);
    out.warnings.push({
      code: 'name-resolved',
      message: `${end} ${r.ref.kind === 'service' ? 'service' : 'pod'} ${r.display} is ${ip}${other.length ? ` (also ${other.join(', ')})` : ''}, from ${r.via === 'kubectl' ? 'kubectl' : 'the node state'}`,
      source: r.evidence.probe,
    });
  }
  if (dstName?.ref.kind === 'service' && dstName.ports.length > 0) {
    const wanted = dstName.ports.filter(
      (p) => !req.protoExplicit || p.protocol.toLowerCase() === String(req.proto).toLowerCase(),
    );
    if (req.port === undefined) {
      if (wanted.length === 1) {
        out.port = wanted[0]!.port;
        if (!req.protoExplicit) out.proto = wanted[0]!.protocol.toLowerCase();
      } else if (wanted.length > 1) {
        throw new UsageError(
          `service ${dstName.display} has ports ${wanted.map((p) => `${p.port}/${p.protocol}`).join(', ')}: choose one with --port`,
        );
      }
    } else if (wanted.some((p) => p.port === Number(req.port))) {
      const same = wanted.filter((p) => p.port === Number(req.port));
      if (!req.protoExplicit && same.length === 1) out.proto = same[0]!.protocol.toLowerCase();
    } else {
      out.warnings.push({
        code: 'port-not-in-service',
        message: `service ${dstName.display} has no port ${req.port}${req.protoExplicit ? `/${String(req.proto).toUpperCase()}` : ''} (it has ${dstName.ports.map((p) => `${p.port}/${p.protocol}`).join(', ')})`,
        source: dstName.evidence.probe,
      });
    }
  }
  return out;
}
