import type { Warning } from '../../model/types.js';
import { cleanText, looksLikeJson, parseJsonText, DANGEROUS_KEYS } from '../common.js';
import { ParseError } from '../parse-error.js';
import { DumpElementSchema } from './schema.js';
import { COLON, COMMA, JsonBytes, LBRACE, LBRACKET, QUOTE, RBRACE, RBRACKET, hexVal, textOf } from '../json-bytes.js';
import { throwIfToolError } from '../tool-error.js';
import { Warnings } from '../warnings.js';

export interface RawEntry {
  /** position in the dump (0-based), for warnings */
  index: number;
  key: number[];
  value: number[];
}

/**
 * How to rebuild the raw bytes of a BTF-formatted struct: fields in order with their size. bpftool
 * prints each integer as the host reads it, so writing it back little-endian restores the bytes
 * (x86-64 and arm64; a big-endian host is not supported). A union lists its member names; the first
 * present one is used.
 */
export type BtfField = { names: string[]; size: number; optional?: boolean };
export type BtfLayout = BtfField[] | { scalar: number };

export interface DumpResult {
  entries: RawEntry[];
  warnings: Warning[];
  /** which form was read */
  form: 'json' | 'json-btf' | 'text';
}

const HEX = /^0x[0-9a-fA-F]{1,2}$/;

function hexStrings(a: unknown[], what: string, label: string, warnings: Warnings): number[] | null {
  const out: number[] = [];
  for (const [i, s] of a.entries()) {
    if (typeof s !== 'string' || !HEX.test(s)) {
      warnings.add(
        'bad-entry',
        `${label}: ${what} byte ${i} is not hex (${JSON.stringify(s).slice(0, 20)}); entry skipped`,
      );
      return null;
    }
    out.push(parseInt(s.slice(2), 16));
  }
  return out;
}

function le(n: number, size: number): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(size * 8, BigInt(Math.trunc(n)));
  for (let i = 0; i < size; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

function fromBtf(v: unknown, layout: BtfLayout, what: string): number[] | string {
  if ('scalar' in layout) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `${what} is not an unsigned integer`;
    return le(v, layout.scalar);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${what} is not an object`;
  const o = v as Record<string, unknown>;
  const out: number[] = [];
  for (const f of layout) {
    let name = f.names.find((n) => Object.hasOwn(o, n));
    let x = name === undefined ? undefined : o[name];
    // bpftool prints an anonymous union as a member named ""
    const anon = o[''];
    if (x === undefined && anon !== null && typeof anon === 'object' && !Array.isArray(anon)) {
      const a = anon as Record<string, unknown>;
      name = f.names.find((n) => Object.hasOwn(a, n));
      x = name === undefined ? undefined : a[name];
    }
    if (x === undefined) {
      if (f.optional) {
        out.push(...new Array<number>(f.size).fill(0));
        continue;
      }
      return `${what} has no field ${f.names.join('/')}`;
    }
    if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x < 2 ** (8 * Math.min(f.size, 6))) {
      out.push(...le(x, f.size));
    } else if (Array.isArray(x) && x.length === f.size && x.every((b) => typeof b === 'number' && b >= 0 && b <= 255)) {
      out.push(...(x as number[]));
    } else if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
      // a union such as v6addr {addr: [16 bytes], ...}: take its first byte-array or integer member
      const inner = Object.values(x as Record<string, unknown>).find(
        (m) => (Array.isArray(m) && m.length === f.size) || (typeof m === 'number' && Number.isSafeInteger(m)),
      );
      if (inner === undefined) return `${what}.${name ?? ''} cannot be read`;
      if (typeof inner === 'number') out.push(...le(inner, f.size));
      else if ((inner as unknown[]).every((b) => typeof b === 'number' && b >= 0 && b <= 255))
        out.push(...(inner as number[]));
      else return `${what}.${name ?? ''} cannot be read`;
    } else {
      return `${what}.${name ?? ''} out of range`;
    }
  }
  return out;
}

/**
 * One element of a `bpftool -j map dump` array: the entry (undefined when skipped, with a warning),
 * and whether it was read from BTF objects.
 */
function jsonElement(
  raw: unknown,
  index: number,
  probe: string,
  layouts: { key: BtfLayout; value: BtfLayout },
  warnings: Warnings,
): { entry?: RawEntry; btf: boolean } | undefined {
  const label = `${probe} entry #${index}`;
  if (raw !== null && typeof raw === 'object' && Object.keys(raw).some((k) => DANGEROUS_KEYS.has(k))) {
    warnings.add('bad-entry', `${label}: reserved key; entry skipped`);
    return undefined;
  }
  const p = DumpElementSchema.safeParse(raw);
  if (!p.success) {
    warnings.add('bad-entry', `${label}: not a {key, value} element; skipped`);
    return undefined;
  }
  const e = p.data;
  let btf = false;
  const parts: (number[] | null)[] = [];
  for (const what of ['key', 'value'] as const) {
    const v = e[what];
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) {
      parts.push(hexStrings(v, what, label, warnings));
      continue;
    }
    const f = v !== undefined ? v : e.formatted?.[what];
    if (f === undefined) {
      warnings.add('bad-entry', `${label}: no ${what}; skipped`);
      parts.push(null);
      continue;
    }
    btf = true;
    const b = fromBtf(f, layouts[what], what);
    if (typeof b === 'string') {
      warnings.add('bad-entry', `${label}: BTF ${b}; skipped`);
      parts.push(null);
    } else parts.push(b);
  }
  const [k, v] = parts;
  return k && v ? { entry: { index, key: k, value: v }, btf } : { btf };
}

/**
 * `bpftool [-j] map dump pinned …`: the JSON array (raw byte strings, optionally with `formatted`),
 * the BTF-only JSON-like form (key/value objects), or the plain-text hex form (`key: 0a 00 …  value: …`,
 * or `key:` / `value:` on their own lines, then `Found N elements`).
 */
export function parseMapDump(text: string, probe: string, layouts: { key: BtfLayout; value: BtfLayout }): DumpResult {
  throwIfToolError(text, probe, 'bpftool map', { anywhere: true });
  const clean = cleanText(text);
  const warnings = new Warnings(probe);
  if (looksLikeJson(clean)) {
    const r = parseJsonText(clean);
    if (!r.ok) throw new ParseError(probe, r.message);
    if (!Array.isArray(r.value)) throw new ParseError(probe, 'expected a JSON array (bpftool -j map dump)');
    const entries: RawEntry[] = [];
    let btf = false;
    for (const [index, raw] of r.value.entries()) {
      const e = jsonElement(raw, index, probe, layouts, warnings);
      if (e === undefined) continue;
      if (e.btf) btf = true;
      if (e.entry) entries.push(e.entry);
    }
    return { entries, warnings: warnings.done(), form: btf ? 'json-btf' : 'json' };
  }

  // Plain text, line by line: `key: …  value: …` on one line, or `key:` / `value:` each followed by
  // lines of hex; `Found N elements` at the end.
  const entries: RawEntry[] = [];
  let cur: { key: string[]; value: string[] | null; line: number } | undefined;
  let field: string[] | null = null;
  let index = 0;
  let sawAny = false;
  const close = () => {
    if (!cur) return;
    const label = `${probe} entry #${index}`;
    const k = hexStrings(
      cur.key.map((x) => `0x${x}`),
      'key',
      label,
      warnings,
    );
    const v = cur.value
      ? hexStrings(
          cur.value.map((x) => `0x${x}`),
          'value',
          label,
          warnings,
        )
      : null;
    if (k && !cur.value) warnings.add('bad-entry', `${label}: no value; skipped`);
    if (k && v) entries.push({ index, key: k, value: v });
    index++;
    cur = undefined;
    field = null;
  };
  for (const [n, raw] of clean.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    if (/^Found \d+ elements?$/.test(line)) {
      close();
      sawAny = true;
      continue;
    }
    let rest = line;
    if (rest.startsWith('key:')) {
      close();
      sawAny = true;
      cur = { key: [], value: null, line: n + 1 };
      field = cur.key;
      rest = rest.slice(4);
    } else if (rest.startsWith('value:') && cur && !cur.value) {
      cur.value = [];
      field = cur.value;
      rest = rest.slice(6);
    } else if (!cur || !field || !/^[0-9a-fA-F]{2}(\s+[0-9a-fA-F]{2})*$/.test(rest)) {
      warnings.add('bad-entry', `${probe} line ${n + 1}: unexpected '${line.slice(0, 40)}'`);
      field = null;
      continue;
    }
    const vi = rest.indexOf('value:');
    const keyPart = vi >= 0 && cur && field === cur.key ? rest.slice(0, vi) : rest;
    field?.push(...keyPart.split(/\s+/).filter((t) => t !== ''));
    if (vi >= 0 && cur && field === cur.key) {
      cur.value = rest
        .slice(vi + 6)
        .split(/\s+/)
        .filter((t) => t !== '');
      field = cur.value;
    }
  }
  close();
  if (!sawAny) throw new ParseError(probe, 'neither JSON nor `key: … value: …` lines (bpftool map dump)');
  return { entries, warnings: warnings.done(), form: 'text' };
}

// ---------------------------------------------------------------------------------------------
// The same dump as rows in one byte pool, scanned from the bytes: a 100,000-entry map costs two
// typed arrays instead of 200,000 number arrays.

/** Entries of a map dump: entry i is bytes[koff[i]..+klen[i]) and bytes[voff[i]..+vlen[i]). */
export interface DumpRows {
  count: number;
  /** position of the entry in the dump, for warnings */
  index: Int32Array;
  koff: Int32Array;
  klen: Int32Array;
  voff: Int32Array;
  vlen: Int32Array;
  bytes: Uint8Array;
}

export interface DumpRowsResult {
  rows: DumpRows;
  warnings: Warning[];
  form: DumpResult['form'];
}

class RowsBuilder {
  count = 0;
  index = new Int32Array(256);
  koff = new Int32Array(256);
  klen = new Int32Array(256);
  voff = new Int32Array(256);
  vlen = new Int32Array(256);
  bytes = new Uint8Array(4096);
  used = 0;

  /** room for k more bytes */
  reserve(k: number): void {
    if (this.used + k <= this.bytes.length) return;
    const b = new Uint8Array(Math.max(this.bytes.length * 2, this.used + k));
    b.set(this.bytes.subarray(0, this.used));
    this.bytes = b;
  }

  byte(x: number): void {
    if (this.used === this.bytes.length) {
      const b = new Uint8Array(this.bytes.length * 2);
      b.set(this.bytes);
      this.bytes = b;
    }
    this.bytes[this.used++] = x;
  }

  row(index: number, koff: number, klen: number, voff: number, vlen: number): void {
    if (this.count === this.index.length) {
      const g = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.index = g(this.index);
      this.koff = g(this.koff);
      this.klen = g(this.klen);
      this.voff = g(this.voff);
      this.vlen = g(this.vlen);
    }
    const i = this.count++;
    this.index[i] = index;
    this.koff[i] = koff;
    this.klen[i] = klen;
    this.voff[i] = voff;
    this.vlen[i] = vlen;
  }

  entry(e: RawEntry): void {
    const k = this.used;
    for (const x of e.key) this.byte(x);
    const v = this.used;
    for (const x of e.value) this.byte(x);
    this.row(e.index, k, e.key.length, v, e.value.length);
  }

  finish(): DumpRows {
    const n = this.count;
    return {
      count: n,
      index: this.index.slice(0, n),
      koff: this.koff.slice(0, n),
      klen: this.klen.slice(0, n),
      voff: this.voff.slice(0, n),
      vlen: this.vlen.slice(0, n),
      bytes: this.bytes.slice(0, this.used),
    };
  }
}

/** Entry i as a RawEntry (its own arrays). */
export function rowEntry(r: DumpRows, i: number): RawEntry {
  return {
    index: r.index[i]!,
    key: Array.from(r.bytes.subarray(r.koff[i]!, r.koff[i]! + r.klen[i]!)),
    value: Array.from(r.bytes.subarray(r.voff[i]!, r.voff[i]! + r.vlen[i]!)),
  };
}

/**
 * parseMapDump as rows. Bytes of a `bpftool -j` array are scanned in place: an element that is just
 * `key` and `value` arrays of "0xNN" strings is copied straight into the pool; any other element goes
 * through JSON.parse and the same per-element reading as parseMapDump, in dump order, so entries and
 * warnings are parseMapDump's. Text, other forms, or a document the scanner cannot follow take
 * parseMapDump itself.
 */
export function parseMapDumpRows(
  input: string | Uint8Array,
  probe: string,
  layouts: { key: BtfLayout; value: BtfLayout },
): DumpRowsResult {
  if (typeof input !== 'string') {
    if (input.indexOf(0x1b) < 0 && input.indexOf(0x0d) < 0) {
      const r = scanDumpJson(input, probe, layouts);
      if (r) return r;
    }
    input = textOf(input, 0, input.length);
  }
  const d = parseMapDump(input, probe, layouts);
  const b = new RowsBuilder();
  for (const e of d.entries) b.entry(e);
  return { rows: b.finish(), warnings: d.warnings, form: d.form };
}

const KEY = Uint8Array.from('key"', (c) => c.charCodeAt(0));
const VALUE = Uint8Array.from('value"', (c) => c.charCodeAt(0));

function at(b: Uint8Array, p: number, w: Uint8Array): boolean {
  for (let k = 0; k < w.length; k++) if (b[p + k] !== w[k]) return false;
  return true;
}

function scanDumpJson(
  bytes: Uint8Array,
  probe: string,
  layouts: { key: BtfLayout; value: BtfLayout },
): DumpRowsResult | undefined {
  const sc = new JsonBytes(bytes);
  const b = bytes;
  sc.ws();
  if (b[sc.p] !== LBRACKET) return undefined;
  sc.p++;
  const out = new RowsBuilder();
  const warnings = new Warnings(probe);
  let btf = false;
  let index = 0;
  sc.ws();
  if (b[sc.p] === RBRACKET) sc.p++;
  else
    for (; ; index++) {
      sc.ws();
      const start = sc.p;
      const used = out.used;
      if (!(b[start] === LBRACE && fastElement(sc, out, index))) {
        out.used = used;
        sc.p = start;
        if (!sc.skipValue()) return undefined;
        let raw: unknown;
        try {
          raw = JSON.parse(textOf(b, start, sc.p));
        } catch {
          return undefined;
        }
        const e = jsonElement(raw, index, probe, layouts, warnings);
        if (e?.btf) btf = true;
        if (e?.entry) out.entry(e.entry);
      }
      sc.ws();
      const c = b[sc.p++];
      if (c === COMMA) continue;
      if (c === RBRACKET) break;
      return undefined;
    }
  sc.ws();
  if (sc.p !== b.length) return undefined;
  return { rows: out.finish(), warnings: warnings.done(), form: btf ? 'json-btf' : 'json' };
}

const ws = (c: number) => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;

/**
 * `{"key":["0x..",...],"value":[...]}` and nothing else: appended as a row; false otherwise (the
 * caller rewinds and takes the JSON.parse path). Written as one loop over local variables: it runs
 * for every entry of a 100,000-entry map.
 */
function fastElement(sc: JsonBytes, out: RowsBuilder, index: number): boolean {
  const b = sc.b;
  const n = b.length;
  let p = sc.p + 1;
  let koff = -1;
  let klen = 0;
  let voff = -1;
  let vlen = 0;
  for (;;) {
    while (p < n && ws(b[p]!)) p++;
    if (b[p] !== QUOTE) return false;
    const isKey = at(b, p + 1, KEY);
    if (!isKey && !at(b, p + 1, VALUE)) return false;
    if (isKey ? koff >= 0 : voff >= 0) return false; // repeated: JSON.parse keeps the last
    p += isKey ? KEY.length + 1 : VALUE.length + 1;
    while (p < n && ws(b[p]!)) p++;
    if (b[p] !== COLON) return false;
    p++;
    while (p < n && ws(b[p]!)) p++;
    if (b[p] !== LBRACKET) return false;
    p++;
    const off = out.used;
    while (p < n && ws(b[p]!)) p++;
    if (b[p] === RBRACKET) p++;
    else {
      // a byte is 5 or 6 text bytes: room for all of them before the text runs out
      out.reserve(((n - p) / 5) | 0);
      const pool = out.bytes;
      let u = out.used;
      for (;;) {
        // "0xH" or "0xHH"
        if (b[p] !== QUOTE || b[p + 1] !== 0x30 || b[p + 2] !== 0x78) return false;
        const h1 = hexVal(b[p + 3]!);
        if (h1 < 0) return false;
        const h2 = hexVal(b[p + 4]!);
        if (h2 >= 0) {
          if (b[p + 5] !== QUOTE) return false;
          pool[u++] = h1 * 16 + h2;
          p += 6;
        } else {
          if (b[p + 4] !== QUOTE) return false;
          pool[u++] = h1;
          p += 5;
        }
        let c = b[p++];
        if (c !== undefined && ws(c)) {
          while (p < n && ws(b[p]!)) p++;
          c = b[p++];
        }
        if (c === COMMA) {
          while (p < n && ws(b[p]!)) p++;
          continue;
        }
        if (c === RBRACKET) break;
        return false;
      }
      out.used = u;
    }
    if (isKey) {
      koff = off;
      klen = out.used - off;
    } else {
      voff = off;
      vlen = out.used - off;
    }
    while (p < n && ws(b[p]!)) p++;
    const c = b[p++];
    if (c === COMMA) continue;
    if (c === RBRACE) break;
    return false;
  }
  if (koff < 0 || voff < 0) return false;
  sc.p = p;
  out.row(index, koff, klen, voff, vlen);
  return true;
}

// ---------------------------------------------------------------------------------------------
// A dump as `bpftool -j map dump` writes it (compact, every byte "0xHH"), read in place. Every
// element then has one length, so element i starts at a known offset and byte j of its key or value
// is two hex digits at a known place: a question about a few entries decodes those only. Every byte
// of the dump is still checked against the element's template, so a dump this reads is exactly one
// that the row scan reads with every element on its fast path (no warning, form 'json').

/** A uniform compact dump: `count` elements of `klen` key and `vlen` value bytes. */
export interface UniformDump {
  count: number;
  klen: number;
  vlen: number;
  text: Uint8Array;
  /** offset of element 0 and the distance between two elements (element plus comma) */
  start: number;
  stride: number;
  /** every hex digit is a lowercase one (as bpftool prints them): an entry's text is then a function of its bytes */
  lower: boolean;
  /** when lower: the OR, over every element, of the byte at each offset of an element (uniformOr) */
  ors?: Uint8Array;
}

// within an element: `{"key":[` then "0xHH" tokens 7 bytes apart; `],"value":[` after the key's
const KEY_AT = 8 + 3;
const valueAt = (klen: number) => 8 + 7 * klen - 1 + 11 + 3;
/** a hex digit's value by its character (either case), -1 for any other byte */
export const HEX_OF = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let c = 0; c < 256; c++) t[c] = hexVal(c);
  return t;
})();

/** The element template: a byte to match, or -1 where a hex digit goes. */
function template(klen: number, vlen: number): Int16Array {
  const parts: string[] = ['{"key":['];
  const list = (n: number) => Array.from({ length: n }, () => '"0x??"').join(',');
  parts.push(list(klen), '],"value":[', list(vlen), ']}');
  const s = parts.join('');
  return Int16Array.from(s, (c) => (c === '?' ? -1 : c.charCodeAt(0)));
}

/** How many `"0xHH"` tokens a list starting at b[p] (after its `[`) holds before `]`, and where the `]` is. */
function countTokens(b: Uint8Array, p: number): { n: number; end: number } | undefined {
  let n = 0;
  for (;;) {
    if (b[p] !== QUOTE || b[p + 1] !== 0x30 || b[p + 2] !== 0x78 || b[p + 5] !== QUOTE) return undefined;
    n++;
    p += 6;
    if (b[p] === COMMA) p++;
    else if (b[p] === RBRACKET) return { n, end: p };
    else return undefined;
  }
}

/** a lowercase hex digit (what bpftool prints) */
const lowerHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);

/**
 * Every byte of `count` elements at b[start], `stride` apart, that the template fixes (all but the hex digits)
 * is the template's, and the byte after each element but the last is a comma: 0 if not. Else 1 when every hex
 * digit is also a lowercase one (as bpftool prints them), 2 when some is not (the caller then checks those
 * bytes as hex digits of either case). One pass, four bytes at a time (the dump as 32-bit words against the
 * template repeated and masked; the hex digits by a range test on each byte of the word at once); the bytes
 * before the first and after the last whole word one at a time.
 */
function framesMatch(
  b: Uint8Array,
  start: number,
  len: number,
  stride: number,
  count: number,
  tpl: Int16Array,
  /** filled with the OR, over every element, of the byte at each offset of an element (and its comma) */
  ors: Uint8Array,
): 0 | 1 | 2 {
  // expected byte at b[x]: pat[(x - start) % stride], -1 where a hex digit goes
  const pat = new Int16Array(stride);
  pat.set(tpl);
  pat[len] = COMMA;
  const end = start + count * stride - 1;
  const at = (x: number) => pat[(x - start) % stride]!;
  const base = b.byteOffset;
  const w0 = Math.ceil((base + start) / 4);
  const w1 = Math.max(w0, Math.floor((base + end) / 4));
  let upper = false;
  const byteRun = (from: number, to: number) => {
    for (let x = from; x < to; x++) {
      const c = at(x);
      if (c >= 0 && b[x] !== c) return false;
      if (c < 0 && !lowerHex(b[x]!)) upper = true;
      ors[(x - start) % stride]! |= b[x]!;
    }
    return true;
  };
  if (w1 === w0) return byteRun(start, end) ? (upper ? 2 : 1) : 0;
  if (!byteRun(start, 4 * w0 - base) || !byteRun(4 * w1 - base, end)) return 0;
  // the template's bytes, mask and hex-digit places, from word w0 on, for as many words as it takes to repeat
  // (lcm(stride, 4) bytes)
  let period = stride;
  while (period % 4 !== 0) period += stride;
  const pb = new Uint8Array(period);
  const mb = new Uint8Array(period);
  const hb = new Uint8Array(period);
  for (let m = 0; m < period; m++) {
    const c = at(4 * w0 - base + m);
    pb[m] = Math.max(c, 0);
    mb[m] = c < 0 ? 0 : 0xff;
    hb[m] = c < 0 ? 0x80 : 0;
  }
  const pw = new Int32Array(pb.buffer);
  const mw = new Int32Array(mb.buffer);
  const hw = new Int32Array(hb.buffer);
  const q = pw.length;
  const words = new Int32Array(b.buffer, 4 * w0, w1 - w0);
  const n = words.length;
  let diff = 0;
  let bad = 0;
  const orw = new Int32Array(q);
  // a block of whole periods at a time (small enough to stay in the L1 cache: 16 periods, a few KiB, measured
  // fastest on the large node's services map against 32 to 1024), and within it one template word at a time:
  // the inner loop then holds its expected word and masks in registers and loads one word per step
  const block = q * 16;
  for (let b0 = 0; b0 < n; b0 += block) {
    const b1 = Math.min(n, b0 + block);
    for (let k = 0; k < q; k++) {
      const m = mw[k]!;
      const e = pw[k]!;
      const h = hw[k]!;
      let or = 0;
      if (h === 0) {
        for (let w = b0 + k; w < b1; w += q) {
          const x = words[w]!;
          diff |= (x ^ e) & m;
          or |= x;
        }
        orw[k]! |= or;
        continue;
      }
      for (let w = b0 + k; w < b1; w += q) {
        const x = words[w]!;
        diff |= (x ^ e) & m;
        or |= x;
        // per byte y (high bit cleared, so no sum carries into the next byte): y + 0x50 has its high bit
        // set iff y >= 0x30, y + 0x46 iff y >= 0x3a, y + 0x1f iff y >= 0x61, y + 0x19 iff y >= 0x67
        const y = x & 0x7f7f7f7f;
        const ok = ((y + 0x50505050) & ~(y + 0x46464646)) | ((y + 0x1f1f1f1f) & ~(y + 0x19191919));
        // a hex place whose byte is not in 0-9 or a-f, or has its high bit set
        bad |= (~ok | x) & h;
      }
      orw[k]! |= or;
    }
  }
  if (diff !== 0) return 0;
  // the words' ORs to the element offsets their bytes are at
  const orb = new Uint8Array(orw.buffer);
  for (let m = 0, j = (4 * w0 - base - start) % stride; m < period; m++, j = j + 1 === stride ? 0 : j + 1)
    ors[j]! |= orb[m]!;
  return bad !== 0 || upper ? 2 : 1;
}

/**
 * The dump read in place, when it is `[` element (`,` element)* `]` (then only blanks or newlines),
 * each element `{"key":[…],"value":[…]}` with the first element's byte counts and every byte a
 * two-digit "0xHH"; undefined for anything else (the caller reads it with parseMapDumpRows).
 */
export function uniformDump(b: Uint8Array): UniformDump | undefined {
  let end = b.length;
  while (end > 0 && (b[end - 1] === 0x0a || b[end - 1] === 0x20 || b[end - 1] === 0x09)) end--;
  if (end < 2 || b[0] !== LBRACKET || b[end - 1] !== RBRACKET) return undefined;
  // the byte counts from the first element; the template check below reads every byte
  const k = countTokens(b, 1 + KEY_AT - 3);
  if (!k) return undefined;
  const v = countTokens(b, k.end + 11);
  if (!v) return undefined;
  const tpl = template(k.n, v.n);
  const len = tpl.length;
  const stride = len + 1;
  if (end - 2 - len < 0 || (end - 2 - len) % stride !== 0) return undefined;
  const count = (end - 2 - len) / stride + 1;
  const ors = new Uint8Array(stride);
  const fm = framesMatch(b, 1, len, stride, count, tpl, ors);
  if (fm === 0) return undefined;
  if (fm === 1) return { count, klen: k.n, vlen: v.n, text: b, start: 1, stride, lower: true, ors };
  // some hex place holds no lowercase hex digit: whether each holds a hex digit of either case
  const tpos: number[] = [];
  for (let j = 0; j < len; j++)
    if (tpl[j] === -1) {
      tpos.push(j);
      j++;
    }
  const tp = Int32Array.from(tpos);
  const hex = HEX_OF;
  let h = 0;
  for (let p = 1, e = 1 + count * stride; p < e; p += stride)
    for (let t = 0; t < tp.length; t++) h |= hex[b[p + tp[t]!]!]! | hex[b[p + tp[t]! + 1]!]!;
  if (h < 0) return undefined;
  return { count, klen: k.n, vlen: v.n, text: b, start: 1, stride, lower: false };
}

/**
 * The two hex digits of byte j of the key (or value), each ORed over every element (as characters), when every
 * hex digit is lowercase; undefined otherwise. A byte is 0 in every element when both are '0'; a digit is one
 * of 0-3 in every element when its OR, but for its two low bits, is '0' (a lowercase hex digit is 0x30-0x39 or
 * 0x61-0x66: none but '0'-'3' has no bit outside 0x33).
 */
export function uniformOr(u: UniformDump, side: 'key' | 'value', j: number): [number, number] | undefined {
  if (!u.ors) return undefined;
  const at = (side === 'key' ? uniformKeyAt(u, 0, j) : uniformValueAt(u, 0, j)) - u.start;
  return [u.ors[at]!, u.ors[at + 1]!];
}

/** Byte j of the key (or value) is 0 in every element (false: not known, or not so). */
export function uniformAllZero(u: UniformDump, side: 'key' | 'value', j: number): boolean {
  const o = uniformOr(u, side, j);
  return o !== undefined && o[0] === 0x30 && o[1] === 0x30;
}

/** The byte whose two hex digits are at text[q], text[q + 1] (a position uniformKeyAt / uniformValueAt give). */
export function hexByteAt(text: Uint8Array, q: number): number {
  return HEX_OF[text[q]!]! * 16 + HEX_OF[text[q + 1]!]!;
}

/** Where byte j of element i's key is written (for hexByteAt); byte j + 1 is 7 bytes further. */
export function uniformKeyAt(u: UniformDump, i: number, j: number): number {
  return u.start + i * u.stride + KEY_AT + 7 * j;
}

/** Where byte j of element i's value is written. */
export function uniformValueAt(u: UniformDump, i: number, j: number): number {
  return u.start + i * u.stride + valueAt(u.klen) + 7 * j;
}

/** Byte j of element i's key. */
export function uniformKeyByte(u: UniformDump, i: number, j: number): number {
  return hexByteAt(u.text, uniformKeyAt(u, i, j));
}

/** Byte j of element i's value. */
export function uniformValueByte(u: UniformDump, i: number, j: number): number {
  return hexByteAt(u.text, uniformValueAt(u, i, j));
}

/** Element i as a RawEntry (what rowEntry gives for the same element of the row scan). */
export function uniformEntry(u: UniformDump, i: number): RawEntry {
  const key = new Array<number>(u.klen);
  const value = new Array<number>(u.vlen);
  for (let j = 0; j < u.klen; j++) key[j] = uniformKeyByte(u, i, j);
  for (let j = 0; j < u.vlen; j++) value[j] = uniformValueByte(u, i, j);
  return { index: i, key, value };
}
