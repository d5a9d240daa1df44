import { canonIp, familyOf } from '../../model/addr.js';
import type { L4Proto, ServiceType, ServiceFlags } from '../../model/service.js';

export interface L3n4 {
  address: string;
  port: number;
  /** undefined when the string carries no protocol (older Cilium prints none: frontend-protocol-printed) */
  proto?: L4Proto;
  scope: 'external' | 'internal';
}

const PROTOS: Record<string, L4Proto> = { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP', ANY: 'ANY', NONE: 'ANY' };

export function protoFromString(s: string): L4Proto | undefined {
  return PROTOS[s.toUpperCase()];
}

/**
 * Cilium's L3n4Addr.String(): `IP:port[/PROTO][/i]`, IPv6 in brackets; the protocol is printed from the version
 * model/cilium-rules.ts gives for frontend-protocol-printed, never before. Returns null for anything else (out-of-range port, bad IP, unknown protocol).
 */
export function parseL3n4(text: string): L3n4 | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})((?:\/[A-Za-z]+)*)$/.exec(text);
  if (!m) return null;
  const ipText = m[1] ?? m[2] ?? '';
  const address = canonIp(ipText);
  if (address === null) return null;
  if (m[1] !== undefined && familyOf(address) !== 6) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  const out: L3n4 = { address, port, scope: 'external' };
  const parts = (m[4] ?? '').split('/').filter((p) => p !== '');
  for (const [i, p] of parts.entries()) {
    if (p === 'i' && i === parts.length - 1) {
      out.scope = 'internal';
      continue;
    }
    const proto = protoFromString(p);
    if (proto === undefined || i !== 0 || out.proto !== undefined) return null;
    out.proto = proto;
  }
  return out;
}

export const IANA_PROTO: Record<number, L4Proto> = { 0: 'ANY', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

/** Service type words as `service list` and `bpf lb list` print them (Cilium's SVCType strings). */
const TYPE_WORDS: Record<string, ServiceType> = {
  ClusterIP: 'ClusterIP',
  NodePort: 'NodePort',
  ExternalIPs: 'ExternalIP',
  HostPort: 'HostPort',
  LoadBalancer: 'LoadBalancer',
  LocalRedirect: 'LocalRedirect',
};

export function serviceTypeFromWord(w: string): ServiceType | undefined {
  return Object.hasOwn(TYPE_WORDS, w) ? TYPE_WORDS[w] : undefined;
}

export interface FlagWords {
  type?: ServiceType;
  flags: ServiceFlags;
  unknown: string[];
}

/**
 * The slot-0 flag string of `bpf lb list` (`[NodePort, Local, non-routable]`), as ServiceFlags.String()
 * joins it. Absence of `non-routable` means the routable bit is set.
 */
export function parseFlagWords(inner: string): FlagWords {
  const words = inner
    .split(',')
    .map((w) => w.trim())
    .filter((w) => w !== '');
  const flags: ServiceFlags = { routable: true, raw: words };
  const unknown: string[] = [];
  let type: ServiceType | undefined;
  for (const w of words) {
    const t = serviceTypeFromWord(w);
    if (t !== undefined && type === undefined) {
      type = t;
      continue;
    }
    switch (w) {
      case 'Local':
        flags.externalTrafficPolicyLocal = true;
        break;
      case 'InternalLocal':
        flags.internalTrafficPolicyLocal = true;
        break;
      case 'two-scopes':
        flags.twoScopes = true;
        break;
      case 'sessionAffinity':
        flags.sessionAffinity = true;
        break;
      case 'non-routable':
        flags.routable = false;
        break;
      case 'check source-range':
      case 'check source-range deny':
        flags.sourceRangeCheck = true;
        break;
      case 'l7-load-balancer':
        flags.l7LoadBalancer = true;
        break;
      case 'dsr':
        flags.dsr = true;
        break;
      // known words with no field of their own: kept in raw
      case 'deny':
      case '46x64':
      case 'loopback':
      case 'delegate-if-local':
      case 'quarantined':
        break;
      default:
        unknown.push(w);
    }
  }
  return type === undefined ? { flags, unknown } : { type, flags, unknown };
}
