import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceEntry } from '../../src/model/service.js';

export const FIX = join(__dirname, '../../fixtures/tools/kube-proxy');
export const read = (rel: string): string => readFileSync(join(FIX, rel), 'utf8');
// biome-ignore lint/suspicious/noExplicitAny: test fixtures are read as untyped JSON and narrowed by each test
export const readJson = (rel: string): any => JSON.parse(read(rel));

export interface ExpectedEndpoint {
  ip: string;
  port: number;
  iptablesSEPChain?: string;
  nftEndpointChain?: string;
  iptablesProbability?: string;
}
export interface ExpectedSvc {
  servicePortName: string;
  protocol: string;
  clusterIP: string;
  port: number;
  chains: Record<string, string>;
  endpoints: ExpectedEndpoint[];
  nodePort?: number;
  externalIPs?: string[];
  loadBalancerIPs?: string[];
  loadBalancerSourceRanges?: string[];
  externalTrafficPolicy?: string;
  externallyReachableEndpoints?: unknown[];
  sessionAffinity?: { type: string; timeoutSeconds: number };
  noEndpoints?: string;
}

/** A compact, comparable rendering of one ServiceEntry. */
export function summarise(e: ServiceEntry): string {
  const be = e.backends.map((b) => `${b.address}:${b.port}${b.id ? '@' + b.id : ''}`).join(',');
  return `${e.name ?? '?'} ${e.type} ${e.frontend.proto} ${e.frontend.address}:${e.frontend.port} -> [${be}]${e.noEndpoints ? ' ' + e.noEndpoints : ''}`;
}

/**
 * What the services.json says a correct extraction yields, rendered like `summarise`.
 * `epKey` picks the endpoint id column of the mode under test.
 */
export function expectedSummaries(
  svcs: ExpectedSvc[],
  epKey: 'iptablesSEPChain' | 'nftEndpointChain',
  any: string,
  nftTypes = false,
): string[] {
  const out: string[] = [];
  for (const s of svcs) {
    const proto = s.protocol.toUpperCase();
    const eps = s.endpoints.map((e) => `${e.ip}:${e.port}${e[epKey] ? '@' + e[epKey] : ''}`).join(',');
    const ext = s.externalTrafficPolicy === 'Local' ? (s.externallyReachableEndpoints ?? []).join(',') : eps;
    const rej = s.noEndpoints !== undefined ? ' reject' : '';
    const extNoEp =
      s.externalTrafficPolicy === 'Local' && (s.externallyReachableEndpoints ?? []).length === 0 ? ' drop' : rej;
    out.push(`${s.servicePortName} ClusterIP ${proto} ${s.clusterIP}:${s.port} -> [${eps}]${rej}`);
    for (const ip of s.externalIPs ?? [])
      out.push(`${s.servicePortName} ExternalIP ${proto} ${ip}:${s.port} -> [${ext}]${extNoEp}`);
    // nftables mode programs ExternalIPs and LB IPs alike; only an LB with source ranges is recognisable.
    const lbType = nftTypes && !s.loadBalancerSourceRanges ? 'ExternalIP' : 'LoadBalancer';
    for (const ip of s.loadBalancerIPs ?? [])
      out.push(`${s.servicePortName} ${lbType} ${proto} ${ip}:${s.port} -> [${ext}]${extNoEp}`);
    if (s.nodePort !== undefined)
      out.push(`${s.servicePortName} NodePort ${proto} ${any}:${s.nodePort} -> [${ext}]${extNoEp}`);
  }
  return out.sort();
}
