import type { Evidence, Parsed, Warning } from '../../model/types.js';
import { cleanText, DANGEROUS_KEYS, ev, warn } from '../common.js';

/** `sysctl key...` output: `key = value` per line. */
export function parseSysctl(text: string, probe: string): Parsed<Record<string, { value: string; source: Evidence }>> {
  const warnings: Warning[] = [];
  const out: Record<string, { value: string; source: Evidence }> = Object.create(null);
  for (const raw of cleanText(text).split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^([A-Za-z0-9_.\-/]+)\s*=\s*(.*)$/.exec(line);
    if (!m || DANGEROUS_KEYS.has(m[1]!)) {
      warnings.push(warn('record-skipped', `sysctl line not understood: ${line.slice(0, 80)}`, probe));
      continue;
    }
    out[m[1]!.replace(/\//g, '.')] = { value: m[2]!.replace(/\s+/g, ' '), source: ev(probe, line) };
  }
  return { value: { ...out }, warnings };
}
