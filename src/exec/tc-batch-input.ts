/**
 * The stdin grammar of `tc -j -force -batch -`: only `filter show dev DEV ingress|egress` lines (the per-device
 * probes of collect/probes.ts tcFilterProbes), built from a checked device name, and the check the allow-list
 * applies before anything runs. Kept in exec/ beside route-get-input.ts for the same reason: the allow-list is
 * its user.
 *
 * What the batch prints (iproute2 6.1 here; fixtures/tools/tc/batch): each command that succeeds prints its JSON
 * array and a newline, the same bytes as the command run alone; a command that fails prints its error and
 * `Command failed -:N` on stderr and the batch exits 1; a dump that fails midway leaves its array unclosed. So a
 * batch's stdout is split back only when nothing failed: exit 0, no stderr, and exactly one line per command,
 * each a whole JSON array. Anything else is not split (the caller runs each probe alone).
 */

/** The batch command (an allow-list stdin entry). */
export const TC_BATCH_ARGV: readonly string[] = ['tc', '-j', '-force', '-batch', '-'];

/** More lines than this in one batch are refused: a 110-pod node asks ~220. */
export const MAX_TC_BATCH_LINES = 8_192;

// the allow-list's device pattern (IFNAMSIZ, no '/', ':' or whitespace): nothing tc's batch parser quotes or
// comments ('"', '\'', '\\', '#')
const LINE = /^filter show dev [A-Za-z0-9_.@+][A-Za-z0-9_.@+-]{0,14} (ingress|egress)$/;

/** The batch line for one device and direction; throws on a name that could not be a device (a bug upstream). */
export function tcFilterLine(dev: string, dir: 'ingress' | 'egress'): string {
  const line = `filter show dev ${dev} ${dir}`;
  if (!LINE.test(line)) throw new Error(`not a valid tc filter show line: ${line}`);
  return line;
}

/** stdin for the batch, or null when any line is not a `filter show` line or there are too many. */
export function tcBatchInput(lines: readonly string[]): string | null {
  if (lines.length === 0 || lines.length > MAX_TC_BATCH_LINES) return null;
  for (const l of lines) if (!LINE.test(l)) return null;
  return `${lines.join('\n')}\n`;
}

/** Whether `text` is stdin the allow-list lets `tc -j -force -batch -` read. */
export function validTcBatchInput(text: string): boolean {
  if (!text.endsWith('\n')) return false;
  return tcBatchInput(text.slice(0, -1).split('\n')) === text;
}

/**
 * Each command's stdout (its line and the newline), in the order asked, or undefined when the output does not
 * split back unambiguously (see above).
 */
export function splitTcBatch(
  commands: number,
  out: { exitCode: number; stdout: string; stderr: string; failed?: string },
): string[] | undefined {
  const lines = jsonArrayLines(out);
  if (lines?.length !== commands) return undefined;
  return lines.map((l) => `${l}\n`);
}

/**
 * The lines of a batch's output when nothing failed (exit 0, no stderr, a final newline) and each line is one
 * whole JSON array, as iproute2's `-j -batch` prints a command's answer; undefined otherwise. Shared by the tc
 * and the ip probe batches (ip-batch-input.ts), which then check how many answers they expect.
 */
export function jsonArrayLines(out: {
  exitCode: number;
  stdout: string;
  stderr: string;
  failed?: string;
}): string[] | undefined {
  if (out.failed || out.exitCode !== 0 || out.stderr !== '') return undefined;
  if (!out.stdout.endsWith('\n')) return undefined;
  const lines = out.stdout.slice(0, -1).split('\n');
  for (const l of lines) {
    if (l.charCodeAt(0) !== 0x5b) return undefined;
    try {
      if (!Array.isArray(JSON.parse(l))) return undefined;
    } catch {
      return undefined;
    }
  }
  return lines;
}
