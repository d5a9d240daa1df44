import { canonIp, canonPrefix } from '../../model/addr.js';
import type { Parsed } from '../../model/types.js';
import { ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { Warnings } from '../warnings.js';
import type { IpSet, IpSetMember } from './model.js';
import { cleanPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

const MAX_LINE = 4096;

/**
 * `ipset save` (`create …` / `add …` lines) or `ipset list [-t]` (`Name:` blocks) → the sets with
 * their members. Either form may be pasted; a line in neither shape is a warning, and output with no
 * line of either shape is not ipset output (ParseError). Empty output is no sets.
 */
export function parseIpset(text: string, probe: string): Parsed<IpSet[]> {
  throwIfToolError(text, probe, 'ipset');
  const pasted = cleanPaste(text, probe);
  const warnings = new Warnings(probe, { more: 'lines skipped' }).preface(pasted.warnings);
  const w = (n: number, code: string, msg: string) => warnings.add(code, `line ${n}: ${msg}`);
  const lines = pasted.text.split('\n');
  // a Map: set names are user input (`__proto__` must be a name like any other)
  const sets = new Map<string, IpSet>();
  let recognised = 0;
  let current: IpSet | undefined;
  let inMembers = false;

  const newSet = (name: string, type: string, header: string, line: string): IpSet => {
    const s: IpSet = { name, type, header, entries: 0, membersListed: true, members: [], source: ev(probe, line) };
    const fam = /\bfamily (inet6?)\b/.exec(header);
    if (fam) s.family = fam[1] === 'inet6' ? 6 : 4;
    sets.set(name, s);
    return s;
  };

  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!.trim();
    if (line === '') {
      inMembers = false;
      continue;
    }
    if (line.length > MAX_LINE) {
      w(n, 'ipset-line-too-long', 'skipped');
      continue;
    }
    // --- `ipset save` form
    const create = /^create\s+(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (create) {
      recognised++;
      if (sets.has(create[1]!)) w(n, 'ipset-duplicate', `set ${create[1]} created twice; the later one is kept`);
      current = newSet(create[1]!, create[2]!, create[3] ?? '', line);
      inMembers = false;
      continue;
    }
    const add = /^add\s+(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (add) {
      recognised++;
      const s = sets.get(add[1]!);
      if (!s) {
        w(n, 'ipset-orphan-member', `member of set ${add[1]} before its create line; skipped`);
        continue;
      }
      const m = member(s.type, add[2]!, add[3] ?? '', ev(probe, line));
      if (!m) w(n, 'ipset-bad-member', `member '${add[2]!.slice(0, 80)}' does not fit type ${s.type}; kept as text`);
      s.members.push(m ?? { text: add[2]!, source: ev(probe, line) });
      s.entries = s.members.length;
      continue;
    }
    // --- `ipset list` form
    const kv = /^(Name|Type|Revision|Header|Size in memory|References|Number of entries|Members):\s*(.*)$/.exec(line);
    if (kv) {
      recognised++;
      const [, key, value] = kv as unknown as [string, string, string];
      if (key === 'Name') {
        if (value === '') {
          // a listing cut right after `Name:`
          w(n, 'ipset-no-name', 'a Name: line without a name; what follows is skipped');
          current = undefined;
          inMembers = false;
          continue;
        }
        if (sets.has(value)) w(n, 'ipset-duplicate', `set ${value} listed twice; the later one is kept`);
        current = newSet(value, '', '', line);
        current.membersListed = false;
        inMembers = false;
        continue;
      }
      if (!current) {
        w(n, 'ipset-orphan-line', `'${line.slice(0, 80)}' before any Name: line`);
        continue;
      }
      if (key === 'Type') current.type = value;
      else if (key === 'Header') {
        current.header = value;
        const fam = /\bfamily (inet6?)\b/.exec(value);
        if (fam) current.family = fam[1] === 'inet6' ? 6 : 4;
      } else if (key === 'References' && /^\d{1,9}$/.test(value)) current.references = Number(value);
      else if (key === 'Number of entries' && /^\d{1,9}$/.test(value)) current.entries = Number(value);
      else if (key === 'Members') {
        current.membersListed = true;
        inMembers = true;
      }
      continue;
    }
    if (inMembers && current) {
      recognised++;
      const tk = /^(\S+)(?:\s+(.*))?$/.exec(line)!;
      const m = member(current.type, tk[1]!, tk[2] ?? '', ev(probe, line));
      if (!m)
        w(n, 'ipset-bad-member', `member '${tk[1]!.slice(0, 80)}' does not fit type ${current.type}; kept as text`);
      current.members.push(m ?? { text: tk[1]!, source: ev(probe, line) });
      continue;
    }
    w(n, 'ipset-unknown-line', `'${line.slice(0, 80)}' not understood`);
  }
  if (recognised === 0 && lines.some((l) => l.trim() !== '')) {
    const first = lines.find((l) => l.trim() !== '')!.trim();
    throw new ParseError(probe, `not ipset save / ipset list output (${first.slice(0, 80)})`);
  }
  const value = [...sets.values()];
  for (const s of value) {
    // old ipset versions print no `Number of entries:`
    if (s.membersListed && s.entries < s.members.length) s.entries = s.members.length;
    if (s.type === '') warnings.add('ipset-no-type', `set ${s.name} has no Type: line`);
  }
  return { value, warnings: warnings.done() };
}

/** One member in the syntax of its set type; undefined when the text does not fit the type. */
function member(type: string, text: string, rest: string, source: IpSetMember['source']): IpSetMember | undefined {
  const m: IpSetMember = { text, source };
  const c = /\bcomment "((?:[^"\\]|\\.)*)"/.exec(rest);
  if (c) m.comment = c[1]!;
  const dims = /^(?:hash|bitmap|list):(.+)$/.exec(type)?.[1]?.split(',');
  if (!dims) return m;
  const parts = splitParts(text, dims.length);
  if (parts.length !== dims.length) return undefined;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    const p = parts[i]!;
    if (d === 'ip') {
      // bitmap:ip and hash:ip accept ranges and prefixes too; keep those as text only
      const a = canonIp(p);
      if (a === null) {
        if (canonPrefix(p) === null && !/^[0-9a-fA-F.:]+-[0-9a-fA-F.:]+$/.test(p)) return undefined;
        continue;
      }
      if (m.ip === undefined) m.ip = a;
      else m.ip2 = a;
    } else if (d === 'port') {
      const pp = /^(?:([a-z][a-z0-9-]*|\d{1,3}):)?(\d{1,5})(?:-\d{1,5})?$/i.exec(p);
      if (!pp || Number(pp[2]) > 65535) return undefined;
      if (pp[1] !== undefined) m.proto = pp[1].toLowerCase();
      m.port = Number(pp[2]);
    } else if (d === 'net') {
      const net = canonPrefix(p.includes('/') ? p : `${p}/${p.includes(':') ? 128 : 32}`);
      if (net === null) return undefined;
      m.net = net;
    }
    // mac, iface, mark: kept in `text`
  }
  return m;
}

/** `10.96.0.10,udp:53` → two parts; an IPv6 address has colons but no commas, so split on commas only. */
function splitParts(text: string, n: number): string[] {
  const parts = text.split(',');
  return parts.length === n ? parts : [];
}
