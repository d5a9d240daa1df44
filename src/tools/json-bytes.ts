/**
 * Reading JSON straight from bytes, for outputs too large to decode and JSON.parse whole (a node's
 * million routes, LB map dumps): position-based primitives the format scanners build on. Strings are
 * reported as byte ranges and flagged `simple` when they are plain ASCII without escapes, so a
 * scanner can compare them in place and leave anything else to JSON.parse.
 */

// byte values
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const SLASH = 0x2f;
export const DOT = 0x2e;

export const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;

export function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** A cursor over one JSON document's bytes. */
export class JsonBytes {
  p = 0;
  // the string just read: [s0, s1) when simple (ASCII, no escapes, no control characters)
  s0 = 0;
  s1 = 0;
  simple = false;
  // number just read, or -1 when not a u32 integer
  num = -1;
  private readonly stack = new Uint8Array(4096);

  constructor(public b: Uint8Array) {}

  ws(): void {
    const b = this.b;
    let p = this.p;
    while (p < b.length && isWs(b[p]!)) p++;
    this.p = p;
  }

  /** Reads a string at p (at its quote); false on a syntax error. */
  str(): boolean {
    const b = this.b;
    let p = this.p + 1;
    const s0 = p;
    let simple = true;
    for (;;) {
      if (p >= b.length) return false;
      const c = b[p]!;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        simple = false;
        p++;
        if (p >= b.length) return false;
        const e = b[p]!;
        if (e === 0x75) {
          for (let k = 1; k <= 4; k++) if (p + k >= b.length || hexVal(b[p + k]!) < 0) return false;
          p += 4;
        } else if (
          e !== QUOTE &&
          e !== BACKSLASH &&
          e !== SLASH &&
          e !== 0x62 &&
          e !== 0x66 &&
          e !== 0x6e &&
          e !== 0x72 &&
          e !== 0x74
        )
          return false;
      } else if (c < 0x20) return false;
      else if (c >= 0x80) simple = false;
      p++;
    }
    this.s0 = s0;
    this.s1 = p;
    this.simple = simple;
    this.p = p + 1;
    return true;
  }

  /** Hash of the current simple string's bytes. */
  protected hash(): number {
    const b = this.b;
    let h = this.s1 - this.s0;
    for (let i = this.s0; i < this.s1; i++) h = (Math.imul(h, 31) + b[i]!) | 0;
    return h;
  }

  protected text(): string {
    let s = '';
    for (let i = this.s0; i < this.s1; i++) s += String.fromCharCode(this.b[i]!);
    return s;
  }

  /** The current simple string equals w. */
  is(w: string): boolean {
    if (this.s1 - this.s0 !== w.length) return false;
    for (let k = 0; k < w.length; k++) if (this.b[this.s0 + k] !== w.charCodeAt(k)) return false;
    return true;
  }

  /**
   * f(text of the current simple string), memoised by its bytes: keys, types and gateways repeat a
   * million times, and decoding each to a string would cost more than the rest of the scan.
   */
  protected memo<V>(cache: Map<number, { t: string; v: V }>, f: (t: string) => V): V {
    const h = this.hash();
    const hit = cache.get(h);
    if (hit !== undefined && this.is(hit.t)) return hit.v;
    const t = this.text();
    const v = f(t);
    if (hit === undefined && cache.size < 4096) cache.set(h, { t, v });
    return v;
  }

  /** A JSON number at p; num = its value when it is a u32 written as plain digits. False on a syntax error. */
  number(): boolean {
    const b = this.b;
    let p = this.p;
    const p0 = p;
    let plainDigits = true;
    if (b[p] === 0x2d) {
      plainDigits = false;
      p++;
    }
    if (b[p] === 0x30) p++;
    else if (b[p]! >= 0x31 && b[p]! <= 0x39) while (b[p]! >= 0x30 && b[p]! <= 0x39) p++;
    else return false;
    if (b[p] === DOT) {
      plainDigits = false;
      p++;
      if (!(b[p]! >= 0x30 && b[p]! <= 0x39)) return false;
      while (b[p]! >= 0x30 && b[p]! <= 0x39) p++;
    }
    if (b[p] === 0x65 || b[p] === 0x45) {
      plainDigits = false;
      p++;
      if (b[p] === 0x2b || b[p] === 0x2d) p++;
      if (!(b[p]! >= 0x30 && b[p]! <= 0x39)) return false;
      while (b[p]! >= 0x30 && b[p]! <= 0x39) p++;
    }
    this.num = -1;
    if (plainDigits && p - p0 <= 10) {
      let v = 0;
      for (let i = p0; i < p; i++) v = v * 10 + (b[i]! - 0x30);
      if (v <= 0xffffffff) this.num = v;
    }
    this.p = p;
    return true;
  }

  /** Skips any JSON value at p, nesting tracked without recursion; false on a syntax error (or nesting past 4096). */
  skipValue(): boolean {
    const b = this.b;
    const stack = this.stack;
    let sp = 0;
    for (;;) {
      // a value
      this.ws();
      const c = b[this.p];
      if (c === QUOTE) {
        if (!this.str()) return false;
      } else if (c === LBRACE || c === LBRACKET) {
        this.p++;
        this.ws();
        if (b[this.p] === (c === LBRACE ? RBRACE : RBRACKET)) this.p++;
        else {
          if (sp === stack.length) return false;
          stack[sp++] = c;
          if (c === LBRACE && !this.member()) return false;
          continue;
        }
      } else if (c === 0x74) {
        if (!this.lit('true')) return false;
      } else if (c === 0x66) {
        if (!this.lit('false')) return false;
      } else if (c === 0x6e) {
        if (!this.lit('null')) return false;
      } else if (!this.number()) return false;
      // after a value: close containers, or go on to the next element/member
      for (;;) {
        if (sp === 0) return true;
        this.ws();
        const d = b[this.p];
        const top = stack[sp - 1];
        if (d === COMMA) {
          this.p++;
          if (top === LBRACE && !this.member()) return false;
          break;
        }
        if ((d === RBRACE && top === LBRACE) || (d === RBRACKET && top === LBRACKET)) {
          this.p++;
          sp--;
          continue;
        }
        return false;
      }
    }
  }

  /** `"key" :` of an object member */
  protected member(): boolean {
    this.ws();
    if (this.b[this.p] !== QUOTE || !this.str()) return false;
    this.ws();
    if (this.b[this.p] !== COLON) return false;
    this.p++;
    return true;
  }

  protected lit(w: string): boolean {
    for (let k = 0; k < w.length; k++) if (this.b[this.p + k] !== w.charCodeAt(k)) return false;
    this.p += w.length;
    return true;
  }
}

/** UTF-8 text of b[s, e). */
export function textOf(b: Uint8Array, s: number, e: number): string {
  return Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('utf8');
}
