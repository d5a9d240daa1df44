import type { Warning } from '../model/types.js';
import { cleanText } from './common.js';

/**
 * What a paste carries besides the tool's output (issue 13 item 2): a shell prompt and the command
 * line, CI-log prefixes (timestamps, the Cilium CI harness's `cmd:` / `Stdout:` lines and its
 * `\t ` indent), GitHub Actions `##[group]` lines, Markdown fences and bold, a person's elisions
 * (`...`, `[...]`, `…`) and annotations (`<-- this`), a uniform indent or `# ` / `> ` prefix,
 * kubectl's own notices, CRLF and ANSI colour. One pass, shared by every text parser: each kind of
 * line it skips is reported once, with a count.
 *
 * Skipped lines become empty lines, never removed: a parser's "line N" still names the line the
 * user sees in the file.
 */

export interface PasteOptions {
  /** `#` starts the format's own comment lines (iptables-save, ipset): never read as a root prompt */
  hashComments?: boolean;
  /** `# ` + annotation after the text is the format's syntax; keep trailing `  # …` */
  keepTrailingHash?: boolean;
  /** clean a text of any size: the caller has seen it is a paste (iptables-save's byte path, which checks) */
  anySize?: boolean;
}

export interface PasteResult {
  text: string;
  warnings: Warning[];
}

/** Outputs larger than this are tool output written to a file, not a paste: only ANSI and CRs are removed. */
const PASTE_MAX = 4 * 1024 * 1024;

// Commands a paste shows before the output; `kc` and `k` are the usual kubectl aliases.
const COMMANDS = new Set([
  'ip',
  'tc',
  'bpftool',
  'cilium',
  'cilium-dbg',
  'ipvsadm',
  'iptables',
  'iptables-save',
  'ip6tables',
  'ip6tables-save',
  'iptables-legacy-save',
  'iptables-nft-save',
  'nft',
  'wg',
  'conntrack',
  'ipset',
  'sysctl',
  'uname',
  'kubectl',
  'kc',
  'k',
  'oc',
  'docker',
  'crictl',
  'nsenter',
  'sudo',
  'cat',
  'watch',
  'ssh',
  'microk8s',
]);

// `user@host:path# `, `host:/path# `, `user@host path$ `, `[user@host dir]# `, busybox `/home/cilium # `, zsh/oh-my-zsh arrows,
// `(⎈|ctx:ns)path `, PowerShell `PS C:\> `.
const STRONG_PROMPT =
  /^(?:\S+@[\w.-]+(?::\S*)?\s?[#$%]|[\w.-]+:[~/]\S*\s?[#$]|\[[^\]\n]{1,80}\][#$%]|\/\S*\s#|PS [^>\n]{1,80}>|\(⎈\|[^)\n]*\)\S*|[➜❯→]\s+\S+(?:\s+git:\([^)]*\))?(?:\s+✗)?)(?:\s|$)/u;
// A bare `$ `, `# `, `% `, `> `, `❯ ` or `➜ ` before a command.
const WEAK_PROMPT = /^[$#%>❯➜]\s+/u;
const ELISION =
  /^\s*(?:\.{3,}|…|\[\s*(?:\.{3}|…|snip|truncated|output truncated)\s*\]|<\s*snip\s*>|\(\s*(?:\.{3}|…|snip)\s*\))\s*$/iu;
// One whitespace before the marker, no quantifier in front: linear on a line of 100,000 spaces (a
// leading `\s+` made these quadratic). What precedes the match is trimmed afterwards.
const ANNOTATION = /\s(?:<-{1,2}|←)(?:\s|$)/u;
const TRAILING_HASH = /\s\s#\s/u;

/** The line without the annotation that starts at the first match of `re`, trailing blanks trimmed. */
function cut(line: string, re: RegExp): string {
  const i = line.search(re);
  return i < 0 ? line : line.slice(0, i).trimEnd();
}
const BOLD = /\*\*([^*\n]+)\*\*/gu;
const ISO_TS = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\s/u;
const CLOCK_TS = /^\d{2}:\d{2}:\d{2}(?:\.\d+)?\s/u;
const GHA = /^##\[(?:group|endgroup|section|command|debug|warning|error|notice)\]/u;
const HARNESS = /^(?:cmd|Exitcode|Stdout|Stderr|Err|Output):(?:\s|$)/u;
const FENCE = /^\s*(?:```|~~~)/u;
const HEADING = /^#{2,6}\s+\S/u;
const NOTICE =
  /^(?:Defaulted container "|Unable to use a TTY|Use 'kubectl describe pod\/|error: unable to upgrade connection|Warning: )/u;
const WATCH = /^Every \d+(?:\.\d+)?s: /u;

type Kind = 'prompt' | 'harness' | 'markdown' | 'notice' | 'elision';

const KIND_TEXT: Record<Kind, string> = {
  prompt: 'shell prompt or command line(s)',
  harness: 'CI-log harness line(s) (`cmd:`, `Exitcode:`, `Stdout:`, `##[group]`)',
  markdown: 'Markdown fence or heading line(s)',
  notice: 'kubectl notice line(s) (`Defaulted container …`)',
  elision: 'elision line(s) (`...`, `[...]`, `…`: the paste leaves out lines there)',
};

// What follows a command word on a command line: an option or a subcommand. `ip daddr …` (an nft rule)
// and `k8s:…` (a label) are not command lines.
const SUBCOMMAND =
  /^(?:-\S*|a|addr|address|r|ro|route|rule|ru|l|link|n|neigh|netns|filter|qdisc|class|net|prog|cgroup|map|show|list|status|service|bpf|endpoint|ip|exec|get|all|dump|ds\/\S+|-L\S*|-S\S*|save|\S+\.(?:md|txt|log))$/u;

/** First word (after an optional prompt) is a command a person runs to get such output. */
function commandWord(rest: string, prompted: boolean): boolean {
  const m = /^([\w./-]+)(?:\s+(\S+))?(?=\s|$)/u.exec(rest);
  if (!m || !COMMANDS.has(m[1]!.replace(/^.*\//u, ''))) return false;
  // after a prompt, any known command; bare, only with an option or subcommand after it (or alone)
  return prompted || m[2] === undefined || SUBCOMMAND.test(m[2]) || /\|/u.test(rest);
}

function isCommandLine(line: string, opts: PasteOptions): boolean {
  const strong = STRONG_PROMPT.exec(line);
  if (strong) return true;
  if (WATCH.test(line)) return true;
  const weak = WEAK_PROMPT.exec(line);
  if (weak && !(opts.hashComments && line.startsWith('#'))) return commandWord(line.slice(weak[0].length), true);
  return commandWord(line, false);
}

/** The prefix every non-blank line carries, when they all carry it (indent, `# `, `> `, a CI tab). */
function uniformPrefix(lines: string[], opts: PasteOptions): RegExp | undefined {
  const body = lines.filter((l) => l.trim() !== '');
  if (body.length === 0) return undefined;
  const all = (re: RegExp) => body.every((l) => re.test(l));
  // the Cilium CI harness writes each output line as `\t ` + line (the first as ` \t `)
  if (body.filter((l) => /^ ?\t /u.test(l)).length >= Math.max(2, body.length / 2)) return /^ ?\t /u;
  if (all(/^\t/u)) return /^\t/u;
  if (!opts.hashComments && all(/^# /u)) return /^# /u;
  if (all(/^> /u)) return /^> /u;
  let indent = Number.POSITIVE_INFINITY;
  for (const l of body) indent = Math.min(indent, /^ */u.exec(l)![0].length);
  return indent > 0 && Number.isFinite(indent) ? new RegExp(`^ {${indent}}`, 'u') : undefined;
}

/**
 * Cleans a pasted text for a line-oriented parser. Returns the text to parse (same number of lines)
 * and one warning per kind of skipped or rewritten line.
 */
export function cleanPaste(raw: string, probe: string, opts: PasteOptions = {}): PasteResult {
  const text = cleanText(raw.replace(/^\uFEFF/u, ''));
  if (text.length > PASTE_MAX && !opts.anySize) return { text, warnings: [] };
  let lines = text.split('\n').map((l) => l.replace(/[\u00a0\u2007\u202f]/gu, ' ').replace(/\u200b/gu, ''));
  const skipped = new Map<Kind, number>();
  const rewritten = new Map<string, number>();
  const skip = (i: number, k: Kind) => {
    lines[i] = '';
    skipped.set(k, (skipped.get(k) ?? 0) + 1);
  };
  const note = (what: string, n = 1) => rewritten.set(what, (rewritten.get(what) ?? 0) + n);

  // per-line CI timestamps: every line of a GitHub Actions log, or most lines of a Jenkins one
  for (const re of [ISO_TS, CLOCK_TS]) {
    const n = lines.filter((l) => re.test(l)).length;
    const body = lines.filter((l) => l.trim() !== '').length;
    if (n > 0 && (re === ISO_TS || n >= body / 2)) {
      lines = lines.map((l) => l.replace(re, ''));
      note('CI-log timestamp prefix', n);
    }
  }
  // harness lines first: they would hide the uniform prefix of the output between them
  let continued = false;
  for (const [i, l] of lines.entries()) {
    if (continued) {
      continued = /\\\s*$/u.test(l);
      skip(i, 'prompt');
      continue;
    }
    const t = l.trim();
    if (t === '') continue;
    if (GHA.test(t) || HARNESS.test(t)) skip(i, 'harness');
    else if (FENCE.test(t) || (!opts.hashComments && HEADING.test(t))) skip(i, 'markdown');
    else if (NOTICE.test(t)) skip(i, 'notice');
    else if (ELISION.test(t)) skip(i, 'elision');
    // a prompt and a command's first words are near the start: deciding on a prefix keeps a long line linear
    else if (isCommandLine(t.slice(0, 256), opts)) {
      continued = /\\\s*$/u.test(t);
      skip(i, 'prompt');
    }
  }
  const prefix = uniformPrefix(lines, opts);
  if (prefix) {
    lines = lines.map((l) => l.replace(prefix, ''));
    note(prefix.source.includes('\\t') ? 'CI-log tab indent' : 'common line prefix or indent');
  }
  for (const [i, l] of lines.entries()) {
    let m = cut(l, ANNOTATION);
    if (!opts.keepTrailingHash && !opts.hashComments) m = cut(m, TRAILING_HASH);
    if (m !== l) note('annotation after a line (`<-- …`, `# …`)');
    const b = m.replace(BOLD, '$1');
    if (b !== m) note('Markdown bold (`**…**`)');
    lines[i] = b;
  }

  const warnings: Warning[] = [];
  for (const [k, n] of skipped)
    warnings.push({ code: 'paste-skipped', message: `${n} ${KIND_TEXT[k]} skipped`, source: probe });
  for (const [what, n] of rewritten)
    warnings.push({ code: 'paste-cleaned', message: `${what} removed from ${n} line(s)`, source: probe });
  return { text: lines.join('\n'), warnings };
}

/** Runs a text parser on the cleaned paste; the paste's warnings come first. */
export function withPaste<T>(
  text: string,
  probe: string,
  parse: (clean: string) => { value: T; warnings: Warning[] },
  opts: PasteOptions = {},
): { value: T; warnings: Warning[] } {
  const p = cleanPaste(text, probe, opts);
  const r = parse(p.text);
  return { value: r.value, warnings: [...p.warnings, ...r.warnings] };
}
