import { canonPrefix, splitHostPort } from '../../model/addr.js';
import type { Backend, FrontendKeep, L4Proto, ServiceEntry, ServiceType } from '../../model/service.js';

export type { FrontendKeep } from '../../model/service.js';
import type { Evidence, Family, Parsed, Warning } from '../../model/types.js';
import { warn } from '../../tools/common.js';
import type { IptablesChain, IptablesRuleset, IptablesTable } from '../../model/iptables.js';
import { findTable } from '../../model/iptables.js';
import {
  LeanRule,
  type AnyRule,
  anyRuleOption as ruleOption,
  anyTargetOption as targetOption,
  chainRules,
  ruleCount,
  statisticOf,
  targetName,
} from '../../model/iptables-lean.js';

// Null prototype: `-p __proto__` must look up nothing, not Object.prototype as the protocol.
const PROTOS: Record<string, L4Proto> = Object.assign(Object.create(null) as Record<string, L4Proto>, {
  tcp: 'TCP',
  udp: 'UDP',
  sctp: 'SCTP',
});

export interface Frontish {
  addr?: string;
  proto?: L4Proto;
  port?: number;
}

// rules are read through model/iptables-lean.ts: a per-Service chain read lean (tools/iptables/lean-rules.ts) is
// never parsed whole here
export function ruleFrontend(rule: AnyRule, family: Family): Frontish {
  if (rule instanceof LeanRule) return leanFrontend(rule, family);
  const out: Frontish = {};
  const d = ruleOption(rule, 'destination', '');
  if (d && !d.negated && d.args[0] !== undefined) {
    const p = canonPrefix(d.args[0]);
    const host = family === 4 ? '/32' : '/128';
    if (p?.endsWith(host)) out.addr = p.slice(0, -host.length);
  }
  const p = ruleOption(rule, 'protocol', '');
  if (p && !p.negated && p.args[0] !== undefined) {
    const pr = PROTOS[p.args[0].toLowerCase()];
    if (pr) out.proto = pr;
  }
  const dp = ruleOption(rule, 'dport') ?? ruleOption(rule, 'destination-port');
  if (dp && !dp.negated && dp.args[0] !== undefined && /^\d{1,5}$/.test(dp.args[0])) {
    const n = Number(dp.args[0]);
    if (n <= 65535) out.port = n;
  }
  return out;
}

/**
 * ruleFrontend of a lean rule, read from its spans without an option object per question (asked of each of
 * the 100,000 endpoint rules of a 10,000-Service dump). A lean rule has `-d` (maybe negated), `-p` never negated,
 * `--dport` of its port module and no `--destination-port`: what ruleOption answers for it.
 */
function leanFrontend(rule: LeanRule, family: Family): Frontish {
  const out: Frontish = {};
  if (rule.dst >= 0 && !rule.dstNeg) {
    const p = canonPrefix(rule.text(rule.dst)!);
    const host = family === 4 ? '/32' : '/128';
    if (p?.endsWith(host)) out.addr = p.slice(0, -host.length);
  }
  if (rule.proto >= 0) {
    const pr = PROTOS[rule.text(rule.proto)!.toLowerCase()];
    if (pr) out.proto = pr;
  }
  if (rule.dport >= 0) {
    const dp = rule.text(rule.dport)!;
    if (/^\d{1,5}$/.test(dp)) {
      const n = Number(dp);
      if (n <= 65535) out.port = n;
    }
  }
  return out;
}

/** `ns/svc:port` out of kube-proxy comments (`"ns1/svc1:p80 cluster IP"`, `ns2/svc2:p80`, `"... -> ip:port"`). */
export function commentServiceName(comment: string | undefined): string | undefined {
  if (comment === undefined) return undefined;
  const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[-a-z0-9]+)?)(\s|$)/.exec(comment);
  return m ? m[1] : undefined;
}

function isLocalDst(rule: AnyRule): boolean {
  const o = ruleOption(rule, 'dst-type', 'addrtype');
  return o !== undefined && !o.negated && o.args[0] === 'LOCAL';
}

interface Resolved {
  backends: Backend[];
  evidence: Evidence[];
  masq: string[];
  affinity?: number;
  etpLocal?: boolean;
  sourceRanges?: string[];
  fw?: boolean;
  /** chain(s) referenced but not in the dump: backends not knowable from this input */
  missing: string[];
}

/** `SEP` of `KUBE-SEP-…` (what `^KUBE-([A-Z]+)-` captures), by character codes: it is asked of every rule. */
export function kubeKind(name: string): string | undefined {
  if (!name.startsWith('KUBE-')) return undefined;
  let i = 5;
  for (; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 65 || c > 90) break;
  }
  return i > 5 && i < name.length && name.charCodeAt(i) === 45 ? name.slice(5, i) : undefined;
}

const KUBE_TARGETS = /^KUBE-(SVC|SVL|EXT|FW|XLB|SEP)-[A-Z0-9]+$/;

/**
 * Which frontends a reader needs (address, port, protocol, and the name kube-proxy's comment gives);
 * undefined: all.
 */

class Extractor {
  readonly warnings: Warning[] = [];
  private readonly nat: IptablesTable | undefined;
  /** every frontend a nat rule gives, kept or not (a filter-table rule for one of them merges into it) */
  private readonly natFrontends = new Set<string>();
  constructor(
    private readonly rs: IptablesRuleset,
    private readonly probe: string,
    private readonly family: Family,
    private readonly keep?: FrontendKeep,
  ) {
    this.nat = findTable(rs, 'nat');
  }

  private chain(name: string): IptablesChain | undefined {
    if (this.natIndex === undefined) {
      // filled by a loop: a pair array per chain is 130,000 short-lived arrays on a 10,000-Service dump
      const idx = new Map<string, IptablesChain>();
      for (const c of this.nat?.chains ?? []) idx.set(c.name, c);
      this.natIndex = idx;
    }
    return this.natIndex.get(name);
  }

  private natIndex: Map<string, IptablesChain> | undefined;

  private w(code: string, rule: AnyRule | undefined, msg: string): void {
    this.warnings.push(warn(code, rule ? `line ${rule.line}: ${msg}` : msg, this.probe));
  }

  resolve(chainName: string, depth = 0): Resolved {
    const r: Resolved = { backends: [], evidence: [], masq: [], missing: [] };
    const c = this.chain(chainName);
    if (!c || (!c.declared && ruleCount(c) === 0)) {
      r.missing.push(chainName);
      return r;
    }
    if (depth > 6) {
      this.w('kube-proxy-chain-loop', undefined, `chain nesting too deep at ${chainName}`);
      return r;
    }
    const kind = kubeKind(chainName);
    if (kind === 'SEP') return this.resolveSep(c);
    let remaining = 1;
    let unconditional = false;
    let fwFollowed = false;
    for (const rule of chainRules(c)) {
      r.evidence.push(rule.source);
      const tg = targetName(rule);
      if (tg === undefined) {
        if (kind === 'FW') r.fw = true;
        continue;
      }
      if (tg === 'KUBE-MARK-MASQ') {
        r.masq.push(masqCondition(rule));
        continue;
      }
      if (tg === 'KUBE-MARK-DROP' || tg === 'DROP') {
        if (kind === 'FW') r.fw = true;
        continue;
      }
      if (unconditional) {
        this.w(
          'kube-proxy-unreachable-rule',
          rule,
          `rule after an unconditional jump in ${chainName} is never reached`,
        );
        continue;
      }
      const tkind = kubeKind(tg);
      if (tkind === 'SEP') {
        const rec = ruleOption(rule, 'rcheck', 'recent') ?? ruleOption(rule, 'update', 'recent');
        if (rec) {
          const secs = ruleOption(rule, 'seconds', 'recent')?.args[0];
          if (secs !== undefined && /^\d+$/.test(secs)) r.affinity = Number(secs);
          else r.affinity ??= 0;
          continue;
        }
        const sub = this.resolveSep(this.chain(tg), tg);
        let p = 1;
        const stat = statisticOf(rule);
        if (stat) {
          const mode = stat.mode;
          const prob = stat.probability;
          const pv = prob !== undefined ? Number(prob) : NaN;
          if (mode !== 'random' || !(pv >= 0 && pv <= 1)) {
            this.w(
              'kube-proxy-statistic',
              rule,
              `statistic match not understood (${mode ?? 'no mode'}); probability left unset`,
            );
            p = NaN;
          } else p = pv;
        }
        for (const b of sub.backends) {
          if (!Number.isNaN(p)) b.probability = roundProb(remaining * p);
          r.backends.push(b);
        }
        r.evidence.push(...sub.evidence);
        r.missing.push(...sub.missing);
        if (!Number.isNaN(p)) remaining = remaining * (1 - p);
        if (!stat) unconditional = true;
        continue;
      }
      if (tkind === 'SVC' || tkind === 'SVL' || tkind === 'EXT' || tkind === 'XLB') {
        const conditional =
          ruleOption(rule, 'source', '') !== undefined ||
          ruleOption(rule, 'src-type', 'addrtype') !== undefined ||
          ruleOption(rule, 'in-interface', '') !== undefined;
        if ((kind === 'EXT' || kind === 'XLB') && conditional) {
          // eTP=Local: pod and node-local sources short-circuit to the cluster-wide chain.
          r.etpLocal = true;
          continue;
        }
        if (kind === 'FW') {
          const s = ruleOption(rule, 'source', '');
          if (s && !s.negated && s.args[0] !== undefined) {
            const pf = canonPrefix(s.args[0]);
            if (pf !== null) (r.sourceRanges ??= []).push(pf);
          }
          r.fw = true;
          if (fwFollowed) continue;
          fwFollowed = true;
        }
        if (tkind === 'SVL' || tkind === 'XLB') r.etpLocal = true;
        const sub = this.resolve(tg, depth + 1);
        r.backends.push(...sub.backends);
        r.evidence.push(...sub.evidence);
        r.masq.push(...sub.masq);
        r.missing.push(...sub.missing);
        if (sub.affinity !== undefined) r.affinity = sub.affinity;
        if (sub.etpLocal) r.etpLocal = true;
        if (kind !== 'FW' && !conditional) unconditional = true;
        continue;
      }
      if (tg === 'DNAT' || tg === 'REJECT' || tg === 'ACCEPT' || tg === 'RETURN') {
        this.w('kube-proxy-unexpected-rule', rule, `${tg} directly in ${chainName}; not a kube-proxy shape, skipped`);
        continue;
      }
      this.w('kube-proxy-unexpected-rule', rule, `jump to ${tg} in ${chainName} not understood, skipped`);
    }
    return r;
  }

  resolveSep(c: IptablesChain | undefined, name?: string): Resolved {
    const r: Resolved = { backends: [], evidence: [], masq: [], missing: [] };
    if (!c) {
      r.missing.push(name ?? '?');
      return r;
    }
    let found = false;
    for (const rule of chainRules(c)) {
      r.evidence.push(rule.source);
      const tg = targetName(rule);
      if (tg === 'KUBE-MARK-MASQ') {
        r.masq.push('hairpin');
        continue;
      }
      if (tg !== 'DNAT') continue;
      const to = targetOption(rule, 'to-destination')?.args[0];
      const hp = to !== undefined ? splitHostPort(to) : null;
      if (!hp) {
        this.w('kube-proxy-bad-dnat', rule, `DNAT target '${to ?? ''}' not understood`);
        continue;
      }
      if (found) this.w('kube-proxy-unreachable-rule', rule, `second DNAT in ${c.name} is never reached`);
      found = true;
      const fe = ruleFrontend(rule, this.family);
      const b: Backend = { address: hp.addr, port: hp.port, state: 'active', id: c.name, source: rule.source };
      if (fe.proto) b.proto = fe.proto;
      r.backends.push(b);
    }
    if (!found) this.w('kube-proxy-sep-without-dnat', undefined, `${c.name} has no DNAT rule`);
    return r;
  }

  run(): ServiceEntry[] {
    const out: ServiceEntry[] = [];
    const byKey = new Map<string, ServiceEntry>();
    const key = (a: string, proto: L4Proto, port: number) => `${a}|${proto}|${port}`;
    const any = this.family === 4 ? '0.0.0.0' : '::';
    const push = (
      rule: AnyRule,
      f: Frontish & { addr: string; proto: L4Proto; port: number },
      type: ServiceType,
      target: string,
      typeGuessed: boolean,
    ) => {
      const k = key(f.addr, f.proto, f.port);
      const prev = byKey.get(k);
      if (prev) {
        // kube-proxy's localhost NodePort duplicate (`-d 127.0.0.0/8 ... nfacct`) lands on the same frontend.
        prev.evidence.push(rule.source);
        return;
      }
      // the first rule of a frontend makes its entry, later ones only add evidence: when the first
      // was not asked for, this one belongs to that entry, not to a new one
      if (this.natFrontends.has(k)) return;
      this.natFrontends.add(k);
      if (this.keep && !this.keep({ address: f.addr, port: f.port, proto: f.proto }, commentServiceName(rule.comment)))
        return;
      const res = this.resolve(target);
      const e: ServiceEntry = {
        source: 'kube-proxy-iptables',
        frontend: { address: f.addr, port: f.port, proto: f.proto },
        type,
        flags: {},
        backends: res.backends,
        chain: target,
        evidence: [rule.source, ...res.evidence],
      };
      const name = commentServiceName(rule.comment);
      if (name !== undefined) e.name = name;
      if (res.affinity !== undefined) {
        e.flags.sessionAffinity = true;
        if (res.affinity > 0) e.flags.affinityTimeoutSeconds = res.affinity;
      }
      if (res.etpLocal) e.flags.externalTrafficPolicyLocal = true;
      if (res.fw) e.flags.sourceRangeCheck = true;
      if (res.sourceRanges) e.sourceRanges = res.sourceRanges;
      e.flags.algorithm = 'random';
      const raw: string[] = [];
      if (typeGuessed) raw.push('type-guessed');
      for (const m of new Set(res.masq)) raw.push(`masquerade:${m}`);
      if (raw.length > 0) e.flags.raw = raw;
      if (res.missing.length > 0) {
        const uniq = [...new Set(res.missing)];
        e.incomplete = `chain(s) ${uniq.join(', ')} not in this dump; backends unknown`;
        this.w('kube-proxy-missing-chain', rule, `${e.name ?? target}: ${e.incomplete}`);
      }
      byKey.set(k, e);
      out.push(e);
    };

    const services = this.chain('KUBE-SERVICES');
    if (!this.nat) this.w('kube-proxy-no-nat', undefined, 'no nat table in this dump');
    else if (!services)
      this.w(
        'kube-proxy-no-services',
        undefined,
        'nat table has no KUBE-SERVICES chain: no Service frontend can be read (a fragment of the dump, or not kube-proxy iptables mode)',
      );
    let nodePortsHooked = false;
    for (const rule of services ? chainRules(services) : []) {
      const tg = targetName(rule);
      if (tg === undefined) continue;
      if (tg === 'KUBE-NODEPORTS') {
        if (isLocalDst(rule)) nodePortsHooked = true;
        continue;
      }
      if (tg === 'KUBE-MARK-MASQ') continue;
      if (!KUBE_TARGETS.test(tg)) {
        this.w('kube-proxy-unexpected-rule', rule, `KUBE-SERVICES jumps to ${tg}; skipped`);
        continue;
      }
      const f = ruleFrontend(rule, this.family);
      if (f.addr === undefined || f.proto === undefined || f.port === undefined) {
        this.w(
          'kube-proxy-no-frontend',
          rule,
          `no single destination/protocol/port in a KUBE-SERVICES rule to ${tg}; skipped`,
        );
        continue;
      }
      const c = rule.comment ?? '';
      let type: ServiceType;
      let guessed = false;
      if (/ cluster IP$/.test(c)) type = 'ClusterIP';
      else if (/ external IP$/.test(c)) type = 'ExternalIP';
      else if (/ loadbalancer IP$/.test(c)) type = 'LoadBalancer';
      else {
        guessed = true;
        type = tg.startsWith('KUBE-FW-')
          ? 'LoadBalancer'
          : tg.startsWith('KUBE-SVC-') || tg.startsWith('KUBE-SVL-')
            ? 'ClusterIP'
            : 'ExternalIP';
      }
      push(rule, { addr: f.addr, proto: f.proto, port: f.port }, type, tg, guessed);
    }

    const np = this.chain('KUBE-NODEPORTS');
    if (np && ruleCount(np) > 0 && services && !nodePortsHooked)
      this.w(
        'kube-proxy-nodeports-unhooked',
        undefined,
        'KUBE-NODEPORTS has rules but no `--dst-type LOCAL -j KUBE-NODEPORTS` in KUBE-SERVICES',
      );
    for (const rule of np ? chainRules(np) : []) {
      const tg = targetName(rule);
      if (tg === undefined || tg === 'KUBE-MARK-MASQ') continue;
      if (!KUBE_TARGETS.test(tg)) {
        this.w('kube-proxy-unexpected-rule', rule, `KUBE-NODEPORTS jumps to ${tg}; skipped`);
        continue;
      }
      const f = ruleFrontend(rule, this.family);
      if (f.proto === undefined || f.port === undefined) {
        this.w('kube-proxy-no-frontend', rule, 'NodePort rule without protocol/port; skipped');
        continue;
      }
      push(rule, { addr: any, proto: f.proto, port: f.port }, 'NodePort', tg, false);
    }

    if (this.nat && !this.nat.committed && out.length > 0) {
      // A dump cut before COMMIT may have lost any chain's tail: every backend list is suspect.
      for (const e of out) e.incomplete ??= 'nat table has no COMMIT (truncated dump); backends may be missing';
      this.w('kube-proxy-truncated', undefined, 'nat table has no COMMIT: backend lists may be incomplete');
    }
    this.filterRules(out, byKey, key, any);
    return out;
  }

  private filterRules(
    out: ServiceEntry[],
    byKey: Map<string, ServiceEntry>,
    key: (a: string, p: L4Proto, n: number) => string,
    any: string,
  ): void {
    const filter = findTable(this.rs, 'filter');
    const seen = new Set<string>();
    for (const chainName of ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-PROXY-FIREWALL']) {
      const c = filter?.chains.find((x) => x.name === chainName);
      for (const rule of c ? chainRules(c) : []) {
        const tg = targetName(rule);
        if (tg !== 'REJECT' && tg !== 'DROP') continue;
        const f = ruleFrontend(rule, this.family);
        if (f.proto === undefined || f.port === undefined) continue;
        const nodePort = f.addr === undefined && isLocalDst(rule);
        const addr = nodePort ? any : f.addr;
        if (addr === undefined) continue;
        const verdict = tg === 'REJECT' ? 'reject' : 'drop';
        const existing = byKey.get(key(addr, f.proto, f.port));
        if (chainName === 'KUBE-PROXY-FIREWALL') {
          if (existing) {
            existing.flags.sourceRangeCheck = true;
            existing.evidence.push(rule.source);
          }
          continue;
        }
        if (existing) {
          existing.noEndpoints = verdict;
          existing.evidence.push(rule.source);
          if (chainName === 'KUBE-EXTERNAL-SERVICES' && existing.flags.externalTrafficPolicyLocal) {
            // eTP=Local without local endpoints: external clients are dropped, whatever the chain would pick.
            existing.backends = [];
          }
          continue;
        }
        // a frontend some nat rule gives, or an earlier rule here made, that the caller did not ask for
        // would have absorbed this rule (asked by name, the first rule's name is the entry's)
        const k = key(addr, f.proto, f.port);
        const absorbed = seen.has(k);
        seen.add(k);
        if (
          this.keep &&
          (absorbed ||
            this.natFrontends.has(k) ||
            !this.keep({ address: addr, port: f.port, proto: f.proto }, commentServiceName(rule.comment)))
        )
          continue;
        const type: ServiceType = nodePort ? 'NodePort' : chainName === 'KUBE-SERVICES' ? 'ClusterIP' : 'ExternalIP';
        const e: ServiceEntry = {
          source: 'kube-proxy-iptables',
          frontend: { address: addr, port: f.port, proto: f.proto },
          type,
          flags: chainName === 'KUBE-SERVICES' || nodePort ? {} : { raw: ['type-guessed'] },
          backends: [],
          noEndpoints: verdict,
          chain: chainName,
          evidence: [rule.source],
        };
        const name = commentServiceName(rule.comment);
        if (name !== undefined) e.name = name;
        byKey.set(key(addr, f.proto, f.port), e);
        out.push(e);
      }
    }
  }
}

function roundProb(p: number): number {
  return Math.round(p * 1e9) / 1e9;
}

function masqCondition(rule: AnyRule): string {
  const s = ruleOption(rule, 'source', '');
  if (s) return `${s.negated ? '!' : ''}src ${s.args[0] ?? ''}`;
  const i = ruleOption(rule, 'in-interface', '');
  if (i) return `${i.negated ? '!' : ''}iif ${i.args[0] ?? ''}`;
  const st = ruleOption(rule, 'src-type', 'addrtype');
  if (st) return `${st.negated ? '!' : ''}src-type ${st.args[0] ?? ''}`;
  return 'all';
}

/**
 * kube-proxy iptables-mode Services out of a parsed `iptables-save` (nat + filter tables); with
 * `keep`, only the frontends it accepts are resolved and returned.
 */
export function kubeProxyServicesFromIptables(
  rs: IptablesRuleset,
  probe: string,
  family?: Family,
  keep?: FrontendKeep,
): Parsed<ServiceEntry[]> {
  const x = new Extractor(rs, probe, family ?? rs.family ?? 4, keep);
  const value = x.run();
  return { value, warnings: x.warnings };
}
