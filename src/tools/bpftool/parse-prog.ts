import type { BpfProgram, Parsed } from '../../model/types.js';
import { cleanText, ev, looksLikeJson } from '../common.js';
import { ParseError } from '../parse-error.js';
import { progSchema } from './schema.js';
import { checkUnterminated, excerpt, firstIssue, jsonList } from '../parse-util.js';
import { Warnings } from '../warnings.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

export function renderProgram(p: BpfProgram): string {
  return `${p.id}: ${p.type}${p.name ? `  name ${p.name}` : ''}${p.tag ? `  tag ${p.tag}` : ''}`;
}

/**
 * `bpftool [-j] prog show` (also a single object from `prog show id N`). `name` is the full
 * BTF function name where bpftool can recover it, not the kernel's 15-character one.
 */
export function parseBpftoolProg(text: string, probe: string): Parsed<BpfProgram[]> {
  throwIfToolError(text, probe, 'bpftool prog', { anywhere: true });
  const clean = cleanText(text);
  return looksLikeJson(clean) ? progJson(clean, probe) : withPaste(clean, probe, (t) => progText(t, probe));
}

function progJson(text: string, probe: string): Parsed<BpfProgram[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: BpfProgram[] = [];
  for (const raw of jsonList(text, probe)) {
    const r = progSchema.safeParse(raw);
    if (!r.success) {
      warnings.add('record-skipped', `prog: ${firstIssue(r.error)}`);
      continue;
    }
    const j = r.data;
    const p: BpfProgram = {
      id: j.id,
      type: typeof j.type === 'number' ? `type ${j.type}` : j.type,
      name: j.name ?? '',
      source: { probe, text: '' },
    };
    if (j.tag !== undefined) p.tag = j.tag;
    if (j.map_ids !== undefined) p.mapIds = [...j.map_ids];
    if (j.btf_id !== undefined) p.btfId = j.btf_id;
    p.source = ev(probe, renderProgram(p));
    out.push(p);
  }
  return { value: out, warnings: warnings.done() };
}

// `483: sched_cls  name cil_from_container  tag d4d950593910dd42  gpl`; unknown types print `type 32`
const HEAD =
  /^(\d{1,10}):\s+(type\s+\d{1,10}|[\w-]{1,64})(?:\s+name\s+(\S{1,256}))?(?:\s+tag\s+([0-9a-f]{1,64}))?(?:\s|$)/;

function progText(text: string, probe: string): Parsed<BpfProgram[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: BpfProgram[] = [];
  let cur: BpfProgram | undefined;
  let unknown = 0;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    if (/^\s/.test(raw)) {
      // detail lines of the program above: loaded_at, xlated/map_ids, btf_id, pids
      if (!cur) continue;
      const maps = /\bmap_ids\s+(\d{1,10}(?:,\d{1,10})*)/.exec(raw);
      if (maps)
        cur.mapIds = maps[1]!
          .split(',')
          .map(Number)
          .filter((n) => n <= 0xffffffff);
      const btf = /\bbtf_id\s+(\d{1,10})\b/.exec(raw);
      if (btf && Number(btf[1]) <= 0xffffffff) cur.btfId = Number(btf[1]);
      continue;
    }
    const line = raw.trim();
    const m = HEAD.exec(line);
    if (!m || Number(m[1]) > 0xffffffff) {
      cur = undefined;
      unknown++;
      warnings.add('line-skipped', `not a bpftool prog line: ${excerpt(line)}`);
      continue;
    }
    cur = { id: Number(m[1]), type: m[2]!.replace(/\s+/, ' '), name: m[3] ?? '', source: ev(probe, line) };
    if (m[4] !== undefined) cur.tag = m[4];
    out.push(cur);
  }
  if (out.length === 0 && unknown > 0)
    throw new ParseError(probe, 'no `ID: TYPE  name …` line: not `bpftool prog show` output');
  checkUnterminated(text, warnings);
  return { value: out, warnings: warnings.done() };
}
