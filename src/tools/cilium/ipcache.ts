import type { IpcacheEntry, Parsed } from '../../model/types.js';
import { canonIp, canonPrefix } from '../../model/addr.js';
import { cleanText, DANGEROUS_KEYS, ev, looksLikeJson, parseJsonText } from '../common.js';
import { ParseError } from '../parse-error.js';
import { parseMapDump, type BtfLayout, type RawEntry } from '../bpf-map/dump.js';
import { Warnings } from '../warnings.js';

function u(s: string | undefined, max: number): number | undefined {
  if (s === undefined || !/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= max ? n : undefined;
}

/** `10.0.0.0/24` or, with clustermesh, `10.0.0.0/24@2` (Cilium's PrefixCluster text). */
function prefixOf(s: string): { prefix: string; clusterId?: number } | undefined {
  const at = s.indexOf('@');
  const p = canonPrefix(at < 0 ? s : s.slice(0, at));
  if (p === null || !s.slice(0, at < 0 ? undefined : at).includes('/')) return undefined;
  if (at < 0) return { prefix: p };
  const c = u(s.slice(at + 1), 0xffff);
  return c === undefined ? undefined : { prefix: p, clusterId: c };
}

/**
 * One ipcache value as `RemoteEndpointInfo.String()` prints it (pkg/maps/ipcache/ipcache.go):
 * `identity=N encryptkey=N tunnelendpoint=IP` then `flags=a,b` (1.15+, cilium/cilium#29796), `nodeid=N`
 * (seen in a 1.14 `map get` paste), `vtepmac=` (1.12 VTEP). Unknown `key=value` words are kept in `extra`, as printed.
 */
function entryOf(text: string, prefix: { prefix: string; clusterId?: number }, line: string, probe: string) {
  const e: IpcacheEntry = { prefix: prefix.prefix, identity: 0, source: ev(probe, line) };
  if (prefix.clusterId !== undefined) e.clusterId = prefix.clusterId;
  let identity: number | undefined;
  for (const w of text.trim().split(/\s+/)) {
    const eq = w.indexOf('=');
    if (eq <= 0) return undefined;
    const k = w.slice(0, eq);
    const v = w.slice(eq + 1);
    if (k === 'identity') identity = u(v, 0xffffffff);
    else if (k === 'encryptkey') {
      const n = u(v, 255);
      if (n === undefined) return undefined;
      e.encryptKey = n;
    } else if (k === 'tunnelendpoint') {
      const ip = canonIp(v);
      if (ip === null) return undefined;
      if (ip !== '0.0.0.0' && ip !== '::') e.tunnelEndpoint = ip;
    } else if (k === 'flags') {
      e.flags = v === '<none>' ? [] : v.split(',').filter((f) => /^[a-z0-9_-]{1,32}$/.test(f));
    } else if (!DANGEROUS_KEYS.has(k) && /^[a-z0-9_-]{1,32}$/.test(k)) {
      e.extra ??= Object.create(null) as Record<string, string>;
      e.extra[k] = v.slice(0, 64);
    }
  }
  if (identity === undefined) return undefined;
  e.identity = identity;
  return e;
}

/**
 * `cilium-dbg bpf ipcache list` (and `cilium bpf ipcache list` before 1.15): the `IP PREFIX/ADDRESS  IDENTITY`
 * table, where a prefix with several values prints the others on lines of their own with an empty first
 * column; or its `-o json` form, an object from prefix to the list of value strings.
 */
export function parseCiliumIpcache(text: string, probe: string): Parsed<IpcacheEntry[]> {
  const clean = cleanText(text);
  const warnings = new Warnings(probe);
  const out: IpcacheEntry[] = [];
  if (looksLikeJson(clean)) {
    const r = parseJsonText(clean);
    if (!r.ok) throw new ParseError(probe, r.message);
    if (r.value === null || typeof r.value !== 'object' || Array.isArray(r.value))
      throw new ParseError(probe, 'expected a JSON object from prefix to values (`bpf ipcache list -o json`)');
    for (const [k, vs] of Object.entries(r.value as Record<string, unknown>)) {
      const p = DANGEROUS_KEYS.has(k) ? undefined : prefixOf(k);
      const list = Array.isArray(vs) ? vs : [vs];
      for (const v of list) {
        const e = p && typeof v === 'string' ? entryOf(v, p, `${k} ${v}`, probe) : undefined;
        if (e) out.push(e);
        else warnings.add('entry-skipped', `${k.slice(0, 60)}: not an ipcache entry; skipped`);
      }
    }
    return { value: out, warnings: warnings.done() };
  }
  let last: { prefix: string; clusterId?: number } | undefined;
  let sawHeader = false;
  for (const raw of clean.split('\n')) {
    const line = raw.trim();
    if (line === '' || /^-+$/.test(line) || line === 'No entries found.') continue;
    if (/^IP PREFIX\/ADDRESS\s+IDENTITY$/.test(line)) {
      sawHeader = true;
      continue;
    }
    const m = /^(\S+)\s+(.*)$/.exec(line);
    const first = m?.[1] ?? line;
    let p: { prefix: string; clusterId?: number } | undefined;
    let rest: string;
    if (first.includes('=')) {
      p = last; // a further value of the prefix above
      rest = line;
    } else {
      p = prefixOf(first);
      rest = m?.[2] ?? '';
      last = p;
    }
    const e = p ? entryOf(rest, p, line, probe) : undefined;
    if (e) out.push(e);
    else warnings.add('line-skipped', `\`${line.slice(0, 120)}\` is not an ipcache line; skipped`);
  }
  if (out.length === 0 && !sawHeader) throw new ParseError(probe, 'no `IP PREFIX/ADDRESS  IDENTITY` table');
  return { value: out, warnings: warnings.done() };
}

/**
 * Byte layout of the pinned ipcache map, as read in Cilium's source (pkg/maps/ipcache/ipcache.go on main,
 * commit 0141cb1c: `Key`, `RemoteEndpointInfo`, `RemoteEndpointInfoV1`; the C side is struct ipcache_key /
 * struct remote_endpoint_info in bpf/lib/eps.h, bpf/lib/maps.h in older trees):
 * - key, 24 bytes: u32 LPM prefix length (host order) that counts the 32 bits of cluster_id (u16, `pad1` before
 *   clustermesh used it), a pad byte and family (1 IPv4, 2 IPv6); then 16 address bytes, IPv4 in the first four.
 * - value of `cilium_ipcache` (the map before 1.18; `RemoteEndpointInfoV1`), 12 bytes: u32 identity, IPv4
 *   tunnel endpoint, u16 (node_id in older trees, padding on main), u8 key, u8 flags. The flags byte was padding
 *   until cilium/cilium#29796 (Dec 2023, 1.15) took it, so a zero there proves nothing on an older agent.
 * - value of `cilium_ipcache_v2` (1.18+; `RemoteEndpointInfo`), 24 bytes: u32 identity, 16-byte tunnel endpoint
 *   (IPv4 in the first four unless the ipv6tunnel flag is set), u16 pad, u8 key, u8 flags.
 * Flag bits (RemoteEndpointInfoFlags): 1 skiptunnel, 2 hastunnel, 4 ipv6tunnel, 8 remotecluster.
 */
export const IPCACHE_KEY_LAYOUT: BtfLayout = [
  { names: ['lpm_key'], size: 4 },
  { names: ['cluster_id', 'pad1'], size: 2, optional: true },
  { names: ['pad2', 'pad1'], size: 1, optional: true },
  { names: ['family'], size: 1 },
  { names: ['ip6', 'ip4', ''], size: 16 },
];
export const IPCACHE_VALUE_LAYOUT: BtfLayout = [
  { names: ['sec_identity', 'sec_label'], size: 4 },
  { names: ['tunnel_endpoint'], size: 16 },
  { names: ['pad'], size: 2, optional: true },
  { names: ['key'], size: 1 },
  { names: ['flags'], size: 1, optional: true },
];

const FLAG_NAMES: [number, string][] = [
  [1, 'skiptunnel'],
  [2, 'hastunnel'],
  [4, 'ipv6tunnel'],
  [8, 'remotecluster'],
];

function u32le(b: number[], at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function ipText(b: number[]): string {
  if (b.length === 4) return b.join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return canonIp(words.join(':'))!;
}

/** Where the addresses of one raw ipcache entry are, for decoding and for redaction; undefined when unreadable. */
export function ipcacheEntryShape(
  e: RawEntry,
): { family: 4 | 6; bits: number; alen: 4 | 16; tunnelAt: number; tunnelLen: 4 | 16; v2: boolean } | undefined {
  if (e.key.length !== 24 || (e.value.length !== 12 && e.value.length !== 24)) return undefined;
  const family = e.key[7] === 1 ? 4 : e.key[7] === 2 ? 6 : undefined;
  if (family === undefined) return undefined;
  const alen = family === 4 ? 4 : 16;
  const bits = u32le(e.key, 0) - 32;
  if (bits < 0 || bits > alen * 8) return undefined;
  const v2 = e.value.length === 24;
  const tunnelLen = v2 && (e.value[23]! & 4) !== 0 ? 16 : 4;
  return { family, bits, alen, tunnelAt: 4, tunnelLen, v2 };
}

/**
 * A `bpftool -j map dump pinned …/cilium_ipcache[_v2]` into ipcache entries (layout above). An entry whose
 * sizes or family match no version is skipped with a warning.
 */
export function decodeIpcacheMap(text: string, probe: string): Parsed<IpcacheEntry[]> {
  const d = parseMapDump(text, probe, { key: IPCACHE_KEY_LAYOUT, value: IPCACHE_VALUE_LAYOUT });
  // the dump's own warnings (capped by its reader) come first, as the dump is read before any entry is decoded
  const warnings = new Warnings(probe).preface(d.warnings);
  const out: IpcacheEntry[] = [];
  for (const e of d.entries) {
    const s = ipcacheEntryShape(e);
    if (!s) {
      warnings.add(
        'entry-skipped',
        `${probe} entry #${e.index}: ${e.key.length}-byte key / ${e.value.length}-byte value is not an ipcache entry of any known version; skipped`,
      );
      continue;
    }
    const addr = ipText(e.key.slice(8, 8 + s.alen));
    const prefix = canonPrefix(`${addr}/${s.bits}`)!;
    const identity = u32le(e.value, 0);
    const tun = ipText(e.value.slice(4, 4 + s.tunnelLen));
    const key = s.v2 ? e.value[22]! : e.value[10]!;
    const flagByte = s.v2 ? e.value[23]! : e.value[11]!;
    const cluster = e.key[4]! | (e.key[5]! << 8);
    const hex = (b: number[]) => b.map((x) => x.toString(16).padStart(2, '0')).join(' ');
    const entry: IpcacheEntry = {
      prefix,
      identity,
      encryptKey: key,
      source: ev(probe, `key: ${hex(e.key)}  value: ${hex(e.value)}`),
    };
    if (tun !== '0.0.0.0' && tun !== '::') entry.tunnelEndpoint = tun;
    // v1 values before 1.15 have padding where the flags are (see above): a zero byte there proves nothing
    if (s.v2 || flagByte !== 0) entry.flags = FLAG_NAMES.filter(([bit]) => (flagByte & bit) !== 0).map(([, n]) => n);
    if (cluster !== 0) entry.clusterId = cluster;
    out.push(entry);
  }
  return { value: out, warnings: warnings.done() };
}
