import { isIPv4, isIPv6 } from 'node:net';
import type { Family } from './types.js';

/** Canonical text of an IP address (RFC 5952 for IPv6), or null when it is not one. */
export function canonIp(text: string): string | null {
  // the forms tools print (a dotted quad, hex groups with at most one `::`) are read by hand: node:net's
  // regular expressions cost ~5 µs an address, and a trace reads thousands (500 pod namespaces' addresses)
  if (plainV4(text)) return text;
  const g = plainV6(text);
  if (g !== null) return compressV6(g);
  return canonIpByRegex(text);
}

/**
 * canonIp by node:net's checks alone: every input the hand-read forms do not take (whitespace, an IPv4 tail,
 * a zone id, anything invalid). The reference test/model/addr-fast.test.ts holds canonIp to.
 */
export function canonIpByRegex(text: string): string | null {
  const s = text.trim();
  if (isIPv4(s))
    return s
      .split('.')
      .map((o) => String(Number(o)))
      .join('.');
  // Zone ids (fe80::1%eth0) are not addresses netpath routes on.
  if (isIPv6(s) && !s.includes('%')) return compressV6(expandV6(s));
  return null;
}

/**
 * A dotted quad as node:net's isIPv4 takes it (four decimal octets 0-255, no leading zero): its own canonical form.
 */
function plainV4(s: string): boolean {
  const n = s.length;
  return n >= 7 && n <= 15 && plainV4At(s, 0, n);
}

/**
 * s[start, end) is a dotted quad as plainV4 takes it, read in place (no slice): the conntrack scanner tests three
 * values a line of a million-line table this way.
 */
export function plainV4At(s: string, start: number, end: number): boolean {
  let octets = 0;
  let i = start;
  for (;;) {
    const st = i;
    let v = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      v = v * 10 + c - 48;
      i++;
    }
    const len = i - st;
    if (len === 0 || len > 3 || (len > 1 && s.charCodeAt(st) === 48) || v > 255) return false;
    octets++;
    if (i === end) return octets === 4;
    if (octets === 4 || s.charCodeAt(i) !== 46) return false;
    i++;
  }
}

/**
 * The eight groups of an IPv6 address written as hex groups of 1-4 digits with at most one `::` (which stands
 * for at least one group): what node:net's isIPv6 takes without an IPv4 tail or a zone id. Null for anything
 * else (canonIpByRegex reads it).
 */
function plainV6(s: string): number[] | null {
  const n = s.length;
  if (n < 2 || n > 39) return null;
  const head: number[] = [];
  const tail: number[] = [];
  let cur = head;
  let gap = false;
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return null;
    gap = true;
    cur = tail;
    i = 2;
    if (i === n) return [0, 0, 0, 0, 0, 0, 0, 0];
  }
  for (;;) {
    let v = 0;
    const st = i;
    while (i < n && i - st < 5) {
      const c = s.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      v = v * 16 + d;
      i++;
    }
    if (i === st || i - st > 4) return null;
    cur.push(v);
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return null;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (gap) return null;
      gap = true;
      cur = tail;
      i++;
      if (i === n) break;
    } else if (i === n) return null;
  }
  const k = head.length + tail.length;
  if (gap ? k > 7 : k !== 8) return null;
  if (!gap) return head;
  const out = head.slice();
  for (let z = k; z < 8; z++) out.push(0);
  for (const t of tail) out.push(t);
  return out;
}

export function familyOf(addr: string): Family | null {
  if (plainV4(addr)) return 4;
  if (addr.includes(':') && plainV6(addr) !== null) return 6;
  return familyByRegex(addr);
}

/** familyOf by node:net's checks alone (the reference test/model/addr-fast.test.ts holds familyOf to) */
export function familyByRegex(addr: string): Family | null {
  if (isIPv4(addr)) return 4;
  if (isIPv6(addr)) return 6;
  return null;
}

/**
 * Canonical prefix "addr/len" with host bits cleared, or null. Accepts a bare address
 * (host prefix), and iproute2's `default` when a family is given.
 */
export function canonPrefix(text: string, family?: Family): string | null {
  const s = text.trim();
  if (s === 'default' || s === 'all' || s === 'any') {
    if (family === 4) return '0.0.0.0/0';
    if (family === 6) return '::/0';
    return null;
  }
  const slash = s.indexOf('/');
  const a = slash < 0 ? s : s.slice(0, slash);
  const fam = familyOf(a);
  if (fam === null) {
    // iproute2 prints short IPv4 network prefixes like "10/8" in some older outputs.
    if (slash > 0 && /^\d+(\.\d+){0,2}$/.test(a)) {
      const parts = a.split('.');
      while (parts.length < 4) parts.push('0');
      return canonPrefix(parts.join('.') + s.slice(slash), family);
    }
    return null;
  }
  if (family !== undefined && fam !== family) return null;
  const max = fam === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const l = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l)) return null;
    len = Number(l);
    if (len > max) return null;
  }
  // familyOf accepts a zone id (`fe80::1%eth0/64`) but ipToBytes does not: not a routable prefix.
  const bytes = ipToBytes(a);
  if (bytes === null) return null;
  maskBytes(bytes, len);
  return `${bytesToIp(bytes)}/${len}`;
}

export function ipToBytes(addr: string): Uint8Array | null {
  // the usual forms by hand, as canonIp reads them: node:net's IPv6 regular expression costs ~20 ms the first
  // time it runs (a trace's first prefix, in ip rules), and microseconds each time after
  if (plainV4(addr)) return Uint8Array.from(addr.split('.').map(Number));
  const g = plainV6(addr);
  if (g !== null) return groupBytes(g);
  return ipToBytesByRegex(addr);
}

/** ipToBytes by node:net's checks alone (the reference test/model/addr-fast.test.ts holds ipToBytes to) */
export function ipToBytesByRegex(addr: string): Uint8Array | null {
  if (isIPv4(addr)) return Uint8Array.from(addr.split('.').map(Number));
  if (isIPv6(addr) && !addr.includes('%')) return groupBytes(expandV6(addr));
  return null;
}

/** The 16 bytes of an IPv6 address's eight groups. */
function groupBytes(groups: readonly number[]): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i]! >> 8;
    out[i * 2 + 1] = groups[i]! & 0xff;
  }
  return out;
}

export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  return compressV6(groups);
}

function maskBytes(b: Uint8Array, len: number): void {
  for (let i = 0; i < b.length; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    b[i] = b[i]! & ((0xff << (8 - bits)) & 0xff);
  }
}

function expandV6(s: string): number[] {
  let text = s;
  // embedded IPv4 tail (::ffff:192.0.2.1)
  const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text =
      text.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':').filter((x) => x !== '') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  return [...h, ...Array(fill).fill('0'), ...t].map((g) => parseInt(g, 16));
}

function compressV6(groups: number[]): string {
  // RFC 5952: longest run (≥2) of zero groups becomes "::", first one on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** True when `addr` lies inside canonical-or-not `prefix`. */
export function prefixContains(prefix: string, addr: string): boolean {
  const p = canonPrefix(prefix);
  const a = ipToBytes(addr);
  if (!p || !a) return false;
  const [net, lenText] = p.split('/');
  const n = ipToBytes(net!)!;
  if (n.length !== a.length) return false;
  maskBytes(a, Number(lenText));
  return a.every((x, i) => x === n[i]);
}

export function prefixLen(prefix: string): number {
  return Number(prefix.slice(prefix.indexOf('/') + 1));
}

/** Host part of a WireGuard endpoint or a Service backend: `192.0.2.1:51820` or `[2001:db8::1]:51820`. */
export function endpointHost(ep: string): string {
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(ep);
  if (v6) return v6[1]!;
  const v4 = /^([^:]+):\d+$/.exec(ep);
  return v4 ? v4[1]! : ep;
}

/** `192.0.2.1:80` or `[2001:db8::1]:80`: how frontends and backends are written everywhere netpath prints one. */
export function joinHostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** `addr:port` or `[v6]:port` (iptables --to-destination, ipvsadm) as a canonical address and a port. */
export function splitHostPort(text: string): { addr: string; port: number } | null {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:]+):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const addr = canonIp(m[1]!);
  const port = Number(m[2]);
  if (addr === null || port > 65535) return null;
  return { addr, port };
}
