import type { Family, NextHop, Parsed, Route, RouteType, Warning } from '../../model/types.js';
import { canonIp, canonPrefix, familyOf } from '../../model/addr.js';
import { cleanText, looksLikeJson } from '../common.js';
import { ParseError } from '../parse-error.js';
import { ipRouteSchema } from './schema.js';
import { jsonArray, skip, tableId } from './common.js';

const ROUTE_TYPES = new Set<RouteType>(['unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat']);
const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };

/** An `ip route`-style line for a route (the evidence text when the input was JSON). */
export function renderRoute(r: Route): string {
  const p: string[] = [];
  if (r.type !== 'unicast') p.push(r.type);
  const def = r.dst === '0.0.0.0/0' || r.dst === '::/0';
  p.push(def ? 'default' : r.dst.endsWith(r.family === 4 ? '/32' : '/128') ? r.dst.slice(0, r.dst.lastIndexOf('/')) : r.dst);
  if (r.src) p.push(`from ${r.src}`);
  if (r.nexthops.length === 1) {
    const n = r.nexthops[0]!;
    if (n.gateway) p.push(n.gatewayFamily && n.gatewayFamily !== r.family ? `via inet${n.gatewayFamily === 6 ? '6' : ''} ${n.gateway}` : `via ${n.gateway}`);
    if (n.dev) p.push(`dev ${n.dev}`);
  }
  if (r.table !== 254) p.push(`table ${TABLE_NAMES[r.table] ?? r.table}`);
  if (r.protocol && r.protocol !== 'boot') p.push(`proto ${r.protocol}`);
  if (r.scope && r.scope !== 'global') p.push(`scope ${r.scope}`);
  if (r.prefsrc) p.push(`src ${r.prefsrc}`);
  if (r.metric !== undefined) p.push(`metric ${r.metric}`);
  for (const f of r.flags ?? []) p.push(f);
  if (r.nexthops.length > 1)
    for (const n of r.nexthops) p.push(`nexthop${n.gateway ? ` via ${n.gateway}` : ''}${n.dev ? ` dev ${n.dev}` : ''}${n.weight !== undefined ? ` weight ${n.weight}` : ''}`);
  return p.join(' ');
}

export function parseIpRoute(text: string, probe: string, family: Family): Parsed<Route[]> {
  return looksLikeJson(cleanText(text)) ? routeJson(text, probe, family) : routeText(text, probe, family);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function gatewayOf(o: { gateway?: unknown; via?: unknown }, fam: Family): { gateway: string; gatewayFamily: Family } | null | undefined {
  if (typeof o.gateway === 'string') {
    const g = canonIp(o.gateway);
    return g === null ? null : { gateway: g, gatewayFamily: familyOf(g) ?? fam };
  }
  const via = o.via as { family?: unknown; host?: unknown } | undefined;
  if (via && typeof via === 'object' && typeof via.host === 'string') {
    const g = canonIp(via.host);
    return g === null ? null : { gateway: g, gatewayFamily: via.family === 'inet6' ? 6 : 4 };
  }
  return undefined;
}

// Hand-checked on the hot path (a node can print a million routes); the zod schema is the contract
// and explains a rejected element.
function routeJson(text: string, probe: string, family: Family): Parsed<Route[]> {
  const warnings: Warning[] = [];
  const arr = jsonArray(text, probe);
  const out: Route[] = [];
  for (let i = 0; i < arr.length; i++) {
    const o = arr[i] as Record<string, unknown>;
    const why = checkRoute(o);
    if (why !== undefined) {
      const r = ipRouteSchema.safeParse(o);
      skip(warnings, probe, `route #${i}`, r.success ? why : (r.error.issues[0]?.path.join('.') ?? '') + ': ' + (r.error.issues[0]?.message ?? why));
      continue;
    }
    const type = (o.type ?? 'unicast') as string;
    if (!ROUTE_TYPES.has(type as RouteType)) {
      skip(warnings, probe, `route to ${o.dst}`, `unknown route type ${JSON.stringify(type)}`);
      continue;
    }
    const dst = canonPrefix(o.dst as string, family);
    if (dst === null) {
      skip(warnings, probe, `route #${i}`, `dst ${JSON.stringify(o.dst)} is not an IPv${family} prefix`);
      continue;
    }
    const table = tableId(o.table as string | number | undefined);
    if (table === undefined) {
      skip(warnings, probe, `route to ${dst}`, `table ${JSON.stringify(o.table)} is a name netpath cannot resolve (from /etc/iproute2/rt_tables)`);
      continue;
    }
    const r: Route = { family, table, type: type as RouteType, dst, nexthops: [], source: { probe, text: '' } };
    const from = o.from;
    if (typeof from === 'string' && from !== 'default' && from !== '::') {
      const s = canonPrefix(from, family);
      if (s && !s.endsWith('/0')) r.src = s;
    }
    const proto = str(o.protocol);
    if (proto !== undefined) r.protocol = proto;
    const scope = str(o.scope);
    if (scope !== undefined) r.scope = scope;
    if (typeof o.prefsrc === 'string') {
      const p = canonIp(o.prefsrc);
      if (p) r.prefsrc = p;
    }
    if (typeof o.metric === 'number') r.metric = o.metric;
    const flags = o.flags as string[] | undefined;
    if (flags && flags.length > 0) r.flags = flags;
    const nhs = o.nexthops as Record<string, unknown>[] | undefined;
    if (Array.isArray(nhs) && nhs.length > 0) {
      for (const n of nhs) {
        const nh: NextHop = {};
        const g = gatewayOf(n, family);
        if (g) Object.assign(nh, g);
        if (typeof n.dev === 'string') nh.dev = n.dev;
        if (typeof n.weight === 'number') nh.weight = n.weight;
        const f = n.flags as string[] | undefined;
        if (Array.isArray(f) && f.length > 0) nh.flags = f;
        r.nexthops.push(nh);
      }
    } else {
      const g = gatewayOf(o, family);
      if (g === null) {
        skip(warnings, probe, `route to ${dst}`, 'gateway is not an address');
        continue;
      }
      if (g || typeof o.dev === 'string') {
        const nh: NextHop = g ? { ...g } : {};
        if (typeof o.dev === 'string') nh.dev = o.dev;
        r.nexthops.push(nh);
      }
    }
    if (typeof o.nhid === 'number' && r.nexthops.length === 0)
      skip(warnings, probe, `route to ${dst}`, `uses nexthop object ${o.nhid} without expanded nexthops: its next hops are unknown`);
    r.source.text = renderRoute(r);
    out.push(r);
  }
  return { value: out, warnings };
}

function checkRoute(o: Record<string, unknown>): string | undefined {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return 'not an object';
  if (typeof o.dst !== 'string') return 'dst missing';
  if (o.type !== undefined && typeof o.type !== 'string') return 'type is not a string';
  if (o.dev !== undefined && typeof o.dev !== 'string') return 'dev is not a string';
  if (o.metric !== undefined && (typeof o.metric !== 'number' || !Number.isInteger(o.metric) || o.metric < 0)) return 'metric is not a number';
  if (o.nexthops !== undefined && !Array.isArray(o.nexthops)) return 'nexthops is not an array';
  if (o.flags !== undefined && !Array.isArray(o.flags)) return 'flags is not an array';
  return undefined;
}

const FLAG_WORDS = new Set(['onlink', 'linkdown', 'dead', 'pervasive', 'offload', 'trap', 'notify', 'unresolved', 'rt_offload', 'rt_trap', 'rt_offload_failed']);
// keys followed by one value that netpath does not use
const SKIP_ONE = new Set(['pref', 'realm', 'realms', 'hoplimit', 'advmss', 'initcwnd', 'initrwnd', 'rtt', 'rttvar', 'reordering', 'window', 'cwnd', 'ssthresh', 'quickack', 'congctl', 'features', 'fastopen_no_cookie', 'rto_min', 'nhid', 'tos', 'dsfield', 'expires', 'encap', 'ttl-propagate', 'error', 'users', 'age', 'ipid']);

function routeText(text: string, probe: string, family: Family): Parsed<Route[]> {
  const warnings: Warning[] = [];
  const out: Route[] = [];
  const lines = cleanText(text).split('\n');
  let cur: Route | undefined;
  let curLines: string[] = [];
  const flush = () => {
    if (cur) {
      cur.source = { probe, text: curLines.join(' ').replace(/\s+/g, ' ').trim() };
      out.push(cur);
    }
    cur = undefined;
    curLines = [];
  };
  let recognised = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line)) {
      const t = line.trim();
      if (cur && t.startsWith('nexthop')) {
        const nh = parseNexthop(t.split(/\s+/).slice(1), family);
        if (nh) cur.nexthops.push(nh);
        curLines.push(t);
      }
      continue;
    }
    flush();
    const r = parseRouteLine(line.trim(), family);
    if (typeof r === 'string') {
      skip(warnings, probe, `line ${JSON.stringify(line.trim().slice(0, 60))}`, r);
      continue;
    }
    recognised++;
    cur = r;
    curLines = [line.trim()];
  }
  flush();
  if (recognised === 0 && warnings.length > 0) throw new ParseError(probe, `no line looks like ip route output (${warnings[0]!.message})`);
  return { value: out, warnings };
}

function parseNexthop(tok: string[], family: Family): NextHop | undefined {
  const nh: NextHop = {};
  for (let i = 0; i < tok.length; i++) {
    const k = tok[i]!;
    if (k === 'via') {
      let v = tok[++i];
      let gf: Family | undefined;
      if (v === 'inet' || v === 'inet6') {
        gf = v === 'inet6' ? 6 : 4;
        v = tok[++i];
      }
      const g = v === undefined ? null : canonIp(v);
      if (g === null) return undefined;
      nh.gateway = g;
      nh.gatewayFamily = gf ?? familyOf(g) ?? family;
    } else if (k === 'dev') nh.dev = tok[++i]!;
    else if (k === 'weight') nh.weight = Number(tok[++i]);
    else if (FLAG_WORDS.has(k)) (nh.flags ??= []).push(k);
  }
  return nh;
}

function parseRouteLine(line: string, family: Family): Route | string {
  const tok = line.split(/\s+/);
  let i = 0;
  let type: RouteType = 'unicast';
  if (ROUTE_TYPES.has(tok[0] as RouteType)) type = tok[i++] as RouteType;
  else if (tok[0] === 'unspec') return 'route type unspec';
  const dstTok = tok[i++];
  if (dstTok === undefined) return 'empty line';
  const dst = canonPrefix(dstTok, family);
  if (dst === null) return `${JSON.stringify(dstTok)} is not an IPv${family} destination`;
  const r: Route = { family, table: 254, type, dst, nexthops: [], source: { probe: '', text: '' } };
  const nh: NextHop = {};
  for (; i < tok.length; i++) {
    const k = tok[i]!;
    const v = tok[i + 1];
    switch (k) {
      case 'via': {
        let g = v;
        let gf: Family | undefined;
        if (g === 'inet' || g === 'inet6') {
          gf = g === 'inet6' ? 6 : 4;
          g = tok[i + 2];
          i++;
        }
        const gw = g === undefined ? null : canonIp(g);
        if (gw === null) return `gateway ${JSON.stringify(g)} is not an address`;
        nh.gateway = gw;
        nh.gatewayFamily = gf ?? familyOf(gw) ?? family;
        i++;
        break;
      }
      case 'dev':
        if (v !== undefined) nh.dev = v;
        i++;
        break;
      case 'table': {
        const t = tableId(v);
        if (t === undefined) return `table ${JSON.stringify(v)} is a name netpath cannot resolve`;
        r.table = t;
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
        const p = v === undefined ? null : canonIp(v);
        if (p) r.prefsrc = p;
        i++;
        break;
      }
      case 'from': {
        const p = v === undefined ? null : canonPrefix(v, family);
        if (p && !p.endsWith('/0')) r.src = p;
        i++;
        break;
      }
      case 'metric':
        if (v !== undefined && /^\d+$/.test(v)) r.metric = Number(v);
        i++;
        break;
      case 'mtu':
        if (v === 'lock') i++;
        if (tok[i + 1] !== undefined && /^\d+$/.test(tok[i + 1]!)) r.mtu = Number(tok[i + 1]);
        i++;
        break;
      case 'cache':
        break;
      default:
        if (FLAG_WORDS.has(k)) (r.flags ??= []).push(k);
        else if (SKIP_ONE.has(k)) i++;
    }
  }
  if (nh.gateway !== undefined || nh.dev !== undefined) r.nexthops.push(nh);
  return r;
}
