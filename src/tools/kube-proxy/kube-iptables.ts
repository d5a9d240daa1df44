import { canonIp, canonPrefix } from '../../model/addr.js';
import type { Backend, L4Proto, ServiceEntry, ServiceType } from '../../model/service.js';
import type { Evidence, Family, Parsed, Warning } from '../../model/types.js';
import { warn } from '../common.js';
import type { IptablesChain, IptablesRule, IptablesRuleset, IptablesTable } from './iptables-model.js';
import { readRuleLine, type RuleLine, type TextLines } from './parse-iptables.js';
import { findChain, findTable, hasModule, ruleOption, targetOption } from './iptables-model.js';

/**
 * Applies a kube-proxy `iptables-restore --noflush` input on top of an earlier state: declared chains
 * are replaced, `-X` chains removed, other chains kept. Returns a new ruleset.
 */
export function applyIptablesRestore(base: IptablesRuleset, delta: IptablesRuleset): IptablesRuleset {
  const out: IptablesRuleset = { ...base, tables: base.tables.map((t) => ({ ...t, chains: t.chains.map((c) => ({ ...c, rules: [...c.rules] })), deletedChains: [] })) };
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
const PROTOS: Record<string, L4Proto> = Object.assign(Object.create(null) as Record<string, L4Proto>, { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' });

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
    if (p !== null && p.endsWith(host)) out.addr = p.slice(0, -host.length);
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
        this.w('kube-proxy-unreachable-rule', rule, `rule after an unconditional jump in ${chainName} is never reached`);
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
            this.w('kube-proxy-statistic', rule, `statistic match not understood (${mode ?? 'no mode'}); probability left unset`);
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
        const conditional = ruleOption(rule, 'source', '') !== undefined || ruleOption(rule, 'src-type', 'addrtype') !== undefined || ruleOption(rule, 'in-interface', '') !== undefined;
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
    const push = (rule: IptablesRule, f: Frontish & { addr: string; proto: L4Proto; port: number }, type: ServiceType, target: string, typeGuessed: boolean) => {
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
      if (this.keep && !this.keep({ address: f.addr, port: f.port, proto: f.proto }, commentServiceName(rule.comment))) return;
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
    else if (!services) this.w('kube-proxy-no-services', undefined, 'nat table has no KUBE-SERVICES chain (not kube-proxy iptables mode?)');
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
        this.w('kube-proxy-no-frontend', rule, `no single destination/protocol/port in a KUBE-SERVICES rule to ${tg}; skipped`);
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
        type = tg.startsWith('KUBE-FW-') ? 'LoadBalancer' : tg.startsWith('KUBE-SVC-') || tg.startsWith('KUBE-SVL-') ? 'ClusterIP' : 'ExternalIP';
      }
      push(rule, { addr: f.addr, proto: f.proto, port: f.port }, type, tg, guessed);
    }

    const np = this.chain('KUBE-NODEPORTS');
    if (np && np.rules.length > 0 && services && !nodePortsHooked)
      this.w('kube-proxy-nodeports-unhooked', undefined, 'KUBE-NODEPORTS has rules but no `--dst-type LOCAL -j KUBE-NODEPORTS` in KUBE-SERVICES');
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

  private filterRules(out: ServiceEntry[], byKey: Map<string, ServiceEntry>, key: (a: string, p: L4Proto, n: number) => string, any: string): void {
    const filter = findTable(this.rs, 'filter');
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
        // a frontend some nat rule gives but the caller did not ask for would have absorbed this rule
        if (this.keep && (this.natFrontends.has(key(addr, f.proto, f.port)) || !this.keep({ address: addr, port: f.port, proto: f.proto }, commentServiceName(rule.comment)))) continue;
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
export function kubeProxyServicesFromIptables(rs: IptablesRuleset, probe: string, family?: Family, keep?: FrontendKeep): Parsed<ServiceEntry[]> {
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
 * out without changing its answer. One pass indexes the plain `-A CHAIN` and `:CHAIN` lines by
 * table and chain; the frontend chains are read whole, and from the rules whose frontend `keep`
 * accepts, every chain they jump to, transitively, is kept (more than the extractor follows, never
 * less), with the declaration of every chain a kept rule names. Everything else (headers, tables,
 * COMMIT, -X/-F/-N, rules with counters or quotes, over-long lines) is always kept. The parser then
 * sees the same lines for those chains, in the same order, with the same line numbers.
 */
export function iptablesLinesNeeded(lines: TextLines, family: Family, keep: FrontendKeep): { skip: (idx: number) => boolean; cache: Map<number, RuleLine> } {
  const RULE = 1;
  const DECL = 2;
  const n = lines.length;
  const text = lines.text;
  const starts = lines.starts;
  const kind = new Uint8Array(n);
  const chainOf = new Int32Array(n).fill(-1);
  const tableOf = new Int32Array(n).fill(-1);
  // chain names are looked up where they stand in the text: no string per line
  const chains = new ChainNames(text);
  const chainTable: number[] = [];
  const tables: string[] = [];
  const id = (t: number, a: number, b: number): number => {
    const v = chains.intern(t, a, b);
    if (v === chainTable.length) chainTable.push(t);
    return v;
  };
  const tableIds = new Map<string, number>();
  const declared: number[] = [];
  const complex: number[] = [];
  // lines outside a table the parser accepts are always kept (it warns about each)
  let table = -1;
  // rules of one chain come together: the last chain token is reused without a lookup
  let lastStart = -1;
  let lastLen = 0;
  let lastId = -1;
  let lastTable = -1;
  const ws = (c: number) => c === 32 || c === 9;
  const plain = (a: number, b: number): boolean => {
    if (b <= a) return false;
    for (let k = a; k < b; k++) {
      const c = text.charCodeAt(k);
      if (c === 34 || c === 39 || c === 92) return false;
    }
    return true;
  };
  for (let idx = 0; idx < n; idx++) {
    const o = starts[idx]!;
    const e = starts[idx + 1]! - 1;
    let i = o;
    while (i < e && ws(text.charCodeAt(i))) i++;
    const c = text.charCodeAt(i);
    if (c === 42 /* * */) {
      const name = text.slice(i + 1, e).trim();
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
    if (c === 58 /* : */) {
      // `:NAME POLICY [p:b]`, the shape the parser accepts; anything else is kept for its warning
      let j = i + 1;
      while (j < e && !ws(text.charCodeAt(j))) j++;
      let k = j;
      while (k < e && ws(text.charCodeAt(k))) k++;
      let m = k;
      while (m < e && !ws(text.charCodeAt(m))) m++;
      let q = m;
      while (q < e && ws(text.charCodeAt(q))) q++;
      // the parser splits with \s: any other whitespace (or control byte) keeps the line as it is
      let ascii = true;
      for (let x = i; x < e && ascii; x++) {
        const y = text.charCodeAt(x);
        ascii = (y >= 33 && y <= 126) || y === 32 || y === 9;
      }
      if (ascii && j > i + 1 && m > k && (q === e || countersAt(text, q, e) === e) && plain(i + 1, j)) {
        const v = id(table, i + 1, j);
        kind[idx] = DECL;
        chainOf[idx] = v;
        declared[v] = 1;
      }
      continue;
    }
    // `iptables-save -c` puts counters before every rule: `[0:0] -A CHAIN ...`
    if (c === 91 /* [ */) {
      const j = countersAt(text, i, e);
      if (j > i && j < e && ws(text.charCodeAt(j))) {
        i = j;
        while (i < e && ws(text.charCodeAt(i))) i++;
      }
    }
    if (text.charCodeAt(i) === 45 && text.charCodeAt(i + 1) === 65 && ws(text.charCodeAt(i + 2))) {
      let s0 = i + 2;
      while (s0 < e && ws(text.charCodeAt(s0))) s0++;
      let j = s0;
      while (j < e && !ws(text.charCodeAt(j))) j++;
      if (plain(s0, j)) {
        let v: number;
        if (table === lastTable && j - s0 === lastLen && sameText(text, lastStart, s0, lastLen)) v = lastId;
        else {
          v = id(table, s0, j);
          lastStart = s0;
          lastLen = j - s0;
          lastId = v;
          lastTable = table;
        }
        kind[idx] = RULE;
        chainOf[idx] = v;
        continue;
      }
    }
    complex.push(idx);
  }
  // rule lines per chain (CSR)
  const nc = chainTable.length;
  const first = new Int32Array(nc + 1);
  for (let idx = 0; idx < n; idx++) if (kind[idx] === RULE) first[chainOf[idx]! + 1]!++;
  for (let v = 0; v < nc; v++) first[v + 1]! += first[v]!;
  const at = first.slice(0, nc);
  const ruleLines = new Int32Array(first[nc]!);
  for (let idx = 0; idx < n; idx++) if (kind[idx] === RULE) ruleLines[at[chainOf[idx]!]!++] = idx;

  const needed = new Uint8Array(nc);
  const named = new Uint8Array(nc);
  const queue: number[] = [];
  const tableName = (t: number) => (t < 0 ? '' : tables[t]!);
  const chainId = (t: number, chain: string): number | undefined => (t < 0 ? undefined : chains.find(t, chain));
  const need = (v: number | undefined) => {
    if (v === undefined) return;
    named[v] = 1;
    if (!needed[v]) {
      needed[v] = 1;
      queue.push(v);
    }
  };
  const name = (v: number | undefined) => {
    if (v !== undefined) named[v] = 1;
  };
  // target and frontend of one rule line, read as the parser reads it (and kept for it)
  const cache = new Map<number, RuleLine>();
  const read = (idx: number): { chain?: string; target?: string; front?: Frontish; comment?: string } => {
    const rl = readRuleLine(lines.at(idx).trim());
    cache.set(idx, rl);
    if (!rl.tk || !rl.opts) return {};
    const p = rl.opts;
    const out: { chain?: string; target?: string; front?: Frontish; comment?: string } = { chain: rl.tk.tokens[1]!, front: ruleFrontend({ matches: p.matches } as IptablesRule, family) };
    if (p.target) out.target = p.target.name;
    if (p.comment !== undefined) out.comment = p.comment;
    return out;
  };
  const any = family === 4 ? '0.0.0.0' : '::';
  const root = (t: number, r: ReturnType<typeof read>) => {
    if (r.target === undefined) return;
    const tv = chainId(t, r.target);
    name(tv);
    const f = r.front ?? {};
    const addr = r.chain === 'KUBE-NODEPORTS' ? any : f.addr;
    if (tableName(t) !== 'nat' || addr === undefined || f.proto === undefined || f.port === undefined) return;
    if (keep({ address: addr, port: f.port, proto: f.proto }, commentServiceName(r.comment))) need(tv);
  };
  for (const [tn, chains] of Object.entries(FRONTEND_CHAINS)) {
    const t = tableIds.get(tn);
    if (t === undefined) continue;
    for (const c of chains) {
      const v = chainId(t, c);
      if (v === undefined) continue;
      named[v] = 1;
      needed[v] = 1;
      for (let k = first[v]!; k < first[v + 1]!; k++) root(t, read(ruleLines[k]!));
    }
  }
  // rules the index could not file: always kept, so their targets are named; frontend ones are roots
  for (const idx of complex) {
    const t = tableOf[idx]!;
    if (t < 0 || !/^\s*(\[\d+:\d+\]\s+)?-/.test(lines.at(idx))) continue;
    const r = read(idx);
    if (r.chain !== undefined && FRONTEND_CHAINS[tableName(t)]?.includes(r.chain)) root(t, r);
    else if (r.target !== undefined) name(chainId(t, r.target));
  }
  for (;;) {
    while (queue.length > 0) {
      const v = queue.pop()!;
      const t = chainTable[v]!;
      for (let k = first[v]!; k < first[v + 1]!; k++) {
        const r = read(ruleLines[k]!);
        if (r.target !== undefined) need(chainId(t, r.target));
      }
    }
    // a named chain that only exists through its rules (never declared): the parser knows it
    // by those rules, so they stay
    for (let v = 0; v < nc; v++) if (named[v] && !declared[v] && !needed[v] && first[v + 1]! > first[v]!) need(v);
    if (queue.length === 0) break;
  }
  const skip = (idx: number): boolean => {
    const kd = kind[idx];
    if (kd === 0) return false;
    const v = chainOf[idx]!;
    return kd === RULE ? !needed[v] : !named[v] && !needed[v];
  };
  return { skip, cache };
}

/** `[digits:digits]` at text[i..e): the index after it, or -1. */
function countersAt(text: string, i: number, e: number): number {
  if (text.charCodeAt(i) !== 91) return -1;
  let j = i + 1;
  const d0 = j;
  while (j < e && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
  if (j === d0 || text.charCodeAt(j) !== 58) return -1;
  const d1 = ++j;
  while (j < e && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
  if (j === d1 || text.charCodeAt(j) !== 93) return -1;
  return j + 1;
}

function sameText(text: string, a: number, b: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (text.charCodeAt(a + k) !== text.charCodeAt(b + k)) return false;
  return true;
}

/**
 * (table, chain name) → dense id, with names given as ranges of one text: an open-addressing
 * table over a hash of the characters, so indexing 100,000 chains makes no strings.
 */
class ChainNames {
  private slots = new Int32Array(1 << 12).fill(-1);
  private start: number[] = [];
  private len: number[] = [];
  private table: number[] = [];

  constructor(private readonly text: string) {}

  private static hash(t: number, code: (k: number) => number, n: number): number {
    let h = (0x811c9dc5 ^ t) >>> 0;
    for (let k = 0; k < n; k++) h = Math.imul(h ^ code(k), 0x01000193);
    return h >>> 0;
  }

  /** id of text[a..b) in table t, a new one if it was not seen */
  intern(t: number, a: number, b: number): number {
    const text = this.text;
    const n = b - a;
    let h = (0x811c9dc5 ^ t) >>> 0;
    for (let k = a; k < b; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
    h >>>= 0;
    const mask = this.slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = this.slots[i]!;
      if (v < 0) {
        const id = this.start.length;
        this.start.push(a);
        this.len.push(n);
        this.table.push(t);
        this.slots[i] = id;
        if (id * 2 >= this.slots.length) this.grow();
        return id;
      }
      if (this.table[v] === t && this.len[v] === n && sameText(text, this.start[v]!, a, n)) return v;
    }
  }

  /** id of a name in table t, or undefined */
  find(t: number, name: string): number | undefined {
    const h = ChainNames.hash(t, (k) => name.charCodeAt(k), name.length);
    const mask = this.slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = this.slots[i]!;
      if (v < 0) return undefined;
      if (this.table[v] === t && this.len[v] === name.length && this.text.startsWith(name, this.start[v]!)) return v;
    }
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let v = 0; v < this.start.length; v++) {
      const a = this.start[v]!;
      const h = ChainNames.hash(this.table[v]!, (k) => this.text.charCodeAt(a + k), this.len[v]!);
      let i = h & mask;
      while (slots[i]! >= 0) i = (i + 1) & mask;
      slots[i] = v;
    }
    this.slots = slots;
  }
}
