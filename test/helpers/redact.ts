import { expect } from 'vitest';
import { isIPv4, isIPv6 } from 'node:net';
import { decodeLbMaps, LB_MAP_NAMES, type LbMapDumps } from '../../src/tools/bpf-map/index.js';
import { canonIp } from '../../src/model/addr.js';
import { decodeIpcacheMap } from '../../src/tools/cilium/ipcache.js';
import type { Redactor } from '../../src/redact/redactor.js';

// Finds what redaction must remove independently of the redactor (every dotted quad, every token that parses
// as IPv6, every string of a JSON document, the decoded LB-map bytes, MACs, WireGuard keys) and checks that
// none of it is left in the redacted files.

function ipsIn(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?<!\d)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\d)/g)) if (isIPv4(m[0])) out.add(m[0]);
  for (const m of text.matchAll(/[0-9A-Fa-f:.]+/g)) {
    const tok = m[0];
    // part of a longer word (`cilium/v2::CiliumNode`): no token of its own, no address (README "Redaction")
    const before = text[m.index - 1];
    const after = text[m.index + tok.length];
    const word = (c: string | undefined) => c !== undefined && /[A-Za-z0-9]/.test(c);
    // inside a word only dotted quads are addresses (found above): no IPv6 reading
    if ((word(before) && /^[0-9A-Fa-f]/.test(tok)) || (word(after) && /[0-9A-Fa-f]$/.test(tok))) continue;
    // `hubble-listen-address::4244`: the colons after a word separate, they start no address
    const own = word(before) ? tok.replace(/^[:.]+/, '') : tok;
    for (const t of [own, own.replace(/^[:.]+|[:.]+$/g, ''), own.replace(/[:.]+$/g, '')]) {
      if (t.includes(':') && isIPv6(t) && !/^([0-9A-Fa-f]{2}:){5,}[0-9A-Fa-f]{2}$/.test(t)) out.add(t);
    }
  }
  // JSON strings that are addresses, however they are written
  try {
    const walk = (v: unknown): void => {
      if (typeof v === 'string') {
        const a = v.split('/')[0]!;
        if (isIPv4(a) || isIPv6(a)) out.add(a);
      } else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          walk(k);
          walk(x);
        }
    };
    walk(JSON.parse(text));
  } catch {
    /* not JSON */
  }
  return out;
}

const macsIn = (text: string) =>
  new Set([...text.matchAll(/(?<![0-9A-Fa-f:])[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}(?![0-9A-Fa-f:])/g)].map((m) => m[0]));
const keysIn = (text: string) =>
  new Set([
    ...[...text.matchAll(/[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/g)].map((m) => m[0]),
    // IPsec keys of `ip xfrm state`
    ...[...text.matchAll(/\b(?:enc|auth|auth-trunc|aead)[ \t]+\S+[ \t]+(0x[0-9a-fA-F]+)/g)].map((m) => m[1]!),
  ]);

/** The addresses inside the LB maps' bytes. */
function mapAddresses(files: Map<string, string>): Set<string> {
  const dumps: LbMapDumps = {};
  for (const [k, n] of Object.entries(LB_MAP_NAMES) as [keyof LbMapDumps, string][]) {
    const t = files.get(`bpf-map/${n}.json`) ?? files.get(`bpf-map/${n}.txt`);
    if (t !== undefined) dumps[k] = t;
  }
  const out = new Set<string>();
  // the ipcache maps: their prefixes and tunnel endpoints
  for (const n of ['cilium_ipcache', 'cilium_ipcache_v2']) {
    const t = files.get(`bpf-map/${n}.json`) ?? files.get(`bpf-map/${n}.txt`);
    if (t === undefined) continue;
    for (const e of decodeIpcacheMap(t, n).value) {
      out.add(e.prefix.split('/')[0]!);
      if (e.tunnelEndpoint) out.add(e.tunnelEndpoint);
    }
  }
  if (Object.keys(dumps).length === 0) return out;
  for (const s of decodeLbMaps(dumps).value.services) {
    out.add(s.frontend.address);
    for (const b of s.backends) out.add(b.address);
  }
  return out;
}

/** `addr` in `text`, other than as a prefix the redactor keeps (`fe80::/64` stays `fe80::/64`). */
function occurs(r: Redactor, text: string, addr: string): boolean {
  const esc = addr.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = isIPv4(addr)
    ? new RegExp(`(?<![\\d.])${esc}(?!\\d)(/\\d+)?`, 'g')
    : new RegExp(`(?<![0-9A-Fa-f:])${esc}(?![0-9A-Fa-f]|:[0-9A-Fa-f])(/\\d+)?`, 'gi');
  for (const m of text.matchAll(re)) {
    if (m[1] !== undefined && r.ip(addr, Number(m[1].slice(1))) === canonIp(addr)) continue;
    return true;
  }
  return false;
}

/** Checks one node's files against their redacted copy. Returns how many originals were searched for. */
export function assertNoLeak(
  r: Redactor,
  orig: Map<string, string>,
  red: Map<string, string>,
  names: string[],
): number {
  const addrs = new Set<string>();
  const macs = new Set<string>();
  const keys = new Set<string>();
  for (const t of orig.values()) {
    for (const a of ipsIn(t)) addrs.add(a);
    for (const m of macsIn(t)) macs.add(m);
    for (const k of keysIn(t)) keys.add(k);
  }
  for (const a of mapAddresses(orig)) addrs.add(a);
  const kept = (a: string) => r.ip(a) === canonIp(a);
  const secret = [...addrs].filter((a) => !kept(a));
  const all = [...red.values()].join('\n');
  for (const a of secret) {
    for (const form of new Set([a, canonIp(a)!])) {
      const where = [...red].find(([, t]) => occurs(r, t, form));
      expect(where?.[0], `original address ${form} is still in ${where?.[0]}`).toBeUndefined();
    }
  }
  // the bytes too: the redacted maps decode to the mapped addresses only
  for (const a of mapAddresses(red)) expect(kept(a) || !addrs.has(a), `map address ${a}`).toBe(true);
  for (const m of macs) {
    const b = parseInt(m.slice(0, 2), 16);
    if ((b & 1) === 1 || /^(00:){5}00$|^(ff:){5}ff$/i.test(m)) continue;
    expect(all.toLowerCase().includes(m.toLowerCase()), `MAC ${m}`).toBe(false);
  }
  for (const k of keys) expect(all.includes(k), `key ${k}`).toBe(false);
  for (const n of names) {
    if (r.reservedNames.has(n)) continue;
    const re = new RegExp(`(?<![A-Za-z0-9_.-])${n.replace(/[.]/g, '\\.')}(?![A-Za-z0-9_-]|\\.[A-Za-z0-9])`);
    const where = [...red].find(([, t]) => re.test(t));
    expect(where?.[0], `node name ${n}`).toBeUndefined();
  }
  return secret.length + macs.size + keys.size;
}
