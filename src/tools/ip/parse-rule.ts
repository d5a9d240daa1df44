import type { Family, Neighbor, Parsed, Rule, RuleAction, Warning } from '../../model/types.js';
import { canonIp, canonPrefix } from '../../model/addr.js';
import { cleanText, ev, looksLikeJson } from '../common.js';
import { ParseError } from '../parse-error.js';
import { ipNeighSchema, ipNetnsSchema, ipRuleSchema } from './schema.js';
import { jsonArray, parseHexOrDec, skip, tableId } from './common.js';

const IPPROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, sctp: 132, 'ipv6-icmp': 58, icmpv6: 58, gre: 47, esp: 50 };
const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };

/** `ip rule`-style text for a rule. */
export function renderRule(r: Rule): string {
  const p: string[] = [`${r.priority}:`];
  if (r.not) p.push('not');
  p.push(`from ${r.src ?? 'all'}`);
  if (r.dst) p.push(`to ${r.dst}`);
  if (r.fwmark !== undefined) p.push(`fwmark 0x${r.fwmark.toString(16)}${r.fwmask !== undefined ? `/0x${r.fwmask.toString(16)}` : ''}`);
  if (r.iif) p.push(`iif ${r.iif}`);
  if (r.oif) p.push(`oif ${r.oif}`);
  if (r.ipproto !== undefined) p.push(`ipproto ${r.ipproto}`);
  if (r.sport) p.push(`sport ${r.sport[0] === r.sport[1] ? r.sport[0] : r.sport.join('-')}`);
  if (r.dport) p.push(`dport ${r.dport[0] === r.dport[1] ? r.dport[0] : r.dport.join('-')}`);
  if (r.uidrange) p.push(`uidrange ${r.uidrange.join('-')}`);
  if (r.l3mdev) p.push('l3mdev');
  if (r.action === 'lookup') p.push(`lookup ${TABLE_NAMES[r.table ?? 254] ?? r.table}`);
  else if (r.action === 'goto') p.push(`goto ${r.goto}`);
  else p.push(r.action);
  if (r.suppressPrefixlen !== undefined) p.push(`suppress_prefixlength ${r.suppressPrefixlen}`);
  return p.join(' ');
}

export function parseIpRule(text: string, probe: string, family: Family): Parsed<Rule[]> {
  return looksLikeJson(cleanText(text)) ? ruleJson(text, probe, family) : ruleText(text, probe, family);
}

function prefix(addr: string | undefined, len: number | undefined, family: Family): string | undefined | null {
  if (addr === undefined || addr === 'all') return undefined;
  return canonPrefix(len === undefined ? addr : `${addr}/${len}`, family);
}

function ruleJson(text: string, probe: string, family: Family): Parsed<Rule[]> {
  const warnings: Warning[] = [];
  const out: Rule[] = [];
  for (const raw of jsonArray(text, probe)) {
    const r = ipRuleSchema.safeParse(raw);
    if (!r.success) {
      skip(warnings, probe, 'rule', r.error.issues[0]?.message ?? 'invalid');
      continue;
    }
    const j = r.data;
    const rule: Rule = { family, priority: j.priority, action: 'lookup', source: { probe, text: '' } };
    if (raw !== null && typeof raw === 'object' && 'not' in raw) rule.not = true;
    const src = prefix(j.src, j.srclen, family);
    const dst = prefix(j.dst, j.dstlen, family);
    if (src === null || dst === null) {
      skip(warnings, probe, `rule ${j.priority}`, 'from/to is not a prefix of this family');
      continue;
    }
    if (src) rule.src = src;
    if (dst) rule.dst = dst;
    if (j.iif) rule.iif = j.iif;
    if (j.oif) rule.oif = j.oif;
    if (j.fwmark !== undefined) {
      const m = parseHexOrDec(j.fwmark);
      const k = j.fwmask !== undefined ? parseHexOrDec(j.fwmask) : undefined;
      if (m === undefined || (j.fwmask !== undefined && k === undefined)) {
        skip(warnings, probe, `rule ${j.priority}`, `fwmark ${j.fwmark} is not a number`);
        continue;
      }
      rule.fwmark = m;
      if (k !== undefined) rule.fwmask = k;
    }
    if (j.ipproto !== undefined) {
      const p = typeof j.ipproto === 'number' ? j.ipproto : (IPPROTO[j.ipproto] ?? (/^\d+$/.test(j.ipproto) ? Number(j.ipproto) : undefined));
      if (p === undefined) {
        skip(warnings, probe, `rule ${j.priority}`, `unknown ipproto ${j.ipproto}`);
        continue;
      }
      rule.ipproto = p;
    }
    if (j.sport !== undefined) rule.sport = [j.sport, j.sport];
    if (j.sport_start !== undefined) rule.sport = [j.sport_start, j.sport_end ?? j.sport_start];
    if (j.dport !== undefined) rule.dport = [j.dport, j.dport];
    if (j.dport_start !== undefined) rule.dport = [j.dport_start, j.dport_end ?? j.dport_start];
    if (j.uid_start !== undefined) rule.uidrange = [j.uid_start, j.uid_end ?? j.uid_start];
    if (raw !== null && typeof raw === 'object' && 'l3mdev' in raw) rule.l3mdev = true;
    if (j.suppress_prefixlen !== undefined) rule.suppressPrefixlen = j.suppress_prefixlen;
    if (j.goto !== undefined) {
      rule.action = 'goto';
      rule.goto = j.goto;
    } else if (j.action !== undefined && j.action !== 'lookup' && j.action !== 'to_tbl') {
      if (!['nop', 'blackhole', 'unreachable', 'prohibit'].includes(j.action)) {
        skip(warnings, probe, `rule ${j.priority}`, `unknown action ${j.action}`);
        continue;
      }
      rule.action = j.action as RuleAction;
    } else {
      const t = tableId(j.table);
      if (t === undefined) {
        skip(warnings, probe, `rule ${j.priority}`, `table ${JSON.stringify(j.table)} is a name netpath cannot resolve`);
        continue;
      }
      rule.table = t;
    }
    rule.source = ev(probe, renderRule(rule));
    out.push(rule);
  }
  return { value: out, warnings };
}

function range(v: string | undefined): [number, number] | undefined {
  const m = v === undefined ? null : /^(\d+)(?:-(\d+))?$/.exec(v);
  return m ? [Number(m[1]), Number(m[2] ?? m[1])] : undefined;
}

function ruleText(text: string, probe: string, family: Family): Parsed<Rule[]> {
  const warnings: Warning[] = [];
  const out: Rule[] = [];
  let recognised = 0;
  for (const raw of cleanText(text).split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(\d+):\s+(.*)$/.exec(line);
    if (!m) {
      skip(warnings, probe, `line ${JSON.stringify(line.slice(0, 60))}`, 'not a rule line');
      continue;
    }
    recognised++;
    const tok = m[2]!.split(/\s+/);
    const rule: Rule = { family, priority: Number(m[1]), action: 'lookup', table: 254, source: ev(probe, line) };
    let bad: string | undefined;
    for (let i = 0; i < tok.length && !bad; i++) {
      const k = tok[i]!;
      const v = tok[i + 1];
      const take = () => {
        i++;
        return v;
      };
      switch (k) {
        case 'not':
          rule.not = true;
          break;
        case 'from':
        case 'to': {
          const p = prefix(take(), undefined, family);
          if (p === null) bad = `${k} ${v} is not a prefix`;
          else if (p) rule[k === 'from' ? 'src' : 'dst'] = p;
          break;
        }
        case 'fwmark': {
          const [a, b] = (take() ?? '').split('/');
          const fm = parseHexOrDec(a ?? '');
          const mk = b !== undefined ? parseHexOrDec(b) : undefined;
          if (fm === undefined) bad = `fwmark ${v} is not a number`;
          else {
            rule.fwmark = fm;
            if (mk !== undefined) rule.fwmask = mk;
          }
          break;
        }
        case 'iif':
          rule.iif = take()!;
          break;
        case 'oif':
          rule.oif = take()!;
          break;
        case 'ipproto': {
          const p = take() ?? '';
          const n = IPPROTO[p] ?? (/^\d+$/.test(p) ? Number(p) : undefined);
          if (n === undefined) bad = `unknown ipproto ${p}`;
          else rule.ipproto = n;
          break;
        }
        case 'sport':
        case 'dport':
        case 'uidrange': {
          const r = range(take());
          if (!r) bad = `${k} ${v} is not a range`;
          else rule[k === 'uidrange' ? 'uidrange' : k] = r;
          break;
        }
        case 'l3mdev':
          rule.l3mdev = true;
          break;
        case 'lookup': {
          const t = tableId(take());
          if (t === undefined) bad = `table ${v} is a name netpath cannot resolve`;
          else rule.table = t;
          break;
        }
        case 'goto':
          rule.action = 'goto';
          delete rule.table;
          rule.goto = Number(take());
          break;
        case 'blackhole':
        case 'unreachable':
        case 'prohibit':
        case 'nop':
          rule.action = k;
          delete rule.table;
          break;
        case 'suppress_prefixlength':
          rule.suppressPrefixlen = Number(take());
          break;
        case 'proto':
        case 'tos':
        case 'dsfield':
        case 'realms':
        case 'suppress_ifgroup':
          i++;
          break;
        default:
          break;
      }
    }
    if (bad) {
      skip(warnings, probe, `rule ${rule.priority}`, bad);
      continue;
    }
    out.push(rule);
  }
  if (recognised === 0 && warnings.length > 0) throw new ParseError(probe, 'no `PRIO: from ...` line: not ip rule output');
  return { value: out, warnings };
}

const NUD = new Set(['REACHABLE', 'STALE', 'FAILED', 'INCOMPLETE', 'PERMANENT', 'NOARP', 'DELAY', 'PROBE', 'NONE']);

export function parseIpNeigh(text: string, probe: string): Parsed<Neighbor[]> {
  const warnings: Warning[] = [];
  const out: Neighbor[] = [];
  const push = (dst: string, dev: string | undefined, lladdr: string | undefined, state: string[], router: boolean, line: string) => {
    const d = canonIp(dst);
    if (d === null || dev === undefined) {
      skip(warnings, probe, `neighbour ${dst}`, d === null ? 'not an address' : 'no device');
      return;
    }
    const n: Neighbor = { dst: d, family: d.includes(':') ? 6 : 4, dev, state, source: ev(probe, line) };
    if (lladdr !== undefined) n.lladdr = lladdr;
    if (router) n.router = true;
    out.push(n);
  };
  if (looksLikeJson(cleanText(text))) {
    for (const raw of jsonArray(text, probe)) {
      const r = ipNeighSchema.safeParse(raw);
      if (!r.success) {
        skip(warnings, probe, 'neighbour', r.error.issues[0]?.message ?? 'invalid');
        continue;
      }
      const j = r.data;
      const router = raw !== null && typeof raw === 'object' && 'router' in raw;
      const line = `${j.dst}${j.dev ? ` dev ${j.dev}` : ''}${j.lladdr ? ` lladdr ${j.lladdr}` : ''}${router ? ' router' : ''} ${(j.state ?? []).join(' ')}`.trim();
      push(j.dst, j.dev, j.lladdr, j.state ?? [], router, line);
    }
    return { value: out, warnings };
  }
  let recognised = 0;
  for (const raw of cleanText(text).split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const tok = line.split(/\s+/);
    const dev = tok.indexOf('dev');
    if (dev < 0) {
      skip(warnings, probe, `line ${JSON.stringify(line.slice(0, 60))}`, 'no dev');
      continue;
    }
    recognised++;
    const ll = tok.indexOf('lladdr');
    push(tok[0]!, tok[dev + 1], ll >= 0 ? tok[ll + 1] : undefined, tok.filter((t) => NUD.has(t)), tok.includes('router'), line);
  }
  if (recognised === 0 && warnings.length > 0) throw new ParseError(probe, 'not ip neigh output');
  return { value: out, warnings };
}

export function parseIpNetnsList(text: string, probe: string): Parsed<{ name: string; id?: number }[]> {
  const warnings: Warning[] = [];
  const out: { name: string; id?: number }[] = [];
  if (looksLikeJson(cleanText(text))) {
    for (const raw of jsonArray(text, probe)) {
      const r = ipNetnsSchema.safeParse(raw);
      if (!r.success) {
        skip(warnings, probe, 'netns', r.error.issues[0]?.message ?? 'invalid');
        continue;
      }
      out.push(r.data.id === undefined ? { name: r.data.name } : { name: r.data.name, id: r.data.id });
    }
    return { value: out, warnings };
  }
  for (const raw of cleanText(text).split('\n')) {
    const m = /^(\S+)(?:\s+\(id:\s*(\d+)\))?\s*$/.exec(raw.trim());
    if (!m) continue;
    out.push(m[2] === undefined ? { name: m[1]! } : { name: m[1]!, id: Number(m[2]) });
  }
  return { value: out, warnings };
}

export { ParseError };
