import type { Family, Parsed, Rule, RuleAction } from '../../model/types.js';
import { canonPrefix } from '../../model/addr.js';
import { ParseError } from '../parse-error.js';
import { ipRuleSchema, zodWhy } from './schema.js';
import { Notes, TABLE_NAMES, has, isJson, jsonArray, parseHexOrDec, prep, tableId, tosValue, u32 } from './common.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

const IPPROTO: Record<string, number> = {
  icmp: 1,
  igmp: 2,
  ipip: 4,
  tcp: 6,
  udp: 17,
  ipv6: 41,
  gre: 47,
  esp: 50,
  ah: 51,
  'ipv6-icmp': 58,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};
const ACTIONS = new Set(['nop', 'blackhole', 'unreachable', 'prohibit']);
// Selectors newer iproute2/kernels print that the model cannot express: a rule with one is skipped
// rather than read as matching more than it does.
const UNMODELLED_JSON = ['dscp', 'dscp_mask', 'flowlabel', 'flowlabel_mask', 'sport_mask', 'dport_mask', 'tun_id'];
const UNMODELLED_TEXT = new Set(['dscp', 'flowlabel', 'tun_id', 'map-to']);

/** `ip rule`-style text for a rule. */
export function renderRule(r: Rule): string {
  let s = `${r.priority}:`;
  if (r.not) s += ' not';
  s += ` from ${r.src ?? 'all'}`;
  if (r.dst) s += ` to ${r.dst}`;
  if (r.tos !== undefined) s += ` tos 0x${r.tos.toString(16)}`;
  if (r.fwmark !== undefined)
    s += ` fwmark 0x${r.fwmark.toString(16)}${r.fwmask !== undefined ? `/0x${r.fwmask.toString(16)}` : ''}`;
  if (r.iif) s += ` iif ${r.iif}`;
  if (r.oif) s += ` oif ${r.oif}`;
  if (r.ipproto !== undefined) s += ` ipproto ${r.ipproto}`;
  if (r.sport) s += ` sport ${r.sport[0] === r.sport[1] ? r.sport[0] : r.sport.join('-')}`;
  if (r.dport) s += ` dport ${r.dport[0] === r.dport[1] ? r.dport[0] : r.dport.join('-')}`;
  if (r.uidrange) s += ` uidrange ${r.uidrange.join('-')}`;
  if (r.l3mdev) s += ' lookup [l3mdev-table]';
  else if (r.action === 'lookup') s += ` lookup ${TABLE_NAMES[r.table ?? 254] ?? r.table}`;
  else if (r.action === 'goto') s += ` goto ${r.goto}`;
  else s += ` ${r.action}`;
  if (r.suppressPrefixlen !== undefined) s += ` suppress_prefixlength ${r.suppressPrefixlen}`;
  if (r.suppressIfgroup !== undefined) s += ` suppress_ifgroup ${r.suppressIfgroup}`;
  return s;
}

/** `ip [-6] [-j] rule show`. */
export function parseIpRule(text: string, probe: string, family: Family): Parsed<Rule[]> {
  throwIfToolError(text, probe, 'ip');
  const clean = prep(text);
  return isJson(clean) ? ruleJson(clean, probe, family) : withPaste(clean, probe, (t) => ruleText(t, probe, family));
}

function prefix(addr: string, len: number | undefined, family: Family): string | undefined | null {
  if (addr === 'all') return undefined;
  return canonPrefix(len === undefined ? addr : `${addr}/${len}`, family);
}

function ipproto(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 255 ? v : undefined;
  const n = Object.hasOwn(IPPROTO, v) ? IPPROTO[v] : u32(v);
  return n !== undefined && n <= 255 ? n : undefined;
}

/** Device group: a number or `default` (0); other names live in /etc/iproute2/group. */
function ifgroup(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  return v === 'default' ? 0 : u32(v);
}

function ruleJson(clean: string, probe: string, family: Family): Parsed<Rule[]> {
  const notes = new Notes(probe);
  const out: Rule[] = [];
  const arr = jsonArray(clean, probe);
  for (let i = 0; i < arr.length; i++) {
    const raw = arr[i];
    const z = ipRuleSchema.safeParse(raw);
    if (!z.success) {
      notes.skip(`rule #${i}`, zodWhy(z));
      continue;
    }
    // read the input, not zod's copy: a `__proto__` key must stay an inert own property
    const o = raw as Record<string, unknown> & typeof z.data;
    const what = `rule ${o.priority}`;
    const rule: Rule = { family, priority: o.priority, action: 'lookup', source: { probe, text: '' } };
    const unmodelled = UNMODELLED_JSON.find((k) => has(o, k));
    if (unmodelled !== undefined) {
      notes.skip(what, `selector ${unmodelled} is not modelled`, 'rule-selector-unmodelled');
      continue;
    }
    if (has(o, 'not')) rule.not = true;
    const src = o.src === undefined ? undefined : prefix(o.src, o.srclen, family);
    const dst = o.dst === undefined ? undefined : prefix(o.dst, o.dstlen, family);
    if (src === null || dst === null) {
      notes.skip(what, `from/to is not an IPv${family} prefix`);
      continue;
    }
    if (src !== undefined) rule.src = src;
    if (dst !== undefined) rule.dst = dst;
    if (o.iif !== undefined) rule.iif = o.iif;
    if (o.oif !== undefined) rule.oif = o.oif;
    if (o.tos !== undefined) {
      const t = tosValue(o.tos);
      if (t === undefined) {
        notes.skip(what, `tos ${JSON.stringify(o.tos)} is not a TOS value`);
        continue;
      }
      if (t !== 0) rule.tos = t;
    }
    if (o.fwmark !== undefined) {
      const m = parseHexOrDec(o.fwmark);
      const k = o.fwmask !== undefined ? parseHexOrDec(o.fwmask) : undefined;
      if (m === undefined || (o.fwmask !== undefined && k === undefined)) {
        notes.skip(what, `fwmark ${o.fwmark}/${o.fwmask ?? ''} is not a number`);
        continue;
      }
      rule.fwmark = m;
      if (k !== undefined) rule.fwmask = k;
    }
    if (o.ipproto !== undefined) {
      const p = ipproto(o.ipproto);
      if (p === undefined) {
        notes.skip(what, `unknown ipproto ${JSON.stringify(o.ipproto)}`);
        continue;
      }
      rule.ipproto = p;
    }
    if (o.sport !== undefined) rule.sport = [o.sport, o.sport];
    if (o.sport_start !== undefined) rule.sport = [o.sport_start, o.sport_end ?? o.sport_start];
    if (o.dport !== undefined) rule.dport = [o.dport, o.dport];
    if (o.dport_start !== undefined) rule.dport = [o.dport_start, o.dport_end ?? o.dport_start];
    if (o.uid_start !== undefined) rule.uidrange = [o.uid_start, o.uid_end ?? o.uid_start];
    if (o.suppress_prefixlen !== undefined) rule.suppressPrefixlen = o.suppress_prefixlen;
    if (o.suppress_ifgroup !== undefined) {
      const g = ifgroup(o.suppress_ifgroup);
      if (g === undefined) {
        notes.skip(
          what,
          `suppress_ifgroup ${JSON.stringify(o.suppress_ifgroup)} is a group name netpath cannot resolve (/etc/iproute2/group)`,
        );
        continue;
      }
      rule.suppressIfgroup = g;
    }
    // iproute2 6.1: l3mdev rules print `"l3mdev": null` and no table; nop prints `"nop": null`
    if (has(o, 'l3mdev')) rule.l3mdev = true;
    else if (o.goto !== undefined) {
      rule.action = 'goto';
      rule.goto = o.goto;
    } else if (has(o, 'nop')) rule.action = 'nop';
    else if (o.action !== undefined && o.action !== 'lookup' && o.action !== 'to_tbl') {
      if (!ACTIONS.has(o.action)) {
        notes.skip(what, `unknown action ${JSON.stringify(o.action)}`, 'rule-action-unknown');
        continue;
      }
      rule.action = o.action as RuleAction;
    } else if (o.table !== undefined) {
      const t = tableId(o.table);
      if (t === undefined) {
        notes.skip(
          what,
          `table ${JSON.stringify(o.table)} is a name from /etc/iproute2/rt_tables that netpath cannot map to an id`,
          'table-name-unresolved',
        );
        continue;
      }
      rule.table = t;
    } else {
      notes.skip(what, 'no table, goto or action', 'rule-action-unknown');
      continue;
    }
    rule.source = { probe, text: renderRule(rule) };
    out.push(rule);
  }
  return { value: out, warnings: notes.done() };
}

function range(v: string | undefined, max: number): [number, number] | undefined {
  const m = v === undefined ? null : /^(\d{1,10})(?:-(\d{1,10}))?$/.exec(v);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2] ?? m[1]);
  return a <= b && b <= max ? [a, b] : undefined;
}

function ruleText(clean: string, probe: string, family: Family): Parsed<Rule[]> {
  const notes = new Notes(probe);
  const out: Rule[] = [];
  let recognised = 0;
  let unreadable = 0;
  for (const raw of clean.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(\d{1,10}):\s+(.*)$/.exec(line);
    const prio = m ? u32(m[1]!) : undefined;
    if (!m || prio === undefined) {
      unreadable++;
      notes.skip(`line ${JSON.stringify(line.slice(0, 60))}`, 'not a rule line');
      continue;
    }
    recognised++;
    const tok = m[2]!.split(/\s+/);
    const rule: Rule = { family, priority: prio, action: 'lookup', source: { probe, text: line.replace(/\s+/g, ' ') } };
    let bad: string | undefined;
    let code: string | undefined;
    let acted = false;
    for (let i = 0; i < tok.length && bad === undefined; i++) {
      const k = tok[i]!;
      const v = tok[i + 1];
      switch (k) {
        case 'not':
          rule.not = true;
          break;
        case 'from':
        case 'to': {
          i++;
          const p = v === undefined ? null : prefix(v, undefined, family);
          if (p === null) bad = `${k} ${JSON.stringify(v)} is not an IPv${family} prefix`;
          else if (p !== undefined) rule[k === 'from' ? 'src' : 'dst'] = p;
          break;
        }
        case 'tos':
        case 'dsfield': {
          i++;
          const t = v === undefined ? undefined : tosValue(v);
          if (t === undefined) bad = `tos ${JSON.stringify(v)} is not a TOS value`;
          else if (t !== 0) rule.tos = t;
          break;
        }
        case 'fwmark': {
          i++;
          const [a, b] = (v ?? '').split('/');
          const fm = parseHexOrDec(a ?? '');
          const mk = b !== undefined ? parseHexOrDec(b) : undefined;
          if (fm === undefined || (b !== undefined && mk === undefined))
            bad = `fwmark ${JSON.stringify(v)} is not a number`;
          else {
            rule.fwmark = fm;
            if (mk !== undefined) rule.fwmask = mk;
          }
          break;
        }
        case 'iif':
        case 'oif':
          i++;
          if (v === undefined) bad = `${k} without a device`;
          else rule[k] = v;
          break;
        case 'ipproto': {
          i++;
          const n = v === undefined ? undefined : ipproto(v);
          if (n === undefined) bad = `unknown ipproto ${JSON.stringify(v)}`;
          else rule.ipproto = n;
          break;
        }
        case 'sport':
        case 'dport':
        case 'uidrange': {
          i++;
          const r = range(v, k === 'uidrange' ? 0xffffffff : 65535);
          if (!r) {
            bad = `${k} ${JSON.stringify(v)} is not a range`;
            if (v?.includes('/')) code = 'rule-selector-unmodelled';
          } else rule[k] = r;
          break;
        }
        case 'l3mdev':
          rule.l3mdev = true;
          acted = true;
          break;
        case 'lookup':
        case 'table': {
          i++;
          acted = true;
          if (v === '[l3mdev-table]') {
            rule.l3mdev = true;
            break;
          }
          const t = v === undefined ? undefined : tableId(v);
          if (t === undefined) {
            bad = `table ${JSON.stringify(v)} is a name from /etc/iproute2/rt_tables that netpath cannot map to an id`;
            code = 'table-name-unresolved';
          } else rule.table = t;
          break;
        }
        case 'goto': {
          i++;
          acted = true;
          const g = v === undefined ? undefined : u32(v);
          if (g === undefined) bad = `goto ${JSON.stringify(v)} is not a priority`;
          else {
            rule.action = 'goto';
            rule.goto = g;
          }
          break;
        }
        case 'blackhole':
        case 'unreachable':
        case 'prohibit':
        case 'nop':
          rule.action = k;
          acted = true;
          break;
        case 'suppress_prefixlength': {
          i++;
          const n = v === undefined ? undefined : u32(v);
          if (n === undefined) bad = `suppress_prefixlength ${JSON.stringify(v)} is not a number`;
          else rule.suppressPrefixlen = n;
          break;
        }
        case 'suppress_ifgroup': {
          i++;
          const g = v === undefined ? undefined : ifgroup(v);
          if (g === undefined)
            bad = `suppress_ifgroup ${JSON.stringify(v)} is a group name netpath cannot resolve (/etc/iproute2/group)`;
          else rule.suppressIfgroup = g;
          break;
        }
        case 'proto':
        case 'realms':
          i++;
          break;
        case '[detached]':
        case '[unresolved]':
          break;
        default:
          if (UNMODELLED_TEXT.has(k)) {
            bad = `selector ${k} is not modelled`;
            code = 'rule-selector-unmodelled';
          } else notes.note('rule-token-unknown', `unknown word ${JSON.stringify(k)} in a rule ignored`, line);
      }
    }
    if (bad === undefined && !acted) bad = 'no lookup, goto or action';
    if (bad !== undefined) {
      notes.skip(`rule ${rule.priority}`, bad, code);
      continue;
    }
    out.push(rule);
  }
  if (recognised === 0 && unreadable > 0) throw new ParseError(probe, 'no `PRIO: from ...` line: not ip rule output');
  return { value: out, warnings: notes.done() };
}
