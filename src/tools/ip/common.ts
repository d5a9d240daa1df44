import type { Family } from '../../model/types.js';
import { canonIp } from '../../model/addr.js';
import { cleanText, looksLikeJson } from '../common.js';
import { ParseError } from '../parse-error.js';
import { Warnings } from '../warnings.js';

export const TABLE_IDS: Record<string, number> = { unspec: 0, default: 253, main: 254, local: 255 };
export const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };

/** Table name or number → id; undefined for a name only /etc/iproute2/rt_tables could resolve. */
export function tableId(t: string | number | undefined): number | undefined {
  if (t === undefined) return 254;
  if (typeof t === 'number') return Number.isInteger(t) && t >= 0 && t <= 0xffffffff ? t : undefined;
  if (Object.hasOwn(TABLE_IDS, t)) return TABLE_IDS[t];
  return u32(t);
}

export function u32(s: string): number | undefined {
  if (!/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}

export function parseHexOrDec(s: string): number | undefined {
  const t = s.trim();
  if (/^0x[0-9a-f]{1,8}$/i.test(t)) return parseInt(t, 16);
  return u32(t);
}

// Standard DSCP code point names iproute2 prints from rt_dsfield (values are the whole TOS byte).
const DSFIELD: Record<string, number> = {
  default: 0,
  AF11: 0x28,
  AF12: 0x30,
  AF13: 0x38,
  AF21: 0x48,
  AF22: 0x50,
  AF23: 0x58,
  AF31: 0x68,
  AF32: 0x70,
  AF33: 0x78,
  AF41: 0x88,
  AF42: 0x90,
  AF43: 0x98,
  CS1: 0x20,
  CS2: 0x40,
  CS3: 0x60,
  CS4: 0x80,
  CS5: 0xa0,
  CS6: 0xc0,
  CS7: 0xe0,
  EF: 0xb8,
};

/** `tos`/`dsfield` value: hex, decimal or an rt_dsfield name; undefined when unknown or > 0xff. */
export function tosValue(v: string | number): number | undefined {
  const n = typeof v === 'number' ? v : Object.hasOwn(DSFIELD, v) ? DSFIELD[v] : parseHexOrDec(v);
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= 0xff ? n : undefined;
}

/** ANSI/CR removal only when present: the 1M-route path should not copy 150 MB for nothing. */
export function prep(text: string): string {
  return text.includes('\u001b') || text.includes('\r') ? cleanText(text) : text;
}

export function isJson(text: string): boolean {
  return looksLikeJson(text);
}

/** `ip -j` output: always one JSON array. */
export function jsonArray(clean: string, probe: string): unknown[] {
  let v: unknown;
  try {
    v = JSON.parse(clean);
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    const hint = /\]\s*$/.test(clean.slice(-64)) ? '' : '; the output looks truncated';
    throw new ParseError(probe, `not valid JSON (${msg})${hint}`);
  }
  if (!Array.isArray(v)) throw new ParseError(probe, 'expected a JSON array (ip -j output)');
  return v;
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function famOf(f: unknown): Family | undefined {
  return f === 'inet' ? 4 : f === 'inet6' ? 6 : undefined;
}

/** `key in o` for iproute2's null-valued flags, own properties only. */
export function has(o: object, k: string): boolean {
  return Object.hasOwn(o, k);
}

/**
 * Warnings of one parse (see Warnings): skipped records are listed one by one up to the cap (a
 * million bad routes must not make a million warnings), then counted; notes are said once per code
 * and message, with how many records they applied to.
 */
export class Notes extends Warnings {
  constructor(probe: string) {
    super(probe, { more: 'records skipped' });
  }

  skip(what: string, why: string, code = 'record-skipped'): void {
    this.add(code, `${what}: ${why}`);
  }

  /** One warning per (code, message); `example` names the first record it applied to. */
  note(code: string, message: string, example?: string, times = 1): void {
    this.once(code, message, example, times);
  }
}

/** canonIp with a small memo: gateways and preferred sources repeat across a million routes. */
export class IpCache {
  private m = new Map<string, string | null>();
  get(s: string): string | null {
    let v = this.m.get(s);
    if (v === undefined) {
      v = canonIp(s);
      if (this.m.size > 100_000) this.m.clear();
      this.m.set(s, v);
    }
    return v;
  }
}
