/**
 * `ip -d -j -force -batch -` fed `route get` lines: the only stdin netpath ever writes to a process.
 * Lines are built and validated in exec/route-get-input.ts (the allow-list checks each before anything runs).
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

/** The family of a `route get [fibmatch] ADDR …` line (the lines were validated before they ran). */
function lineFamily(line: string): Family {
  const t = line.split(' ');
  const dst = t[2] === 'fibmatch' ? t[3] : t[2];
  return dst?.includes(':') ? 6 : 4;
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
    const family = lineFamily(lines[i - 1]!);
    const p = parseIpRoute(text, `route-get`, family);
    const route = p.value[0];
    if (!route) throw new Error(`ip -batch route get: answer to line ${i}: ${p.warnings[0] ?? 'no route'}`);
    // the route's own text, as a table dump prints it; the question asked is kept beside it
    route.source = { probe: ROUTE_GET_PROBE, text: route.source.text };
    res.push({ ok: true, route, raw: arr.data[0] });
  }
  return res;
}
