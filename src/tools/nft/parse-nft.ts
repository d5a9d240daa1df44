import type { Parsed } from '../../model/types.js';
import { cleanText, DANGEROUS_KEYS, ev, looksLikeJson, parseJsonText } from '../common.js';
import { ParseError } from '../parse-error.js';
import { Warnings } from '../warnings.js';
import type {
  NftChain,
  NftMatch,
  NftRule,
  NftRuleset,
  NftSet,
  NftSetElement,
  NftTable,
  NftVerdict,
  NftVmapElement,
} from '../../model/nft.js';
import { NftChainJson, NftEnvelope, NftRuleJson, NftSetJson, NftTableJson } from './schema.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

const VERDICTS = new Set(['accept', 'drop', 'return', 'continue', 'jump', 'goto', 'reject', 'queue']);

function tableOf(rs: NftRuleset, family: string, name: string): NftTable {
  let t = rs.tables.find((x) => x.family === family && x.name === name);
  if (!t) {
    t = { family, name, sets: [], chains: [] };
    rs.tables.push(t);
  }
  return t;
}

function chainOf(t: NftTable, name: string): NftChain {
  let c = t.chains.find((x) => x.name === name);
  if (!c) {
    c = { family: t.family, table: t.name, name, rules: [] };
    t.chains.push(c);
  }
  return c;
}

// ---------- JSON ----------

/**
 * A JSON scalar as text; '?' for objects and arrays. String() of a 10k-deep array recurses in
 * Array.prototype.toString and throws RangeError (an `"op": [[[…]]]` found by fuzzing).
 */
function scalar(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '?';
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** nft-style text of a JSON expression (left or right hand side), depth-limited. */
function renderExpr(v: unknown, depth = 0): string {
  if (depth > 16) return '?';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map((x) => renderExpr(x, depth + 1)).join(', ');
  if (!isObj(v)) return '?';
  const [k, val] = Object.entries(v)[0] ?? ['', undefined];
  if (DANGEROUS_KEYS.has(k)) return '?';
  const o = isObj(val) ? val : {};
  switch (k) {
    case 'payload':
      return `${scalar(o.protocol ?? '?')} ${scalar(o.field ?? '?')}`;
    case 'meta':
      return o.key === 'mark' ? 'mark' : `meta ${scalar(o.key ?? '?')}`;
    case 'ct':
      return `ct ${scalar(o.key ?? '?')}`;
    case 'fib': {
      const flags = Array.isArray(o.flags) ? o.flags.map(scalar) : o.flags !== undefined ? [scalar(o.flags)] : [];
      return `fib ${flags.join(' . ')} ${scalar(o.result ?? '?')}`;
    }
    case 'concat':
      return Array.isArray(val) ? val.map((x) => renderExpr(x, depth + 1)).join(' . ') : '?';
    case 'prefix':
      return `${scalar(o.addr ?? '?')}/${scalar(o.len ?? '?')}`;
    case 'range':
      return Array.isArray(val) ? val.map((x) => renderExpr(x, depth + 1)).join('-') : '?';
    case 'set':
      return Array.isArray(val)
        ? `{ ${val.map((x) => renderExpr(x, depth + 1)).join(', ')} }`
        : renderExpr(val, depth + 1);
    case '&':
    case '|':
    case '^': {
      const word = k === '&' ? 'and' : k === '|' ? 'or' : 'xor';
      return Array.isArray(val) ? val.map((x) => renderExpr(x, depth + 1)).join(` ${word} `) : '?';
    }
    default:
      return k;
  }
}

function rightValues(v: unknown): string[] {
  if (isObj(v) && 'set' in v && Array.isArray(v.set)) return v.set.map((x) => renderExpr(x));
  if (Array.isArray(v)) return v.map((x) => renderExpr(x));
  return [renderExpr(v)];
}

function jsonVerdict(v: unknown): NftVerdict | undefined {
  if (!isObj(v)) return undefined;
  const [k, val] = Object.entries(v)[0] ?? ['', undefined];
  if (!VERDICTS.has(k)) return undefined;
  const out: NftVerdict = { kind: k as NftVerdict['kind'] };
  if (isObj(val) && typeof val.target === 'string') out.target = val.target;
  return out;
}

function jsonKey(k: unknown): { key: string[]; comment?: string } {
  if (isObj(k) && isObj(k.elem)) {
    const inner = jsonKey(k.elem.val);
    return typeof k.elem.comment === 'string' ? { ...inner, comment: k.elem.comment } : inner;
  }
  if (isObj(k) && Array.isArray(k.concat)) return { key: k.concat.map((x) => renderExpr(x)) };
  return { key: [renderExpr(k)] };
}

function jsonElements(elem: unknown[] | undefined): NftSetElement[] {
  const out: NftSetElement[] = [];
  for (const e of elem ?? []) {
    if (Array.isArray(e) && e.length === 2) {
      const { key, comment } = jsonKey(e[0]);
      const el: NftSetElement = { key };
      const vd = jsonVerdict(e[1]);
      if (vd) el.verdict = vd;
      else el.value = renderExpr(e[1]);
      if (comment !== undefined) el.comment = comment;
      out.push(el);
    } else {
      const { key, comment } = jsonKey(e);
      out.push(comment !== undefined ? { key, comment } : { key });
    }
  }
  return out;
}

function renderRuleJson(r: { chain: string; expr?: Record<string, unknown>[] }, parts: string[]): string {
  return `${r.chain}: ${parts.join(' ')}`;
}

function jsonRule(obj: Record<string, unknown>, probe: string, warnings: Warnings, idx: number): NftRule | null {
  const p = NftRuleJson.safeParse(obj);
  if (!p.success) {
    warnings.add('nft-bad-rule', `nftables[${idx}]: rule object not understood`);
    return null;
  }
  const r = p.data;
  const rule: NftRule = { family: r.family, table: r.table, chain: r.chain, matches: [], source: ev(probe, '') };
  const parts: string[] = [];
  const unknown: string[] = [];
  for (const st of r.expr ?? []) {
    const [k, val] = Object.entries(st)[0] ?? ['', undefined];
    const o = isObj(val) ? val : {};
    if (k === 'match') {
      const m: NftMatch = { left: renderExpr(o.left), op: scalar(o.op ?? '=='), right: rightValues(o.right) };
      rule.matches.push(m);
      parts.push(`${m.left} ${m.op === '==' || m.op === 'in' ? '' : m.op + ' '}${m.right.join(', ')}`);
    } else if (VERDICTS.has(k)) {
      rule.verdict = jsonVerdict(st)!;
      parts.push(rule.verdict.target ? `${k} ${rule.verdict.target}` : k);
    } else if (k === 'vmap') {
      const key = renderExpr(o.key);
      if (typeof o.data === 'string') {
        rule.vmap = { key, set: o.data.replace(/^@/, '') };
        parts.push(`${key} vmap ${o.data}`);
      } else {
        const d = isObj(o.data) && Array.isArray(o.data.set) ? o.data.set : [];
        const elements: NftVmapElement[] = [];
        for (const e of jsonElements(d)) if (e.verdict) elements.push({ key: e.key, verdict: e.verdict });
        rule.vmap = { key, elements };
        parts.push(
          `${key} vmap { ${elements.map((e) => `${e.key.join(' . ')} : ${e.verdict.kind} ${e.verdict.target ?? ''}`.trim()).join(', ')} }`,
        );
      }
      if (isObj(o.key) && isObj(o.key.numgen)) {
        const ng = o.key.numgen;
        const off = ng.offset ?? 0;
        // a missing or non-integer mod/offset would become NaN and skew the endpoint probabilities
        if (isU32(ng.mod) && isU32(off)) rule.numgen = { mode: scalar(ng.mode ?? '?'), mod: ng.mod, offset: off };
        else unknown.push('numgen');
      }
    } else if (k === 'dnat') {
      if (typeof o.addr === 'string') {
        rule.dnat = typeof o.port === 'number' ? { addr: o.addr, port: o.port } : { addr: o.addr };
        parts.push(`dnat to ${o.addr}${typeof o.port === 'number' ? ':' + o.port : ''}`);
      } else unknown.push('dnat (map)');
    } else if (k === 'masquerade') {
      rule.masquerade = true;
      parts.push('masquerade');
    } else if (k === 'mangle') {
      const key = renderExpr(o.key);
      rule.markSet = `${key} set ${renderExpr(o.value)}`;
      parts.push(rule.markSet);
    } else if (k === 'set') {
      rule.setUpdate = `${scalar(o.op ?? '?')} ${scalar(o.set ?? '?')}`;
      parts.push(rule.setUpdate);
    } else if (k === 'counter') {
    } else if (k === 'xt') {
      unknown.push(`xt ${scalar(o.type ?? '?')} ${scalar(o.name ?? '?')}`);
      parts.push(`xt ${scalar(o.name ?? '?')}`);
    } else {
      unknown.push(k);
      parts.push(k);
    }
  }
  if (r.comment !== undefined) rule.comment = r.comment;
  if (unknown.length > 0) rule.unknown = unknown;
  rule.source = ev(probe, renderRuleJson(r, parts));
  return rule;
}

function parseNftJson(text: string, probe: string): Parsed<NftRuleset> {
  const j = parseJsonText(text);
  if (!j.ok) throw new ParseError(probe, j.message);
  const env = NftEnvelope.safeParse(j.value);
  if (!env.success) throw new ParseError(probe, 'not an `nft -j list ruleset` document (no "nftables" array)');
  const warnings = new Warnings(probe);
  const rs: NftRuleset = { tables: [] };
  for (const [idx, obj] of env.data.nftables.entries()) {
    const [k, val] = Object.entries(obj)[0] ?? ['', undefined];
    if (!isObj(val)) continue;
    if (k === 'table') {
      const t = NftTableJson.safeParse(val);
      if (t.success) tableOf(rs, t.data.family, t.data.name);
    } else if (k === 'chain') {
      const c = NftChainJson.safeParse(val);
      if (!c.success) {
        warnings.add('nft-bad-chain', `nftables[${idx}]: chain object not understood`);
        continue;
      }
      const ch = chainOf(tableOf(rs, c.data.family, c.data.table), c.data.name);
      if (c.data.type !== undefined) ch.type = c.data.type;
      if (c.data.hook !== undefined) ch.hook = c.data.hook;
      if (c.data.prio !== undefined) ch.prio = c.data.prio;
      if (c.data.policy !== undefined) ch.policy = c.data.policy;
      ch.source = ev(
        probe,
        `chain ${c.data.family} ${c.data.table} ${c.data.name}${c.data.hook ? ` { type ${c.data.type ?? '?'} hook ${c.data.hook} priority ${scalar(c.data.prio ?? '?')}; }` : ''}`,
      );
    } else if (k === 'set' || k === 'map') {
      const s = NftSetJson.safeParse(val);
      if (!s.success) {
        warnings.add('nft-bad-set', `nftables[${idx}]: ${k} object not understood`);
        continue;
      }
      const d = s.data;
      const type = Array.isArray(d.type) ? d.type.join(' . ') : d.type;
      const set: NftSet = {
        family: d.family,
        table: d.table,
        name: d.name,
        isMap: k === 'map',
        elements: jsonElements(d.elem),
        source: ev(
          probe,
          `${k} ${d.family} ${d.table} ${d.name}${type ? ` { type ${type}${d.map ? ' : ' + scalar(d.map) : ''} }` : ''}`,
        ),
      };
      if (type !== undefined) set.type = type;
      if (d.flags !== undefined) set.flags = Array.isArray(d.flags) ? d.flags : [d.flags];
      if (d.timeout !== undefined) set.timeout = d.timeout;
      if (d.comment !== undefined) set.comment = d.comment;
      tableOf(rs, d.family, d.table).sets.push(set);
    } else if (k === 'rule') {
      const r = jsonRule(val, probe, warnings, idx);
      if (r) chainOf(tableOf(rs, r.family, r.table), r.chain).rules.push(r);
    }
  }
  return { value: rs, warnings: warnings.done() };
}

// ---------- text (`nft list ruleset` and `nft -f` transactions) ----------

/** nft text tokens: words, quoted strings, and the punctuation `{ } , : ;` as their own tokens. */
function lex(s: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '"') {
      const j = s.indexOf('"', i + 1);
      if (j < 0) return null;
      out.push(s.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if ('{},;'.includes(c)) {
      out.push(c);
      i++;
      continue;
    }
    // ':' separates a map key from its verdict only when it stands alone (IPv6 and ports contain ':').
    if (c === ':' && (s[i + 1] === ' ' || s[i + 1] === undefined)) {
      out.push(':');
      i++;
      continue;
    }
    let j = i;
    while (
      j < s.length &&
      !' \t{},;"'.includes(s[j]!) &&
      !(s[j] === ':' && (s[j + 1] === ' ' || s[j + 1] === undefined))
    )
      j++;
    out.push(s.slice(i, j));
    i = j;
  }
  return out;
}

const unq = (t: string): string => (t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t);

/** Elements inside `{ ... }` (tokens without the braces). */
function textElements(toks: string[]): NftSetElement[] {
  const out: NftSetElement[] = [];
  let cur: string[] = [];
  const flush = () => {
    if (cur.length === 0) return;
    const el: NftSetElement = { key: [] };
    const colon = cur.indexOf(':');
    const keyToks = colon >= 0 ? cur.slice(0, colon) : cur;
    const ci = keyToks.indexOf('comment');
    if (ci >= 0 && keyToks[ci + 1] !== undefined) {
      el.comment = unq(keyToks[ci + 1]!);
      keyToks.splice(ci, 2);
    }
    el.key = keyToks.filter((t) => t !== '.');
    if (colon >= 0) {
      const v = cur.slice(colon + 1);
      if (v[0] !== undefined && VERDICTS.has(v[0])) {
        el.verdict = { kind: v[0] as NftVerdict['kind'] };
        if (v[1] !== undefined) el.verdict.target = v[1];
      } else el.value = v.join(' ');
    }
    out.push(el);
    cur = [];
  };
  for (const t of toks) {
    if (t === ',') flush();
    else cur.push(t);
  }
  flush();
  return out;
}

/** Braced group starting at toks[i] === '{': returns inner tokens and index after '}'. */
function group(toks: string[], i: number): { inner: string[]; next: number } | null {
  let depth = 0;
  for (let j = i; j < toks.length; j++) {
    if (toks[j] === '{') depth++;
    else if (toks[j] === '}') {
      depth--;
      if (depth === 0) return { inner: toks.slice(i + 1, j), next: j + 1 };
    }
  }
  return null;
}

const LEFT2 = new Set(['ip', 'ip6', 'tcp', 'udp', 'sctp', 'th', 'meta', 'ct', 'ether', 'icmp', 'icmpv6']);
const OPS = new Set(['==', '!=', '<', '>', '<=', '>=']);

/** Parses the statements of one rule written in nft syntax. */
function textRule(family: string, table: string, chain: string, toks: string[], probe: string, text: string): NftRule {
  const rule: NftRule = { family, table, chain, matches: [], source: ev(probe, text) };
  const unknown: string[] = [];
  let i = 0;
  const readLeft = (): string | null => {
    const parts: string[] = [];
    for (;;) {
      const a = toks[i];
      if (a === undefined) return null;
      if (LEFT2.has(a) && toks[i + 1] !== undefined) {
        parts.push(`${a} ${toks[i + 1]}`);
        i += 2;
      } else if (a === 'fib' && toks[i + 2] === 'type') {
        parts.push(`fib ${toks[i + 1]} type`);
        i += 3;
      } else if (a === 'mark' || a === 'numgen') {
        parts.push(a);
        i++;
      } else return null;
      if (toks[i] === '.') {
        i++;
        continue;
      }
      const opw: Record<string, string> = { and: 'and', or: 'or', xor: 'xor', '&': 'and', '|': 'or', '^': 'xor' };
      if (toks[i] !== undefined && opw[toks[i]!] !== undefined && toks[i + 1] !== undefined) {
        parts[parts.length - 1] += ` ${opw[toks[i]!]} ${toks[i + 1]}`;
        i += 2;
      }
      return parts.join(' . ');
    }
  };
  while (i < toks.length) {
    const t = toks[i]!;
    if (t === 'counter') {
      i++;
      while (toks[i] === 'packets' || toks[i] === 'bytes') i += 2;
      continue;
    }
    if (t === 'comment' && toks[i + 1] !== undefined) {
      rule.comment = unq(toks[i + 1]!);
      i += 2;
      continue;
    }
    if (VERDICTS.has(t)) {
      rule.verdict = { kind: t as NftVerdict['kind'] };
      if ((t === 'jump' || t === 'goto') && toks[i + 1] !== undefined) {
        rule.verdict.target = toks[i + 1]!;
        i += 2;
      } else {
        i++;
        if (t === 'reject' && toks[i] === 'with') i += 3;
      }
      continue;
    }
    if (t === 'dnat') {
      let j = i + 1;
      if (toks[j] === 'ip' || toks[j] === 'ip6') j++;
      if (toks[j] === 'to' && toks[j + 1] !== undefined) {
        const a = toks[j + 1]!;
        const m = /^\[(.+)\]:(\d+)$/.exec(a) ?? /^([^:]+):(\d+)$/.exec(a);
        rule.dnat = m ? { addr: m[1]!, port: Number(m[2]) } : { addr: a.replace(/^\[|\]$/g, '') };
        i = j + 2;
        continue;
      }
    }
    if (t === 'masquerade') {
      rule.masquerade = true;
      i++;
      while (toks[i] === 'fully-random' || toks[i] === 'random' || toks[i] === 'persistent' || toks[i] === ',') i++;
      continue;
    }
    if ((t === 'mark' && toks[i + 1] === 'set') || (t === 'meta' && toks[i + 1] === 'mark' && toks[i + 2] === 'set')) {
      const end = toks.findIndex((x, k) => k > i + 1 && (VERDICTS.has(x) || x === 'comment'));
      const stop = end < 0 ? toks.length : end;
      rule.markSet = toks.slice(i, stop).join(' ');
      i = stop;
      continue;
    }
    if ((t === 'update' || t === 'add') && toks[i + 1]?.startsWith('@')) {
      rule.setUpdate = `${t} ${toks[i + 1]}`;
      i += 2;
      if (toks[i] === '{') i = group(toks, i)?.next ?? toks.length;
      continue;
    }
    const save = i;
    const left = readLeft();
    if (left !== null) {
      if (left === 'numgen') {
        // numgen random mod N [offset K] vmap { ... }
        const mode = toks[i] ?? '?';
        // a cut line (`numgen random mod`) must not yield NaN: the rule is then not understood
        const mod = toks[i + 1] === 'mod' ? u32Text(toks[i + 2]) : undefined;
        i += 3;
        let offset: number | undefined = 0;
        if (toks[i] === 'offset') {
          offset = u32Text(toks[i + 1]);
          i += 2;
        }
        if (mod === undefined || offset === undefined) {
          unknown.push('numgen');
          break;
        }
        rule.numgen = { mode, mod, offset };
        if (toks[i] === 'vmap' && toks[i + 1] === '{') {
          const g = group(toks, i + 1);
          if (g) {
            rule.vmap = {
              key: `numgen ${mode} mod ${mod}`,
              elements: textElements(g.inner).filter(
                (e): e is NftVmapElement => e.verdict !== undefined,
              ) as NftVmapElement[],
            };
            i = g.next;
            continue;
          }
        }
        unknown.push('numgen');
        break;
      }
      if (toks[i] === 'vmap') {
        if (toks[i + 1]?.startsWith('@')) {
          rule.vmap = { key: left, set: toks[i + 1]!.slice(1) };
          i += 2;
          continue;
        }
        if (toks[i + 1] === '{') {
          const g = group(toks, i + 1);
          if (g) {
            rule.vmap = {
              key: left,
              elements: textElements(g.inner).filter((e) => e.verdict !== undefined) as NftVmapElement[],
            };
            i = g.next;
            continue;
          }
        }
      }
      let op = '==';
      if (toks[i] !== undefined && OPS.has(toks[i]!)) {
        op = toks[i]!;
        i++;
      }
      const v = toks[i];
      if (v === '{') {
        const g = group(toks, i);
        if (!g) break;
        rule.matches.push({ left, op, right: textElements(g.inner).map((e) => e.key.join(' . ')) });
        i = g.next;
        continue;
      }
      if (v !== undefined) {
        const vals = [v];
        i++;
        // `ct state established,related` is one token with commas split by the lexer
        while (toks[i] === ',' && toks[i + 1] !== undefined) {
          vals.push(toks[i + 1]!);
          i += 2;
        }
        rule.matches.push({ left, op, right: vals });
        continue;
      }
    }
    i = save;
    unknown.push(t);
    i++;
  }
  if (unknown.length > 0) rule.unknown = unknown;
  return rule;
}

function parseTypeLine(set: NftSet, toks: string[]): void {
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t === 'type') {
      const end = toks.findIndex(
        (x, k) =>
          k > i &&
          (x === ';' || x === 'flags' || x === 'comment' || x === 'timeout' || x === 'size' || x === 'elements'),
      );
      set.type = toks.slice(i + 1, end < 0 ? toks.length : end).join(' ');
    } else if (t === 'flags' && toks[i + 1] !== undefined) {
      set.flags = toks[i + 1]!.split(',').concat(toks[i + 2] === ',' && toks[i + 3] ? [toks[i + 3]!] : []);
    } else if (t === 'timeout' && toks[i + 1] !== undefined) {
      const d = parseDuration(toks[i + 1]!);
      if (d !== undefined) set.timeout = d;
    } else if (t === 'comment' && toks[i + 1] !== undefined) set.comment = unq(toks[i + 1]!);
  }
}

function parseDuration(s: string): number | undefined {
  let total = 0;
  let matched = false;
  for (const m of s.matchAll(/(\d+)(d|h|m|s|ms)/g)) {
    matched = true;
    const n = Number(m[1]);
    total += m[2] === 'd' ? n * 86400 : m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : 0;
  }
  return matched ? total : undefined;
}

function parseNftText(text: string, probe: string): Parsed<NftRuleset> {
  const warnings = new Warnings(probe);
  const rs: NftRuleset = { tables: [] };
  const lines = text.split('\n');
  let recognised = 0;
  let content = 0;
  let table: NftTable | undefined;
  let chain: NftChain | undefined;
  let set: NftSet | undefined;
  let pendingElems: { start: number; text: string } | undefined;
  const w = (n: number, code: string, msg: string) => warnings.add(code, `line ${n}: ${msg}`);
  for (let idx = 0; idx < lines.length; idx++) {
    const n = idx + 1;
    const line = lines[idx]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    content++;
    if (line.length > 64 * 1024) {
      w(n, 'nft-line-too-long', 'skipped');
      continue;
    }
    if (pendingElems) {
      pendingElems.text += ' ' + line;
      if (!line.includes('}')) continue;
      const toks = lex(pendingElems.text) ?? [];
      const g = group(toks, toks.indexOf('{'));
      if (set && g) set.elements.push(...textElements(g.inner));
      pendingElems = undefined;
      continue;
    }
    const toks = lex(line);
    if (!toks) {
      w(n, 'nft-bad-line', `unbalanced quotes in '${line.slice(0, 80)}'`);
      continue;
    }
    const [a, b, c, d, e] = toks;
    // `nft -f` transaction form: add|insert table/chain/set/map/rule/element FAMILY TABLE ...
    if ((a === 'add' || a === 'insert' || a === 'create') && b !== undefined && c !== undefined && d !== undefined) {
      recognised++;
      const t = tableOf(rs, c, d);
      if (b === 'table') continue;
      if (e === undefined) {
        w(n, 'nft-bad-line', `incomplete '${line.slice(0, 80)}'`);
        continue;
      }
      if (b === 'chain') {
        const ch = chainOf(t, e);
        ch.source = ev(probe, line);
        const g = toks.indexOf('{') >= 0 ? group(toks, toks.indexOf('{')) : null;
        if (g) {
          const hi = g.inner.indexOf('hook');
          const ti = g.inner.indexOf('type');
          const pi = g.inner.indexOf('priority');
          if (ti >= 0 && g.inner[ti + 1]) ch.type = g.inner[ti + 1]!;
          if (hi >= 0 && g.inner[hi + 1]) ch.hook = g.inner[hi + 1]!;
          if (pi >= 0 && g.inner[pi + 1])
            ch.prio = /^-?\d+$/.test(g.inner[pi + 1]!) ? Number(g.inner[pi + 1]) : g.inner[pi + 1]!;
        }
      } else if (b === 'set' || b === 'map') {
        const s: NftSet = { family: c, table: d, name: e, isMap: b === 'map', elements: [], source: ev(probe, line) };
        const g = toks.indexOf('{') >= 0 ? group(toks, toks.indexOf('{')) : null;
        if (g) parseTypeLine(s, g.inner);
        t.sets.push(s);
      } else if (b === 'element') {
        const s = t.sets.find((x) => x.name === e);
        const g = toks.indexOf('{') >= 0 ? group(toks, toks.indexOf('{')) : null;
        if (!s) w(n, 'nft-missing-set', `element for undefined set ${e}`);
        else if (g) s.elements.push(...textElements(g.inner));
      } else if (b === 'rule') {
        const r = textRule(c, d, e, toks.slice(5), probe, line);
        chainOf(t, e).rules.push(r);
        if (r.unknown) w(n, 'nft-unknown-statement', `statement(s) not understood: ${r.unknown.slice(0, 5).join(' ')}`);
      } else w(n, 'nft-unknown-line', `'${line.slice(0, 80)}'`);
      continue;
    }
    // `nft list ruleset` form
    if (a === 'table' && b !== undefined && c !== undefined) {
      table = tableOf(rs, b, c);
      chain = undefined;
      set = undefined;
      recognised++;
      continue;
    }
    if (!table) {
      w(n, 'nft-orphan-line', `'${line.slice(0, 80)}' outside a table`);
      continue;
    }
    if ((a === 'chain' || a === 'set' || a === 'map') && b !== undefined && toks[toks.length - 1] === '{') {
      recognised++;
      if (a === 'chain') {
        chain = chainOf(table, b);
        chain.source = ev(probe, line);
        set = undefined;
      } else {
        set = {
          family: table.family,
          table: table.name,
          name: b,
          isMap: a === 'map',
          elements: [],
          source: ev(probe, line),
        };
        table.sets.push(set);
        chain = undefined;
      }
      continue;
    }
    if (line === '}') {
      if (chain || set) {
        chain = undefined;
        set = undefined;
      } else table = undefined;
      continue;
    }
    if (set) {
      if (a === 'elements') {
        if (line.includes('}')) {
          const g = group(toks, toks.indexOf('{'));
          if (g) set.elements.push(...textElements(g.inner));
        } else pendingElems = { start: n, text: line };
      } else parseTypeLine(set, toks);
      continue;
    }
    if (chain) {
      if (a === 'type' && toks.includes('hook')) {
        chain.type = b!;
        chain.hook = toks[toks.indexOf('hook') + 1]!;
        const pi = toks.indexOf('priority');
        const semi = toks.indexOf(';');
        if (pi >= 0) {
          const p = toks.slice(pi + 1, semi < 0 ? undefined : semi).join(' ');
          chain.prio = /^-?\d+$/.test(p) ? Number(p) : p;
        }
        const po = toks.indexOf('policy');
        if (po >= 0 && toks[po + 1]) chain.policy = toks[po + 1]!;
        continue;
      }
      if (a === 'comment') continue;
      const r = textRule(table.family, table.name, chain.name, toks, probe, line);
      chain.rules.push(r);
      if (r.unknown) w(n, 'nft-unknown-statement', `statement(s) not understood: ${r.unknown.slice(0, 5).join(' ')}`);
      recognised++;
      continue;
    }
    if (a === 'comment' || a === 'flags') continue;
    w(n, 'nft-unknown-line', `'${line.slice(0, 80)}'`);
  }
  if (pendingElems) w(pendingElems.start, 'nft-truncated', 'element list never closed (truncated output?)');
  if (table) w(lines.length, 'nft-truncated', `table ${table.family} ${table.name} not closed (truncated output?)`);
  if (recognised === 0 && content > 0) throw new ParseError(probe, 'no nft table, chain, set or rule found');
  return { value: rs, warnings: warnings.done() };
}

/** `nft -j list ruleset`, `nft list ruleset` text, or an `nft -f` transaction (`add rule ...`). */
export function parseNftRuleset(text: string, probe: string): Parsed<NftRuleset> {
  throwIfToolError(text, probe, 'nft');
  const t = cleanText(text);
  return looksLikeJson(t)
    ? parseNftJson(t, probe)
    : withPaste(t, probe, (x) => parseNftText(x, probe), { hashComments: true });
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function u32Text(t: string | undefined): number | undefined {
  return t !== undefined && /^\d{1,10}$/.test(t) && Number(t) <= 0xffffffff ? Number(t) : undefined;
}
