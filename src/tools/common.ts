import type { Evidence, Warning } from '../model/types.js';

// ESC [ ... final byte: colour codes that `ip -color=always` or a terminal paste leaves behind.
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

export function hasAnsi(text: string): boolean {
  return text.includes('\u001b[');
}

/** Removes ANSI escapes and CRs (a paste from Windows or a terminal), keeps everything else. */
export function cleanText(text: string): string {
  return text.replace(ANSI, '').replace(/\r\n?/g, '\n');
}

/** Looks like JSON output (after cleaning): first non-space char is `[` or `{`. */
export function looksLikeJson(text: string): boolean {
  const m = /\S/.exec(text);
  return m !== null && (m[0] === '[' || m[0] === '{');
}

export type JsonResult = { ok: true; value: unknown } | { ok: false; message: string };

/**
 * JSON.parse with a one-line error. ANSI codes are stripped first (public fixtures show `ip -j`
 * wrapped in colour), with a warning, since the rest is still sound.
 */
export function parseJsonText(text: string): JsonResult {
  const cleaned = cleanText(text);
  try {
    return { ok: true, value: JSON.parse(cleaned) };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { ok: false, message: `not valid JSON (${msg.split('\n')[0]})` };
  }
}

export function warn(code: string, message: string, source?: string): Warning {
  return source === undefined ? { code, message } : { code, message, source };
}

export function ev(probe: string, text: string): Evidence {
  return { probe, text: text.length > 400 ? text.slice(0, 397) + '...' : text };
}

/** Own-property keys that would poison an object when copied naively. */
export const DANGEROUS_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
