/**
 * The stdin grammar of `ip -d -j -force -batch -`: `route get` lines built from parsed values, and the check
 * the allow-list applies to every line before anything runs, so no token can name another command or option.
 * Kept in exec/ because the allow-list is its user; tools/ip/route-get.ts parses the answers.
 */
import type { Family } from '../model/types.js';
/** One routing question in the words `ip route get` takes. */
export interface RouteGetQuery {
  family: Family;
  dst: string;
  fibmatch?: boolean;
  src?: string;
  iif?: string;
  oif?: string;
  mark?: number;
  ipproto?: number;
  sport?: number;
  dport?: number;
}

/** More lines than this in one batch are refused: a trace asks tens, a test 12,000. */
export const MAX_ROUTE_GET_LINES = 20_000;

const IFNAME = /^[A-Za-z0-9_.@+][A-Za-z0-9_.@+-]{0,14}$/;
const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PROTO_WORDS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

/** An address of the family, as text netpath would print (no zone, no prefix length). */
export function validAddress(family: Family, s: string): boolean {
  if (family === 4) return V4.test(s);
  if (s.length > 45 || !/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return false;
  try {
    // the URL parser accepts exactly the RFC 4291 text forms (with an embedded IPv4 tail)
    return new URL(`http://[${s}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

const u32ok = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
const portOk = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;

/** The batch line for a query; throws on a value that could not be a valid line (a bug upstream). */
export function routeGetLine(q: RouteGetQuery): string {
  const w = ['route', 'get'];
  if (q.fibmatch) w.push('fibmatch');
  w.push(q.dst);
  if (q.src !== undefined) w.push('from', q.src);
  if (q.iif !== undefined) w.push('iif', q.iif);
  if (q.oif !== undefined) w.push('oif', q.oif);
  if (q.mark !== undefined) w.push('mark', String(q.mark));
  if (q.ipproto !== undefined) w.push('ipproto', String(q.ipproto));
  if (q.sport !== undefined) w.push('sport', String(q.sport));
  if (q.dport !== undefined) w.push('dport', String(q.dport));
  const line = w.join(' ');
  if (validRouteGetLine(line) !== q.family) throw new Error(`not a valid route get line: ${line}`);
  return line;
}

/**
 * The family of a well-formed line `route get [fibmatch] ADDR [from ADDR] [iif DEV] [oif DEV] [mark N]
 * [ipproto tcp|udp|icmp|N] [sport N] [dport N]` (each option once, in that order), or null.
 */
export function validRouteGetLine(line: string): Family | null {
  if (line.length > 200 || !/^[A-Za-z0-9 .:_@+-]+$/.test(line)) return null;
  const t = line.split(' ');
  if (t[0] !== 'route' || t[1] !== 'get') return null;
  let i = 2;
  if (t[i] === 'fibmatch') i++;
  const dst = t[i++];
  if (dst === undefined) return null;
  const family: Family | null = validAddress(4, dst) ? 4 : validAddress(6, dst) ? 6 : null;
  if (family === null) return null;
  const order = ['from', 'iif', 'oif', 'mark', 'ipproto', 'sport', 'dport'];
  let at = 0;
  while (i < t.length) {
    const key = t[i]!;
    const val = t[i + 1];
    const k = order.indexOf(key, at);
    if (k < 0 || val === undefined) return null;
    at = k + 1;
    i += 2;
    if (key === 'from' && !validAddress(family, val)) return null;
    if ((key === 'iif' || key === 'oif') && !IFNAME.test(val)) return null;
    if (key === 'mark' && !(/^\d{1,10}$/.test(val) && u32ok(Number(val)))) return null;
    if (key === 'ipproto' && !(val in PROTO_WORDS) && !(/^\d{1,3}$/.test(val) && Number(val) <= 255)) return null;
    if ((key === 'sport' || key === 'dport') && !(/^\d{1,5}$/.test(val) && portOk(Number(val)))) return null;
  }
  return family;
}

/** stdin for the batch, or null when any line is not a valid route get line or there are too many. */
export function routeGetInput(lines: readonly string[]): string | null {
  if (lines.length === 0 || lines.length > MAX_ROUTE_GET_LINES) return null;
  for (const l of lines) if (validRouteGetLine(l) === null) return null;
  return `${lines.join('\n')}\n`;
}
