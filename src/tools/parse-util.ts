import type { Warnings } from './warnings.js';
import { parseJsonText } from './common.js';
import { ParseError } from './parse-error.js';

export function firstIssue(e: { issues: { path: PropertyKey[]; message: string }[] }): string {
  const i = e.issues[0];
  if (!i) return 'invalid';
  return i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message;
}

/** A short, printable excerpt of an input line for a warning. */
export function excerpt(s: string): string {
  const t = s.replace(/[^\x20-\x7e]/g, '?').trim();
  return t.length > 80 ? t.slice(0, 77) + '...' : t;
}

/** The JSON array a tool printed, or a ParseError naming the probe. */
export function jsonArray(text: string, probe: string, hint = ''): unknown[] {
  const r = parseJsonText(text);
  if (!r.ok) throw new ParseError(probe, r.message + hint);
  if (!Array.isArray(r.value)) throw new ParseError(probe, 'expected a JSON array');
  return r.value;
}

/** bpftool -j prints one object instead of an array for `prog show id N` and similar. */
export function jsonList(text: string, probe: string): unknown[] {
  const r = parseJsonText(text);
  if (!r.ok) throw new ParseError(probe, r.message);
  if (Array.isArray(r.value)) return r.value;
  if (r.value !== null && typeof r.value === 'object') return [r.value];
  throw new ParseError(probe, 'expected a JSON array or object');
}

/**
 * Tool output ends with a newline; text that does not may have been cut in its last line,
 * which can then read as a shorter number or name. Said once, as a warning.
 */
export function checkUnterminated(clean: string, warnings: Warnings): void {
  if (clean === '' || clean.endsWith('\n')) return;
  const last = clean.slice(clean.lastIndexOf('\n') + 1);
  if (last.trim() === '') return;
  const t = last.trim();
  warnings.add(
    'unterminated-line',
    `output does not end with a newline; its last line may be cut: ${t.length > 60 ? '…' + excerpt(t.slice(-60)) : excerpt(t)}`,
  );
}
