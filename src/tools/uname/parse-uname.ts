import type { Parsed, Warning } from '../../model/types.js';
import { cleanText } from '../common.js';
import { ParseError } from '../parse-error.js';

// `uname -r`: 6.18.44-fc-v669, 5.15.0-1051-aws, 6.1.0-18-cloud-amd64, 4.18.0-513.el8.x86_64, 6.8.0-rc3+
const RELEASE = /^(\d{1,3})\.(\d{1,3})(?:\.\d{1,6})?[\w.+~-]{0,100}$/;

/** The kernel release printed by `uname -r`. Anything else on the first line is a ParseError. */
export function parseUname(text: string, probe: string): Parsed<string> {
  const lines = cleanText(text)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const first = lines[0];
  if (first === undefined) throw new ParseError(probe, 'empty: no kernel release');
  if (!RELEASE.test(first))
    throw new ParseError(
      probe,
      `not a kernel release: ${JSON.stringify(first.replace(/[^\x20-\x7e]/g, '?').slice(0, 40))}`,
    );
  const warnings: Warning[] =
    lines.length > 1
      ? [
          {
            code: 'line-skipped',
            message: `${lines.length - 1} more line(s) after the kernel release ignored`,
            source: probe,
          },
        ]
      : [];
  return { value: first, warnings };
}

/** [major, minor] of a kernel release, for feature checks (tcx needs 6.6, netkit 6.7). */
export function kernelVersion(release: string): [number, number] | null {
  const m = /^(\d{1,3})\.(\d{1,3})/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : null;
}
