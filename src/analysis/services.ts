import {
  serviceMatches,
  type Backend,
  type FrontendView,
  type L4Proto,
  type LookupResult,
  type ServiceEntry,
  type ServiceQuery,
  type ServiceSource,
  unknownWhy,
} from '../model/service.js';
import type { Warning } from '../model/types.js';
import { canonIp } from '../model/addr.js';
import type { Fact } from './datapath.js';
import { flagDifferences, flagReport, mergeFlags, type NodeLbFacts } from './service-flags.js';
import { byCodeUnit } from '../model/order.js';

/** What `svc lookup` was asked: an address with optional port and protocol, or namespace/name. */
export type { ServiceQuery };

/** What decides whether Cilium and kube-proxy both programming a frontend is stale state or by design. */
export interface LookupContext {
  kubeProxyReplacement?: Fact<boolean>;
  /** node-wide LB settings (status) that decide the flags a Service entry does not carry */
  node?: NodeLbFacts;
}

/** Parses `10.96.0.10`, `10.96.0.10:53`, `10.96.0.10:53/udp`, `[2001:db8::1]:443/tcp`, `kube-system/kube-dns`. */
export function parseServiceQuery(text: string): ServiceQuery | null {
  const t = text.trim();
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)|([0-9a-fA-F:]+))(?::(\d{1,5}))?(?:\/(tcp|udp|sctp|any))?$/i.exec(t);
  if (m) {
    const raw = m[1] ?? m[2] ?? m[3]!;
    // a bare IPv6 address has no port part
    const address = canonIp(m[3] !== undefined && m[4] !== undefined ? `${raw}:${m[4]}` : raw);
    if (address === null) return null;
    const q: ServiceQuery = { kind: 'address', address };
    if (m[4] !== undefined && m[3] === undefined) {
      const port = Number(m[4]);
      if (port > 65535) return null;
      q.port = port;
    }
    if (m[5]) q.proto = m[5].toUpperCase() as L4Proto;
    return q;
  }
  const n = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(t);
  if (n) return { kind: 'name', namespace: n[1]!, name: n[3]! };
  return null;
}

// Cilium's maps are what the datapath executes; cilium-dbg mirrors them; kube-proxy rules last.
const PRECEDENCE: ServiceSource[] = ['cilium-bpf', 'cilium-dbg', 'kube-proxy-iptables', 'kube-proxy-nftables', 'ipvs'];

function key(e: ServiceEntry): string {
  const a = e.frontend.address.includes(':') ? `[${e.frontend.address}]` : e.frontend.address;
  return `${a}:${e.frontend.port}/${e.frontend.proto}${e.frontend.scope === 'internal' ? '/i' : ''}`;
}

const matches = serviceMatches;

const backendSet = (bs: Backend[]) =>
  bs
    .filter((b) => b.state === 'active')
    .map((b) => `${b.address.includes(':') ? `[${b.address}]` : b.address}:${b.port}`)
    .sort()
    .join(',');

/** All frontends that match, one view per frontend across layers, with a conflict when layers disagree. */
export function lookupServices(entries: ServiceEntry[], q: ServiceQuery, ctx: LookupContext = {}): LookupResult {
  const groups = new Map<string, ServiceEntry[]>();
  for (const e of entries) {
    if (!matches(e, q)) continue;
    const k = key(e);
    const g = groups.get(k);
    if (g) g.push(e);
    else groups.set(k, [e]);
  }
  const frontends: FrontendView[] = [];
  for (const [k, list] of groups) {
    list.sort((a, b) => PRECEDENCE.indexOf(a.source) - PRECEDENCE.indexOf(b.source));
    const first = list[0]!;
    const bySource = list.map((e) => ({
      source: e.source,
      type: e.type,
      backends: e.backends,
      evidence: e.evidence,
      ...(e.chain ? { chain: e.chain } : {}),
      flags: flagReport(e, ctx.node),
    }));
    const view: FrontendView = {
      frontend: k,
      address: first.frontend.address,
      port: first.frontend.port,
      proto: first.frontend.proto,
      type: first.type,
      sources: [...new Set(list.map((e) => e.source))],
      backends: first.backends,
      bySource,
      flags: mergeFlags(bySource),
    };
    const name = list.find((e) => e.name)?.name;
    if (name) view.name = name;
    const differ = flagDifferences(bySource);
    if (differ.length) view.flagsDiffer = differ;
    const typeWhy = unknownWhy(first, 'type');
    if (typeWhy !== undefined) view.typeUnknown = typeWhy;
    const cilium = list.filter((e) => e.source === 'cilium-bpf' || e.source === 'cilium-dbg');
    const kp = list.filter((e) => e.source !== 'cilium-bpf' && e.source !== 'cilium-dbg');
    const disagree: string[] = [];
    if (cilium.length && kp.length) {
      for (const c of cilium.slice(0, 1))
        for (const p of kp)
          if (backendSet(c.backends) !== backendSet(p.backends))
            disagree.push(
              `${c.source} sends it to {${backendSet(c.backends) || 'no active backend'}} but ${p.source} to {${backendSet(p.backends) || 'no active backend'}}`,
            );
      if (disagree.length === 0) {
        const both = `programmed by both ${cilium[0]!.source} and ${kp.map((p) => p.source).join(', ')}`;
        const kpr = ctx.kubeProxyReplacement;
        // Without kube-proxy replacement Cilium still load-balances ClusterIP for pod traffic in the pod's tc
        // program (cilium/cilium#10651), ahead of netfilter; kube-proxy serves the host namespace and NodePort.
        // Both layers holding the same backends is then the design, not stale state.
        if (kpr?.known && !kpr.value && first.type === 'ClusterIP')
          view.note = `${both} with the same backends, as expected without kube-proxy replacement (${kpr.evidence[0]?.text ?? 'kube-proxy replacement off'}): Cilium load-balances pod traffic in the pod's tc program before netfilter, kube-proxy the host namespace`;
        else if (kpr?.known && kpr.value)
          disagree.push(
            `${both}: stale kube-proxy rules beside Cilium's kube-proxy replacement (${kpr.evidence[0]?.text ?? 'on'}); Cilium rewrites first, the rules only act on what Cilium does not handle`,
          );
        else if (kpr?.known)
          disagree.push(
            `${both}: Cilium without kube-proxy replacement programs this ${first.type} frontend beside kube-proxy`,
          );
        else
          disagree.push(
            `${both}: stale kube-proxy rules if kube-proxy replacement is on, expected for ClusterIP without it (${kpr ? kpr.because : 'the kube-proxy replacement mode was not read'})`,
          );
      }
    }
    if (disagree.length) view.conflict = disagree.join('; ');
    frontends.push(view);
  }
  frontends.sort((a, b) => byCodeUnit(a.frontend, b.frontend));
  return { query: q, frontends, warnings: [] };
}

/** What the Kubernetes API says one Service port's endpoints are (EndpointSlices), for comparison with a node. */
export interface ApiEndpoint {
  address: string;
  port?: number;
  protocol?: string;
  portName?: string;
  ready: boolean;
}

/**
 * The API's ready endpoints for a Service port against the backends this node programs for its frontend:
 * a ready endpoint the node lacks, or an active backend the API no longer lists, means the node's
 * datapath lags the API (agent or kube-proxy behind, or stale state left over).
 */
export function compareWithApi(
  f: FrontendView,
  servicePort: { name?: string; protocol: string },
  api: ApiEndpoint[],
  source: string,
): Warning[] {
  const hp = (a: string, p: number | undefined) => `${a.includes(':') ? `[${a}]` : a}:${p ?? '*'}`;
  const forPort = api.filter(
    (e) =>
      (e.protocol ?? 'TCP') === servicePort.protocol &&
      (servicePort.name === undefined || e.portName === undefined || e.portName === servicePort.name),
  );
  const want = new Set(forPort.filter((e) => e.ready).map((e) => hp(e.address, e.port)));
  const have = new Set(f.backends.filter((b) => b.state === 'active').map((b) => hp(b.address, b.port)));
  const missing = [...want].filter((x) => !have.has(x));
  const extra = [...have].filter((x) => !want.has(x));
  const out: Warning[] = [];
  if (missing.length)
    out.push({
      code: 'api-endpoint-missing',
      message: `${f.frontend}: the API lists ready endpoint(s) ${missing.join(', ')} that this node does not program`,
      source,
    });
  if (extra.length)
    out.push({
      code: 'backend-not-in-api',
      message: `${f.frontend}: this node programs active backend(s) ${extra.join(', ')} that the API does not list as ready`,
      source,
    });
  return out;
}
