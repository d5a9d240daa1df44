/**
 * Names and lines read from a node or a snapshot reach the terminal in the human formats. A hostile pod
 * name, netns name or tool line could carry escape sequences (clear the screen, retitle the window, hide
 * text), bidi overrides that reorder what is shown, or a newline that forges a `result:` line. Every string
 * of the model is made visible (`\x1b`, `\u202e`) before the renderers add their own colours.
 */
// C0 controls (newline included: no model string legitimately spans lines), DEL, C1, bidi embeddings,
// overrides and isolates, and the line/paragraph separators
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const visible = (ch: string): string => {
  const cp = ch.codePointAt(0)!;
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
};

export function safeText(s: string): string {
  return s.replace(UNSAFE, visible);
}

/** A copy of plain data (objects, arrays) with every string made terminal-safe; other values as they are. */
export function terminalSafe<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return safeText(value) as T;
  // the models are shallow; the bound only guards against a cycle
  if (value === null || typeof value !== 'object' || depth > 64) return value;
  if (Array.isArray(value)) return value.map((v) => terminalSafe(v, depth + 1)) as T;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = terminalSafe(v, depth + 1);
  return out as T;
}
