import { canonIp } from '../../model/addr.js';

/** A WireGuard key as wg prints it: 32 bytes in standard base64 (43 characters and `=`). */
export const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
/**
 * Anything that could be key material, anywhere in a line: any run of 40 or more base64 (or
 * base64url, or hex) characters, padded or not. Deliberately loose.
 */
export const KEY_LIKE = /[A-Za-z0-9+/_-]{40,}={0,2}/g;

export type LineShape = 'interface' | 'peer' | 'iface-interface' | 'iface-peer' | 'unknown';

/**
 * Splits a dump line into fields and the separators between them, so a line can be put back
 * together unchanged. wg separates with tabs; a paste may have turned them into spaces.
 */
export function splitFields(line: string): { fields: string[]; seps: string[] } {
  const parts = line.includes('\t') ? line.split(/(\t)/) : line.split(/( +)/);
  const fields: string[] = [];
  const seps: string[] = [];
  for (const [i, p] of parts.entries()) (i % 2 === 0 ? fields : seps).push(p);
  return { fields, seps };
}

export function joinFields(fields: string[], seps: string[]): string {
  return fields.map((f, i) => (i < seps.length ? f + seps[i] : f)).join('');
}

const FWMARK = /^(off|0x[0-9a-f]{1,8}|\d{1,10})$/i;
const PORT = /^\d{1,5}$/;
const KEEPALIVE = /^(off|\d{1,5})$/;
const COUNTER = /^\d{1,20}$/;
const IFNAME = /^[^\s/:]{1,15}$/;
const KEY_OR_NONE = (s: string) => s === '(none)' || WG_KEY.test(s);

/**
 * Which line of `wg show all dump` (or of `wg show IFACE dump`, without the interface column)
 * this is. A line is only given a shape when every non-secret column looks right, so that a
 * damaged line is treated as unknown.
 */
export function lineShape(f: string[]): LineShape {
  if (f.length === 5 && IFNAME.test(f[0]!) && KEY_OR_NONE(f[2]!) && PORT.test(f[3]!) && FWMARK.test(f[4]!))
    return 'interface';
  if (f.length === 9 && IFNAME.test(f[0]!) && peerTail(f.slice(1))) return 'peer';
  if (f.length === 4 && KEY_OR_NONE(f[1]!) && PORT.test(f[2]!) && FWMARK.test(f[3]!)) return 'iface-interface';
  if (f.length === 8 && peerTail(f)) return 'iface-peer';
  return 'unknown';
}

// public-key, preshared-key, endpoint, allowed-ips, latest-handshake, rx, tx, keepalive
function peerTail(f: string[]): boolean {
  return (
    WG_KEY.test(f[0]!) &&
    !/\s/.test(f[2]!) &&
    !/\s/.test(f[3]!) &&
    COUNTER.test(f[4]!) &&
    COUNTER.test(f[5]!) &&
    COUNTER.test(f[6]!) &&
    KEEPALIVE.test(f[7]!)
  );
}

/** Index of the secret column of a line of that shape (private key or preshared key). */
export function secretColumn(shape: LineShape): number | undefined {
  switch (shape) {
    case 'interface':
      return 1;
    case 'peer':
      return 2;
    case 'iface-interface':
      return 0;
    case 'iface-peer':
      return 1;
    default:
      return undefined;
  }
}

/** `ip:port` or `[v6]:port` with the address in canonical form (a peer's endpoint), or null. */
export function endpoint(s: string): string | null {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(s) ?? /^([0-9.]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535) return null;
  const ip = canonIp(m[1]!);
  if (ip === null) return null;
  return ip.includes(':') ? `[${ip}]:${m[2]}` : `${ip}:${m[2]}`;
}
