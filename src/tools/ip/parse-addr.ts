import type { z } from 'zod';
import type { Address, Family, Parsed } from '../../model/types.js';
import { canonIp } from '../../model/addr.js';
import { ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { ipAddrInfoSchema, ipAddrSchema, zodWhy } from './schema.js';
import { Notes, famOf, isJson, isObj, jsonArray, prep } from './common.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

function addrText(a: Address): string {
  return `${a.ifindex}: ${a.ifname} ${a.family === 4 ? 'inet' : 'inet6'} ${a.local}${a.peer ? ` peer ${a.peer}` : ''}/${a.prefixlen} scope ${a.scope}${a.secondary ? ' secondary' : ''}`;
}

/**
 * `ip -j addr show` JSON or `ip addr show` / `ip a l` text. `lean: false` checks every element with the zod
 * schemas (the reference the lean checks are tested against, test/tools/ip/addr-lean.test.ts).
 */
export function parseIpAddr(text: string, probe: string, opts: { lean?: boolean } = {}): Parsed<Address[]> {
  throwIfToolError(text, probe, 'ip');
  const clean = prep(text);
  const notes = new Notes(probe);
  if (isJson(clean)) {
    const value = addrJson(clean, probe, notes, opts.lean !== false);
    return { value, warnings: notes.done() };
  }
  return withPaste(clean, probe, (t) => ({ value: addrTextParse(t, probe, notes), warnings: notes.done() }));
}

type AddrDev = z.infer<typeof ipAddrSchema>;
type AddrInfo = z.infer<typeof ipAddrInfoSchema>;

const isU32Positive = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 0xffffffff;
const isOptStr = (v: unknown) => v === undefined || typeof v === 'string';

/**
 * ipAddrSchema's checks by hand, for the values it accepts: true only when the schema would accept `v` and give
 * back the same fields. Anything else goes to the schema, which rejects it with its own words (or accepts it).
 * A node with 500 pod namespaces has ~3,000 of these elements, and zod costs ~0.3 s on them.
 */
function leanDev(v: unknown): v is AddrDev {
  if (!isObj(v)) return false;
  const n = v.ifname;
  const ai = v.addr_info;
  return (
    isU32Positive(v.ifindex) &&
    typeof n === 'string' &&
    n.length >= 1 &&
    n.length <= 256 &&
    (ai === undefined || Array.isArray(ai))
  );
}

/** ipAddrInfoSchema's checks by hand (as leanDev). */
function leanInfo(v: unknown): v is AddrInfo {
  if (!isObj(v)) return false;
  const p = v.prefixlen;
  const sc = v.scope;
  return (
    (v.family === 'inet' || v.family === 'inet6') &&
    typeof v.local === 'string' &&
    typeof p === 'number' &&
    Number.isInteger(p) &&
    p >= 0 &&
    p <= 128 &&
    (sc === undefined ||
      (typeof sc === 'string' && sc.length <= 256) ||
      (typeof sc === 'number' && Number.isFinite(sc))) &&
    (v.secondary === undefined || typeof v.secondary === 'boolean') &&
    isOptStr(v.address) &&
    isOptStr(v.label)
  );
}

function addrJson(clean: string, probe: string, notes: Notes, lean: boolean): Address[] {
  const out: Address[] = [];
  const arr = jsonArray(clean, probe);
  for (let i = 0; i < arr.length; i++) {
    const el = arr[i];
    let dev: AddrDev;
    if (lean && leanDev(el)) dev = el;
    else {
      const z = ipAddrSchema.safeParse(el);
      if (!z.success) {
        notes.skip(`interface #${i}`, zodWhy(z));
        continue;
      }
      dev = z.data;
    }
    for (const info of dev.addr_info ?? []) {
      // iproute2 6.1 prints filtered-out addresses as {} when a filter (scope, label...) was given
      if (isObj(info) && !Object.hasOwn(info, 'family')) continue;
      let data: AddrInfo;
      if (lean && leanInfo(info)) data = info;
      else {
        const a = ipAddrInfoSchema.safeParse(info);
        if (!a.success) {
          notes.skip(`address on ${dev.ifname}`, zodWhy(a));
          continue;
        }
        data = a.data;
      }
      const fam = famOf(data.family)!;
      const local = canonIp(data.local);
      if (local === null || (local.includes(':') ? 6 : 4) !== fam || (fam === 4 && data.prefixlen > 32)) {
        notes.skip(`address on ${dev.ifname}`, `not a valid ${data.family} address: ${data.local}/${data.prefixlen}`);
        continue;
      }
      const addr: Address = {
        ifindex: dev.ifindex,
        ifname: dev.ifname,
        family: fam,
        local,
        prefixlen: data.prefixlen,
        scope: String(data.scope ?? 'global'),
        source: { probe, text: '' },
      };
      if (data.address !== undefined) {
        const p = canonIp(data.address);
        if (p !== null) addr.peer = p;
      }
      if (data.secondary) addr.secondary = true;
      addr.source = ev(probe, addrText(addr));
      out.push(addr);
    }
  }
  return out;
}

const HEAD = /^(\d{1,10}):\s+([^\s:@]+)(?:@[^\s:]+)?:\s+<[^>]*>/;
const ADDR = /^\s+(inet6?)\s+(\S+?)(?:\/(\d{1,3}))?(?:\s+peer\s+(\S+?)(?:\/(\d{1,3}))?)?(\s.*)?$/;

function addrTextParse(clean: string, probe: string, notes: Notes): Address[] {
  const out: Address[] = [];
  let ifindex = -1;
  let ifname = '';
  let sawHead = false;
  for (const line of clean.split('\n')) {
    // a line at column 0 that is no `N: name: <FLAGS>` head is not ip output (a log line, prose)
    if (line !== '' && !/^\s/.test(line) && !HEAD.test(line))
      notes.note('line-skipped', 'line(s) not in `ip addr` / `ip link` form skipped', line.slice(0, 60));
    const h = HEAD.exec(line);
    if (h) {
      sawHead = true;
      ifindex = Number(h[1]);
      ifname = h[2]!;
      continue;
    }
    const m = ADDR.exec(line);
    if (!m || ifindex < 0) continue;
    const fam: Family = m[1] === 'inet' ? 4 : 6;
    const local = canonIp(m[2]!);
    const plen = Number(m[5] ?? m[3] ?? (fam === 4 ? 32 : 128));
    if (local === null || (local.includes(':') ? 6 : 4) !== fam || plen > (fam === 4 ? 32 : 128)) {
      notes.skip(`address on ${ifname}`, `not a valid ${m[1]} address: ${line.trim().slice(0, 60)}`);
      continue;
    }
    const rest = m[6] ?? '';
    const a: Address = {
      ifindex,
      ifname,
      family: fam,
      local,
      prefixlen: plen,
      scope: /\bscope (\S+)/.exec(rest)?.[1] ?? 'global',
      source: ev(probe, `${ifindex}: ${ifname} ${line.trim()}`),
    };
    if (m[4]) {
      const p = canonIp(m[4]);
      if (p !== null) a.peer = p;
    }
    if (/\bsecondary\b/.test(rest)) a.secondary = true;
    out.push(a);
  }
  if (!sawHead && clean.trim() !== '') throw new ParseError(probe, 'no `N: name: <FLAGS>` line: not ip addr output');
  return out;
}
