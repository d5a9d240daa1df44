import type { Family, NextHop, Parsed, Route, RouteType } from '../../model/types.js';
import { canonPrefix } from '../../model/addr.js';
import { ParseError } from '../parse-error.js';
import { ipRouteSchema, zodWhy } from './schema.js';
import { IpCache, Notes, TABLE_NAMES, isJson, isObj, jsonArray, prep, tableId, tosValue, u32 } from './common.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

const ROUTE_TYPES = new Set<string>([
  'unicast',
  'local',
  'broadcast',
  'anycast',
  'multicast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'nat',
]);
// Types that do not forward: the model gives them no next hops (IPv6 ones print `dev lo`).
const NO_HOPS = new Set<string>(['blackhole', 'unreachable', 'prohibit', 'throw']);
// Types whose packets leave through a device: one of these without dev and next hops means a `dev` filter.
const NEEDS_DEV = new Set<string>(['unicast', 'local', 'broadcast', 'anycast', 'multicast']);
const FLAG_WORDS = new Set([
  'onlink',
  'linkdown',
  'dead',
  'pervasive',
  'offload',
  'trap',
  'notify',
  'unresolved',
  'rt_offload',
  'rt_trap',
  'rt_offload_failed',
]);
// Route metrics iproute2 prints as `name [lock] value`; only mtu is modelled.
const METRICS = new Set([
  'mtu',
  'advmss',
  'rtt',
  'rttvar',
  'reordering',
  'window',
  'cwnd',
  'initcwnd',
  'initrwnd',
  'ssthresh',
  'hoplimit',
  'rto_min',
  'quickack',
  'fastopen_no_cookie',
  'features',
  'congctl',
]);
// Keys with one value that do not change forwarding.
const SKIP_ONE = new Set([
  'pref',
  'expires',
  'realm',
  'realms',
  'ttl-propagate',
  'error',
  'users',
  'age',
  'ipid',
  'uid',
  'used',
  'iif',
  'mark',
]);

/** An `ip route`-style line for a route (the evidence text when the input was JSON). */
export function renderRoute(r: Route): string {
  let s = r.type === 'unicast' ? '' : r.type + ' ';
  const def = r.family === 4 ? r.dst === '0.0.0.0/0' : r.dst === '::/0';
  s += def
    ? 'default'
    : r.dst.endsWith(r.family === 4 ? '/32' : '/128')
      ? r.dst.slice(0, r.dst.lastIndexOf('/'))
      : r.dst;
  if (r.src !== undefined) s += ' from ' + r.src;
  if (r.tos !== undefined) s += ' tos 0x' + r.tos.toString(16);
  if (r.nhid !== undefined) s += ' nhid ' + r.nhid;
  if (r.nexthops.length === 1) s += hopText(r.nexthops[0]!, r.family, false);
  if (r.table !== 254) s += ' table ' + (TABLE_NAMES[r.table] ?? r.table);
  if (r.protocol !== undefined && r.protocol !== 'boot') s += ' proto ' + r.protocol;
  if (r.scope !== undefined && r.scope !== 'global') s += ' scope ' + r.scope;
  if (r.prefsrc !== undefined) s += ' src ' + r.prefsrc;
  if (r.metric !== undefined) s += ' metric ' + r.metric;
  if (r.flags) for (const f of r.flags) s += ' ' + f;
  if (r.mtu !== undefined) s += ' mtu ' + r.mtu;
  if (r.nexthops.length > 1) for (const n of r.nexthops) s += ' nexthop' + hopText(n, r.family, true);
  return s;
}

function hopText(n: NextHop, fam: Family, multi: boolean): string {
  let s = '';
  if (n.gateway !== undefined)
    s +=
      n.gatewayFamily !== undefined && n.gatewayFamily !== fam
        ? ` via inet${n.gatewayFamily === 6 ? '6' : ''} ${n.gateway}`
        : ` via ${n.gateway}`;
  if (n.dev !== undefined) s += ' dev ' + n.dev;
  if (multi && n.weight !== undefined) s += ' weight ' + n.weight;
  if (multi && n.flags) for (const f of n.flags) s += ' ' + f;
  return s;
}

/**
 * `ip -4|-6 [-j] [-d] route show table all` (JSON or text). A text paste without `table` words is
 * the main table. Routes that cannot be read are skipped with a warning.
 */
export function parseIpRoute(text: string, probe: string, family: Family): Parsed<Route[]> {
  throwIfToolError(text, probe, 'ip');
  const clean = prep(text);
  return isJson(clean) ? routeJson(clean, probe, family) : withPaste(clean, probe, (t) => routeText(t, probe, family));
}

/**
 * Canonical prefix for a route dst. IPv4 goes through a hand-written fast path (a node can dump a
 * million routes); anything unusual falls back to canonPrefix.
 */
function dstPrefix(s: string, family: Family): string | null {
  if (family === 4) {
    let v = 0;
    let oct = 0;
    let digits = 0;
    let dots = 0;
    let i = 0;
    const n = s.length;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        if (digits > 0 && oct === 0) return canonPrefix(s, 4); // leading zero
        oct = oct * 10 + (c - 48);
        if (++digits > 3 || oct > 255) return canonPrefix(s, 4);
      } else if (c === 46) {
        if (digits === 0 || ++dots > 3) return canonPrefix(s, 4);
        v = v * 256 + oct;
        oct = 0;
        digits = 0;
      } else break;
    }
    if (dots !== 3 || digits === 0) return canonPrefix(s, 4);
    v = v * 256 + oct;
    if (i === n) return s + '/32';
    if (s.charCodeAt(i) !== 47 || n - i > 3 || n - i < 2) return canonPrefix(s, 4);
    let len = 0;
    for (let j = i + 1; j < n; j++) {
      const c = s.charCodeAt(j);
      if (c < 48 || c > 57) return canonPrefix(s, 4);
      len = len * 10 + (c - 48);
    }
    if (len > 32) return null;
    const host = len === 32 ? 0 : 2 ** (32 - len) - 1;
    // host bits set: let canonPrefix clear them
    return v % (host + 1) === 0 ? s : canonPrefix(s, 4);
  }
  return canonPrefix(s, family);
}

/** Same checks as ipRouteSchema, by hand: zod stays the contract and words the warning. */
function routeProblem(o: unknown): boolean {
  if (!isObj(o)) return true;
  const { dst, type, dev, gateway, via, metric, nexthops, flags, table, nhid, prefsrc, from } = o;
  if (typeof dst !== 'string') return true;
  if (type !== undefined && typeof type !== 'string') return true;
  if (dev !== undefined && typeof dev !== 'string') return true;
  if (gateway !== undefined && typeof gateway !== 'string') return true;
  if (prefsrc !== undefined && typeof prefsrc !== 'string') return true;
  if (from !== undefined && typeof from !== 'string') return true;
  if (
    via !== undefined &&
    !(isObj(via) && typeof via.host === 'string' && (via.family === 'inet' || via.family === 'inet6'))
  )
    return true;
  if (
    metric !== undefined &&
    !(typeof metric === 'number' && Number.isInteger(metric) && metric >= 0 && metric <= 0xffffffff)
  )
    return true;
  if (nhid !== undefined && !(typeof nhid === 'number' && Number.isInteger(nhid) && nhid >= 0)) return true;
  if (table !== undefined && typeof table !== 'string' && typeof table !== 'number') return true;
  if (flags !== undefined && !strArray(flags)) return true;
  if (nexthops !== undefined) {
    if (!Array.isArray(nexthops)) return true;
    for (const n of nexthops) {
      if (!isObj(n)) return true;
      if (n.gateway !== undefined && typeof n.gateway !== 'string') return true;
      if (n.dev !== undefined && typeof n.dev !== 'string') return true;
      if (n.weight !== undefined && !(typeof n.weight === 'number' && Number.isInteger(n.weight) && n.weight > 0))
        return true;
      if (n.flags !== undefined && !strArray(n.flags)) return true;
      if (
        n.via !== undefined &&
        !(isObj(n.via) && typeof n.via.host === 'string' && (n.via.family === 'inet' || n.via.family === 'inet6'))
      )
        return true;
    }
  }
  for (const k of ['tos', 'dsfield', 'protocol', 'scope'] as const) {
    const v = o[k];
    if (v !== undefined && typeof v !== 'string' && typeof v !== 'number') return true;
  }
  if (o.metrics !== undefined && !(Array.isArray(o.metrics) && o.metrics.every(isObj))) return true;
  return false;
}

function noDev(hops: NextHop[]): boolean {
  for (const h of hops) if (h.dev !== undefined) return false;
  return true;
}

function strArray(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const x of v) if (typeof x !== 'string') return false;
  return true;
}

function jsonHop(n: Record<string, unknown>, _family: Family, ips: IpCache): NextHop | string {
  const nh: NextHop = {};
  if (typeof n.gateway === 'string') {
    const g = ips.get(n.gateway);
    if (g === null) return `gateway ${JSON.stringify(n.gateway)} is not an address`;
    nh.gateway = g;
    nh.gatewayFamily = g.includes(':') ? 6 : 4;
  } else if (isObj(n.via)) {
    const g = ips.get(n.via.host as string);
    const gf: Family = n.via.family === 'inet6' ? 6 : 4;
    if (g === null || (gf === 6) !== g.includes(':'))
      return `via ${JSON.stringify(n.via.host)} is not an ${n.via.family} address`;
    nh.gateway = g;
    nh.gatewayFamily = gf;
  }
  if (typeof n.dev === 'string') nh.dev = n.dev;
  return nh;
}

function routeJson(clean: string, probe: string, family: Family): Parsed<Route[]> {
  const notes = new Notes(probe);
  const arr = jsonArray(clean, probe);
  const ips = new IpCache();
  const out: Route[] = [];
  let detailed = false;
  for (let i = 0; i < arr.length && i < DETAIL_WINDOW && !detailed; i++) detailed = showsDetail(arr[i]);
  for (let i = 0; i < arr.length; i++) {
    const r = jsonRoute(arr[i], i, probe, family, detailed, ips, notes);
    if (r) out.push(r);
  }
  return { value: out, warnings: notes.done() };
}

/**
 * `-d` prints type, table, protocol and scope for every route; one without a table then comes from
 * a `table N` filter, which iproute2 suppresses from the output. The first DETAIL_WINDOW elements decide.
 */
export const DETAIL_WINDOW = 64;

/** The note every route with a nexthop object gets (once per probe, counted): route-scan adds it too. */
export const NHID_NOTE = {
  code: 'route-nhid',
  message:
    'routes use nexthop objects (nhid): next hops are taken from what the kernel expanded into the route; group type and resilient-hash buckets need `ip nexthop show`',
};
export function showsDetail(o: unknown): boolean {
  return isObj(o) && (o.type === 'unicast' || o.protocol === 'boot' || o.scope === 'global');
}

/**
 * One element of `ip -j route` output (index i) as a Route, or undefined when it is skipped (with a
 * warning or note in `notes`).
 */
export function jsonRoute(
  el: unknown,
  i: number,
  probe: string,
  family: Family,
  detailed: boolean,
  ips: IpCache,
  notes: Notes,
): Route | undefined {
  const o = el as Record<string, unknown>;
  if (routeProblem(o)) {
    const z = ipRouteSchema.safeParse(o);
    notes.skip(`route #${i}`, z.success ? 'unexpected shape' : zodWhy(z));
    return undefined;
  }
  const rawDst = o.dst as string;
  const type = o.type === undefined ? 'unicast' : (o.type as string);
  if (!ROUTE_TYPES.has(type)) {
    notes.skip(`route to ${rawDst}`, `unknown route type ${JSON.stringify(type)}`, 'route-type-unknown');
    return undefined;
  }
  const dst = dstPrefix(rawDst, family);
  if (dst === null) {
    notes.skip(`route #${i}`, `dst ${JSON.stringify(rawDst)} is not an IPv${family} prefix`);
    return undefined;
  }
  if (o.table === undefined && detailed) {
    notes.note(
      'route-table-unknown',
      'routes without a table in a detailed (-d) dump: the output was filtered by `table N`, which iproute2 omits; skipped, their table is unknown',
      dst,
    );
    return undefined;
  }
  const table = tableId(o.table as string | number | undefined);
  if (table === undefined) {
    notes.note(
      'table-name-unresolved',
      `routes in table ${JSON.stringify(o.table)} skipped: a name from /etc/iproute2/rt_tables that netpath cannot map to an id`,
      dst,
    );
    return undefined;
  }
  if (o.encap !== undefined) {
    notes.skip(
      `route to ${dst}`,
      `lightweight tunnel encapsulation (encap ${String(o.encap)}) is not modelled`,
      'route-encap',
    );
    return undefined;
  }
  const r: Route = { family, table, type: type as RouteType, dst, nexthops: [], source: { probe, text: '' } };
  if (typeof o.from === 'string') {
    const s = canonPrefix(o.from, family);
    if (s === null) {
      notes.skip(`route to ${dst}`, `from ${JSON.stringify(o.from)} is not an IPv${family} prefix`);
      return undefined;
    }
    if (!s.endsWith('/0')) r.src = s;
  }
  const tosRaw = o.tos ?? o.dsfield;
  if (tosRaw !== undefined) {
    const t = tosValue(tosRaw as string | number);
    if (t === undefined) {
      notes.skip(`route to ${dst}`, `tos ${JSON.stringify(tosRaw)} is not a TOS value`);
      return undefined;
    }
    if (t !== 0) r.tos = t;
  }
  if (o.protocol !== undefined) r.protocol = String(o.protocol);
  if (o.scope !== undefined) r.scope = String(o.scope);
  if (typeof o.prefsrc === 'string') {
    const p = ips.get(o.prefsrc);
    if (p !== null) r.prefsrc = p;
  }
  if (o.metric !== undefined) r.metric = o.metric as number;
  // the parsed arrays are this call's own: no copy
  const flags = o.flags as string[] | undefined;
  if (flags !== undefined && flags.length > 0) r.flags = flags;
  if (o.metrics !== undefined) {
    for (const m of o.metrics as Record<string, unknown>[]) if (typeof m.mtu === 'number') r.mtu = m.mtu;
  }
  const nhs = o.nexthops as Record<string, unknown>[] | undefined;
  let bad: string | undefined;
  if (nhs !== undefined && nhs.length > 0) {
    for (const n of nhs) {
      const nh = jsonHop(n, family, ips);
      if (typeof nh === 'string') {
        bad = nh;
        break;
      }
      if (n.weight !== undefined) nh.weight = n.weight as number;
      const f = n.flags as string[] | undefined;
      if (f !== undefined && f.length > 0) nh.flags = f;
      r.nexthops.push(nh);
    }
  } else {
    const nh = jsonHop(o, family, ips);
    if (typeof nh === 'string') bad = nh;
    else if (nh.gateway !== undefined || nh.dev !== undefined) r.nexthops.push(nh);
  }
  if (bad !== undefined) {
    notes.skip(`route to ${dst}`, bad);
    return undefined;
  }
  if (NO_HOPS.has(type)) r.nexthops.length = 0;
  if (o.nhid !== undefined) {
    r.nhid = o.nhid as number;
    notes.note(NHID_NOTE.code, NHID_NOTE.message, `${dst} nhid ${r.nhid}`);
  }
  if (NEEDS_DEV.has(type) && noDev(r.nexthops)) {
    notes.note(
      'route-no-dev',
      'routes without an output device: was the output filtered by `dev X`? iproute2 then omits dev (and hides multipath routes)',
      dst,
    );
  }
  r.source.text = renderRoute(r);
  return r;
}

interface TextRoute {
  route: Route;
  hasTable: boolean;
  lines: string[];
  /** next hop being filled by `nexthop` words (multipath) */
  hop?: NextHop;
  bad?: string;
  badCode?: string;
}

function routeText(clean: string, probe: string, family: Family): Parsed<Route[]> {
  const notes = new Notes(probe);
  const ips = new IpCache();
  const out: Route[] = [];
  const lines = clean.split('\n');
  let cur: TextRoute | undefined;
  let detailed = false;
  let recognised = 0;
  let unreadable = 0;
  const pending: TextRoute[] = [];
  const flush = () => {
    if (cur) pending.push(cur);
    cur = undefined;
  };
  for (const line of lines) {
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      const t = line.trim();
      if (t === '') continue;
      if (!cur) {
        notes.note('route-line-orphan', 'indented line without a route before it ignored', t.slice(0, 60));
        continue;
      }
      cur.lines.push(t);
      // nh_info repeats the nexthop object; `cache` lines belong to route-get output
      if (t.startsWith('nh_info') || t.startsWith('cache')) continue;
      tokens(cur, t.split(/\s+/), 0, family, ips, notes);
      continue;
    }
    const t = line.trim();
    if (t === '') continue;
    flush();
    const tok = t.split(/\s+/);
    let i = 0;
    let type = 'unicast';
    if (ROUTE_TYPES.has(tok[0]!)) {
      type = tok[i++]!;
      if (type === 'unicast') detailed = true;
    } else if (
      tok[0] === 'unspec' ||
      (tok.length > 1 && /^[a-z_]+$/.test(tok[0]!) && tok[0] !== 'default' && dstPrefix(tok[1]!, family) !== null)
    ) {
      recognised++;
      notes.skip(
        `route ${JSON.stringify(t.slice(0, 60))}`,
        `unknown route type ${JSON.stringify(tok[0])}`,
        'route-type-unknown',
      );
      continue;
    }
    const dstTok = tok[i++];
    const dst = dstTok === undefined ? null : dstPrefix(dstTok, family);
    if (dst === null) {
      unreadable++;
      notes.skip(
        `line ${JSON.stringify(t.slice(0, 60))}`,
        `${JSON.stringify(dstTok)} is not an IPv${family} destination`,
      );
      continue;
    }
    recognised++;
    cur = {
      route: { family, table: 254, type: type as RouteType, dst, nexthops: [], source: { probe, text: '' } },
      hasTable: false,
      lines: [t],
    };
    tokens(cur, tok, i, family, ips, notes);
  }
  flush();
  for (const p of pending) {
    const r = p.route;
    if (p.bad !== undefined) {
      notes.skip(`route to ${r.dst}`, p.bad, p.badCode);
      continue;
    }
    if (!p.hasTable && detailed) {
      notes.note(
        'route-table-unknown',
        'routes without a table in a detailed (-d) dump: the output was filtered by `table N`, which iproute2 omits; skipped, their table is unknown',
        r.dst,
      );
      continue;
    }
    if (NO_HOPS.has(r.type)) r.nexthops.length = 0;
    if (r.nhid !== undefined) notes.note(NHID_NOTE.code, NHID_NOTE.message, `${r.dst} nhid ${r.nhid}`);
    if (NEEDS_DEV.has(r.type) && noDev(r.nexthops))
      notes.note(
        'route-no-dev',
        'routes without an output device: was the output filtered by `dev X`? iproute2 then omits dev (and hides multipath routes)',
        r.dst,
      );
    r.source.text = p.lines.join(' ');
    out.push(r);
  }
  if (recognised === 0 && unreadable > 0)
    throw new ParseError(probe, `no line looks like ip route output (${notes.first?.message ?? 'no route'})`);
  return { value: out, warnings: notes.done() };
}

/** Reads `key value` words from tok[i..] into the route (or the current multipath next hop). */
function tokens(cur: TextRoute, tok: string[], i: number, family: Family, ips: IpCache, notes: Notes): void {
  const r = cur.route;
  const hop = (): NextHop => {
    if (cur.hop) return cur.hop;
    if (r.nexthops.length === 0) r.nexthops.push({});
    return r.nexthops[0]!;
  };
  for (; i < tok.length && cur.bad === undefined; i++) {
    const k = tok[i]!;
    const v = tok[i + 1];
    switch (k) {
      case 'nexthop':
        cur.hop = {};
        r.nexthops.push(cur.hop);
        break;
      case 'via': {
        let g = v;
        let gf: Family | undefined;
        if (g === 'inet' || g === 'inet6') {
          gf = g === 'inet6' ? 6 : 4;
          g = tok[++i + 1];
        }
        const gw = g === undefined ? null : ips.get(g);
        i++;
        if (gw === null || (gf !== undefined && (gf === 6) !== gw.includes(':'))) {
          cur.bad = `gateway ${JSON.stringify(g)} is not an address`;
          break;
        }
        const h = hop();
        h.gateway = gw;
        h.gatewayFamily = gw.includes(':') ? 6 : 4;
        break;
      }
      case 'dev':
        if (v !== undefined) hop().dev = v;
        i++;
        break;
      case 'weight': {
        const w = v === undefined ? undefined : u32(v);
        if (w === undefined || w === 0) cur.bad = `weight ${JSON.stringify(v)} is not a number`;
        else hop().weight = w;
        i++;
        break;
      }
      case 'table': {
        const t = v === undefined ? undefined : tableId(v);
        if (t === undefined) {
          cur.bad = `table ${JSON.stringify(v)} is a name from /etc/iproute2/rt_tables that netpath cannot map to an id`;
          notes.note(
            'table-name-unresolved',
            `routes in table ${JSON.stringify(v)} skipped: a name from /etc/iproute2/rt_tables that netpath cannot map to an id`,
            r.dst,
          );
          break;
        }
        r.table = t;
        cur.hasTable = true;
        i++;
        break;
      }
      case 'proto':
        if (v !== undefined) r.protocol = v;
        i++;
        break;
      case 'scope':
        if (v !== undefined) r.scope = v;
        i++;
        break;
      case 'src': {
        const p = v === undefined ? null : ips.get(v);
        if (p !== null) r.prefsrc = p;
        i++;
        break;
      }
      case 'from': {
        const p = v === undefined ? null : canonPrefix(v, family);
        if (p === null) cur.bad = `from ${JSON.stringify(v)} is not an IPv${family} prefix`;
        else if (!p.endsWith('/0')) r.src = p;
        i++;
        break;
      }
      case 'tos':
      case 'dsfield': {
        const t = v === undefined ? undefined : tosValue(v);
        if (t === undefined) cur.bad = `tos ${JSON.stringify(v)} is not a TOS value`;
        else if (t !== 0) r.tos = t;
        i++;
        break;
      }
      case 'metric': {
        const m = v === undefined ? undefined : u32(v);
        if (m === undefined) cur.bad = `metric ${JSON.stringify(v)} is not a number`;
        else r.metric = m;
        i++;
        break;
      }
      case 'nhid': {
        const n = v === undefined ? undefined : u32(v);
        if (n === undefined) cur.bad = `nhid ${JSON.stringify(v)} is not a number`;
        else r.nhid = n;
        i++;
        break;
      }
      case 'cache':
        // route-get output: `cache <local,...>`
        if (v?.startsWith('<')) i++;
        break;
      case 'encap':
        cur.bad = `lightweight tunnel encapsulation (encap ${v ?? ''}) is not modelled`;
        cur.badCode = 'route-encap';
        break;
      default:
        if (FLAG_WORDS.has(k)) {
          if (cur.hop) (cur.hop.flags ??= []).push(k);
          else (r.flags ??= []).push(k);
        } else if (METRICS.has(k)) {
          if (v === 'lock') i++;
          const val = tok[i + 1];
          if (k === 'mtu') {
            const m = val === undefined ? undefined : u32(val);
            if (m === undefined) cur.bad = `mtu ${JSON.stringify(val)} is not a number`;
            else r.mtu = m;
          }
          i++;
        } else if (SKIP_ONE.has(k)) i++;
        else if (k !== '[detached]')
          notes.note('route-token-unknown', `unknown word ${JSON.stringify(k)} in a route ignored`, r.dst);
    }
  }
}
