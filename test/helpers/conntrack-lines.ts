/**
 * The same conntrack entry without destination NAT: the reply comes from the original destination and port. The
 * conntrack fast paths' tests make lines NAT-less so that the pre-filters have lines to skip.
 */
export function natLess(line: string): string {
  const m = / src=(\S+) dst=(\S+)(?: sport=(\S+) dport=(\S+))?/.exec(line);
  if (!m) return line;
  const rest = line.slice(m.index + m[0].length);
  const r = / src=(\S+) dst=(\S+)(?: sport=(\S+) dport=(\S+))?/.exec(rest);
  if (!r) return line;
  const reply = ` src=${m[2]} dst=${r[2]}${r[3] !== undefined ? ` sport=${m[4] ?? r[3]} dport=${r[4]}` : ''}`;
  return line.slice(0, m.index + m[0].length) + rest.slice(0, r.index) + reply + rest.slice(r.index + r[0].length);
}
