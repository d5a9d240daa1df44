import { canonIp, canonPrefix } from '../../model/addr.js';
import type { Backend, L4Proto, ServiceEntry, ServiceType } from '../../model/service.js';
import type { Evidence, Family, Parsed, Warning } from '../../model/types.js';
import { warn } from '../common.js';
import type { IptablesChain, IptablesRule, IptablesRuleset, IptablesTable } from './iptables-model.js';
import { readRuleLine, type ByteLines, type RuleLine } from './parse-iptables.js';
import { findChain, findTable, hasModule, ruleOption, targetOption } from './iptables-model.js';

/**
 * Applies a kube-proxy `iptables-restore --noflush` input on top of an earlier state: declared chains
 * are replaced, `-X` chains removed, other chains kept. Returns a new ruleset.
 */
export function applyIptablesRestore(base: IptablesRuleset, delta: IptablesRuleset): IptablesRuleset {
  const out: IptablesRuleset = {
    ...base,
    tables: base.tables.map((t) => ({
      ...t,
      chains: t.chains.map((c) => ({ ...c, rules: [...c.rules] })),
      deletedChains: [],
    })),
  };
  for (const dt of delta.tables) {
    let t = out.tables.find((x) => x.name === dt.name);
    if (!t) {
      t = { name: dt.name, chains: [], committed: dt.committed, deletedChains: [] };
      out.tables.push(t);
    }
    for (const dc of dt.chains) {
      const existing = t.chains.find((c) => c.name === dc.name);
      if (dc.declared || !existing) {
        const copy = { ...dc, rules: [...dc.rules] };
        if (existing) t.chains[t.chains.indexOf(existing)] = copy;
        else t.chains.push(copy);
      } else existing.rules.push(...dc.rules);
    }
    const gone = new Set(dt.deletedChains);
    t.chains = t.chains.filter((c) => !gone.has(c.name));
    t.committed = dt.committed;
  }
  return out;
}

// Null prototype: `-p __proto__` must look up nothing, not Object.prototype as the protocol.
const PROTOS: Record<string, L4Proto> = Object.assign(Object.create(null) as Record<string, L4Proto>, {
  tcp: 'TCP',
  udp: 'UDP',
  sctp: 'SCTP',
});

interface Frontish {
  addr?: string;
  proto?: L4Proto;
  port?: number;
}

function ruleFrontend(rule: IptablesRule, family: Family): Frontish {
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

/** `ns/svc:port` out of kube-proxy comments (`"ns1/svc1:p80 cluster IP"`, `ns2/svc2:p80`, `"... -> ip:port"`). */
export function commentServiceName(comment: string | undefined): string | undefined {
  if (comment === undefined) return undefined;
  const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[-a-z0-9]+)?)(\s|$)/.exec(comment);
  return m ? m[1] : undefined;
}

function isLocalDst(rule: IptablesRule): boolean {
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

const KUBE_TARGETS = /^KUBE-(SVC|SVL|EXT|FW|XLB|SEP)-[A-Z0-9]+$/;

/**
 * Which frontends a reader needs (address, port, protocol, and the name kube-proxy's comment gives);
 * undefined: all.
 */
export type FrontendKeep = (f: { address: string; port: number; proto: L4Proto }, name: string | undefined) => boolean;

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
    this.natIndex ??= new Map((this.nat?.chains ?? []).map((c) => [c.name, c]));
    return this.natIndex.get(name);
  }

  private natIndex: Map<string, IptablesChain> | undefined;

  private w(code: string, rule: IptablesRule | undefined, msg: string): void {
    this.warnings.push(warn(code, rule ? `line ${rule.line}: ${msg}` : msg, this.probe));
  }

  resolve(chainName: string, depth = 0): Resolved {
    const r: Resolved = { backends: [], evidence: [], masq: [], missing: [] };
    const c = this.chain(chainName);
    if (!c || (!c.declared && c.rules.length === 0)) {
      r.missing.push(chainName);
      return r;
    }
    if (depth > 6) {
      this.w('kube-proxy-chain-loop', undefined, `chain nesting too deep at ${chainName}`);
      return r;
    }
    const kind = /^KUBE-([A-Z]+)-/.exec(chainName)?.[1];
    if (kind === 'SEP') return this.resolveSep(c);
    let remaining = 1;
    let unconditional = false;
    let fwFollowed = false;
    for (const rule of c.rules) {
      r.evidence.push(rule.source);
      const tg = rule.target?.name;
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
      const tkind = /^KUBE-([A-Z]+)-/.exec(tg)?.[1];
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
        const stat = rule.matches.find((m) => m.module === 'statistic');
        if (stat) {
          const mode = stat.options.find((o) => o.name === 'mode')?.args[0];
          const prob = stat.options.find((o) => o.name === 'probability')?.args[0];
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
    for (const rule of c.rules) {
      r.evidence.push(rule.source);
      const tg = rule.target?.name;
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
      rule: IptablesRule,
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
    for (const rule of services?.rules ?? []) {
      const tg = rule.target?.name;
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
    if (np && np.rules.length > 0 && services && !nodePortsHooked)
      this.w(
        'kube-proxy-nodeports-unhooked',
        undefined,
        'KUBE-NODEPORTS has rules but no `--dst-type LOCAL -j KUBE-NODEPORTS` in KUBE-SERVICES',
      );
    for (const rule of np?.rules ?? []) {
      const tg = rule.target?.name;
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
      for (const rule of c?.rules ?? []) {
        const tg = rule.target?.name;
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

function masqCondition(rule: IptablesRule): string {
  const s = ruleOption(rule, 'source', '');
  if (s) return `${s.negated ? '!' : ''}src ${s.args[0] ?? ''}`;
  const i = ruleOption(rule, 'in-interface', '');
  if (i) return `${i.negated ? '!' : ''}iif ${i.args[0] ?? ''}`;
  const st = ruleOption(rule, 'src-type', 'addrtype');
  if (st) return `${st.negated ? '!' : ''}src-type ${st.args[0] ?? ''}`;
  return 'all';
}

export function splitHostPort(text: string): { addr: string; port: number } | null {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:]+):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const addr = canonIp(m[1]!);
  const port = Number(m[2]);
  if (addr === null || port > 65535) return null;
  return { addr, port };
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

export { findChain, hasModule };

/** Chains every Service question reads whole: where frontends are declared. */
const FRONTEND_CHAINS: Record<string, string[]> = {
  nat: ['KUBE-SERVICES', 'KUBE-NODEPORTS'],
  filter: ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-PROXY-FIREWALL'],
};

/**
 * For a question about some frontends (`keep`): which lines of an iptables-save dump can be left
 * out without changing its answer. One pass over the bytes files the plain `-A CHAIN` and
 * `:CHAIN` lines by a hash of their chain name (no string per line); the frontend chains are read
 * (for an IPv4 address, only their rules that can name it: see mayName; for a Service name, only
 * those whose text holds it: see mayComment), then every chain reachable
 * from a rule whose frontend `keep` accepts, transitively (more than the extractor follows, never
 * less), with the declaration of every chain a kept rule names. Everything else (headers, tables,
 * COMMIT, -X/-F/-N, rules with quotes before the chain, over-long lines) is always kept. The parser
 * then sees the same lines for those chains, in the same order, with the same line numbers.
 */
export function iptablesLinesNeeded(
  lines: ByteLines,
  family: Family,
  keep: FrontendKeep,
  narrow: { address?: string; name?: string } = {},
): { skip: (idx: number) => boolean; cache: Map<number, RuleLine> } {
  const address = narrow.address;
  const RULE = 1;
  const DECL = 2;
  const n = lines.length;
  const text = lines.bytes;
  const starts = lines.starts;
  const kind = new Uint8Array(n);
  const hash = new Uint32Array(n);
  const tokAt = new Int32Array(n);
  const tokLen = new Uint8Array(n);
  const tableOf = new Int16Array(n).fill(-1);
  const tables: string[] = [];
  const tableIds = new Map<string, number>();
  const complex: number[] = [];
  let table = -1;
  for (let idx = 0; idx < n; idx++) {
    const o = starts[idx]!;
    const e = starts[idx + 1]! - 1;
    let i = o;
    while (i < e && ws(text[i]!)) i++;
    const c = text[i]!;
    if (c === 42 /* * */) {
      const name = text.toString('latin1', i + 1, e).trim();
      if (!/^[a-z]+$/.test(name)) table = -1;
      else {
        let t = tableIds.get(name);
        if (t === undefined) {
          t = tables.length;
          tableIds.set(name, t);
          tables.push(name);
        }
        table = t;
      }
      continue;
    }
    tableOf[idx] = table;
    if (table < 0 || e - o > 64 * 1024) continue;
    let a = -1;
    let k = -1;
    if (c === 58 /* : */) {
      a = i + 1;
      k = DECL;
    } else {
      // `iptables-save -c` puts counters before every rule: `[0:0] -A CHAIN ...`
      if (c === 91 /* [ */) {
        const j = countersAt(text, i, e);
        if (j > i && j < e && ws(text[j]!)) {
          i = j;
          while (i < e && ws(text[i]!)) i++;
        }
      }
      if (text[i] === 45 && text[i + 1] === 65 && ws(text[i + 2]!)) {
        a = i + 2;
        while (a < e && ws(text[a]!)) a++;
        k = RULE;
      }
    }
    if (k < 0) {
      complex.push(idx);
      continue;
    }
    // the name: printable ASCII up to a blank, as both the tokenizer and the declaration regex see it
    let h = 0x811c9dc5;
    let j = a;
    for (; j < e; j++) {
      const x = text[j]!;
      if (x === 32 || x === 9) break;
      if (x < 33 || x > 126 || x === 34 || x === 39 || x === 92) {
        j = -1;
        break;
      }
      h = Math.imul(h ^ x, 0x01000193);
    }
    if (j <= a || j - a > 255 || (k === DECL && j === e)) {
      complex.push(idx);
      continue;
    }
    kind[idx] = k;
    hash[idx] = h >>> 0;
    tokAt[idx] = a;
    tokLen[idx] = j - a;
  }

  const nameHash = (name: string): number => {
    let h = 0x811c9dc5;
    for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 0x01000193);
    return h >>> 0;
  };
  const isName = (idx: number, name: string): boolean => {
    if (tokLen[idx] !== name.length) return false;
    const a = tokAt[idx]!;
    for (let k = 0; k < name.length; k++) if (text[a + k] !== name.charCodeAt(k)) return false;
    return true;
  };
  // lines by hash bucket, each bucket's lines chained in order
  const bits = Math.max(10, Math.min(22, 32 - Math.clz32(n)));
  const mask = (1 << bits) - 1;
  const head = new Int32Array(mask + 1).fill(-1);
  const nextLine = new Int32Array(n);
  for (let idx = n - 1; idx >= 0; idx--) {
    if (kind[idx] === 0) continue;
    const bkt = hash[idx]! & mask;
    nextLine[idx] = head[bkt]!;
    head[bkt] = idx;
  }
  /** lines of kind k naming chain `name` in table t, in order */
  const linesOf = (k: number, t: number, name: string): number[] => {
    const h = nameHash(name);
    const out: number[] = [];
    for (let idx = head[h & mask]!; idx >= 0; idx = nextLine[idx]!)
      if (hash[idx] === h && kind[idx] === k && tableOf[idx] === t && isName(idx, name)) out.push(idx);
    return out;
  };

  // chains by `table name`: needed (rules kept), named (declaration kept)
  const needed = new Map<string, { t: number; name: string }>();
  const named = new Map<string, { t: number; name: string }>();
  const queue: { t: number; name: string }[] = [];
  const need = (t: number, name: string) => {
    const key = `${t} ${name}`;
    named.set(key, { t, name });
    if (!needed.has(key)) {
      needed.set(key, { t, name });
      queue.push({ t, name });
    }
  };
  const nameIt = (t: number, name: string) => named.set(`${t} ${name}`, { t, name });
  const keptRule = new Uint8Array(n);
  const keptDecl = new Uint8Array(n);

  // target and frontend of one rule line, read as the parser reads it (and kept for it)
  const cache = new Map<number, RuleLine>();
  const read = (idx: number): { chain?: string; target?: string; front?: Frontish; comment?: string } => {
    const rl = readRuleLine(lines.at(idx).trim());
    cache.set(idx, rl);
    if (!rl.tk || !rl.opts) return {};
    const p = rl.opts;
    const out: { chain?: string; target?: string; front?: Frontish; comment?: string } = {
      chain: rl.tk.tokens[1]!,
      front: ruleFrontend({ matches: p.matches } as IptablesRule, family),
    };
    if (p.target) out.target = p.target.name;
    if (p.comment !== undefined) out.comment = p.comment;
    return out;
  };
  const any = family === 4 ? '0.0.0.0' : '::';
  const root = (t: number, r: ReturnType<typeof read>) => {
    if (r.target === undefined) return;
    nameIt(t, r.target);
    const f = r.front ?? {};
    const addr = r.chain === 'KUBE-NODEPORTS' ? any : f.addr;
    if (tables[t] !== 'nat' || addr === undefined || f.proto === undefined || f.port === undefined) return;
    if (keep({ address: addr, port: f.port, proto: f.proto }, commentServiceName(r.comment))) need(t, r.target);
  };
  const may = address !== undefined && family === 4 && address !== any ? mayName(address) : undefined;
  // by name (IPv4: mayName exists for its second step): the rules naming it, then every rule that may
  // hold one of their frontends, as an address question would read them
  const byName = narrow.name !== undefined && family === 4 ? mayComment(narrow.name) : undefined;
  const later: { t: number; idx: number }[] = [];
  const fronts = new Set<string>();
  for (const [tn, chains] of Object.entries(FRONTEND_CHAINS)) {
    const t = tableIds.get(tn);
    if (t === undefined) continue;
    for (const c of chains) {
      nameIt(t, c);
      needed.set(`${t} ${c}`, { t, name: c });
      for (const idx of linesOf(RULE, t, c)) {
        if (may && !may(text, starts[idx]!, starts[idx + 1]! - 1)) continue;
        if (byName && !byName(text, starts[idx]!, starts[idx + 1]! - 1)) {
          later.push({ t, idx });
          continue;
        }
        keptRule[idx] = 1;
        const r = read(idx);
        if (r.front?.addr !== undefined && r.front.addr !== any) fronts.add(r.front.addr);
        root(t, r);
      }
    }
  }
  if (later.length > 0 && fronts.size > 0) {
    const mays = [...fronts].map(mayName);
    for (const { t, idx } of later)
      if (mays.some((m) => m(text, starts[idx]!, starts[idx + 1]! - 1))) {
        keptRule[idx] = 1;
        root(t, read(idx));
      }
  }
  // rules the index could not file: always kept, so their targets are named; frontend ones are roots
  for (const idx of complex) {
    const t = tableOf[idx]!;
    if (t < 0 || !/^\s*(\[\d+:\d+\]\s+)?-/.test(lines.at(idx))) continue;
    const r = read(idx);
    if (r.chain !== undefined && FRONTEND_CHAINS[tables[t]!]?.includes(r.chain)) root(t, r);
    else if (r.target !== undefined) nameIt(t, r.target);
  }
  const done = new Set<string>();
  for (;;) {
    while (queue.length > 0) {
      const { t, name } = queue.pop()!;
      if (done.has(`${t} ${name}`)) continue;
      done.add(`${t} ${name}`);
      for (const idx of linesOf(RULE, t, name)) {
        keptRule[idx] = 1;
        const r = read(idx);
        if (r.target !== undefined) need(t, r.target);
      }
    }
    // a named chain that only exists through its rules (never declared): the parser knows it by
    // those rules, so they stay
    for (const { t, name } of [...named.values()]) {
      if (needed.has(`${t} ${name}`) || linesOf(DECL, t, name).some((i) => declares(lines.at(i)))) continue;
      if (linesOf(RULE, t, name).length > 0) need(t, name);
    }
    if (queue.length === 0) break;
  }
  for (const { t, name } of named.values()) for (const idx of linesOf(DECL, t, name)) keptDecl[idx] = 1;
  const skip = (idx: number): boolean => {
    const kd = kind[idx];
    if (kd === 0) return false;
    return kd === RULE ? keptRule[idx] === 0 : keptDecl[idx] === 0;
  };
  return { skip, cache };
}

/** A declaration line the parser accepts. */
function declares(line: string): boolean {
  return /^:(\S+)\s+(\S+)(?:\s+(\[\d+:\d+\]))?$/.test(line.trim());
}

/**
 * Whether a rule line (bytes [s, e)) can give the IPv4 frontend `address`: canonPrefix only maps
 * the address written in full, or with its trailing zero octets left out (`10.96/32` for
 * 10.96.0.0), to address/32; so the argument of -d holds the address up to its last non-zero
 * octet. Without a backslash, a token is the line's characters minus quotes: a line whose text,
 * quotes removed, lacks that, and that has a destination option at all, cannot give the address.
 * (A line without -d can give no address either, but such a line in KUBE-SERVICES is the NodePort
 * hook the extractor looks for, so it is read.)
 */
const DST_OPTS = ['-d', '--destination', '--dst'].map((o) => Buffer.from(o, 'latin1'));
const HOOK = Buffer.from('KUBE-NODEPORTS', 'latin1');
const blank = (c: number | undefined) => c === 32 || c === 9;

/** A destination option word, blanks (or the line's ends) on both sides. */
function hasDstOption(line: Buffer): boolean {
  for (const o of DST_OPTS)
    for (let at = line.indexOf(o); at >= 0; at = line.indexOf(o, at + 1))
      if ((at === 0 || blank(line[at - 1])) && (at + o.length === line.length || blank(line[at + o.length])))
        return true;
  return false;
}

export function mayName(address: string): (b: Uint8Array, s: number, e: number) => boolean {
  let p = address;
  while (p.endsWith('.0') && p.split('.').length > 1) p = p.slice(0, -2);
  return mayHold(p);
}

/**
 * Whether the rule line b[s, e) must be read: it has a backslash (escapes: read it whole), names
 * KUBE-NODEPORTS, has no destination option, or holds `text` once its quotes are removed.
 */
function mayHold(text: string): (b: Uint8Array, s: number, e: number) => boolean {
  const pat = Buffer.from(text, 'latin1');
  let scratch = Buffer.allocUnsafe(4096);
  return (b, s, e) => {
    // the line without its quotes: a token is made of these characters (no backslash). A -d that
    // is only inside a quoted comment counts as an option here; such a line has no destination, so
    // leaving it unread when it lacks the text is sound too
    if (e - s > scratch.length) scratch = Buffer.allocUnsafe(e - s);
    let m = 0;
    for (let i = s; i < e; i++) {
      const c = b[i]!;
      if (c === 92) return true;
      if (c !== 34 && c !== 39) scratch[m++] = c;
    }
    const line = scratch.subarray(0, m);
    if (line.indexOf(HOOK) >= 0 || !hasDstOption(line)) return true;
    return line.indexOf(pat) >= 0;
  };
}

function ws(c: number): boolean {
  return c === 32 || c === 9;
}

/** `[digits:digits]` at text[i..e): the index after it, or -1. */
function countersAt(text: Uint8Array, i: number, e: number): number {
  if (text[i]! !== 91) return -1;
  let j = i + 1;
  const d0 = j;
  while (j < e && text[j]! >= 48 && text[j]! <= 57) j++;
  if (j === d0 || text[j]! !== 58) return -1;
  const d1 = ++j;
  while (j < e && text[j]! >= 48 && text[j]! <= 57) j++;
  if (j === d1 || text[j]! !== 93) return -1;
  return j + 1;
}

function _sameText(text: Uint8Array, a: number, b: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (text[a + k] !== text[b + k]) return false;
  return true;
}

/**
 * For a question by name (`namespace/name`): kube-proxy names a frontend only in its rule's comment,
 * whose first word is `namespace/name[:port]` (commentServiceName). Namespace and Service names are
 * DNS labels, so that word needs no quoting or escape: a rule with a destination whose text, quotes
 * removed, lacks `namespace/name` and has no backslash cannot carry it. Rules without a destination
 * and KUBE-SERVICES' jump to KUBE-NODEPORTS are read as mayName reads them. A rule this leaves out
 * may still be the first for a frontend the name has (the first rule makes the entry):
 * iptablesLinesNeeded reads those by address afterwards.
 */
export function mayComment(name: string): (b: Uint8Array, s: number, e: number) => boolean {
  return mayHold(name);
}
