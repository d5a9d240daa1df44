import type { Parsed } from '../../model/types.js';
import { cleanText } from '../common.js';
import { ParseError } from '../parse-error.js';

/** `uname -r`: a kernel release such as 6.18.44-fc-v669. */
export function parseUname(text: string, probe: string): Parsed<string> {
  const line = cleanText(text).trim().split('\n')[0]!.trim();
  if (!/^\d+\.\d+[\w.+~-]*$/.test(line) || line.length > 128) throw new ParseError(probe, `not a kernel release: ${JSON.stringify(line.slice(0, 40))}`);
  return { value: line, warnings: [] };
}

/** [major, minor] of a kernel release, for feature checks (tcx needs 6.6, netkit 6.7). */
export function kernelVersion(release: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : null;
}
