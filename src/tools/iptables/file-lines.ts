import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SourceError } from '../../errors.js';
import { throwIfToolError } from '../tool-error.js';
import { type ByteChunk, type ByteSpan, pasteMarkIn, saveLineStart, type SpanLines } from './parse-iptables.js';

/** Bytes read at a time (a setting, so that tests cut a small dump into many pieces). */
export const fileLinesTuning = { chunk: 1 << 20 };

/**
 * The lines of an iptables-save dump read from its file piece by piece: a 45 MB dump is never held whole (one
 * allocation of its size costs more in page faults than the reads themselves). The file is read once to find the
 * lines, once more by whoever walks chunks(), and span() reads the few lines a question decodes. Only a dump as
 * iptables-save writes it is taken: readFileLines gives undefined for anything iptablesByteLines would clean,
 * decode or refuse (a paste, ANSI codes or CRs, NUL bytes, a tool's error, an empty file), which is then read
 * whole by the usual path.
 */
export class FileLines implements SpanLines {
  private win: Buffer = Buffer.allocUnsafe(0);
  private winBase = 0;
  private winLen = 0;
  private closed = false;

  constructor(
    private readonly fd: number,
    private readonly path: string,
    private readonly size: number,
    readonly starts: Int32Array,
    readonly length: number,
  ) {}

  at(i: number): string {
    const s = this.starts[i]!;
    const e = this.starts[i + 1]! - 1;
    const { b, at } = this.span(s, e);
    return b.toString('utf8', at, at + e - s);
  }

  span(s: number, e: number): ByteSpan {
    if (s < this.winBase || e > this.winBase + this.winLen) {
      const len = Math.min(Math.max(fileLinesTuning.chunk, e - s), this.size - s);
      if (this.win.length < len) this.win = Buffer.allocUnsafe(Math.max(len, fileLinesTuning.chunk));
      this.winLen = readAt(this.fd, this.win, len, s, this.path);
      this.winBase = s;
    }
    return { b: this.win, at: s - this.winBase };
  }

  *chunks(): Iterable<ByteChunk> {
    const { starts, length } = this;
    // one byte more than read: a newline after the file's last byte, where a whole-dump Buffer reads undefined
    // (the index looks at the byte at a line's end; both are neither a blank nor a line's first character)
    let buf = Buffer.allocUnsafe(Math.min(fileLinesTuning.chunk, this.size) + 1);
    for (let from = 0; from < length; ) {
      const base = starts[from]!;
      let to = from + 1;
      // at least one whole line, however long
      const need = Math.max(Math.min(fileLinesTuning.chunk, this.size - base), starts[to]! - 1 - base);
      if (buf.length < need + 1) buf = Buffer.allocUnsafe(need + 1);
      const got = readAt(this.fd, buf, need, base, this.path);
      while (to < length && starts[to + 1]! - 1 <= base + got) to++;
      buf[got] = 0x0a;
      yield { b: buf, base, from, to };
      from = to;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** Exactly `len` bytes of the file at `pos` into buf: a shorter read means the file changed while it was read. */
function readAt(fd: number, buf: Buffer, len: number, pos: number, path: string): number {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) throw new SourceError(path, 'the file changed while it was read (it became shorter)');
    got += n;
  }
  return got;
}

/**
 * Opens an iptables-save dump and finds its lines (see FileLines); undefined when the file is not a plain dump or
 * cannot be read here (the caller reads it whole, which reports why).
 */
export function readFileLines(path: string, probe: string): FileLines | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const lines = findLines(fd, path, probe);
    if (lines === undefined) closeSync(fd);
    return lines;
  } catch {
    closeSync(fd);
    return undefined;
  }
}

function findLines(fd: number, path: string, probe: string): FileLines | undefined {
  const size = fstatSync(fd).size;
  if (size === 0 || size > 0x7ffffffe) return undefined;
  let st = new Int32Array(Math.max(64, size >> 6));
  let n = 1;
  // a tool's error is told by its first lines (tool-error.ts reads no further): the usual path throws it
  const head = Buffer.allocUnsafe(Math.min(size, 4096));
  readAt(fd, head, head.length, 0, path);
  try {
    throwIfToolError(head.toString('utf8'), probe, 'iptables-save');
  } catch {
    return undefined;
  }
  let buf = Buffer.allocUnsafe(Math.min(fileLinesTuning.chunk, size));
  // the piece at byte `pos` starts a line: it is read up to its last newline (or the file's end)
  for (let pos = 0; pos < size; ) {
    const want = Math.min(buf.length, size - pos);
    const got = readAt(fd, buf, want, pos, path);
    const piece = buf.subarray(0, got);
    const last = pos + got === size;
    const endNl = piece.lastIndexOf(0x0a);
    if (endNl < 0 && !last) {
      // a line longer than the buffer: a larger one
      buf = Buffer.allocUnsafe(buf.length * 2);
      continue;
    }
    const whole = last ? got : endNl + 1;
    const lines = piece.subarray(0, whole);
    // what iptablesByteLines would clean or refuse, and checkText's NUL bytes
    if (lines.indexOf(0) >= 0 || lines.indexOf(0x1b) >= 0 || lines.indexOf(0x0d) >= 0 || pasteMarkIn(lines))
      return undefined;
    if (!saveLineStart(lines[0]!)) return undefined;
    for (let p = lines.indexOf(0x0a); p >= 0; p = lines.indexOf(0x0a, p + 1)) {
      if (n + 1 >= st.length) {
        const g = new Int32Array(st.length * 2);
        g.set(st);
        st = g;
      }
      st[n++] = pos + p + 1;
      if (p + 1 < whole && !saveLineStart(lines[p + 1]!)) return undefined;
    }
    pos += whole;
  }
  st[n] = size + 1;
  return new FileLines(fd, path, size, st.subarray(0, n + 1), n);
}
