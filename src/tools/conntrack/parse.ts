import { isIPv4 } from 'node:net';
import type { ConntrackEntry, CtFlag, CtTuple, CtTupleView } from '../../model/conntrack.js';
import type { Family, Parsed } from '../../model/types.js';
import { canonIp, ipToBytes } from '../../model/addr.js';
import { ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { Warnings } from '../warnings.js';
import { cleanPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

/**
 * `conntrack -L [-f ipv4|ipv6] [-o extended|id|ktimestamp|...]` text, one entry per line, in the
 * field order libnetfilter_conntrack prints (snprintf_default.c):
 *
 *   [l3name l3num] l4name l4num [timeout] [state] src= dst= <l4 fields> [zone-orig=] [packets= bytes=]
 *   [UNREPLIED] src= dst= <l4 fields> [zone-reply=] [packets= bytes=] [ASSURED|OFFLOAD|HW_OFFLOAD]
 *   mark= [secmark=] [secctx=] [zone=] [delta-time=] [[start=...]] [[stop=...]] [helper=] use= [id=] [labels=]
 *
 * The summary conntrack prints on stderr (`conntrack v1.4.7 (conntrack-tools): N flow entries have
 * been shown.`) is often pasted with the table; it is read as a count, never as an entry.
 */

/** l4 protocols conntrack names, with their numbers; anything else prints as `unknown N`. */
const L4: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, {
  tcp: 6,
  udp: 17,
  udplite: 136,
  icmp: 1,
  icmpv6: 58,
  sctp: 132,
  gre: 47,
  dccp: 33,
});
const PORT_PROTOS = new Set(['tcp', 'udp', 'udplite', 'sctp', 'dccp']);
const ICMP_PROTOS = new Set(['icmp', 'icmpv6']);
const FLAG_TOKENS: Record<string, CtFlag> = Object.assign(Object.create(null) as Record<string, CtFlag>, {
  '[ASSURED]': 'ASSURED',
  '[UNREPLIED]': 'UNREPLIED',
  '[OFFLOAD]': 'OFFLOAD',
  '[HW_OFFLOAD]': 'HW_OFFLOAD',
});
const _TUPLE_NUM_KEYS = new Set(['sport', 'dport', 'type', 'code', 'id', 'srckey', 'dstkey', 'packets', 'bytes']);
const _META_KEYS = new Set(['mark', 'secmark', 'secctx', 'zone', 'delta-time', 'helper', 'labels', 'use']);

export const SUMMARY = /^conntrack v[0-9][0-9.]*\s+\(conntrack-tools\):\s*(.*)$/;

export function isPortProto(proto: string): boolean {
  return PORT_PROTOS.has(proto);
}

/**
 * NAT seen in an entry's tuples: the reply's source differs from the original destination (DNAT),
 * the reply's destination from the original source (SNAT); ports count for port protocols.
 */
export function natOf(v: CtTupleView): { dnat: boolean; snat: boolean } {
  const ports = v.orig.dport !== undefined;
  return {
    dnat: v.reply.src !== v.orig.dst || (ports && v.reply.sport !== v.orig.dport),
    snat: v.reply.dst !== v.orig.src || (ports && v.reply.dport !== v.orig.sport),
  };
}

/** How glibc's inet_ntop prints a canonical IPv6 address (dotted tail for v4-mapped/compatible). */
export function ntopV6(canon: string): string {
  const b = ipToBytes(canon);
  if (b === null || b.length !== 16) return canon;
  const zero = (n: number) => b.subarray(0, n).every((x) => x === 0);
  const dotted = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  if (zero(10) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${dotted}`;
  if (zero(12) && (b[12] !== 0 || b[13] !== 0)) return `::${dotted}`;
  return canon;
}

/**
 * Addresses as conntrack prints them: canonical text, or a reason. Memoised: a million entries
 * name a few thousand addresses.
 */
export class CtAddrs {
  private m = new Map<string, { ip: string; fam: Family } | string>();
  get(raw: string): { ip: string; fam: Family } | string {
    let v = this.m.get(raw);
    if (v === undefined) {
      v = this.read(raw);
      if (this.m.size > 200_000) this.m.clear();
      this.m.set(raw, v);
    }
    return v;
  }
  private read(raw: string): { ip: string; fam: Family } | string {
    if (!raw.includes(':'))
      return isIPv4(raw) ? { ip: raw, fam: 4 } : `${JSON.stringify(raw.slice(0, 60))} is not an address`;
    const c = canonIp(raw);
    if (c === null) return `${JSON.stringify(raw.slice(0, 60))} is not an address`;
    // conntrack prints inet_ntop's form; another spelling of the same address is hand-edited text
    if (raw !== c && raw !== ntopV6(c))
      return `${JSON.stringify(raw.slice(0, 60))} is not written as conntrack prints it (${ntopV6(c)})`;
    return { ip: c, fam: 6 };
  }
}

/** Decimal digits only, at most `len` of them, value at most `max`; undefined otherwise. */
function digits(s: string, len: number, max: number): number | undefined {
  const n = s.length;
  if (n === 0 || n > len) return undefined;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return undefined;
    v = v * 10 + c;
  }
  return v <= max ? v : undefined;
}
const num = (s: string, max: number) => digits(s, 10, max);
const counter = (s: string) => digits(s, 20, Number.MAX_SAFE_INTEGER);

// any whitespace but the plain space conntrack prints
const ODD_SPACE = /[^\S ]/;

/** Whitespace-separated words; `[start=Sun Nov 22 11:10:37 2026]` stays one word. */
function words(line: string): string[] {
  const raw = ODD_SPACE.test(line) ? line.split(/\s+/) : line.split(' ');
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    let w = raw[i]!;
    if (w === '') continue;
    if (w.charCodeAt(0) === 91 /* [ */ && !w.endsWith(']')) {
      let j = i + 1;
      while (j < raw.length && !raw[j]!.endsWith(']')) j++;
      if (j < raw.length) {
        w = raw
          .slice(i, j + 1)
          .filter((x) => x !== '')
          .join(' ');
        i = j;
      }
    }
    out.push(w);
  }
  return out;
}

export type LineResult =
  | { kind: 'entry'; entry: ConntrackEntry }
  | { kind: 'blank' }
  | { kind: 'summary'; count?: number; message: string }
  | { kind: 'skip'; why: string };

const skip = (why: string): LineResult => ({ kind: 'skip', why });

/** One line of conntrack output (already without CR/ANSI). */
export function parseConntrackLine(
  raw: string,
  lineNo: number,
  probe: string,
  addrs: CtAddrs = new CtAddrs(),
): LineResult {
  const line = raw.trim();
  if (line === '') return { kind: 'blank' };
  if (line.startsWith('conntrack v')) {
    const sm = SUMMARY.exec(line);
    if (sm) {
      const n = /^(\d+) flow entries have been shown\.?$/.exec(sm[1]!.trim());
      return n ? { kind: 'summary', count: Number(n[1]), message: line } : { kind: 'summary', message: line };
    }
  }
  const w = words(line);
  let i = 0;
  if (/^\[(NEW|UPDATE|DESTROY)\]$/.test(w[0]!)) return skip('an event (conntrack -E), not a table entry');
  let l3: Family | undefined;
  if (w[0] === 'ipv4' || w[0] === 'ipv6' || (w[0] === 'unknown' && w[2] !== undefined && /^[a-z]/.test(w[2]))) {
    const want = w[0] === 'ipv4' ? '2' : w[0] === 'ipv6' ? '10' : undefined;
    if (want === undefined) return skip(`layer 3 protocol ${w[1]} is neither IPv4 nor IPv6`);
    if (w[1] !== want) return skip(`${w[0]} with protocol number ${JSON.stringify(w[1] ?? '')}`);
    l3 = w[0] === 'ipv4' ? 4 : 6;
    i = 2;
  }
  const proto = w[i] ?? '';
  const pnum = num(w[i + 1] ?? '', 255);
  if (!(proto in L4) && proto !== 'unknown')
    return skip(`does not start with a protocol (${JSON.stringify(proto.slice(0, 30))})`);
  if (pnum === undefined || (proto !== 'unknown' && L4[proto] !== pnum))
    return skip(`protocol ${proto} with number ${JSON.stringify((w[i + 1] ?? '').slice(0, 12))}`);
  i += 2;
  let timeout: number | undefined;
  if (w[i] !== undefined && /^\d+$/.test(w[i]!)) {
    timeout = num(w[i]!, 0xffffffff);
    if (timeout === undefined) return skip(`timeout ${w[i]!.slice(0, 20)} out of range`);
    i++;
  }
  let state: string | undefined;
  if (w[i] !== undefined && /^[A-Z][A-Z_0-9]*$/.test(w[i]!)) state = w[i++];

  const portProto = PORT_PROTOS.has(proto);
  const icmp = ICMP_PROTOS.has(proto);
  const tuples: CtTuple[] = [];
  let cur: CtTuple | undefined;
  let meta = false;
  const flags: CtFlag[] = [];
  let mark: number | undefined;
  let secmark: number | undefined;
  let secctx: string | undefined;
  let zone: number | undefined;
  let deltaTime: number | undefined;
  let start: string | undefined;
  let stop: string | undefined;
  let helper: string | undefined;
  let labels: string[] | undefined;
  let use: number | undefined;
  let id: number | undefined;
  for (; i < w.length; i++) {
    const tok = w[i]!;
    if (tok.charCodeAt(0) === 91 /* [ */) {
      const flag = FLAG_TOKENS[tok];
      if (flag !== undefined) {
        if (flags.includes(flag)) return skip(`${tok} twice`);
        // [UNREPLIED] sits between the tuples; the others after the reply
        if (flag === 'UNREPLIED' ? tuples.length !== 1 : tuples.length !== 2) return skip(`${tok} out of place`);
        if (flag !== 'UNREPLIED') meta = true;
        flags.push(flag);
        continue;
      }
      const ts = /^\[(start|stop)=(.+)\]$/.exec(tok);
      if (ts) {
        meta = true;
        if (ts[1] === 'start') start = ts[2]!;
        else stop = ts[2]!;
        continue;
      }
    }
    const eq = tok.indexOf('=');
    if (eq <= 0) return skip(`unexpected word ${JSON.stringify(tok.slice(0, 40))}`);
    const key = tok.slice(0, eq);
    const val = tok.slice(eq + 1);
    switch (key) {
      case 'src': {
        if (meta || tuples.length === 2) return skip('more than two tuples');
        const a = addrs.get(val);
        if (typeof a === 'string') return skip(`src ${a}`);
        cur = { src: a.ip, dst: '' };
        tuples.push(cur);
        continue;
      }
      case 'dst': {
        if (!cur || meta) return skip('dst= outside a tuple');
        if (cur.dst !== '') return skip('dst= twice in a tuple');
        const a = addrs.get(val);
        if (typeof a === 'string') return skip(`dst ${a}`);
        cur.dst = a.ip;
        continue;
      }
      // biome-ignore lint/suspicious/noFallthroughSwitchClause: the ICMP id of the current tuple is read as a tuple field below
      case 'id':
        // the entry id of `-o id` comes last; an ICMP tuple's own id comes after type and code
        if (meta || !cur || !icmp || cur.id !== undefined) {
          const v = num(val, 0xffffffff);
          if (v === undefined || id !== undefined) return skip(`id=${val.slice(0, 20)}`);
          id = v;
          meta = true;
          continue;
        }
      // falls through: the ICMP id of the current tuple
      case 'sport':
      case 'dport':
      case 'type':
      case 'code':
      case 'srckey':
      case 'dstkey':
      case 'packets':
      case 'bytes': {
        if (!cur || meta) return skip(`${key}= outside a tuple`);
        if (cur[key] !== undefined) return skip(`${key}= twice in a tuple`);
        if ((key === 'sport' || key === 'dport') && !portProto) return skip(`${key}= in a ${proto} entry`);
        if ((key === 'type' || key === 'code' || key === 'id') && !icmp) return skip(`${key}= in a ${proto} entry`);
        if ((key === 'srckey' || key === 'dstkey') && proto !== 'gre') return skip(`${key}= in a ${proto} entry`);
        let v: number | undefined;
        if (key === 'srckey' || key === 'dstkey') v = /^0x[0-9a-f]{1,8}$/i.test(val) ? parseInt(val, 16) : undefined;
        else if (key === 'packets' || key === 'bytes') v = counter(val);
        else v = num(val, key === 'type' || key === 'code' ? 255 : 65535);
        if (v === undefined) return skip(`${key}=${val.slice(0, 24)} is not a valid number`);
        cur[key] = v;
        continue;
      }
      case 'zone-orig':
      case 'zone-reply': {
        const idx = key === 'zone-orig' ? 0 : 1;
        const v = num(val, 65535);
        if (meta || tuples.length !== idx + 1 || v === undefined || tuples[idx]!.zone !== undefined)
          return skip(`${key}=${val.slice(0, 20)} out of place or not a zone`);
        tuples[idx]!.zone = v;
        continue;
      }
      case 'secctx':
      case 'helper':
      case 'labels':
        if (tuples.length !== 2) return skip(`${key}= before the reply tuple`);
        meta = true;
        if (key === 'secctx') {
          if (secctx !== undefined) return skip(`${key}= twice`);
          secctx = val;
        } else if (key === 'helper') {
          if (helper !== undefined) return skip(`${key}= twice`);
          helper = val;
        } else {
          if (labels !== undefined) return skip(`${key}= twice`);
          labels = val === '' ? [] : val.split(',');
        }
        continue;
      case 'mark':
      case 'secmark':
      case 'zone':
      case 'delta-time':
      case 'use': {
        if (tuples.length !== 2) return skip(`${key}= before the reply tuple`);
        meta = true;
        const v = key === 'delta-time' ? counter(val) : num(val, key === 'zone' ? 65535 : 0xffffffff);
        if (v === undefined) return skip(`${key}=${val.slice(0, 24)} is not a valid number`);
        const twice = () => skip(`${key}= twice`);
        if (key === 'mark') {
          if (mark !== undefined) return twice();
          mark = v;
        } else if (key === 'secmark') {
          if (secmark !== undefined) return twice();
          secmark = v;
        } else if (key === 'zone') {
          if (zone !== undefined) return twice();
          zone = v;
        } else if (key === 'delta-time') {
          if (deltaTime !== undefined) return twice();
          deltaTime = v;
        } else {
          if (use !== undefined) return twice();
          use = v;
        }
        continue;
      }
      default:
        return skip(`unknown field ${JSON.stringify(key.slice(0, 30))}`);
    }
  }
  if (tuples.length !== 2) return skip(tuples.length === 0 ? 'no tuple (src=... dst=...)' : 'no reply tuple');
  const o = tuples[0]!;
  const r = tuples[1]!;
  for (const [name, t] of [
    ['original', o],
    ['reply', r],
  ] as const) {
    if (t.dst === '') return skip(`${name} tuple without dst=`);
    if (portProto && (t.sport === undefined || t.dport === undefined))
      return skip(`${name} ${proto} tuple without sport=/dport=`);
    if (icmp && (t.type === undefined || t.code === undefined || t.id === undefined))
      return skip(`${name} ${proto} tuple without type=/code=/id=`);
  }
  const fam: Family = o.src.includes(':') ? 6 : 4;
  if (
    (o.dst.includes(':') ? 6 : 4) !== fam ||
    (r.src.includes(':') ? 6 : 4) !== fam ||
    (r.dst.includes(':') ? 6 : 4) !== fam
  )
    return skip('addresses of both families in one entry');
  if (l3 !== undefined && l3 !== fam) return skip(`ipv${l3} entry with IPv${fam} addresses`);
  if ((proto === 'icmp' && fam !== 4) || (proto === 'icmpv6' && fam !== 6))
    return skip(`${proto} with IPv${fam} addresses`);
  const entry = { family: fam, proto, protonum: pnum } as ConntrackEntry;
  if (timeout !== undefined) entry.timeout = timeout;
  if (state !== undefined) entry.state = state;
  entry.orig = o;
  entry.reply = r;
  entry.flags = flags;
  if (mark !== undefined) entry.mark = mark;
  if (secmark !== undefined) entry.secmark = secmark;
  if (secctx !== undefined) entry.secctx = secctx;
  if (zone !== undefined) entry.zone = zone;
  if (deltaTime !== undefined) entry.deltaTime = deltaTime;
  if (start !== undefined) entry.start = start;
  if (stop !== undefined) entry.stop = stop;
  if (helper !== undefined) entry.helper = helper;
  if (labels !== undefined) entry.labels = labels;
  if (use !== undefined) entry.use = use;
  if (id !== undefined) entry.id = id;
  const nat = natOf({ proto, orig: o, reply: r });
  entry.dnat = nat.dnat;
  entry.snat = nat.snat;
  entry.line = lineNo;
  entry.source = ev(probe, line);
  return { kind: 'entry', entry };
}

/** Warnings of a conntrack read (see Warnings): skipped lines one by one up to the cap, then a count. */
export class CtNotes extends Warnings {
  skipped = 0;
  constructor(probe: string) {
    super(probe, { more: 'lines skipped' });
  }
  skip(lineNo: number, why: string, line: string): void {
    this.skipped++;
    this.add('line-skipped', `line ${lineNo}: ${why}: ${JSON.stringify(line.trim().slice(0, 100))}`);
  }
}

/** A real conntrack line ends with use=, id= or labels=; anything else at the very end was cut. */
export function looksComplete(line: string): boolean {
  return /(^|\s)(use|id)=\d+\s*$|(^|\s)labels=\S*\s*$/.test(line);
}

export interface ConntrackParse {
  entries: ConntrackEntry[];
  /** N of "N flow entries have been shown", when the summary is in the text */
  summaryCount?: number;
}

/** Every entry of a conntrack listing (small inputs: the trace and the scanner use scan.ts). */
export function parseConntrack(text: string, probe: string): Parsed<ConntrackEntry[]> {
  const r = parseConntrackFull(text, probe);
  return { value: r.value.entries, warnings: r.warnings };
}

export function parseConntrackFull(text: string, probe: string): Parsed<ConntrackParse> {
  // conntrack's own complaint, pasted as its output (a table, with entries, is read whatever its first line)
  if (!text.includes('src=')) throwIfToolError(text, probe, 'conntrack');
  if (text.includes('\u0000')) throw new ParseError(probe, 'binary data (NUL bytes), not conntrack output');
  const pasted = cleanPaste(text, probe);
  const clean = pasted.text;
  if (/^\s*<\?xml|^\s*<conntrack>/.test(clean))
    throw new ParseError(probe, 'XML output (-o xml) is not read; capture `conntrack -L -o extended`');
  const notes = new CtNotes(probe);
  const addrs = new CtAddrs();
  const lines = clean.split('\n');
  const out: ConntrackParse = { entries: [] };
  let unknown = 0;
  let known = 0;
  const lastTerminated = clean.endsWith('\n');
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const r = handleLine(raw, n + 1, probe, addrs, notes, out, n === lines.length - 1 && !lastTerminated);
    if (r === 'known') known++;
    else if (r === 'unknown') unknown++;
  }
  if (known === 0 && unknown > 0) throw new ParseError(probe, 'no line in the shape of `conntrack -L` output');
  checkSummary(out, notes);
  return { value: out, warnings: [...pasted.warnings, ...notes.done()] };
}

/** Shared by the full parse and the scanner, so both read a line the same way. */
export function handleLine(
  raw: string,
  lineNo: number,
  probe: string,
  addrs: CtAddrs,
  notes: CtNotes,
  out: ConntrackParse,
  unterminated: boolean,
): 'known' | 'unknown' | 'blank' {
  const r = parseConntrackLine(raw, lineNo, probe, addrs);
  if (r.kind === 'blank') return 'blank';
  if (r.kind === 'summary') {
    if (r.count !== undefined) out.summaryCount = (out.summaryCount ?? 0) + r.count;
    else notes.add('conntrack-message', `line ${lineNo}: ${r.message.slice(0, 200)}`);
    return 'known';
  }
  if (r.kind === 'skip') {
    notes.skip(lineNo, r.why, raw);
    return 'unknown';
  }
  if (unterminated && !looksComplete(raw)) {
    notes.skip(lineNo, 'last line without a newline, cut short (not read)', raw);
    return 'known';
  }
  out.entries.push(r.entry);
  return 'known';
}

function checkSummary(out: ConntrackParse, notes: CtNotes): void {
  if (out.summaryCount !== undefined && out.summaryCount !== out.entries.length && notes.skipped === 0)
    notes.add(
      'conntrack-count-mismatch',
      `conntrack reported ${out.summaryCount} entries, ${out.entries.length} are in the output (cut or edited?)`,
    );
}
