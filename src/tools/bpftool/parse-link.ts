import type { BpfLink, Parsed } from '../../model/types.js';
import { cleanText, ev, looksLikeJson } from '../common.js';
import { ParseError } from '../parse-error.js';
import { attachTypeName, linkTypeName } from './link-types.js';
import { linkSchema } from './schema.js';
import { checkUnterminated, excerpt, firstIssue, jsonList } from '../parse-util.js';
import { Warnings } from '../warnings.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

export function renderLink(l: BpfLink, rawType?: number): string {
  const type = rawType !== undefined ? `type ${rawType} (${l.type})` : l.type;
  const where = l.ifindex !== undefined ? `  ifindex ${l.dev ?? ''}(${l.ifindex})` : '';
  return `${l.id}: ${type}  prog ${l.progId ?? '?'}${where}${l.attachType ? `  attach_type ${l.attachType}` : ''}`;
}

/**
 * `bpftool [-j] link show`. bpftool 7.1 prints link types newer than itself as numbers
 * (`"type": 11`, text `type 11`); they are named from the kernel's enum, and the evidence
 * keeps the number.
 */
export function parseBpftoolLink(text: string, probe: string): Parsed<BpfLink[]> {
  throwIfToolError(text, probe, 'bpftool link', { anywhere: true });
  const clean = cleanText(text);
  return looksLikeJson(clean) ? linkJson(clean, probe) : withPaste(clean, probe, (t) => linkText(t, probe));
}

function linkJson(text: string, probe: string): Parsed<BpfLink[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: BpfLink[] = [];
  for (const raw of jsonList(text, probe)) {
    const r = linkSchema.safeParse(raw);
    if (!r.success) {
      warnings.add('record-skipped', `link: ${firstIssue(r.error)}`);
      continue;
    }
    const j = r.data;
    const l: BpfLink = { id: j.id, type: linkTypeName(j.type), source: { probe, text: '' } };
    if (j.prog_id !== undefined) l.progId = j.prog_id;
    if (j.ifindex !== undefined) l.ifindex = j.ifindex;
    // `(unknown)`: bpftool ran outside the device's netns
    if (j.devname !== undefined && j.devname !== '(unknown)' && j.devname !== '') l.dev = j.devname;
    if (j.attach_type !== undefined) l.attachType = attachTypeName(j.attach_type);
    l.source = ev(probe, renderLink(l, typeof j.type === 'number' ? j.type : undefined));
    out.push(l);
  }
  return { value: out, warnings: warnings.done() };
}

const HEAD = /^(\d{1,10}):\s+(?:type\s+(\d{1,10})|([\w-]{1,64}))(?:\s+prog\s+(\d{1,10}))?(?:\s|$)/;

function linkText(text: string, probe: string): Parsed<BpfLink[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: BpfLink[] = [];
  let cur: BpfLink | undefined;
  let unknown = 0;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    if (/^\s/.test(raw)) {
      // `\tifindex vethA(9)  attach_type tcx_ingress`, `\tifindex (unknown)  …`, `\tcgroup_id 1  attach_type …`
      if (!cur) continue;
      const dev = /\bifindex\s+(\S{1,64})\((\d{1,10})\)/.exec(raw);
      if (dev && Number(dev[2]) <= 0xffffffff) {
        cur.dev = dev[1]!;
        cur.ifindex = Number(dev[2]);
      }
      const at = /\battach_type\s+(\S{1,64})/.exec(raw);
      if (at) cur.attachType = /^\d{1,10}$/.test(at[1]!) ? attachTypeName(Number(at[1])) : at[1]!;
      cur.source = ev(probe, `${cur.source.text}  ${raw.trim()}`);
      continue;
    }
    const line = raw.trim();
    const m = HEAD.exec(line);
    if (!m || Number(m[1]) > 0xffffffff || (m[2] !== undefined && Number(m[2]) > 0xffffffff)) {
      cur = undefined;
      unknown++;
      warnings.add('line-skipped', `not a bpftool link line: ${excerpt(line)}`);
      continue;
    }
    cur = { id: Number(m[1]), type: m[2] !== undefined ? linkTypeName(Number(m[2])) : m[3]!, source: ev(probe, line) };
    if (m[4] !== undefined && Number(m[4]) <= 0xffffffff) cur.progId = Number(m[4]);
    out.push(cur);
  }
  if (out.length === 0 && unknown > 0)
    throw new ParseError(probe, 'no `ID: TYPE  prog N` line: not `bpftool link show` output');
  checkUnterminated(text, warnings);
  return { value: out, warnings: warnings.done() };
}
