import { ParseError } from './parse-error.js';

/**
 * A tool that fails can leave its complaint where its output belongs: bpftool -j prints a JSON error object on
 * stdout (`{"error":"…"}`, or `[{"error":"…"}]` inside the list it had opened, after any records it had already
 * printed), and a snapshot file pasted from a terminal holds whatever the command printed on stderr. Such a file is
 * the tool's answer, not a format to parse: the user is told what the tool said (`bpftool cgroup: can't query …`),
 * never a schema message about a field the error object does not have. Samples of each shape, captured here, are
 * in fixtures/tools/errors/.
 */

// bpftool's error object at the start or at the end of its output (the end: records came before the failure)
const JSON_ERROR_HEAD = /^\s*\[?\s*\{\s*"error"\s*:\s*("(?:[^"\\]|\\.)*")\s*\}/;
const JSON_ERROR_TAIL = /\{\s*"error"\s*:\s*("(?:[^"\\]|\\.)*")\s*\}\s*\]?\s*$/;

/**
 * First lines of a failed run, by tool family (each from a capture in fixtures/tools/errors/ or the tool's source).
 * A line that matches is what the tool said; the prefix that only names the tool or its version is dropped.
 */
const ERROR_LINES: { re: RegExp; keep: (m: RegExpExecArray) => string }[] = [
  // bpftool, iproute2 (ip, tc), nft, cilium-dbg: `Error: …`; nft also `netlink: Error: …`
  { re: /^(?:netlink: )?Error: (.+)$/, keep: (m) => m[1]! },
  // iproute2
  { re: /^(Cannot open network namespace ".*": .+)$/, keep: (m) => m[1]! },
  { re: /^(Cannot find device ".*")$/, keep: (m) => m[1]! },
  { re: /^(Device ".*" does not exist\.)$/, keep: (m) => m[1]! },
  { re: /^((?:Object|Option) ".*" is unknown, try ".*"\.)$/, keep: (m) => m[1]! },
  { re: /^RTNETLINK answers: (.+)$/, keep: (m) => m[1]! },
  // nft without privilege
  { re: /^(Operation not permitted \(you must be root\))$/, keep: (m) => m[1]! },
  // conntrack (its `N flow entries have been shown.` summary is not an error)
  { re: /^conntrack v\S+ \(conntrack-tools\): (?!\d+ flow entries have been shown\.)(.+)$/, keep: (m) => m[1]! },
  // iptables-save / ip6tables-save, ipset
  { re: /^ip6?tables-save v\S+(?: \([^)]*\))?: (.+)$/, keep: (m) => m[1]! },
  { re: /^ipset v\S+: (.+)$/, keep: (m) => m[1]! },
  // ipvsadm without IPVS in the kernel, wg without access to an interface
  { re: /^(Can't initialize ipvs: .+)$/, keep: (m) => m[1]! },
  { re: /^(Unable to access interface: .+)$/, keep: (m) => m[1]! },
];
// modprobe's complaint comes before ipvsadm's own when ipvsadm tried to load the module
const PRELUDE = /^modprobe: /;

function jsonString(lit: string): string {
  try {
    return JSON.parse(lit) as string;
  } catch {
    return lit.slice(1, -1);
  }
}

/**
 * What the tool said, when `text` is a tool's failure rather than its output; undefined otherwise. `anywhere`:
 * an `Error: …` line counts wherever it stands (bpftool prints a table's header before it fails, and never
 * prints such a line in its output).
 */
export function toolErrorText(text: string, opts: { anywhere?: boolean } = {}): string | undefined {
  const head = text.slice(0, 4096);
  const j = JSON_ERROR_HEAD.exec(head) ?? (/^\s*[[{]/.test(head) ? JSON_ERROR_TAIL.exec(text.slice(-4096)) : null);
  if (j) return jsonString(j[1]!);
  if (opts.anywhere) {
    const region = text.length > 8192 ? `${head}\n${text.slice(-4096)}` : text;
    const m = /^Error: (.+)$/m.exec(region.replace(/\r/g, ''));
    if (m) return m[1]!;
  }
  // the first non-blank line after modprobe's (or the last line, when every one is modprobe's): read line
  // by line up to it, as every probe file passes here on success too, and a 4 KiB head split whole into
  // lines cost more than the check
  const clean = head.includes('\r') ? head.replace(/\r/g, '') : head;
  let first: string | undefined;
  for (let at = 0; at <= clean.length; ) {
    let nl = clean.indexOf('\n', at);
    if (nl < 0) nl = clean.length;
    const line = clean.slice(at, nl).trim();
    at = nl + 1;
    if (line === '') continue;
    first = line;
    if (!PRELUDE.test(line)) break;
  }
  if (first === undefined) return undefined;
  for (const { re, keep } of ERROR_LINES) {
    const m = re.exec(first);
    if (m) return keep(m);
  }
  return undefined;
}

/** An error object of bpftool -j, already parsed: `{error}` or a list holding one. */
export function jsonErrorOf(value: unknown): string | undefined {
  const err = (x: unknown): string | undefined =>
    x !== null && typeof x === 'object' && !Array.isArray(x) && typeof (x as { error?: unknown }).error === 'string'
      ? (x as { error: string }).error
      : undefined;
  if (Array.isArray(value)) {
    for (const x of value) {
      const e = err(x);
      if (e !== undefined) return e;
    }
    return undefined;
  }
  return err(value);
}

/**
 * Throws the tool's own words (`<tool>: <what it said>`) when `text` is a failed run of `tool` (e.g.
 * `bpftool cgroup`, `ip`, `conntrack`); returns when it is not, and the parser goes on.
 */
export function throwIfToolError(text: string, probe: string, tool: string, opts: { anywhere?: boolean } = {}): void {
  const said = toolErrorText(text, opts);
  if (said !== undefined) throw new ParseError(probe, `${tool}: ${said}`);
}
