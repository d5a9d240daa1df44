export const REDACTED = '(redacted)';

// `enc NAME KEY`, `auth NAME KEY`, `auth-trunc NAME KEY TRUNC`, `aead NAME KEY ICV`: iproute2's ipxfrm.c prints
// the key right after the algorithm name (as `0x…` hex, or as text when `ip -s` is not set and it is printable).
// `enc-mask ffffffff` (policy templates) is not a key: the keyword must be followed by blank space.
const ALGO_KEY = /(^|\s)(enc|auth|auth-trunc|aead)([ \t]+)(\S+)([ \t]+)(\S+)/g;
// A key never reaches 17+ hex digits anywhere else in xfrm output (marks, SPIs and bitmaps are 32-bit words):
// any such token is removed too, so a line in an unknown shape cannot leak one.
const LONG_HEX = /\b(0x)?[0-9a-fA-F]{17,}\b/g;

/**
 * Removes the key material from `ip xfrm state` output before it is stored: the key after every `enc`, `auth`,
 * `auth-trunc` and `aead` algorithm name becomes `(redacted)`, and so does any long hex run. Everything else
 * (addresses, SPIs, marks, algorithm names) is left byte for byte.
 */
export function redactXfrm(text: string): string {
  return text
    .replace(
      ALGO_KEY,
      (_m, pre: string, kw: string, s1: string, name: string, s2: string) => `${pre}${kw}${s1}${name}${s2}${REDACTED}`,
    )
    .replace(LONG_HEX, REDACTED);
}
