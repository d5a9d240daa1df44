import { canonIp, canonPrefix, prefixContains, splitHostPort } from '../../src/model/addr.js';
import type { Evidence } from '../../src/model/types.js';
import type { IptablesOption, IptablesRule, IptablesRuleset } from '../../src/model/iptables.js';
import { findChain } from '../../src/model/iptables.js';

export interface KubeProxyFlow {
  src: string;
  dst: string;
  proto: 'tcp' | 'udp' | 'sctp';
  dport: number;
  sport?: number;
  /** 'local': sent by a process on the node (nat OUTPUT); 'outside': arrives on an interface (nat PREROUTING) */
  origin: 'local' | 'outside';
  /** addresses `-m addrtype --src-type/--dst-type LOCAL` matches (node IPs, 127.0.0.1, ::1) */
  localAddresses: string[];
  mark?: number;
}

export interface KubeProxyTraceBranch {
  /** share of new connections taking this branch (statistic splits) */
  probability: number;
  dnat?: { address: string; port: number; chain: string; rule: Evidence };
  masquerade: boolean;
  /** filter verdict: 'continue' = no kube-proxy rule decided (the policy / other rules apply) */
  verdict: 'accept' | 'drop' | 'reject' | 'continue';
  verdictRule?: Evidence;
  trail: Evidence[];
}

export interface KubeProxyTraceResult {
  branches: KubeProxyTraceBranch[];
  /** rules whose match could not be decided for this flow (unknown module, interface, ...), skipped as non-matching */
  unknown: Evidence[];
  notes: string[];
}

interface St {
  dst: string;
  dport: number;
  mark: number;
  prob: number;
  dnat?: KubeProxyTraceBranch['dnat'];
  masquerade: boolean;
  trail: Evidence[];
}

type End = { st: St; end: 'fall' | 'return' | 'accept' | 'drop' | 'reject'; rule?: Evidence };

const MAX_DEPTH = 32;
const MAX_BRANCHES = 4096;

type M = 'yes' | 'no' | { p: number } | 'unknown';

class Tracer {
  readonly unknown: Evidence[] = [];
  readonly notes: string[] = [];
  private branches = 0;
  constructor(
    private readonly rs: IptablesRuleset,
    private readonly flow: KubeProxyFlow,
  ) {}

  private isLocal(addr: string): boolean {
    return this.flow.localAddresses.some((a) => canonIp(a) === addr);
  }

  private addrMatch(o: IptablesOption, addr: string): boolean | null {
    const arg = o.args[0];
    if (arg === undefined) return null;
    const pf = canonPrefix(arg);
    if (pf === null) return null;
    const m = prefixContains(pf, addr);
    return o.negated ? !m : m;
  }

  private portMatch(o: IptablesOption, port: number | undefined): boolean | null {
    if (port === undefined) return null;
    const arg = o.args[0];
    if (arg === undefined) return null;
    let hit = false;
    for (const part of arg.split(',')) {
      const m = /^(\d+)(?::(\d+))?$/.exec(part);
      if (!m) return null;
      const lo = Number(m[1]);
      const hi = m[2] !== undefined ? Number(m[2]) : lo;
      if (port >= lo && port <= hi) hit = true;
    }
    return o.negated ? !hit : hit;
  }

  private match(rule: IptablesRule, st: St): M {
    let prob: number | undefined;
    for (const m of rule.matches) {
      for (const o of m.options) {
        let r: boolean | null = null;
        switch (`${m.module}:${o.name}`) {
          case ':source':
            r = this.addrMatch(o, canonIp(this.flow.src) ?? this.flow.src);
            break;
          case ':destination':
            r = this.addrMatch(o, st.dst);
            break;
          case ':protocol': {
            const hit = (o.args[0] ?? '').toLowerCase() === this.flow.proto || o.args[0] === 'all';
            r = o.negated ? !hit : hit;
            break;
          }
          case ':in-interface':
          case ':out-interface':
          case ':fragment':
            r = null;
            break;
          case 'tcp:dport':
          case 'udp:dport':
          case 'sctp:dport':
          case 'tcp:destination-port':
          case 'udp:destination-port':
          case 'multiport:dports':
          case 'multiport:destination-ports':
            r = m.module !== 'multiport' && m.module !== this.flow.proto ? false : this.portMatch(o, st.dport);
            break;
          case 'tcp:sport':
          case 'udp:sport':
          case 'sctp:sport':
            r = this.portMatch(o, this.flow.sport);
            break;
          case 'comment:comment':
          case 'nfacct:nfacct-name':
            r = true;
            break;
          case 'addrtype:src-type':
          case 'addrtype:dst-type': {
            if (o.args[0] !== 'LOCAL') break;
            const a = o.name === 'src-type' ? (canonIp(this.flow.src) ?? this.flow.src) : st.dst;
            const hit = this.isLocal(a);
            r = o.negated ? !hit : hit;
            break;
          }
          case 'addrtype:limit-iface-in':
          case 'addrtype:limit-iface-out':
            r = true;
            break;
          case 'statistic:mode':
            if (o.args[0] !== 'random') break;
            r = true;
            break;
          case 'statistic:probability': {
            const p = Number(o.args[0]);
            if (!(p >= 0 && p <= 1)) break;
            prob = o.negated ? 1 - p : p;
            r = true;
            break;
          }
          case 'recent:rcheck':
          case 'recent:update':
            // No recent-list state in a static trace: an affinity hit is never assumed.
            r = false;
            break;
          case 'recent:set':
          case 'recent:name':
          case 'recent:mask':
          case 'recent:rsource':
          case 'recent:rdest':
          case 'recent:seconds':
          case 'recent:reap':
          case 'recent:hitcount':
            r = true;
            break;
          case 'mark:mark': {
            const mm = /^(0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?$/i.exec(o.args[0] ?? '');
            if (!mm) break;
            const v = Number(mm[1]);
            const mask = mm[2] !== undefined ? Number(mm[2]) : 0xffffffff;
            const hit = (st.mark & mask) >>> 0 === (v & mask) >>> 0;
            r = o.negated ? !hit : hit;
            break;
          }
          case 'conntrack:ctstate':
          case 'state:state': {
            const states = (o.args[0] ?? '').split(',');
            const have = new Set(['NEW']);
            if (st.dnat) have.add('DNAT');
            const hit = states.some((s) => have.has(s));
            r = o.negated ? !hit : hit;
            break;
          }
          default:
            r = null;
        }
        if (r === null) {
          this.unknown.push(rule.source);
          return 'unknown';
        }
        if (!r) return 'no';
      }
    }
    if (rule.unknownModules && rule.unknownModules.length > 0) {
      this.unknown.push(rule.source);
      return 'unknown';
    }
    return prob !== undefined && prob < 1 ? { p: prob } : 'yes';
  }

  runChain(table: string, chain: string, st: St, depth: number): End[] {
    const c = findChain(this.rs, table, chain);
    if (!c) {
      this.notes.push(`${table} ${chain} is not in the ruleset`);
      return [{ st, end: 'fall' }];
    }
    if (depth > MAX_DEPTH) {
      this.notes.push(`jump depth limit reached at ${table} ${chain}`);
      return [{ st, end: 'fall' }];
    }
    return this.runFrom(table, c.rules, 0, st, depth);
  }

  private runFrom(table: string, rules: IptablesRule[], start: number, st: St, depth: number): End[] {
    for (let i = start; i < rules.length; i++) {
      const rule = rules[i]!;
      const m = this.match(rule, st);
      if (m === 'no' || m === 'unknown') continue;
      if (m === 'yes') {
        const res = this.apply(table, rule, st, depth);
        if (res === 'continue') continue;
        return res.flatMap((e) => this.after(table, rules, i, e, depth));
      }
      // statistic: the rule is taken with probability p, the rest of the chain sees the remainder.
      if (++this.branches > MAX_BRANCHES) {
        this.notes.push('branch limit reached; later endpoints not explored');
        return [{ st, end: 'fall' }];
      }
      const taken: St = { ...st, prob: st.prob * m.p, trail: [...st.trail] };
      const rest: St = { ...st, prob: st.prob * (1 - m.p), trail: [...st.trail] };
      const a = this.apply(table, rule, taken, depth);
      const ends: End[] =
        a === 'continue'
          ? this.runFrom(table, rules, i + 1, taken, depth)
          : a.flatMap((e) => this.after(table, rules, i, e, depth));
      return [...ends, ...this.runFrom(table, rules, i + 1, rest, depth)];
    }
    return [{ st, end: 'fall' }];
  }

  /** What follows rule i's action: RETURN ends the chain, a finished jump goes on, a finished goto returns. */
  private after(table: string, rules: IptablesRule[], i: number, e: End, depth: number): End[] {
    if (e.end === 'return') return [e];
    if (e.end !== 'fall') return [e];
    if (rules[i]!.target?.goto) return [{ st: e.st, end: 'return' }];
    return this.runFrom(table, rules, i + 1, e.st, depth);
  }

  private apply(table: string, rule: IptablesRule, st: St, depth: number): End[] | 'continue' {
    const tg = rule.target;
    if (!tg) return 'continue';
    st.trail.push(rule.source);
    switch (tg.name) {
      case 'ACCEPT':
        return [{ st, end: 'accept', rule: rule.source }];
      case 'DROP':
        return [{ st, end: 'drop', rule: rule.source }];
      case 'REJECT':
        return [{ st, end: 'reject', rule: rule.source }];
      case 'RETURN':
        return [{ st, end: 'return' }];
      case 'DNAT': {
        const to = tg.options.find((o) => o.name === 'to-destination')?.args[0];
        const hp = to !== undefined ? splitHostPort(to) : null;
        if (!hp) {
          this.unknown.push(rule.source);
          return [{ st, end: 'accept' }];
        }
        st.dnat = { address: hp.addr, port: hp.port, chain: rule.chain, rule: rule.source };
        st.dst = hp.addr;
        st.dport = hp.port;
        return [{ st, end: 'accept', rule: rule.source }];
      }
      case 'MASQUERADE':
      case 'SNAT':
        st.masquerade = true;
        return [{ st, end: 'accept', rule: rule.source }];
      case 'MARK': {
        const o = tg.options[0];
        const v = o?.args[0];
        const mm = v !== undefined ? /^(0x[0-9a-f]+|\d+)(?:\/(0x[0-9a-f]+|\d+))?$/i.exec(v) : null;
        if (!o || !mm) {
          this.unknown.push(rule.source);
          return 'continue';
        }
        const val = Number(mm[1]);
        const mask = mm[2] !== undefined ? Number(mm[2]) : undefined;
        if (o.name === 'or-mark') st.mark = (st.mark | val) >>> 0;
        else if (o.name === 'xor-mark') st.mark = (st.mark ^ val) >>> 0;
        else if (o.name === 'and-mark') st.mark = (st.mark & val) >>> 0;
        else if (o.name === 'set-mark') st.mark = mask === undefined ? val : ((st.mark & ~mask) | val) >>> 0;
        else if (o.name === 'set-xmark') st.mark = ((st.mark & ~(mask ?? 0xffffffff)) ^ val) >>> 0;
        else this.unknown.push(rule.source);
        return 'continue';
      }
      case 'LOG':
      case 'NFLOG':
      case 'CONNMARK':
      case 'CT':
      case 'NOTRACK':
      case 'TRACE':
      case 'AUDIT':
        return 'continue';
      default: {
        if (findChain(this.rs, table, tg.name)) {
          const sub = this.runChain(table, tg.name, st, depth + 1);
          return sub.map((e) => (e.end === 'return' ? { ...e, end: 'fall' as const } : e));
        }
        this.unknown.push(rule.source);
        return 'continue';
      }
    }
  }
}

function hasRules(rs: IptablesRuleset, table: string, chain: string): boolean {
  return (findChain(rs, table, chain)?.rules.length ?? 0) > 0;
}

/**
 * Walks a new connection through the nat and filter tables of a kube-proxy (iptables mode) ruleset:
 * nat PREROUTING/OUTPUT (DNAT, KUBE-MARK-MASQ), filter INPUT/FORWARD/OUTPUT, nat POSTROUTING (MASQUERADE).
 * `-m statistic` splits produce one branch per endpoint. Without built-in hook chains (a kube-proxy
 * restore input) it starts at the KUBE-* chains directly, as kube-proxy's own test tracer does.
 */
export function traceKubeProxyIptables(rs: IptablesRuleset, flow: KubeProxyFlow): KubeProxyTraceResult {
  const t = new Tracer(rs, flow);
  const dst0 = canonIp(flow.dst) ?? flow.dst;
  const st0: St = { dst: dst0, dport: flow.dport, mark: flow.mark ?? 0, prob: 1, masquerade: false, trail: [] };
  const natHook = flow.origin === 'local' ? 'OUTPUT' : 'PREROUTING';
  let natEnds: End[];
  if (hasRules(rs, 'nat', natHook)) natEnds = t.runChain('nat', natHook, st0, 0);
  else {
    t.notes.push(`nat ${natHook} not in the ruleset: started at KUBE-SERVICES`);
    natEnds = t.runChain('nat', 'KUBE-SERVICES', st0, 0);
  }
  const branches: KubeProxyTraceBranch[] = [];
  for (const ne of natEnds) {
    const st = ne.st;
    if (ne.end === 'drop' || ne.end === 'reject') {
      branches.push(finish(st, ne.end, ne.rule));
      continue;
    }
    const toLocal = flow.localAddresses.some((a) => canonIp(a) === st.dst);
    const hooks: string[] =
      flow.origin === 'local' ? (toLocal ? ['OUTPUT', 'INPUT'] : ['OUTPUT']) : toLocal ? ['INPUT'] : ['FORWARD'];
    let verdict: End | undefined;
    const useHooks = hooks.some((h) => hasRules(rs, 'filter', h));
    const chains = useHooks
      ? hooks
      : ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL'];
    if (!useHooks && findChain(rs, 'filter', 'KUBE-SERVICES'))
      t.notes.push('filter hooks not in the ruleset: ran the KUBE-* filter chains directly');
    let cur = st;
    for (const ch of chains) {
      if (!findChain(rs, 'filter', ch)) continue;
      const ends = t.runChain('filter', ch, cur, 0);
      // The filter table never forks on kube-proxy rules; keep the first outcome.
      const e = ends[0]!;
      cur = e.st;
      if (e.end === 'accept' && useHooks) {
        verdict = e;
        if (ch === 'OUTPUT' && hooks.length > 1) {
          verdict = undefined;
          continue;
        }
        break;
      }
      if (e.end === 'accept' || e.end === 'drop' || e.end === 'reject') {
        verdict = e;
        break;
      }
    }
    if (verdict && verdict.end !== 'accept') {
      branches.push(finish(cur, verdict.end as 'drop' | 'reject', verdict.rule));
      continue;
    }
    if (!toLocal && hasRules(rs, 'nat', 'POSTROUTING')) {
      const pe = t.runChain('nat', 'POSTROUTING', { ...cur }, 0);
      cur = pe[0]!.st;
    } else if (!toLocal && cur.mark & 0x4000 && !findChain(rs, 'nat', 'POSTROUTING')) {
      t.notes.push('nat POSTROUTING not in the ruleset: masquerade inferred from the 0x4000 mark');
      cur.masquerade = true;
    }
    branches.push(finish(cur, verdict ? 'accept' : 'continue', verdict?.rule));
  }
  return { branches, unknown: dedupe(t.unknown), notes: [...new Set(t.notes)] };
}

function finish(st: St, verdict: KubeProxyTraceBranch['verdict'], rule?: Evidence): KubeProxyTraceBranch {
  const b: KubeProxyTraceBranch = {
    probability: Math.round(st.prob * 1e9) / 1e9,
    masquerade: st.masquerade,
    verdict,
    trail: st.trail,
  };
  if (st.dnat) b.dnat = st.dnat;
  if (rule) b.verdictRule = rule;
  return b;
}

function dedupe(e: Evidence[]): Evidence[] {
  const seen = new Set<string>();
  return e.filter((x) => {
    if (seen.has(x.text)) return false;
    seen.add(x.text);
    return true;
  });
}
