/**
 * Four node probes as one `ip -j -force -batch -` (collect/live-source.ts runIpProbeBatch): each process costs a
 * live trace ~8 ms of CPU (the child, execa's work, the fork on the main thread), and these four need no `-d`, no
 * family and no privilege. The stdin is one fixed text, nothing else: the allow-list compares it whole.
 *
 * What the batch prints (iproute2 6.1 here; fixtures/tools/ip/batch): the four commands' outputs, byte for byte
 * what they print alone, one compact JSON array and a newline each. `rule show` in a batch line takes no `-4`:
 * `ip rule` lists IPv4 when no family is given, as the fixture's IPv6 rules show. `netns list` prints nothing at
 * all when /run/netns does not exist (fixture `nonetns.*`), the other three always print their array. A failed
 * command writes stderr and the batch exits non-zero. So the output is split back only when nothing failed (exit
 * 0, no stderr) and it holds four whole arrays, or three and `netns list` printed nothing; anything else is not
 * split (the caller runs each probe alone).
 */
import { jsonArrayLines } from './tc-batch-input.js';

/** The batch command (an allow-list stdin entry). */
export const IP_PROBE_BATCH_ARGV: readonly string[] = ['ip', '-j', '-force', '-batch', '-'];

/** The probes, in batch order: each probe's id and its line (the probe's own argv without `ip -j` / `-4`). */
export const IP_PROBE_BATCH: readonly { id: string; argv: readonly string[]; line: string }[] = [
  { id: 'ip-addr', argv: ['ip', '-j', 'addr', 'show'], line: 'addr show' },
  { id: 'ip-rule4', argv: ['ip', '-4', '-j', 'rule', 'show'], line: 'rule show' },
  { id: 'ip-neigh', argv: ['ip', '-j', 'neigh', 'show'], line: 'neigh show' },
  { id: 'ip-netns', argv: ['ip', '-j', 'netns', 'list'], line: 'netns list' },
];

/** The batch's stdin: the only text the allow-list lets `ip -j -force -batch -` read. */
export const IP_PROBE_BATCH_INPUT = `${IP_PROBE_BATCH.map((p) => p.line).join('\n')}\n`;

/** Whether `text` is stdin the allow-list lets `ip -j -force -batch -` read. */
export function validIpProbeBatchInput(text: string): boolean {
  return text === IP_PROBE_BATCH_INPUT;
}

/**
 * Each probe's stdout in IP_PROBE_BATCH order ('' for a `netns list` that printed nothing), or undefined when the
 * output does not split back unambiguously (see above).
 */
export function splitIpProbeBatch(out: {
  exitCode: number;
  stdout: string;
  stderr: string;
  failed?: string;
}): string[] | undefined {
  const lines = jsonArrayLines(out);
  const n = IP_PROBE_BATCH.length;
  // only the last command, `netns list`, may print nothing
  if (lines === undefined || (lines.length !== n && lines.length !== n - 1)) return undefined;
  const parts = lines.map((l) => `${l}\n`);
  if (parts.length === n - 1) parts.push('');
  return parts;
}
