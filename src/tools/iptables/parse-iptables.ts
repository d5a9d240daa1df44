import { isAscii } from 'node:buffer';
import type { Parsed, Warning } from '../../model/types.js';
import { cleanText, ev } from '../common.js';
import { cleanPaste } from '../paste.js';
import { ParseError } from '../parse-error.js';
import { Warnings } from '../warnings.js';
import type {
  IptablesChain,
  IptablesMatch,
  IptablesOption,
  IptablesRule,
  IptablesRuleset,
  IptablesTable,
  IptablesTarget,
} from '../../model/iptables.js';
import { throwIfToolError } from '../tool-error.js';

const BUILTIN_SHORT: Record<string, string> = {
  '-s': 'source',
  '--source': 'source',
  '--src': 'source',
  '-d': 'destination',
  '--destination': 'destination',
  '--dst': 'destination',
  '-p': 'protocol',
  '--protocol': 'protocol',
  '-i': 'in-interface',
  '--in-interface': 'in-interface',
  '-o': 'out-interface',
  '--out-interface': 'out-interface',
  '-f': 'fragment',
  '--fragment': 'fragment',
};

/** Match extensions whose options this parser reads (the rest are kept verbatim and flagged). */
const KNOWN_MODULES = new Set([
  'comment',
  'tcp',
  'udp',
  'sctp',
  'udplite',
  'icmp',
  'icmp6',
  'icmpv6',
  'ipv6-icmp',
  'statistic',
  'recent',
  'addrtype',
  'mark',
  'conntrack',
  'state',
  'set',
  'nfacct',
  'multiport',
  'physdev',
  'socket',
  'owner',
  'connmark',
  'limit',
  'mac',
  'iprange',
  'pkttype',
  'rpfilter',
  'policy',
  'ipvs',
  'length',
  'hashlimit',
  'dscp',
  'tos',
  'ttl',
  'hl',
  'frag',
  'ipv6header',
  'cgroup',
  'bpf',
  'string',
  'u32',
  'devgroup',
  'helper',
  'connlimit',
  'connbytes',
  'connlabel',
  'tcpmss',
  'ecn',
  'time',
  'quota',
  'cpu',
  'rt',
  'hbh',
  'dst',
  'mh',
  'ah',
  'esp',
  'realm',
  'cluster',
  'osf',
  'nfqueue',
  'sctp',
]);

const MAX_LINE = 64 * 1024;

/**
 * Splits a rule line like a shell would for iptables-restore: double/single quotes, backslash escapes.
 * Runs of plain characters are sliced, not copied character by character (a dump has 400,000 lines).
 */
export function tokenize(line: string): { tokens: string[]; quoted: boolean[] } | null {
  const tokens: string[] = [];
  const quoted: boolean[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    let c = line.charCodeAt(i);
    while (i < n && (c === 32 || c === 9)) c = line.charCodeAt(++i);
    if (i >= n) break;
    let tok = '';
    let q = false;
    while (i < n) {
      let j = i;
      for (; j < n; j++) {
        const d = line.charCodeAt(j);
        if (d === 32 || d === 9 || d === 34 || d === 39 || d === 92) break;
      }
      if (j > i) {
        tok += line.slice(i, j);
        i = j;
      }
      if (i >= n) break;
      c = line.charCodeAt(i);
      if (c === 32 || c === 9) break;
      if (c === 34 || c === 39) {
        q = true;
        i++;
        let closed = false;
        while (i < n) {
          let k = i;
          for (; k < n; k++) {
            const d = line.charCodeAt(k);
            if (d === c || (d === 92 && c === 34)) break;
          }
          if (k > i) {
            tok += line.slice(i, k);
            i = k;
          }
          if (i >= n) break;
          if (line.charCodeAt(i) === c) {
            closed = true;
            i++;
            break;
          }
          // a backslash in double quotes escapes the next character; a last one stays as it is
          if (i + 1 < n) {
            tok += line[i + 1]!;
            i += 2;
          } else {
            tok += '\\';
            i++;
          }
        }
        if (!closed) return null;
      } else if (i + 1 < n) {
        // backslash outside quotes
        tok += line[i + 1]!;
        i += 2;
      } else {
        tok += '\\';
        i++;
      }
    }
    tokens.push(tok);
    quoted.push(q);
  }
  return { tokens, quoted };
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

// `!`, `-X` (one letter) or `--name` (a letter or digit after the dashes); by character codes, as it is asked of
// every token of every rule
function isOptionToken(t: string, quoted: boolean): boolean {
  if (quoted || t.length < 1) return false;
  if (t.length === 1) return t === '!';
  if (t.charCodeAt(0) !== 45) return false;
  const c = t.charCodeAt(1);
  if (t.length === 2) return isLetter(c);
  if (c !== 45) return false;
  const d = t.charCodeAt(2);
  return isLetter(d) || (d >= 48 && d <= 57);
}

interface RuleParse {
  matches: IptablesMatch[];
  target?: IptablesTarget;
  comment?: string;
  unknownModules: string[];
  problems: string[];
}

// Module and option names are a small vocabulary repeated on every rule (`comment`, `tcp`, `dport`): one string each
// instead of one per rule. Bounded, so that a hostile dump cannot grow it without end.
const NAMES = new Map<string, string>();
const MAX_NAMES = 4096;
function intern(s: string): string {
  const k = NAMES.get(s);
  if (k !== undefined) return k;
  if (NAMES.size < MAX_NAMES) NAMES.set(s, s);
  return s;
}

/** Parses the option part of `-A CHAIN <options>` as a token stream keyed by option name. */
export function parseRuleOptions(tokens: string[], quoted: boolean[], from = 0): RuleParse {
  const matches: IptablesMatch[] = [];
  const unknownModules: string[] = [];
  const problems: string[] = [];
  const comments: string[] = [];
  let target: IptablesTarget | undefined;
  const header: IptablesMatch = { module: '', options: [] };
  let current: IptablesMatch | IptablesTarget = header;
  let protocol: string | undefined;
  let negate = false;
  let i = from;
  // an exact-size slice: an array grown by push keeps room for 17 items, and a 10,000-Service dump has ~1M args
  const takeArgs = (): string[] => {
    const from = i;
    while (i < tokens.length && !isOptionToken(tokens[i]!, quoted[i]!)) i++;
    return tokens.slice(from, i);
  };
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (quoted[i] || !isOptionToken(t, false)) {
      problems.push(`stray argument '${t}'`);
      i++;
      continue;
    }
    i++;
    if (t === '!') {
      negate = true;
      continue;
    }
    const builtin = BUILTIN_SHORT[t];
    if (builtin !== undefined) {
      const args = builtin === 'fragment' ? [] : takeArgs();
      header.options.push({ name: builtin, negated: negate, args });
      if (builtin === 'protocol' && args[0] !== undefined) protocol = args[0].toLowerCase();
      negate = false;
      continue;
    }
    if (t === '-m' || t === '--match') {
      const name = tokens[i];
      i++;
      if (name === undefined) {
        problems.push('-m without a module name');
        break;
      }
      const m: IptablesMatch = { module: intern(name), options: [] };
      matches.push(m);
      current = m;
      if (!KNOWN_MODULES.has(name) && !unknownModules.includes(name)) unknownModules.push(name);
      negate = false;
      continue;
    }
    if (t === '-j' || t === '--jump' || t === '-g' || t === '--goto') {
      const name = tokens[i];
      i++;
      if (name === undefined) {
        problems.push(`${t} without a target`);
        break;
      }
      if (target !== undefined) problems.push(`second target '${name}'`);
      target = { name, goto: t === '-g' || t === '--goto', options: [] };
      current = target;
      negate = false;
      continue;
    }
    if (t === '-c' || t === '--set-counters') {
      takeArgs();
      continue;
    }
    if (t.startsWith('--')) {
      const name = intern(t.slice(2));
      let dest: IptablesMatch | IptablesTarget = current;
      // `-p tcp --dport 80` without `-m tcp`: the protocol match is loaded implicitly.
      if (dest === header && protocol !== undefined) {
        let m = matches.find((x) => x.module === protocol);
        if (!m) {
          m = { module: protocol, options: [] };
          matches.push(m);
        }
        dest = m;
      }
      const args = takeArgs();
      const opt: IptablesOption = { name, negated: negate, args };
      dest.options.push(opt);
      if ('module' in dest && dest.module === 'comment' && name === 'comment') {
        // kube-proxy's restore input leaves multi-word comments unquoted in some test dumps.
        comments.push(args.join(' '));
      }
      negate = false;
      continue;
    }
    problems.push(`unknown option '${t}'`);
    takeArgs();
    negate = false;
  }
  if (header.options.length > 0) matches.unshift(header);
  // the parsed rules stay live for the whole run: their arrays are copied to their exact sizes (see takeArgs)
  for (const m of matches) m.options = m.options.slice();
  if (target) target.options = target.options.slice();
  const out: RuleParse = { matches: matches.slice(), unknownModules, problems };
  if (target) out.target = target;
  if (comments.length > 0) out.comment = comments.join('; ');
  return out;
}

/** A rule line read once: counters, tokens and (for -A/-I) its options; shared by an index pass and the parser. */
export interface RuleLine {
  cnt?: { packets: number; bytes: number };
  tk: { tokens: string[]; quoted: boolean[] } | null;
  /** options of an -A/-I line, from tk.tokens[start..] */
  opts?: RuleParse;
  start?: number;
  insertAt?: number;
}

/** Reads a trimmed rule line as the parser does. */
export function readRuleLine(line: string): RuleLine {
  let body = line;
  const out: RuleLine = { tk: null };
  // only a line that starts with `[` can carry counters: the others skip the expression
  const cm = body.charCodeAt(0) === 91 ? /^(\[\d+:\d+\])\s+(.*)$/.exec(body) : null;
  if (cm) {
    const c = counters(cm[1]!);
    if (c) out.cnt = c;
    body = cm[2]!;
  }
  const tk = tokenize(body);
  out.tk = tk;
  if (!tk) return out;
  const [cmd, chainName] = tk.tokens;
  if ((cmd === '-A' || cmd === '--append' || cmd === '-I' || cmd === '--insert') && chainName !== undefined) {
    let start = 2;
    if ((cmd === '-I' || cmd === '--insert') && /^\d+$/.test(tk.tokens[2] ?? '')) {
      out.insertAt = Number(tk.tokens[2]) - 1;
      start = 3;
    } else if (cmd === '-I' || cmd === '--insert') out.insertAt = 0;
    out.start = start;
    out.opts = parseRuleOptions(tk.tokens, tk.quoted, start);
  }
  return out;
}

/** `:NAME POLICY [packets:bytes]`: name, policy (`-` for a user chain), counters when printed (-c) */
export const CHAIN_DECLARATION = /^:(\S+)\s+(\S+)(?:\s+(\[\d+:\d+\]))?$/;

/** What a declaration says of its chain (m: CHAIN_DECLARATION's match on `line`): policy, counters, evidence. */
export function declaredAs(c: IptablesChain, m: RegExpExecArray, probe: string, line: string): void {
  if (m[2] !== '-') c.policy = m[2]!;
  const cnt = m[3] !== undefined ? counters(m[3]) : undefined;
  if (cnt) {
    c.packets = cnt.packets;
    c.bytes = cnt.bytes;
  }
  c.source = ev(probe, line);
}

export function counters(text: string): { packets: number; bytes: number } | undefined {
  const m = /^\[(\d+):(\d+)\]$/.exec(text);
  if (!m) return undefined;
  const packets = Number(m[1]);
  const bytes = Number(m[2]);
  if (!Number.isSafeInteger(packets) || !Number.isSafeInteger(bytes)) return undefined;
  return { packets, bytes };
}

/**
 * `iptables-save` / `ip6tables-save` output (also kube-proxy's `iptables-restore` input, including
 * partial `--noflush` inputs with `-X`). Per-line problems become warnings naming the line.
 */
export function parseIptablesSave(text: string, probe: string): Parsed<IptablesRuleset> {
  throwIfToolError(text, probe, 'iptables-save');
  const p = cleanPaste(text, probe, PASTE);
  const r = parseIptablesLines(new TextLines(p.text), probe);
  return { value: r.value, warnings: [...p.warnings, ...r.warnings] };
}

// `#` starts iptables-save's own comment lines; a pasted dump is cleaned whatever its size (a CI log of a
// 10,000-Service node is larger than the paste pass's usual limit)
const PASTE = { hashComments: true, anySize: true } as const;

/** kube-proxy's chains of the filter table: a fragment's rule in one of them is read into filter. */
const FILTER_CHAINS = new Set([
  'KUBE-FORWARD',
  'KUBE-FIREWALL',
  'KUBE-PROXY-FIREWALL',
  'KUBE-EXTERNAL-SERVICES',
  'KUBE-NODE-PORT',
  'KUBE-PROXY-CANARY',
  'INPUT',
  'FORWARD',
]);

/** Lines by index. */
export interface Lines {
  readonly length: number;
  at(i: number): string;
}

/** Lines of a text, by index, without splitting it (a 400,000-line dump is one string and an offset table). */
export class TextLines implements Lines {
  readonly length: number;
  /** start of line i; starts[length] is one past the text's end */
  readonly starts: Int32Array;

  constructor(readonly text: string) {
    let n = 1;
    for (let p = text.indexOf('\n'); p >= 0; p = text.indexOf('\n', p + 1)) n++;
    const st = new Int32Array(n + 1);
    let i = 0;
    for (let p = text.indexOf('\n'); p >= 0; p = text.indexOf('\n', p + 1)) st[++i] = p + 1;
    st[n] = text.length + 1;
    this.length = n;
    this.starts = st;
  }

  at(i: number): string {
    return this.text.slice(this.starts[i]!, this.starts[i + 1]! - 1);
  }
}

/**
 * Lines of UTF-8 bytes, decoded one at a time: a question that reads a few chains of a 45 MB dump
 * decodes those lines only. A newline byte never occurs inside a UTF-8 sequence, so each line
 * decodes to what the whole text would hold there.
 */
export class ByteLines implements Lines {
  readonly length: number;
  readonly starts: Int32Array;
  /** some line starts with a byte iptables-save never starts one with (pastedDump), seen while finding the lines */
  readonly oddStart: boolean;

  constructor(readonly bytes: Buffer) {
    let st = new Int32Array(Math.max(64, bytes.length >> 6));
    let n = 1;
    const save = SAVE_LINE_START_BYTE;
    let odd = bytes.length > 0 && save[bytes[0]!] === 0;
    for (let p = bytes.indexOf(0x0a); p >= 0; p = bytes.indexOf(0x0a, p + 1)) {
      if (n + 1 >= st.length) {
        const g = new Int32Array(st.length * 2);
        g.set(st);
        st = g;
      }
      st[n++] = p + 1;
      if (p + 1 < bytes.length && save[bytes[p + 1]!] === 0) odd = true;
    }
    this.oddStart = odd;
    st[n] = bytes.length + 1;
    this.length = n;
    this.starts = st.subarray(0, n + 1);
  }

  at(i: number): string {
    return this.bytes.toString('utf8', this.starts[i]!, this.starts[i + 1]! - 1);
  }
}

/** The lines of an iptables-save text (ANSI codes and CRs removed). */
export function iptablesLines(text: string): TextLines {
  return new TextLines(text.includes('\u001b') || text.includes('\r') ? cleanText(text) : text);
}

/**
 * The lines of an iptables-save dump from its bytes, read as parseIptablesSave reads its text: a tool's error is
 * thrown, and a paste is cleaned (with the paste pass's warnings). A dump as iptables-save writes it is indexed on
 * its bytes as they are, never decoded whole: only a dump that shows a sign of a paste (pastedDump) is.
 */
export function iptablesByteLines(bytes: Buffer, probe: string): { lines: ByteLines; warnings: Warning[] } {
  // a tool's error is told by its first lines (tool-error.ts reads no further)
  throwIfToolError(bytes.toString('utf8', 0, Math.min(bytes.length, 4096)), probe, 'iptables-save');
  const lines = new ByteLines(bytes);
  if (!pastedDump(lines)) {
    if (bytes.indexOf(0x1b) < 0 && bytes.indexOf(0x0d) < 0) return { lines, warnings: [] };
    return { lines: new ByteLines(Buffer.from(cleanText(bytes.toString('utf8')), 'utf8')), warnings: [] };
  }
  const p = cleanPaste(bytes.toString('utf8'), probe, PASTE);
  return { lines: new ByteLines(Buffer.from(p.text, 'utf8')), warnings: p.warnings };
}

// what may start a line iptables-save writes: `#` comment, `*table`, `:chain`, `-A …`, `COMMIT`, an empty line
const SAVE_LINE_START = [0x23, 0x2a, 0x3a, 0x2d, 0x43, 0x0a, 0x0d];
const SAVE_LINE_START_BYTE = (() => {
  const t = new Uint8Array(256);
  for (const c of SAVE_LINE_START) t[c] = 1;
  return t;
})();
const PASTE_MARKS = [
  '<-', // an annotation (`<-- this`)
  '\u2190', // `←`
  '**', // Markdown bold
  '\u00a0', // no-break spaces and a zero-width space, which a paste pass turns into spaces
  '\u2007',
  '\u202f',
  '\u200b',
  '\ufeff', // a byte-order mark
].map((s) => Buffer.from(s, 'utf8'));
const ASCII_PASTE_MARKS = PASTE_MARKS.filter((m) => isAscii(m));

/**
 * Whether cleanPaste could change this dump (with PASTE): a line that starts with what iptables-save never starts
 * one with (a prompt, a timestamp, an indent, a `cmd:` or `> ` prefix, `...`), or a mark the paste pass rewrites
 * inside a line. One look at each line's first byte and a few native searches: a 45 MB dump costs milliseconds.
 */
export function pastedDump(lines: ByteLines): boolean {
  const b = lines.bytes;
  // the line starts were looked at when the lines were found (ByteLines.oddStart)
  if (lines.oddStart) return true;
  // a dump of ASCII bytes only (as iptables-save writes one) cannot hold the non-ASCII marks: one native
  // check instead of a search for each of them (~5 ms each on a 45 MB dump)
  return (isAscii(b) ? ASCII_PASTE_MARKS : PASTE_MARKS).some((m) => b.indexOf(m) >= 0);
}

/**
 * parseIptablesSave over lines; `skip` (by 0-based index) leaves lines out as if they were not in
 * the dump, line numbers unchanged (a question that needs a few chains reads only those).
 */
export function parseIptablesLines(
  lines: Lines,
  probe: string,
  skip?: ((idx: number) => boolean) & {
    kept?: Int32Array;
    /** chains of a table declared on skipped lines (a caller that builds them itself): no missing chain when jumped to */
    known?: (table: string, name: string) => boolean;
  },
  cache?: Map<number, RuleLine>,
): Parsed<IptablesRuleset> {
  const warnings = new Warnings(probe);
  const rs: IptablesRuleset = { tables: [] };
  let table: IptablesTable | undefined;
  let recognised = 0;
  let content = 0;
  // rules read without a `*table` line (a fragment), and the tables they were put in
  const fragment = new Set<string>();
  let fragmentLines = 0;
  let implicit = false;
  const w = (lineNo: number, code: string, msg: string) => warnings.add(code, `line ${lineNo}: ${msg}`);
  // by name: a linear search per line is quadratic on a 10,000-Service dump
  const chainIndex = new Map<IptablesTable, Map<string, IptablesChain>>();
  const getChain = (t: IptablesTable, name: string): IptablesChain => {
    let idx = chainIndex.get(t);
    if (!idx) {
      idx = new Map(t.chains.map((x) => [x.name, x]));
      chainIndex.set(t, idx);
    }
    let c = idx.get(name);
    if (!c) {
      c = { name, declared: false, rules: [] };
      t.chains.push(c);
      idx.set(name, c);
    }
    return c;
  };

  // a skip that lists the lines it keeps (ascending) is walked by that list, not asked about every line
  const kept = skip?.kept;
  const count = kept ? kept.length : lines.length;
  for (let n = 0; n < count; n++) {
    const idx = kept ? kept[n]! : n;
    if (!kept && skip?.(idx)) continue;
    const lineNo = idx + 1;
    const raw = lines.at(idx);
    const line = raw.trim();
    if (line === '') continue;
    if (implicit) {
      table = undefined;
      implicit = false;
    }
    if (!line.startsWith('#')) content++;
    if (line.length > MAX_LINE) {
      w(lineNo, 'iptables-line-too-long', `skipped a ${line.length}-character line`);
      continue;
    }
    if (line.startsWith('#')) {
      const h = /^# Generated by (ip6?)tables-save v[\d.]+(?: \(([a-z_]+)\))?/.exec(line);
      if (h) {
        rs.family = h[1] === 'ip6' ? 6 : 4;
        if (h[2] !== undefined) rs.backend = h[2];
      }
      continue;
    }
    if (line.startsWith('*')) {
      if (table && !table.committed)
        w(lineNo, 'iptables-no-commit', `table ${table.name} has no COMMIT before *${line.slice(1)}`);
      const name = line.slice(1).trim();
      if (!/^[a-z]+$/.test(name)) {
        w(lineNo, 'iptables-bad-table', `unreadable table line '${line.slice(0, 60)}'`);
        table = undefined;
        continue;
      }
      const existing = rs.tables.find((t) => t.name === name);
      // A restore input may carry the same table twice (iptables-restore applies both).
      table = existing ?? { name, chains: [], committed: false, deletedChains: [] };
      if (!existing) rs.tables.push(table);
      table.committed = false;
      recognised++;
      continue;
    }
    if (line === 'COMMIT') {
      if (!table) w(lineNo, 'iptables-orphan-line', 'COMMIT outside a table');
      else table.committed = true;
      recognised++;
      continue;
    }
    if (!table) {
      // A fragment (`iptables-save | grep KUBE`, an issue's excerpt) has rules but no `*table` line:
      // kube-proxy's Service chains live in nat, its REJECT/firewall chains in filter.
      const m = /^(?:\[\d+:\d+\]\s+)?(?:-[AIN]|--append|--insert|--new-chain)\s+(\S+)|^:(\S+)\s/.exec(line);
      if (!m) {
        w(lineNo, 'iptables-orphan-line', `line outside any *table: '${line.slice(0, 80)}'`);
        continue;
      }
      const name = FILTER_CHAINS.has(m[1] ?? m[2]!) || / -j REJECT\b/.test(line) ? 'filter' : 'nat';
      let t = rs.tables.find((x) => x.name === name);
      if (!t) {
        t = { name, chains: [], committed: false, deletedChains: [] };
        rs.tables.push(t);
      }
      fragment.add(name);
      fragmentLines++;
      if (/^(?:\[\d+:\d+\]\s+)?(?:-[AIN]|--append|--insert|--new-chain)\s/.test(line))
        getChain(t, m[1]!).declared = true;
      table = t;
      implicit = true;
    }
    if (line.startsWith(':')) {
      const m = CHAIN_DECLARATION.exec(line);
      if (!m) {
        w(lineNo, 'iptables-bad-chain', `unreadable chain declaration '${line.slice(0, 80)}'`);
        continue;
      }
      const c = getChain(table, m[1]!);
      c.declared = true;
      // kube-proxy --noflush: a declared chain is flushed, whatever an earlier table block put in it.
      c.rules = [];
      declaredAs(c, m, probe, line);
      recognised++;
      continue;
    }
    const rl = cache?.get(idx) ?? readRuleLine(line);
    const cnt = rl.cnt;
    const tk = rl.tk;
    if (!tk) {
      w(lineNo, 'iptables-bad-rule', `unbalanced quotes in '${line.slice(0, 80)}'`);
      continue;
    }
    const [cmd, chainName] = tk.tokens;
    if ((cmd === '-X' || cmd === '--delete-chain') && chainName !== undefined) {
      table.deletedChains.push(chainName);
      table.chains = table.chains.filter((c) => c.name !== chainName);
      chainIndex.get(table)?.delete(chainName);
      recognised++;
      continue;
    }
    if ((cmd === '-F' || cmd === '--flush') && chainName !== undefined) {
      getChain(table, chainName).rules = [];
      recognised++;
      continue;
    }
    if ((cmd === '-N' || cmd === '--new-chain') && chainName !== undefined) {
      getChain(table, chainName).declared = true;
      recognised++;
      continue;
    }
    if (rl.opts !== undefined && chainName !== undefined) {
      const insertAt = rl.insertAt;
      const p = rl.opts;
      const chain = getChain(table, chainName);
      if (!chain.declared) w(lineNo, 'iptables-undeclared-chain', `rule appended to undeclared chain ${chainName}`);
      for (const pr of p.problems) w(lineNo, 'iptables-rule-syntax', `${pr} in '${line.slice(0, 120)}'`);
      if (p.unknownModules.length > 0)
        w(
          lineNo,
          'iptables-unknown-match',
          `unknown match module(s) ${p.unknownModules.join(', ')}; rule kept, treated as unknown`,
        );
      const rule: IptablesRule = {
        table: table.name,
        // the chain's own string: one per chain, not one slice per rule
        chain: chain.name,
        line: lineNo,
        matches: p.matches,
        source: ev(probe, line),
      };
      if (p.target) rule.target = p.target;
      if (p.comment !== undefined) rule.comment = p.comment;
      if (p.unknownModules.length > 0) rule.unknownModules = p.unknownModules;
      if (cnt) {
        rule.packets = cnt.packets;
        rule.bytes = cnt.bytes;
      }
      if (insertAt !== undefined) chain.rules.splice(Math.min(insertAt, chain.rules.length), 0, rule);
      else chain.rules.push(rule);
      recognised++;
      continue;
    }
    w(lineNo, 'iptables-unknown-line', `unrecognised line '${line.slice(0, 80)}'`);
  }
  if (recognised === 0 && content > 0) throw new ParseError(probe, 'no iptables-save table, chain or rule line found');
  if (table && !table.committed && !implicit)
    w(lines.length, 'iptables-no-commit', `table ${table.name} ends without COMMIT (truncated dump?)`);

  const builtinTargets = new Set([
    'ACCEPT',
    'DROP',
    'RETURN',
    'REJECT',
    'DNAT',
    'SNAT',
    'MASQUERADE',
    'MARK',
    'CONNMARK',
    'CT',
    'NOTRACK',
    'LOG',
    'NFLOG',
    'TPROXY',
    'REDIRECT',
    'TCPMSS',
    'CHECKSUM',
    'AUDIT',
    'TRACE',
    'NFQUEUE',
    'QUEUE',
    'ULOG',
    'TEE',
    'CLASSIFY',
    'DSCP',
    'TOS',
    'TTL',
    'HL',
    'SET',
    'NETMAP',
    'SECMARK',
    'CONNSECMARK',
    'IDLETIMER',
    'LED',
    'SYNPROXY',
    'HMARK',
    'CLUSTERIP',
    'RATEEST',
    'NFACCT',
  ]);
  if (fragmentLines > 0)
    warnings.add(
      'iptables-no-table-header',
      `${fragmentLines} rule line(s) with no \`*table\` line before them (a fragment, such as \`iptables-save | grep\`): read into ${[...fragment].join(' and ')}; chains and rules the fragment leaves out are unknown`,
    );
  const missingInFragment: string[] = [];
  for (const t of rs.tables) {
    // the index getChain keeps holds the same names (-X deletes from both): 110,000 of them are not hashed again
    const names: { has(name: string): boolean } = chainIndex.get(t) ?? new Set(t.chains.map((c) => c.name));
    const known = skip?.known;
    for (const c of t.chains) {
      for (const r of c.rules) {
        const tg = r.target?.name;
        if (tg === undefined || builtinTargets.has(tg) || names.has(tg) || known?.(t.name, tg)) continue;
        // a fragment leaves out most chains: one warning for all its jumps, not one per rule
        if (fragment.has(t.name)) {
          missingInFragment.push(tg);
          continue;
        }
        // Only a missing chain is worth a warning: targets are upper case by convention, chains too.
        w(r.line, 'iptables-missing-chain', `${t.name} ${c.name} jumps to ${tg}, which is not defined in this dump`);
      }
    }
  }
  if (missingInFragment.length > 0) {
    const u = [...new Set(missingInFragment)];
    warnings.add(
      'iptables-missing-chain',
      `${u.length} chain(s) jumped to are not in the fragment (${u.slice(0, 3).join(', ')}${u.length > 3 ? ', …' : ''})`,
    );
  }
  return { value: rs, warnings: warnings.done() };
}
