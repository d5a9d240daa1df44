import type { RouteDecision } from '../../src/analysis/route-lookup/index.js';
import type { Family } from '../../src/model/types.js';
import { ipBatch } from './netns.js';

/** One `ip route get` question. */
export interface RouteGetQuery {
  family: Family;
  dst: string;
  mark?: number;
  iif?: string;
  src?: string;
}

/** What the kernel answered: the route type, or on failure the message's kind and errno. */
export interface KernelAnswer {
  result: string;
  errno?: string;
  dev?: string;
  gateway?: string;
}

// `ip route get` failures by message: the route type that produces each, and its errno
const RESULT: Record<string, string> = {
  'Invalid argument': 'blackhole',
  'No route to host': 'unreachable',
  'Permission denied': 'prohibit',
  'Network is unreachable': 'no-route',
};
const ERRNO: Record<string, string> = {
  'Invalid argument': 'EINVAL',
  'No route to host': 'EHOSTUNREACH',
  'Permission denied': 'EACCES',
  'Network is unreachable': 'ENETUNREACH',
};

/** Asks the kernel of `ns` every query in one `ip -batch` (all of one family), optionally with an `oif` each. */
export function kernelRouteGet(ns: string, qs: RouteGetQuery[], oifs: (string | undefined)[] = []): KernelAnswer[] {
  const lines = qs.map(
    (q, i) =>
      `route get ${q.dst}${q.src ? ` from ${q.src}` : ''}${q.iif ? ` iif ${q.iif}` : ''}${oifs[i] ? ` oif ${oifs[i]}` : ''}${q.mark !== undefined ? ` mark 0x${q.mark.toString(16)}` : ''}`,
  );
  const { stdout, failed } = ipBatch(ns, lines, true, qs[0]?.family);
  const ok = stdout.split('\n').filter((l) => l.startsWith('['));
  const out: KernelAnswer[] = [];
  let j = 0;
  for (let i = 1; i <= lines.length; i++) {
    const f = failed.get(i);
    if (f !== undefined) {
      const key = Object.keys(ERRNO).find((k) => f.includes(k));
      out.push({ result: key ? RESULT[key]! : `error: ${f}`, errno: key ? ERRNO[key]! : f });
      continue;
    }
    const o = JSON.parse(ok[j++]!)[0] as { type?: string; dev?: string; gateway?: string; via?: { host: string } };
    const k: KernelAnswer = { result: o.type ?? 'unicast' };
    if (o.dev) k.dev = o.dev;
    const gw = o.gateway ?? o.via?.host;
    if (gw) k.gateway = gw;
    out.push(k);
  }
  return out;
}

/** buildFib: errno on failure; otherwise type, dev and gateway, or the kernel's pick among the multipath candidates. */
export function fibAgrees(d: RouteDecision, k: KernelAnswer): boolean {
  if (k.errno !== undefined) return d.error === k.errno;
  if (d.error !== undefined || d.result !== k.result) return false;
  if (d.multipath) return d.nexthops.some((n) => n.dev === k.dev && n.gateway === k.gateway);
  return d.dev === k.dev && d.gateway === k.gateway;
}
