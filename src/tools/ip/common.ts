import type { Family, Warning } from '../../model/types.js';
import { cleanText, parseJsonText, warn } from '../common.js';
import { ParseError } from '../parse-error.js';

export const TABLE_IDS: Record<string, number> = { unspec: 0, default: 253, main: 254, local: 255 };

/** Table name or number → id; undefined for a name only /etc/iproute2/rt_tables could resolve. */
export function tableId(t: string | number | undefined): number | undefined {
  if (t === undefined) return 254;
  if (typeof t === 'number') return Number.isInteger(t) && t >= 0 && t <= 0xffffffff ? t : undefined;
  if (t in TABLE_IDS) return TABLE_IDS[t];
  if (/^\d{1,10}$/.test(t)) {
    const n = Number(t);
    return n <= 0xffffffff ? n : undefined;
  }
  return undefined;
}

/** `ip -j` output: always one JSON array (ANSI and CR removed first). */
export function jsonArray(text: string, probe: string): unknown[] {
  const r = parseJsonText(text);
  if (!r.ok) throw new ParseError(probe, r.message);
  if (!Array.isArray(r.value)) throw new ParseError(probe, 'expected a JSON array (ip -j output)');
  return r.value;
}

export function textLines(text: string): string[] {
  return cleanText(text).split('\n');
}

export function famOf(f: string): Family | undefined {
  return f === 'inet' ? 4 : f === 'inet6' ? 6 : undefined;
}

export function skip(warnings: Warning[], probe: string, what: string, why: string): void {
  if (warnings.length < 50) warnings.push(warn('record-skipped', `${what}: ${why}`, probe));
  else if (warnings.length === 50) warnings.push(warn('record-skipped', 'more records skipped; warnings truncated', probe));
}

export function parseHexOrDec(s: string): number | undefined {
  const t = s.trim();
  if (/^0x[0-9a-f]{1,8}$/i.test(t)) return parseInt(t, 16);
  if (/^\d{1,10}$/.test(t)) {
    const n = Number(t);
    return n <= 0xffffffff ? n : undefined;
  }
  return undefined;
}
