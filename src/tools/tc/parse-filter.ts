import type { Parsed, TcDirection, TcFilter } from '../../model/types.js';
import { cleanText, ev, looksLikeJson } from '../common.js';
import { ParseError } from '../parse-error.js';
import { tcFilterSchema } from './schema.js';
import { checkUnterminated, excerpt, firstIssue, jsonArray } from '../parse-util.js';
import { Warnings } from '../warnings.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

/** The filter as `tc filter show` would print it (evidence for JSON input). */
export function renderTcFilter(f: TcFilter): string {
  const parts = ['filter'];
  if (f.protocol) parts.push('protocol', f.protocol);
  if (f.pref !== undefined) parts.push('pref', String(f.pref));
  parts.push(f.kind);
  if (f.chain !== undefined) parts.push('chain', String(f.chain));
  if (f.handle) parts.push(f.kind === 'u32' ? 'fh' : 'handle', f.handle);
  if (f.bpfName) parts.push(f.bpfName);
  if (f.directAction) parts.push('direct-action');
  if (f.progId !== undefined) parts.push('id', String(f.progId));
  if (f.progName) parts.push('name', f.progName);
  if (f.tag) parts.push('tag', f.tag);
  return parts.join(' ');
}

function brokenJsonHint(text: string): string {
  // iproute2 6.1: with -p, u32 also switches to "pretty" match decoding and the JSON writer
  // aborts mid-object, leaving invalid JSON; without -p the same command prints valid JSON.
  if (/"kind"\s*:\s*"u32"/.test(text))
    return ' — `tc -j -p` prints invalid JSON when u32 filters are present (iproute2 6.1); capture with `tc -j` without `-p`';
  if (/\n\s{4,}"/.test(text)) return ' — if this came from `tc -j -p`, capture with `tc -j` without `-p`';
  return '';
}

/**
 * `tc [-j] [-s] [-d] filter show dev DEV ingress|egress`. The per-priority header
 * (`filter protocol all pref 1 bpf chain 0`, or a JSON element without `options`) and u32
 * hash-table nodes (`fh 800: ht divisor 1`) are not filters and are skipped.
 */
export function parseTcFilter(text: string, probe: string, dev: string, direction: TcDirection): Parsed<TcFilter[]> {
  throwIfToolError(text, probe, 'tc');
  const clean = cleanText(text);
  return looksLikeJson(clean)
    ? filterJson(clean, probe, dev, direction)
    : withPaste(clean, probe, (t) => filterText(t, probe, dev, direction));
}

function filterJson(text: string, probe: string, dev: string, direction: TcDirection): Parsed<TcFilter[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: TcFilter[] = [];
  const arr = jsonArray(text, probe, brokenJsonHint(text));
  for (const raw of arr) {
    const r = tcFilterSchema.safeParse(raw);
    if (!r.success) {
      warnings.add('record-skipped', `tc filter: ${firstIssue(r.error)}`);
      continue;
    }
    const j = r.data;
    const o = j.options;
    if (!o) continue;
    if (j.kind === 'u32' && o.ht_divisor !== undefined) continue;
    const f: TcFilter = { dev, direction, kind: j.kind, source: { probe, text: '' } };
    if (j.protocol !== undefined) f.protocol = j.protocol;
    if (j.pref !== undefined) f.pref = j.pref;
    if (j.chain !== undefined) f.chain = j.chain;
    const handle = o.handle ?? o.fh;
    if (handle !== undefined) f.handle = handle;
    if (o.bpf_name !== undefined) f.bpfName = o.bpf_name;
    if (o['direct-action'] === true) f.directAction = true;
    if (o.prog?.id !== undefined) f.progId = o.prog.id;
    if (o.prog?.name !== undefined) f.progName = o.prog.name;
    if (o.prog?.tag !== undefined) f.tag = o.prog.tag;
    f.source = ev(probe, renderTcFilter(f));
    out.push(f);
  }
  return { value: out, warnings: warnings.done() };
}

const LINE =
  /^filter(?:\s+parent\s+\S+)?\s+protocol\s+(\S+)\s+pref\s+(\d{1,10})\s+([\w.-]+)(?:\s+chain\s+(\d{1,10}))?(?:\s+(.*))?$/;
// Words cls_bpf prints after the handle; anything else in that place is the filter's name.
const BPF_WORDS = new Set([
  'direct-action',
  'not_in_hw',
  'in_hw',
  'in_hw_count',
  'skip_hw',
  'skip_sw',
  'id',
  'name',
  'tag',
  'jited',
  'flowid',
  'classid',
]);

function filterText(text: string, probe: string, dev: string, direction: TcDirection): Parsed<TcFilter[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: TcFilter[] = [];
  let recognised = 0;
  let unknown = 0;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    // match keys, actions and statistics of the filter above are printed indented
    if (/^\s/.test(raw) && recognised > 0) continue;
    const line = raw.trim();
    const m = LINE.exec(line);
    if (!m) {
      unknown++;
      warnings.add('line-skipped', `not a tc filter line: ${excerpt(line)}`);
      continue;
    }
    recognised++;
    const pref = Number(m[2]);
    const chain = m[4] !== undefined ? Number(m[4]) : undefined;
    if (pref > 0xffffffff || (chain !== undefined && chain > 0xffffffff)) {
      warnings.add('record-skipped', `tc filter: number out of range: ${excerpt(line)}`);
      continue;
    }
    const kind = m[3]!;
    const tokens = (m[5] ?? '').split(/\s+/).filter((t) => t !== '');
    const hIdx = tokens.findIndex((t) => t === 'handle' || (kind === 'u32' && t === 'fh'));
    if (hIdx < 0 || tokens[hIdx + 1] === undefined) continue; // the per-priority header
    if (kind === 'u32' && tokens.includes('divisor')) continue; // u32 hash table node
    const f: TcFilter = { dev, direction, kind, protocol: m[1]!, pref, source: ev(probe, line) };
    if (chain !== undefined) f.chain = chain;
    f.handle = tokens[hIdx + 1]!;
    if (kind === 'bpf') {
      let i = hIdx + 2;
      const first = tokens[i];
      if (first !== undefined && !BPF_WORDS.has(first)) {
        f.bpfName = first;
        i++;
      }
      for (; i < tokens.length; i++) {
        const t = tokens[i]!;
        const next = tokens[i + 1];
        if (t === 'direct-action') f.directAction = true;
        else if (t === 'id' && next !== undefined && /^\d{1,10}$/.test(next) && Number(next) <= 0xffffffff)
          f.progId = Number(next);
        else if (t === 'name' && next !== undefined) f.progName = next;
        else if (t === 'tag' && next !== undefined && /^[0-9a-f]{1,64}$/.test(next)) f.tag = next;
        else continue;
        if (t !== 'direct-action') i++;
      }
    }
    out.push(f);
  }
  if (recognised === 0 && unknown > 0)
    throw new ParseError(probe, 'no `filter protocol … pref …` line: not `tc filter show` output');
  checkUnterminated(text, warnings);
  return { value: out, warnings: warnings.done() };
}
