import { canonIp, canonPrefix } from '../../model/addr.js';
import type { Backend, L4Proto, ServiceEntry, ServiceType } from '../../model/service.js';
import type { Evidence, Family, Parsed, Warning } from '../../model/types.js';
import { warn } from '../../tools/common.js';
import type { NftChain, NftRuleset, NftSet, NftTable } from '../../model/nft.js';

const PROTOS: Record<string, L4Proto> = {
  tcp: 'TCP',
  udp: 'UDP',
  sctp: 'SCTP',
  '6': 'TCP',
  '17': 'UDP',
  '132': 'SCTP',
};

/** `service-ULMVA6XW-ns1/svc1/tcp/p80` → `ns1/svc1:p80` (an unnamed port gives `ns1/svc1`). */
export function nftChainServiceName(chain: string): string | undefined {
  const m =
    /^(?:service|external|local|firewall|endpoint)-[A-Z0-9]{8}-([^/]+)\/([^/]+)\/[a-z]+\/([^_]*?)(?:__.*)?$/.exec(
      chain,
    );
  if (!m) return undefined;
  return m[3] ? `${m[1]}/${m[2]}:${m[3]}` : `${m[1]}/${m[2]}`;
}

interface Res {
  backends: Backend[];
  evidence: Evidence[];
  masq: string[];
  affinity?: number;
  etpLocal?: boolean;
  missing: string[];
}

class NftExtractor {
  readonly warnings: Warning[] = [];
  constructor(
    private readonly t: NftTable,
    private readonly probe: string,
    private readonly family: Family,
  ) {}

  private chain(name: string): NftChain | undefined {
    return this.t.chains.find((c) => c.name === name);
  }
  private set(name: string): NftSet | undefined {
    return this.t.sets.find((s) => s.name === name);
  }

  resolve(name: string, depth = 0): Res {
    const r: Res = { backends: [], evidence: [], masq: [], missing: [] };
    const c = this.chain(name);
    if (!c || depth > 6) {
      r.missing.push(name);
      return r;
    }
    const kind = name.split('-')[0];
    // A chain reached twice from one chain adds nothing new (the sub-result is the same) but
    // doubles its backends; a ruleset listed twice over made that exponential in the depth.
    const done = new Set<string>();
    for (const rule of c.rules) {
      r.evidence.push(rule.source);
      const v = rule.verdict;
      if (v?.target === 'mark-for-masquerade') {
        r.masq.push(
          rule.matches.map((m) => `${m.left} ${m.op === '==' ? '' : m.op + ' '}${m.right.join(',')}`).join(' ') ||
            'all',
        );
        continue;
      }
      if (rule.numgen && rule.vmap?.elements) {
        const n = rule.vmap.elements.length;
        if (rule.numgen.mode !== 'random' || rule.numgen.mod !== n)
          this.warnings.push(
            warn(
              'kube-proxy-nft-numgen',
              `${name}: numgen ${rule.numgen.mode} mod ${rule.numgen.mod} over ${n} endpoints`,
              this.probe,
            ),
          );
        for (const el of rule.vmap.elements) {
          const t = el.verdict.target;
          if (!t || done.has(t)) continue;
          done.add(t);
          const ep = this.endpoint(t);
          for (const b of ep.backends) {
            if (rule.numgen.mode === 'random' && rule.numgen.mod === n) b.probability = Math.round((1 / n) * 1e9) / 1e9;
            r.backends.push(b);
          }
          append(r.evidence, ep.evidence);
          append(r.missing, ep.missing);
        }
        continue;
      }
      if (v && (v.kind === 'goto' || v.kind === 'jump') && v.target) {
        const tk = v.target.split('-')[0];
        if (tk === 'endpoint') {
          // `ip saddr @affinity-… goto endpoint-…`: session affinity
          const aff = rule.matches.find((m) => m.right[0]?.startsWith('@affinity-'));
          if (aff) {
            const s = this.set(aff.right[0]!.slice(1));
            r.affinity = s?.timeout ?? r.affinity ?? 0;
            continue;
          }
        }
        if ((tk === 'service' || tk === 'local') && (kind === 'external' || kind === 'firewall')) {
          if (rule.matches.length > 0) {
            r.etpLocal = true;
            continue;
          }
          if (tk === 'local') r.etpLocal = true;
          if (done.has(v.target)) continue;
          done.add(v.target);
          const sub = this.resolve(v.target, depth + 1);
          merge(r, sub);
          continue;
        }
        if (tk === 'local' || tk === 'service' || tk === 'external') {
          if (done.has(v.target)) continue;
          done.add(v.target);
          merge(r, this.resolve(v.target, depth + 1));
          continue;
        }
      }
      if (v?.kind === 'drop' && kind === 'firewall') continue;
      this.warnings.push(
        warn('kube-proxy-nft-unexpected-rule', `${name}: rule not understood: ${rule.source.text}`, this.probe),
      );
    }
    return r;
  }

  endpoint(name: string): Res {
    const r: Res = { backends: [], evidence: [], masq: [], missing: [] };
    const c = this.chain(name);
    if (!c) {
      r.missing.push(name);
      return r;
    }
    for (const rule of c.rules) {
      r.evidence.push(rule.source);
      if (!rule.dnat) continue;
      const addr = canonIp(rule.dnat.addr);
      if (addr === null || rule.dnat.port === undefined) {
        this.warnings.push(warn('kube-proxy-nft-bad-dnat', `${name}: dnat target not understood`, this.probe));
        continue;
      }
      const b: Backend = { address: addr, port: rule.dnat.port, state: 'active', id: name, source: rule.source };
      const l4 = rule.matches.find((m) => m.left === 'meta l4proto');
      const pr = l4 ? PROTOS[l4.right[0] ?? ''] : undefined;
      if (pr) b.proto = pr;
      r.backends.push(b);
    }
    return r;
  }

  run(): ServiceEntry[] {
    const out: ServiceEntry[] = [];
    const byKey = new Map<string, ServiceEntry>();
    const any = this.family === 4 ? '0.0.0.0' : '::';
    const clusterIps = new Set((this.set('cluster-ips')?.elements ?? []).map((e) => canonIp(e.key[0] ?? '') ?? ''));
    const fwIps = new Map<string, string>();
    for (const e of this.set('firewall-ips')?.elements ?? [])
      if (e.verdict?.target) fwIps.set(e.key.join('|'), e.verdict.target);
    const nodeportIps = (this.set('nodeport-ips')?.elements ?? []).map((e) => e.key[0] ?? '');

    const add = (
      addr: string,
      proto: L4Proto,
      port: number,
      type: ServiceType,
      chain: string,
      ev: Evidence,
      typeNote?: string,
    ): ServiceEntry => {
      // A map holds one element per key: a repeated `add element` (a transaction applied twice)
      // is the same Service, not another one with every backend again.
      const prior = byKey.get(`${addr}|${proto}|${port}`);
      if (prior !== undefined && prior.chain === chain && prior.type === type) return prior;
      const res = this.resolve(chain);
      const e: ServiceEntry = {
        source: 'kube-proxy-nftables',
        frontend: { address: addr, port, proto },
        type,
        flags: { algorithm: 'random' },
        backends: res.backends,
        chain,
        evidence: [ev, ...res.evidence],
      };
      const name = nftChainServiceName(chain);
      if (name !== undefined) e.name = name;
      if (res.affinity !== undefined) {
        e.flags.sessionAffinity = true;
        if (res.affinity > 0) e.flags.affinityTimeoutSeconds = res.affinity;
      }
      if (res.etpLocal) e.flags.externalTrafficPolicyLocal = true;
      const raw = [...new Set(res.masq)].map((m) => `masquerade:${m}`);
      if (typeNote) raw.push(typeNote);
      if (type === 'NodePort' && nodeportIps.length > 0) raw.push(`nodeport-ips:${nodeportIps.join(',')}`);
      if (raw.length > 0) e.flags.raw = raw;
      if (res.missing.length > 0) {
        e.incomplete = `chain(s) ${[...new Set(res.missing)].join(', ')} not in this ruleset; backends unknown`;
        this.warnings.push(warn('kube-proxy-missing-chain', `${e.name ?? chain}: ${e.incomplete}`, this.probe));
      }
      byKey.set(`${addr}|${proto}|${port}`, e);
      out.push(e);
      return e;
    };
    const keyParts = (key: string[], withAddr: boolean): { addr: string; proto: L4Proto; port: number } | null => {
      const [a, p, n] = withAddr ? key : [any, key[0], key[1]];
      const addr = canonIp(a ?? '');
      const proto = PROTOS[(p ?? '').toLowerCase()];
      const port = Number(n);
      if (addr === null || !proto || !Number.isInteger(port) || port < 0 || port > 65535) return null;
      return { addr, proto, port };
    };

    const sips = this.set('service-ips');
    if (!sips)
      this.warnings.push(
        warn('kube-proxy-nft-no-map', `table ${this.t.family} ${this.t.name} has no service-ips map`, this.probe),
      );
    for (const el of sips?.elements ?? []) {
      const k = keyParts(el.key, true);
      const target = el.verdict?.target;
      if (!k || !target) {
        this.warnings.push(
          warn('kube-proxy-nft-bad-element', `service-ips element ${el.key.join(' . ')} not understood`, this.probe),
        );
        continue;
      }
      const ev: Evidence = {
        probe: this.probe,
        text: `service-ips: ${el.key.join(' . ')} : ${el.verdict!.kind} ${target}`,
      };
      if (target.startsWith('service-') || target.startsWith('local-'))
        add(k.addr, k.proto, k.port, 'ClusterIP', target, ev);
      else {
        const fw = fwIps.get(el.key.join('|'));
        // nft mode gives ExternalIPs and LoadBalancer IPs the same external- chain; only source ranges tell an LB apart.
        const e = add(
          k.addr,
          k.proto,
          k.port,
          fw ? 'LoadBalancer' : 'ExternalIP',
          target,
          ev,
          fw ? undefined : 'external-ip-or-loadbalancer',
        );
        if (fw) {
          e.flags.sourceRangeCheck = true;
          const fc = this.chain(fw);
          for (const r of fc?.rules ?? []) {
            const m = r.matches.find((x) => x.left.endsWith(' saddr') && x.op === '!=');
            if (m && r.verdict?.kind === 'drop') e.sourceRanges = m.right.map((x) => canonPrefix(x) ?? x);
            e.evidence.push(r.source);
          }
        }
      }
    }
    for (const el of this.set('service-nodeports')?.elements ?? []) {
      const k = keyParts(el.key, false);
      const target = el.verdict?.target;
      if (!k || !target) continue;
      add(k.addr, k.proto, k.port, 'NodePort', target, {
        probe: this.probe,
        text: `service-nodeports: ${el.key.join(' . ')} : ${el.verdict!.kind} ${target}`,
      });
    }
    for (const [mapName, withAddr] of [
      ['no-endpoint-services', true],
      ['no-endpoint-nodeports', false],
    ] as const) {
      for (const el of this.set(mapName)?.elements ?? []) {
        const k = keyParts(el.key, withAddr);
        if (!k || !el.verdict) continue;
        const verdict =
          el.verdict.kind === 'drop'
            ? 'drop'
            : el.verdict.target === 'reject-chain' || el.verdict.kind === 'reject'
              ? 'reject'
              : undefined;
        if (!verdict) continue;
        const ev: Evidence = {
          probe: this.probe,
          text: `${mapName}: ${el.key.join(' . ')}${el.comment ? ` comment "${el.comment}"` : ''} : ${el.verdict.kind}${el.verdict.target ? ' ' + el.verdict.target : ''}`,
        };
        const existing = byKey.get(`${k.addr}|${k.proto}|${k.port}`);
        if (existing) {
          existing.noEndpoints = verdict;
          existing.evidence.push(ev);
          if (verdict === 'drop' && existing.flags.externalTrafficPolicyLocal) existing.backends = [];
          continue;
        }
        const type: ServiceType = !withAddr ? 'NodePort' : clusterIps.has(k.addr) ? 'ClusterIP' : 'ExternalIP';
        const e: ServiceEntry = {
          source: 'kube-proxy-nftables',
          frontend: { address: k.addr, port: k.port, proto: k.proto },
          type,
          flags: {},
          backends: [],
          noEndpoints: verdict,
          chain: mapName,
          evidence: [ev],
        };
        if (el.comment) e.name = el.comment;
        if (type === 'ExternalIP') e.flags.raw = ['external-ip-or-loadbalancer'];
        byKey.set(`${k.addr}|${k.proto}|${k.port}`, e);
        out.push(e);
      }
    }
    return out;
  }
}

// push(...xs) passes every element as an argument: past ~100k (a ruleset whose chains repeat,
// e.g. a concatenated 5 MB `nft list ruleset`) it throws RangeError instead of appending.
function append<T>(dst: T[], src: readonly T[]): void {
  for (const x of src) dst.push(x);
}

function merge(r: Res, sub: Res): void {
  append(r.backends, sub.backends);
  append(r.evidence, sub.evidence);
  append(r.masq, sub.masq);
  append(r.missing, sub.missing);
  if (sub.affinity !== undefined) r.affinity = sub.affinity;
  if (sub.etpLocal) r.etpLocal = true;
}

/** kube-proxy nftables-mode Services from the `ip kube-proxy` / `ip6 kube-proxy` tables. */
export function kubeProxyServicesFromNft(rs: NftRuleset, probe: string): Parsed<ServiceEntry[]> {
  const value: ServiceEntry[] = [];
  const warnings: Warning[] = [];
  for (const t of rs.tables) {
    if (t.name !== 'kube-proxy' || (t.family !== 'ip' && t.family !== 'ip6')) continue;
    const x = new NftExtractor(t, probe, t.family === 'ip6' ? 6 : 4);
    append(value, x.run());
    append(warnings, x.warnings);
  }
  return { value, warnings };
}
