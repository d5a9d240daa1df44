import { z } from 'zod';
import type { Parsed, TcDirection, TcFilter, Warning } from '../../model/types.js';
import { cleanText, ev, looksLikeJson, parseJsonText, warn } from '../common.js';
import { ParseError } from '../parse-error.js';

// tc(8) from iproute2: `tc -j filter show dev X ingress|egress`, `tc -j qdisc show`.

const filterSchema = z.looseObject({
  protocol: z.string().optional(),
  pref: z.number().int().optional(),
  kind: z.string(),
  chain: z.number().int().optional(),
  options: z
    .looseObject({
      handle: z.string().optional(),
      bpf_name: z.string().optional(),
      'direct-action': z.boolean().optional(),
      prog: z.looseObject({ id: z.number().int().optional(), name: z.string().optional(), tag: z.string().optional() }).optional(),
    })
    .optional(),
});

const qdiscSchema = z.looseObject({ kind: z.string(), handle: z.string().optional(), dev: z.string(), parent: z.string().optional() });

export interface TcQdisc {
  dev: string;
  kind: string;
  handle?: string;
  parent?: string;
}

function render(f: TcFilter): string {
  return `filter protocol ${f.protocol ?? '?'} pref ${f.pref ?? '?'} ${f.kind} chain ${f.chain ?? 0}${f.handle ? ` handle ${f.handle}` : ''}${f.bpfName ? ` ${f.bpfName}` : ''}${f.directAction ? ' direct-action' : ''}${f.progId !== undefined ? ` id ${f.progId}` : ''}${f.progName ? ` name ${f.progName}` : ''}${f.tag ? ` tag ${f.tag}` : ''}`;
}

function jsonArr(text: string, probe: string, hint = ''): unknown[] {
  const r = parseJsonText(text);
  if (!r.ok) throw new ParseError(probe, `${r.message}${hint}`);
  if (!Array.isArray(r.value)) throw new ParseError(probe, 'expected a JSON array');
  return r.value;
}

export function parseTcFilter(text: string, probe: string, dev: string, direction: TcDirection): Parsed<TcFilter[]> {
  const warnings: Warning[] = [];
  const out: TcFilter[] = [];
  if (looksLikeJson(cleanText(text))) {
    // tc -j -p prints invalid JSON for u32 filters (iproute2 6.1): capture without -p.
    for (const raw of jsonArr(text, probe, ' — `tc -j -p` is known to print broken JSON for u32 filters; capture with `tc -j` (no -p)')) {
      const r = filterSchema.safeParse(raw);
      if (!r.success) {
        warnings.push(warn('record-skipped', `filter: ${r.error.issues[0]?.message}`, probe));
        continue;
      }
      const j = r.data;
      // the chain/pref header entry (no options) is not a filter of its own
      if (!j.options) continue;
      const f: TcFilter = { dev, direction, kind: j.kind, source: { probe, text: '' } };
      if (j.pref !== undefined) f.pref = j.pref;
      if (j.protocol) f.protocol = j.protocol;
      if (j.chain !== undefined) f.chain = j.chain;
      const o = j.options;
      if (o.handle) f.handle = o.handle;
      if (o.bpf_name) f.bpfName = o.bpf_name;
      if (o['direct-action']) f.directAction = true;
      if (o.prog?.id !== undefined) f.progId = o.prog.id;
      if (o.prog?.name) f.progName = o.prog.name;
      if (o.prog?.tag) f.tag = o.prog.tag;
      f.source = ev(probe, render(f));
      out.push(f);
    }
    return { value: out, warnings };
  }
  let recognised = 0;
  for (const raw of cleanText(text).split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^filter\s+(?:parent\s+\S+\s+)?protocol\s+(\S+)\s+pref\s+(\d+)\s+(\S+)(?:\s+chain\s+(\d+))?(.*)$/.exec(line);
    if (!m) continue;
    recognised++;
    const rest = m[5] ?? '';
    if (!/\bhandle\s/.test(rest)) continue;
    const f: TcFilter = { dev, direction, kind: m[3]!, protocol: m[1]!, pref: Number(m[2]), source: ev(probe, line) };
    if (m[4] !== undefined) f.chain = Number(m[4]);
    const h = /\bhandle\s+(\S+)/.exec(rest);
    if (h) f.handle = h[1]!;
    if (f.kind === 'bpf') {
      const name = /\bhandle\s+\S+\s+(\S+)/.exec(rest);
      if (name && !['direct-action', 'not_in_hw', 'in_hw', 'id'].includes(name[1]!)) f.bpfName = name[1]!;
      if (/\bdirect-action\b/.test(rest)) f.directAction = true;
      const id = /\bid\s+(\d+)/.exec(rest);
      if (id) f.progId = Number(id[1]);
      const pn = /\bname\s+(\S+)/.exec(rest);
      if (pn) f.progName = pn[1]!;
      const tag = /\btag\s+([0-9a-f]+)/.exec(rest);
      if (tag) f.tag = tag[1]!;
    }
    out.push(f);
  }
  if (recognised === 0 && cleanText(text).trim() !== '') throw new ParseError(probe, 'no `filter protocol ... pref ...` line: not tc filter output');
  return { value: out, warnings };
}

export function parseTcQdisc(text: string, probe: string): Parsed<TcQdisc[]> {
  const warnings: Warning[] = [];
  const out: TcQdisc[] = [];
  if (looksLikeJson(cleanText(text))) {
    for (const raw of jsonArr(text, probe)) {
      const r = qdiscSchema.safeParse(raw);
      if (!r.success) continue;
      const q: TcQdisc = { dev: r.data.dev, kind: r.data.kind };
      if (r.data.handle) q.handle = r.data.handle;
      if (r.data.parent) q.parent = r.data.parent;
      out.push(q);
    }
    return { value: out, warnings };
  }
  for (const raw of cleanText(text).split('\n')) {
    const m = /^qdisc\s+(\S+)\s+(\S+)\s+dev\s+(\S+)(?:\s+(?:parent\s+(\S+)|root))?/.exec(raw.trim());
    if (m) out.push({ kind: m[1]!, handle: m[2]!, dev: m[3]!, ...(m[4] ? { parent: m[4] } : {}) });
  }
  return { value: out, warnings };
}
