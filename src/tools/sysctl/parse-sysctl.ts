import type { Evidence, Parsed } from '../../model/types.js';
import { DANGEROUS_KEYS, ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { Warnings } from '../warnings.js';
import { cleanPaste } from '../paste.js';

// Dotted form as sysctl prints it; a `/` inside is a dot of a device name (`eth0/100` = eth0.100).
const KEY = /^[A-Za-z0-9_][A-Za-z0-9_\-/]*(?:\.[A-Za-z0-9_\-/]+)+$/;

/** `/proc/sys/net/ipv4/conf/eth0.100/rp_filter` → `net.ipv4.conf.eth0/100.rp_filter` */
function keyOfPath(path: string): string {
  return path
    .replace(/^\/proc\/sys\//, '')
    .split('/')
    .map((p) => p.replace(/\./g, '/'))
    .join('.');
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
}

/**
 * `sysctl [-e] KEY...` output (stdout, possibly with stderr mixed in): `key = value` lines.
 * `sysctl: cannot stat …` and other `sysctl: …` / `key: message` lines are warnings; the
 * key they name gets no value. Values keep their words, with runs of blanks (tabs in
 * `ip_local_port_range`) made one space.
 */
export function parseSysctl(text: string, probe: string): Parsed<Record<string, { value: string; source: Evidence }>> {
  const pasted = cleanPaste(text, probe);
  const warnings = new Warnings(probe, { maxMessage: 200, more: 'lines skipped' }).preface(pasted.warnings);
  const out = new Map<string, { value: string; source: Evidence }>();
  const clean = pasted.text;
  let known = 0;
  let unknown = 0;
  for (const raw of clean.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const kv = /^(\S+)\s*=\s?(.*)$/.exec(line);
    if (kv && KEY.test(kv[1]!) && !DANGEROUS_KEYS.has(kv[1]!)) {
      known++;
      const key = kv[1]!;
      const value = kv[2]!.trim().replace(/\s+/g, ' ');
      const prev = out.get(key);
      if (prev && prev.value !== value)
        warnings.add(
          'duplicate-key',
          `${key} printed twice with different values (${printable(prev.value)} / ${printable(value)}); the later one is kept`,
        );
      out.set(key, { value, source: ev(probe, line) });
      continue;
    }
    const stat = /^sysctl: cannot stat (\/proc\/sys\/\S+): (.*)$/.exec(line);
    if (stat) {
      known++;
      warnings.add('sysctl-missing', `${keyOfPath(stat[1]!)}: ${printable(stat[2]!)}`);
      continue;
    }
    if (/^sysctl: /.test(line)) {
      known++;
      warnings.add('sysctl-error', printable(line));
      continue;
    }
    const err = /^(\S+):\s+(.*)$/.exec(line);
    if (err && KEY.test(err[1]!)) {
      known++;
      warnings.add('sysctl-error', `${err[1]}: ${printable(err[2]!)}`);
      continue;
    }
    unknown++;
    warnings.add('line-skipped', `not a sysctl line: ${printable(line)}`);
  }
  if (known === 0 && unknown > 0) throw new ParseError(probe, 'no `key = value` line: not sysctl output');
  const last = clean.slice(clean.lastIndexOf('\n') + 1);
  // sysctl ends every line with a newline; a value without one may have been cut short
  if (last.trim() !== '')
    warnings.add(
      'unterminated-line',
      `output does not end with a newline; its last line may be cut: ${printable(last.trim())}`,
    );
  return { value: Object.fromEntries(out), warnings: warnings.done() };
}
