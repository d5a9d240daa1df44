/**
 * `ip -d -j -force -batch -` fed `route get` lines: the only stdin netpath ever writes to a process.
 * Lines are built here from parsed values and checked again (validRouteGetLine) by the allow-list
 * before anything runs, so no token can name another command or option.
 *
 * Facts measured with iproute2 6.1 (fixtures/tools/ip/lab/capture-route-get.sh): with `-force` a failing
 * line prints `RTNETLINK answers: <strerror>` and `Command failed -:<line>` on stderr and the batch goes
 * on; each answered line prints one JSON array on one stdout line, in input order; `-d` adds table,
 * protocol, scope and type; `fibmatch` prints the FIB entry that matched (its prefix, metric and every
 * next hop of a multipath route, with their dead/linkdown flags).
 */
import { z } from 'zod';
import type { Family, Route } from '../../model/types.js';
import { parseIpRoute } from './parse-route.js';

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

/** The kernel's answer to one line: the route it printed, or the error it gave. */
export type RouteGetAnswer = { ok: true; route: Route; raw: unknown } | { ok: false; error: string; errno?: string };

/** The probe id kernel answers cite. */
export const ROUTE_GET_PROBE = 'ip-route-get';

const ERRNO: Record<string, string> = {
  'Invalid argument': 'EINVAL',
  'No route to host': 'EHOSTUNREACH',
  'Permission denied': 'EACCES',
  'Network is unreachable': 'ENETUNREACH',
};

const lineSchema = z.array(z.record(z.string(), z.unknown())).length(1);

/**
 * Pairs the batch's stdout and stderr with its lines. Throws (one line, naming the batch) when the
 * output cannot be matched to them: a count that differs, a line that is not one JSON array.
 */
export function parseRouteGetBatch(lines: readonly string[], stdout: string, stderr: string): RouteGetAnswer[] {
  const failed = new Map<number, string>();
  let last = '';
  for (const l of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)$/.exec(l);
    if (m) failed.set(Number(m[1]), last);
    else if (l !== '') last = l;
  }
  const outs = stdout.split('\n').filter((l) => l !== '');
  if (outs.length + failed.size !== lines.length)
    throw new Error(
      `ip -batch route get: ${lines.length} lines asked, ${outs.length} answers and ${failed.size} failures printed`,
    );
  const res: RouteGetAnswer[] = [];
  let j = 0;
  for (let i = 1; i <= lines.length; i++) {
    const f = failed.get(i);
    if (f !== undefined) {
      const text = f.replace(/^RTNETLINK answers: /, '');
      const errno = ERRNO[text];
      res.push(errno ? { ok: false, error: text, errno } : { ok: false, error: text });
      continue;
    }
    const text = outs[j++]!;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new Error(`ip -batch route get: answer to line ${i} is not JSON`);
    }
    const arr = lineSchema.safeParse(raw);
    if (!arr.success) throw new Error(`ip -batch route get: answer to line ${i} is not one route`);
    const family = validRouteGetLine(lines[i - 1]!) ?? 4;
    const p = parseIpRoute(text, `route-get`, family);
    const route = p.value[0];
    if (!route) throw new Error(`ip -batch route get: answer to line ${i}: ${p.warnings[0] ?? 'no route'}`);
    // the route's own text, as a table dump prints it; the question asked is kept beside it
    route.source = { probe: ROUTE_GET_PROBE, text: route.source.text };
    res.push({ ok: true, route, raw: arr.data[0] });
  }
  return res;
}
