import type { Evidence, Parsed } from '../../model/types.js';
import { cleanText, ev, looksLikeJson } from '../common.js';
import { ParseError } from '../parse-error.js';
import { tcQdiscSchema } from './schema.js';
import { checkUnterminated, excerpt, firstIssue, jsonArray } from '../parse-util.js';
import { Warnings } from '../warnings.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

export interface TcQdisc {
  dev: string;
  /** clsact, ingress, noqueue, mq, fq_codel, ... */
  kind: string;
  /** `ffff:`, `0:` */
  handle?: string;
  /** parent handle (`ffff:fff1` for clsact/ingress), or `root` */
  parent?: string;
  source: Evidence;
}

export function renderTcQdisc(q: TcQdisc): string {
  const where = q.parent === undefined ? '' : q.parent === 'root' ? ' root' : ` parent ${q.parent}`;
  return `qdisc ${q.kind}${q.handle ? ` ${q.handle}` : ''} dev ${q.dev}${where}`;
}

/**
 * `tc [-j] qdisc show [dev DEV]`. tc leaves `dev` out of the JSON when the command named a
 * device; pass it as `dev` then.
 */
export function parseTcQdisc(text: string, probe: string, dev?: string): Parsed<TcQdisc[]> {
  throwIfToolError(text, probe, 'tc');
  const clean = cleanText(text);
  return looksLikeJson(clean) ? qdiscOf(clean, probe, dev) : withPaste(clean, probe, (t) => qdiscOf(t, probe, dev));
}

function qdiscOf(clean: string, probe: string, dev?: string): Parsed<TcQdisc[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: TcQdisc[] = [];
  if (looksLikeJson(clean)) {
    for (const raw of jsonArray(clean, probe)) {
      const r = tcQdiscSchema.safeParse(raw);
      if (!r.success) {
        warnings.add('record-skipped', `tc qdisc: ${firstIssue(r.error)}`);
        continue;
      }
      const j = r.data;
      const d = j.dev ?? dev;
      if (d === undefined) {
        warnings.add(
          'record-skipped',
          `tc qdisc ${j.kind}: no device (output of \`tc qdisc show dev X\`; the caller did not say which)`,
        );
        continue;
      }
      const q: TcQdisc = { dev: d, kind: j.kind, source: { probe, text: '' } };
      if (j.handle !== undefined) q.handle = j.handle;
      if (j.parent !== undefined) q.parent = j.parent;
      else if (j.root === true) q.parent = 'root';
      q.source = ev(probe, renderTcQdisc(q));
      out.push(q);
    }
    return { value: out, warnings: warnings.done() };
  }
  let recognised = 0;
  let unknown = 0;
  for (const raw of clean.split('\n')) {
    if (raw.trim() === '') continue;
    if (/^\s/.test(raw) && recognised > 0) continue; // statistics lines of `tc -s qdisc`
    const line = raw.trim();
    const m =
      /^qdisc\s+([\w.-]{1,64})\s+([0-9a-f]{0,8}:[0-9a-f]{0,8})\s+dev\s+(\S{1,64})(?:\s+(root|parent\s+(\S+)))?/.exec(
        line,
      );
    if (!m) {
      unknown++;
      warnings.add('line-skipped', `not a tc qdisc line: ${excerpt(line)}`);
      continue;
    }
    recognised++;
    const q: TcQdisc = { dev: m[3]!, kind: m[1]!, handle: m[2]!, source: ev(probe, line) };
    if (m[4] === 'root') q.parent = 'root';
    else if (m[5] !== undefined) q.parent = m[5];
    out.push(q);
  }
  if (recognised === 0 && unknown > 0)
    throw new ParseError(probe, 'no `qdisc KIND HANDLE dev DEV` line: not `tc qdisc show` output');
  checkUnterminated(clean, warnings);
  return { value: out, warnings: warnings.done() };
}
