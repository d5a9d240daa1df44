import type { Warning } from '../../model/types.js';
import { cleanText, looksLikeJson, parseJsonText, warn, DANGEROUS_KEYS } from '../common.js';
import { ParseError } from '../parse-error.js';
import { DumpElementSchema } from './schema.js';

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

function hexStrings(a: unknown[], what: string, label: string, warnings: Warning[], probe: string): number[] | null {
  const out: number[] = [];
  for (const [i, s] of a.entries()) {
    if (typeof s !== 'string' || !HEX.test(s)) {
      warnings.push(warn('bad-entry', `${label}: ${what} byte ${i} is not hex (${JSON.stringify(s).slice(0, 20)}); entry skipped`, probe));
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
    let name = f.names.find((n) => Object.prototype.hasOwnProperty.call(o, n));
    let x = name === undefined ? undefined : o[name];
    // bpftool prints an anonymous union as a member named ""
    const anon = o[''];
    if (x === undefined && anon !== null && typeof anon === 'object' && !Array.isArray(anon)) {
      const a = anon as Record<string, unknown>;
      name = f.names.find((n) => Object.prototype.hasOwnProperty.call(a, n));
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
      else if ((inner as unknown[]).every((b) => typeof b === 'number' && b >= 0 && b <= 255)) out.push(...(inner as number[]));
      else return `${what}.${name ?? ''} cannot be read`;
    } else {
      return `${what}.${name ?? ''} out of range`;
    }
  }
  return out;
}

/**
 * `bpftool [-j] map dump pinned …`: the JSON array (raw byte strings, optionally with `formatted`),
 * the BTF-only JSON-like form (key/value objects), or the plain-text hex form (`key: 0a 00 …  value: …`,
 * or `key:` / `value:` on their own lines, then `Found N elements`).
 */
export function parseMapDump(text: string, probe: string, layouts: { key: BtfLayout; value: BtfLayout }): DumpResult {
  const clean = cleanText(text);
  const warnings: Warning[] = [];
  if (looksLikeJson(clean)) {
    const r = parseJsonText(clean);
    if (!r.ok) throw new ParseError(probe, r.message);
    if (!Array.isArray(r.value)) throw new ParseError(probe, 'expected a JSON array (bpftool -j map dump)');
    const entries: RawEntry[] = [];
    let btf = false;
    for (const [index, raw] of r.value.entries()) {
      const label = `${probe} entry #${index}`;
      if (raw !== null && typeof raw === 'object' && Object.keys(raw).some((k) => DANGEROUS_KEYS.has(k))) {
        warnings.push(warn('bad-entry', `${label}: reserved key; entry skipped`, probe));
        continue;
      }
      const p = DumpElementSchema.safeParse(raw);
      if (!p.success) {
        warnings.push(warn('bad-entry', `${label}: not a {key, value} element; skipped`, probe));
        continue;
      }
      const e = p.data;
      const parts: (number[] | null)[] = [];
      for (const what of ['key', 'value'] as const) {
        const v = e[what];
        if (Array.isArray(v) && v.every((s) => typeof s === 'string')) {
          parts.push(hexStrings(v, what, label, warnings, probe));
          continue;
        }
        const f = v !== undefined ? v : e.formatted?.[what];
        if (f === undefined) {
          warnings.push(warn('bad-entry', `${label}: no ${what}; skipped`, probe));
          parts.push(null);
          continue;
        }
        btf = true;
        const b = fromBtf(f, layouts[what], what);
        if (typeof b === 'string') {
          warnings.push(warn('bad-entry', `${label}: BTF ${b}; skipped`, probe));
          parts.push(null);
        } else parts.push(b);
      }
      const [k, v] = parts;
      if (k && v) entries.push({ index, key: k, value: v });
    }
    return { entries, warnings, form: btf ? 'json-btf' : 'json' };
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
    const k = hexStrings(cur.key.map((x) => `0x${x}`), 'key', label, warnings, probe);
    const v = cur.value ? hexStrings(cur.value.map((x) => `0x${x}`), 'value', label, warnings, probe) : null;
    if (k && !cur.value) warnings.push(warn('bad-entry', `${label}: no value; skipped`, probe));
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
      warnings.push(warn('bad-entry', `${probe} line ${n + 1}: unexpected '${line.slice(0, 40)}'`, probe));
      field = null;
      continue;
    }
    const vi = rest.indexOf('value:');
    const keyPart = vi >= 0 && cur && field === cur.key ? rest.slice(0, vi) : rest;
    field?.push(...keyPart.split(/\s+/).filter((t) => t !== ''));
    if (vi >= 0 && cur && field === cur.key) {
      cur.value = rest.slice(vi + 6).split(/\s+/).filter((t) => t !== '');
      field = cur.value;
    }
  }
  close();
  if (!sawAny) throw new ParseError(probe, 'neither JSON nor `key: … value: …` lines (bpftool map dump)');
  return { entries, warnings, form: 'text' };
}
