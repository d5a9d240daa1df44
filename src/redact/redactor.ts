import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { bytesToIp, ipToBytes } from '../model/addr.js';
import { SourceError } from '../errors.js';
import { PrefixMap, range } from './prefix-map.js';

/**
 * Consistent, keyed redaction of the identifying parts of probe output (docs/safety.md, "Redaction"):
 * IP addresses (prefix-preserving, special ranges kept), link-layer addresses, WireGuard public keys
 * and node names. One Redactor holds one key: every file and every node redacted through it uses the
 * same placeholders. The key lives in memory only.
 */

const sub = (key: Buffer, label: string, n = 16): Buffer =>
  createHmac('sha256', key).update(label).digest().subarray(0, n);

const V4_MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Words a node name must not be, or replacing it in free text would change the meaning of a probe. */
const RESERVED_NAMES = new Set(
  (
    'all any default main local host dev via table lookup proto scope link kernel static boot src dst from to none true false yes no ' +
    'ok on off up down inet inet6 ip ip6 ipv4 ipv6 tcp udp icmp sctp nat filter raw mangle security accept drop reject return jump goto ' +
    'counter cilium localhost unknown null world health reserved init gateway node remote router bridge lo ingress egress redacted ' +
    'enabled disabled strict partial probe disabled ok warning error'
  ).split(' '),
);

export interface RedactorOptions {
  /** 32 random bytes by default: a fresh mapping per run */
  key?: Buffer;
}

export class Redactor {
  private readonly v4: PrefixMap;
  private readonly v6: PrefixMap;
  private readonly hw = new Map<number, PrefixMap>();
  private readonly nameKey: Buffer;
  private readonly wgKeyKey: Buffer;
  private readonly key: Buffer;
  private readonly cache = new Map<string, string>();
  /** known node names (and FQDNs) → placeholder */
  private readonly names = new Map<string, string>();
  /** names only replaced in their own contexts (hostname, manifest, nodeName fields), not in free text */
  readonly reservedNames = new Set<string>();
  private nameRe: RegExp | null = null;
  private readonly shortKeys = new Map<string, string>();

  constructor(opts: RedactorOptions = {}) {
    this.key = opts.key ?? randomBytes(32);
    this.v4 = new PrefixMap(sub(this.key, 'ipv4'), sub(this.key, 'ipv4-pad'), 32, [
      range([0, 0, 0, 0], 8, 32), // "this network", 0.0.0.0
      range([127, 0, 0, 0], 8, 32), // loopback
      range([224, 0, 0, 0], 4, 32), // multicast
      range([255, 255, 255, 255], 32, 32), // limited broadcast
      range([169, 254, 0, 0], 16, 16), // link-local: stays link-local, host part mapped
      // Cilium's default service loopback (ipv4-service-loopback-address): a constant the trace compares
      // against, not a node's address; mapping it would make a redacted config claim a non-default value
      range([169, 254, 42, 1], 32, 32),
    ]);
    const z = new Array<number>(16).fill(0);
    const v6 = (head: number[], len: number, keep: number, inner?: (b: Uint8Array) => Uint8Array) =>
      range([...head, ...z].slice(0, 16), len, keep, inner);
    this.v6 = new PrefixMap(sub(this.key, 'ipv6'), sub(this.key, 'ipv6-pad'), 128, [
      v6([], 128, 128), // ::
      v6([...z.slice(0, 15), 1], 128, 128), // ::1
      v6(V4_MAPPED, 96, 96, (b) => this.v4.map(b)), // ::ffff:a.b.c.d: the IPv4 map inside
      v6([0xfe, 0x80], 10, 64), // link-local: fe80::/64 kept, interface id mapped (it often embeds the MAC)
      v6([0xff], 8, 128), // multicast
      v6([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff], 104, 104), // solicited-node: low 24 bits of a unicast address
    ]);
    this.nameKey = sub(this.key, 'names', 32);
    this.wgKeyKey = sub(this.key, 'wg-public-keys', 32);
  }

  static fromKeyFile(path: string): Redactor {
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new SourceError(
        path,
        code === 'ENOENT' ? 'no such key file' : code === 'EACCES' ? 'permission denied' : `cannot read (${code})`,
      );
    }
    if (buf.length < 16)
      throw new SourceError(
        path,
        `a redaction key file needs at least 16 bytes of secret (it has ${buf.length}); e.g. head -c 32 /dev/urandom > ${path}`,
      );
    // any content works; the mapping key is derived from all of it
    return new Redactor({ key: createHmac('sha256', 'netpath-redact-key-file').update(buf).digest() });
  }

  // -------------------------------------------------------------------------------------------
  // Addresses

  /** Mapped bytes of an address (4 or 16 bytes). */
  ipBytes(b: Uint8Array): Uint8Array {
    return b.length === 4 ? this.v4.map(b) : this.v6.map(b);
  }

  /**
   * Mapped address, canonical; with `len`, a network prefix whose host bits are zero keeps them zero
   * (its first `len` bits are those of every mapped address inside it). null when `text` is not an address.
   */
  ip(text: string, len?: number): string | null {
    const k = len === undefined ? text : `${text}/${len}`;
    const hit = this.cache.get(k);
    if (hit !== undefined) return hit;
    const b = ipToBytes(text);
    if (b === null) return null;
    const width = b.length * 8;
    const m = this.ipBytes(b);
    if (len !== undefined && len < width && hostBitsZero(b, len)) clearHost(m, len);
    let out = bytesToIp(m);
    // keep the dotted tail of an IPv4-mapped address readable and greppable
    if (b.length === 16 && V4_MAPPED.every((x, i) => m[i] === x) && /\d+\.\d+\.\d+\.\d+$/.test(text))
      out = `::ffff:${Array.from(m.subarray(12)).join('.')}`;
    this.cache.set(k, out);
    return out;
  }

  /** Link-layer address (`aa:bb:cc:dd:ee:ff`, any length): the I/G and U/L bits and multicast addresses kept. */
  mac(text: string): string {
    const hit = this.cache.get(`hw:${text}`);
    if (hit !== undefined) return hit;
    const bytes = Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
    const upper = /[A-F]/.test(text);
    let out: Uint8Array;
    if (bytes.every((x) => x === 0) || bytes.every((x) => x === 0xff)) out = bytes;
    else if (bytes.length === 6 && bytes[0] === 0x33 && bytes[1] === 0x33 && bytes[2] === 0xff) {
      // solicited-node multicast: the low 24 bits of the IPv6 address it is derived from, mapped the same way
      const v6 = new Uint8Array(16);
      v6.set([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, bytes[3]!, bytes[4]!, bytes[5]!]);
      out = Uint8Array.from([0x33, 0x33, 0xff, ...this.v6.map(v6).subarray(13)]);
    } else if (bytes[0]! & 1) out = bytes;
    else {
      let pm = this.hw.get(bytes.length);
      if (!pm) {
        // the I/G and U/L bits (the two low bits of the first octet) are kept: local stays local
        const lenKey = sub(this.key, `hw-${bytes.length}`);
        pm = new PrefixMap(lenKey, sub(this.key, `hw-${bytes.length}-pad`), bytes.length * 8);
        this.hw.set(bytes.length, pm);
      }
      out = pm.map(bytes);
      out[0] = (out[0]! & 0xfc) | (bytes[0]! & 0x03);
    }
    let s = Array.from(out, (x) => x.toString(16).padStart(2, '0')).join(':');
    if (upper) s = s.toUpperCase();
    this.cache.set(`hw:${text}`, s);
    return s;
  }

  /** A WireGuard public key (base64 of 32 bytes) → another valid key, the same everywhere. */
  wgKey(b64: string): string {
    const m = createHmac('sha256', this.wgKeyKey).update(Buffer.from(b64, 'base64')).digest('base64');
    this.shortKeys.set(b64.slice(0, 8), m.slice(0, 8));
    return m;
  }

  /**
   * Registers the keys in `text`, so their 8-character abbreviations (`peer 8AvCO8+/…` in a trace) map to
   * the abbreviation of the mapped key. Call it on a whole output before redacting its parts.
   */
  learnKeys(text: string): void {
    for (const m of text.matchAll(WG_KEY)) this.wgKey(m[0]);
  }

  // -------------------------------------------------------------------------------------------
  // Names

  /** The placeholder of a node name (`node-` and 8 letters/digits); an FQDN maps as its first label. */
  name(n: string): string {
    const label = n.split('.')[0]!;
    const h = createHmac('sha256', this.nameKey).update(label).digest();
    let s = '';
    for (let i = 0; i < 8; i++) s += 'abcdefghijklmnopqrstuvwxyz234567'[h[i]! & 31];
    return `node-${s}`;
  }

  /** Registers node names to replace wherever they stand as a whole word. Addresses are left to the address map. */
  addNames(names: Iterable<string>): void {
    const all = [...names].flatMap((raw) => {
      const n = raw.trim();
      // an FQDN and its first label name the same node
      return n.includes('.') && !isIPv4(n) && !isIPv6(n) ? [n, n.split('.')[0]!] : [n];
    });
    for (const n of all) {
      if (n === '' || this.names.has(n) || isIPv4(n) || isIPv6(n) || PLACEHOLDER.test(n)) continue;
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/.test(n)) continue;
      this.names.set(n, this.name(n));
      if (n.length < 2 || /^\d+$/.test(n) || RESERVED_NAMES.has(n.toLowerCase())) this.reservedNames.add(n);
      this.nameRe = null;
    }
  }

  /** Marks names that are also device or namespace names: replacing them in text would rename those too. */
  reserveNames(words: Iterable<string>): void {
    for (const w of words) if (this.names.has(w)) this.reservedNames.add(w);
    this.nameRe = null;
  }

  knownNames(): string[] {
    return [...this.names.keys()];
  }

  /** The placeholder for a string that is a node name in its own right (hostname.txt, manifest node). */
  nodeName(n: string): string {
    const t = n.trim();
    if (isIPv4(t) || isIPv6(t)) return this.ip(t) ?? t;
    // already a placeholder (a name redacted where it was made)
    if (PLACEHOLDER.test(t)) return t;
    return this.names.get(t) ?? this.name(t);
  }

  // -------------------------------------------------------------------------------------------
  // Text

  /**
   * Every address, link-layer address, WireGuard key and known node name in free text, replaced.
   * `shortPrefixes`: iproute2's `10.244/16` forms are prefixes (only in ip's own output).
   */
  text(s: string, opts: { shortPrefixes?: boolean } = {}): string {
    // colour codes could split a token in two (`\e[32m10.0.0.1`): they go
    let t = s.includes('\u001b') ? s.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\u001b/g, '') : s;
    t = t.replace(WG_KEY, (k) => this.wgKey(k));
    // netpath's own abbreviation of a key; one it has not seen whole is hashed on its own
    t = t.replace(
      SHORT_KEY,
      (_m, pre: string, k: string) =>
        `${pre}${this.shortKeys.get(k) ?? createHmac('sha256', this.wgKeyKey).update(k).digest('base64').slice(0, 8)}…`,
    );
    t = t.replace(EC2_NAME, (_m, a: string, b: string, c: string, d: string) => {
      const ip = `${Number(a)}.${Number(b)}.${Number(c)}.${Number(d)}`;
      const m = isIPv4(ip) ? this.ip(ip) : null;
      return m === null ? _m : `ip-${m.replace(/\./g, '-')}`;
    });
    t = t.replace(RUN, (run: string, at: number, whole: string) => {
      // inside a word only a dotted quad is an address (`https__…`, `tcp10.0.0.1`): no IPv6 or MAC reading
      if (glued(whole, at, run)) return run.replace(QUAD, (q) => (isIPv4(q) ? (this.ip(q) ?? q) : q));
      // `hubble-listen-address::4244`, `addr:10.0.0.1`: colons or dots right after a word separate it from what
      // follows; they are never the start of an address
      let n = 0;
      if (isAlnum(whole.charCodeAt(at - 1))) while (run[n] === ':' || run[n] === '.') n++;
      if (n === run.length) return run;
      const shortPrefixes = opts.shortPrefixes === true;
      return n === 0
        ? this.run(run, whole, at + run.length, shortPrefixes)
        : run.slice(0, n) + this.run(run.slice(n), whole, at + run.length, shortPrefixes);
    });
    t = this.replaceNames(t);
    return t;
  }

  private replaceNames(t: string): string {
    const re = this.namesRegex();
    return re === null ? t : t.replace(re, (n) => this.names.get(n) ?? n);
  }

  private namesRegex(): RegExp | null {
    if (this.nameRe !== null) return this.nameRe;
    const list = [...this.names.keys()].filter((n) => !this.reservedNames.has(n)).sort((a, b) => b.length - a.length);
    if (list.length === 0) return null;
    const esc = list.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    // a whole word: not inside a longer name, a device name (`k1-port`) or a domain (`k1.example.com`)
    this.nameRe = new RegExp(`(?<![A-Za-z0-9_.-])(?:${esc.join('|')})(?![A-Za-z0-9_-]|\\.[A-Za-z0-9])`, 'g');
    return this.nameRe;
  }

  /** One run of hex digits, dots and colons, followed in `whole` at `end` by what comes after it. */
  private run(run: string, whole: string, end: number, shortPrefixes: boolean): string {
    const plen = /^\/(\d{1,3})(?!\d)/.exec(whole.slice(end, end + 5));
    const len = plen ? Number(plen[1]) : undefined;
    if (!/[:.]/.test(run)) {
      // only iproute2's `10/8` can be an address without a dot or colon
      if (!(shortPrefixes && len !== undefined && /^\d{1,3}$/.test(run))) return run;
    }
    const one = (x: string, l?: number): string | null => {
      // a 6-byte MAC anywhere; longer colon-hex (EUI-64, InfiniBand, or a program tag printed as bytes) only
      // where a link-layer address stands
      if (
        HW.test(x) &&
        (x.length === 17 || LL_BEFORE.test(whole.slice(Math.max(0, end - run.length - 24), end - run.length)))
      )
        return this.mac(x);
      if (HW.test(x)) return null;
      if (isIPv4(x) || (isIPv6(x) && !x.includes('%'))) {
        const max = isIPv4(x) ? 32 : 128;
        return this.ip(x, l !== undefined && l <= max ? l : undefined);
      }
      return null;
    };
    // colon-separated byte pairs that are no link-layer address (a program tag printed as bytes): inet_ntop
    // never prints an IPv6 address as eight 2-digit groups in practice, so it is not one either
    if (HW.test(run)) return one(run, len) ?? run;
    const direct = one(run, len);
    if (direct !== null) return direct;
    // `:10.0.0.1`, `10.0.0.1.`, `fe80::1:` (punctuation around an address)
    const m = /^([:.]*)(.*?)([:.]*)$/.exec(run)!;
    if (m[2] !== run && m[2] !== '') {
      const inner = one(m[2]!, m[3] === '' ? len : undefined);
      if (inner !== null) return m[1] + inner + m[3];
      // `::` is part of an IPv6 address: put back leading colons it may need
      const withLead = one(m[1] + m[2]!, m[3] === '' ? len : undefined);
      if (withLead !== null) return withLead + m[3];
    }
    if (shortPrefixes && len !== undefined && /^\d{1,3}(\.\d{1,3}){0,2}$/.test(run)) {
      const parts = run.split('.');
      if (len <= parts.length * 8 && parts.every((p) => Number(p) <= 255)) {
        while (parts.length < 4) parts.push('0');
        const mapped = this.ip(parts.map(Number).join('.'), len);
        if (mapped !== null) return mapped;
      }
    }
    // anything else (`10.0.0.1:8080`, `::ffff:10.0.0.1:80`, a bridge id `8000.4a:4c:ed:1e:51:e4`): what is inside
    return run
      .replace(QUAD, (q) => (isIPv4(q) ? (this.ip(q) ?? q) : q))
      .replace(HW_IN, (h) => (h.length === 17 ? this.mac(h) : h));
  }

  // -------------------------------------------------------------------------------------------
  // JSON

  /**
   * A parsed JSON value with every string redacted as text; `{x, xlen}` and nft's `{addr, len}` pairs are
   * read as prefixes; values of node-name keys (`nodeName`, `node-name`) are node names.
   */
  json(v: unknown, opts: { shortPrefixes?: boolean } = {}, depth = 0): unknown {
    if (typeof v === 'string') return this.text(v, opts);
    // nested deeper than any tool prints (found by fuzzing: 10,000 levels overflowed the stack): the caller
    // redacts such a document as text
    if (depth > MAX_JSON_DEPTH) throw new RangeError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    if (Array.isArray(v)) return v.map((x) => this.json(x, opts, depth + 1));
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      const lenKey = k === 'addr' ? 'len' : `${k}len`;
      const plen = o[lenKey];
      let y: unknown;
      if (typeof x === 'string' && typeof plen === 'number' && Number.isInteger(plen) && (isIPv4(x) || isIPv6(x)))
        y = this.ip(x, plen) ?? this.text(x, opts);
      else if (typeof x === 'string' && NODE_NAME_KEYS.test(k) && x.trim() !== '') y = this.nodeName(x);
      else y = this.json(x, opts, depth + 1);
      // keys can hold addresses too (maps keyed by IP); own property, so `__proto__` stays data
      Object.defineProperty(out, this.text(k), { value: y, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}

export const MAX_JSON_DEPTH = 256;

/** How deep a JSON text nests (brackets outside strings), without parsing it. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if (c === 93 || c === 125) depth--;
  }
  return max;
}

const PLACEHOLDER = /^node-[a-z2-7]{8}$/;
const NODE_NAME_KEYS = /^(node|node[-_]?name|nodename|hostname|host-name)$/i;

/** 32-byte base64 tokens: WireGuard keys (cilium-dbg status prints the node's public key too). */
const WG_KEY = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=(?![A-Za-z0-9+/=])/g;
const SHORT_KEY = /(peer |Pubkey: )([A-Za-z0-9+/]{8})…/g;
/** AWS-style host names that spell an address: ip-10-0-1-23 */
const EC2_NAME = /(?<![A-Za-z0-9])ip-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})(?![0-9])/g;
const RUN = /[0-9A-Fa-f:.]+/g;
const HW = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5,}$/;
const HW_IN = /(?<![0-9A-Fa-f:])[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5,}(?![0-9A-Fa-f:])/g;
const QUAD = /(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])/g;
/** what introduces a link-layer address in ip, bridge and neighbour output */
const LL_BEFORE = /(?:link\/[a-z0-9_]+|brd|lladdr|peer|address|ether|permaddr)\s+$/;

/**
 * A run of hex digits, colons and dots that is part of a longer word (`cilium/v2::CiliumNode`, `xfe80::1`,
 * `lxc0a1b2c3d4e5f`): not a token of its own, so never an address. Punctuation at the run's edge (`addr:10.0.0.1`)
 * separates it from the word, and so does `_` (kube-proxy's nft chain names end in `__<address>/<port>`).
 */
function glued(whole: string, at: number, run: string): boolean {
  return (
    (isAlnum(whole.charCodeAt(at - 1)) && isHex(run.charCodeAt(0))) ||
    (isAlnum(whole.charCodeAt(at + run.length)) && isHex(run.charCodeAt(run.length - 1)))
  );
}

// charCodeAt gives NaN past either end: neither test holds
const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

function hostBitsZero(b: Uint8Array, len: number): boolean {
  for (let i = len; i < b.length * 8; i++) if ((b[i >> 3]! >> (7 - (i & 7))) & 1) return false;
  return true;
}

function clearHost(b: Uint8Array, len: number): void {
  for (let i = len; i < b.length * 8; i++) b[i >> 3]! &= ~(0x80 >> (i & 7)) & 0xff;
}
