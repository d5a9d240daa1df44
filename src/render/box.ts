import Table from 'cli-table3';

/**
 * cli-table3's layout (box borders, one space of padding, word wrap in fixed column widths, a word
 * longer than its column cut with `…`), drawn directly. cli-table3 truncates every multi-line cell
 * to 10 characters once per drawn line for a debug message, one character at a time: ~0.3 s of
 * `svc lookup` for one frontend with 10 backends. Any cell this drawing is not certain to lay out
 * exactly as cli-table3 (a character outside printable ASCII, a coloured line that would need
 * wrapping or cutting) goes to cli-table3 itself; test/render/box.test.ts compares both. So does a
 * styled table (a terminal's: cli-table3's colour library decides on its own whether to colour).
 */
export interface BoxStyle {
  head: string[];
  border: string[];
}

const SGR = /\u001b\[[0-9;]*m/g;
const PLAIN = /^[\x20-\x7e\n]*$/;

/** cli-table3's word wrap of one line: split on whitespace runs, a word never split. */
function wrapLine(max: number, input: string): string[] {
  const lines: string[] = [];
  const split = input.split(/(\s+)/g);
  let line: string[] = [];
  let len = 0;
  let ws: string | undefined;
  for (let i = 0; i < split.length; i += 2) {
    const word = split[i]!;
    let next = len + word.length;
    if (len > 0 && ws) next += ws.length;
    if (next > max) {
      if (len !== 0) lines.push(line.join(''));
      line = [word];
      len = word.length;
    } else {
      line.push(ws || '', word);
      len = next;
    }
    ws = split[i + 1];
  }
  if (len) lines.push(line.join(''));
  return lines;
}

/** The cell's lines, or undefined when only cli-table3 can say. */
function cellLines(content: string, width: number): string[] | undefined {
  const plain = content.replace(SGR, '');
  if (!PLAIN.test(plain)) return undefined;
  if (plain !== content && (content.includes('\n') || plain.length > width)) return undefined;
  if (plain !== content) return [content];
  return content.split('\n').flatMap((l) => wrapLine(width, l));
}

export function boxTable(
  head: string[],
  rows: string[][],
  colWidths: number[],
  style: BoxStyle = { head: [], border: [] },
): string {
  if (style.head.length || style.border.length) return viaCliTable3(head, rows, colWidths, style);
  const inner = colWidths.map((w) => w - 2);
  const all = [head, ...rows];
  const laid = all.map((r) => r.map((c, i) => cellLines(c, inner[i]!)));
  if (laid.some((r) => r.some((c) => c === undefined))) return viaCliTable3(head, rows, colWidths, style);
  const rule = (l: string, m: string, r: string) =>
    colWidths.map((w, i) => (i === 0 ? l : m) + '─'.repeat(w) + (i === colWidths.length - 1 ? r : '')).join('');
  const out = [rule('┌', '┬', '┐')];
  laid.forEach((r, ri) => {
    if (ri > 0) out.push(rule('├', '┼', '┤'));
    const height = Math.max(1, ...r.map((c) => c!.length));
    for (let n = 0; n < height; n++) {
      let s = '│';
      r.forEach((c, i) => {
        const w = inner[i]!;
        let text = c![n] ?? '';
        const vis = text.replace(SGR, '').length;
        if (vis > w) text = `${text.slice(0, w - 1)}…`;
        const cell = ` ${text}${' '.repeat(Math.max(0, w - Math.min(vis, w)))} `;
        s += `${cell}│`;
      });
      out.push(s);
    }
  });
  out.push(rule('└', '┴', '┘'));
  return out.join('\n');
}

export function viaCliTable3(head: string[], rows: string[][], colWidths: number[], style: BoxStyle): string {
  const t = new Table({ head, style, wordWrap: true, colWidths });
  for (const r of rows) t.push(r);
  return t.toString();
}
