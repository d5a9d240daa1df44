import type { BpfHook, BpfNetAttachment, Parsed } from '../../model/types.js';
import { cleanText, ev, looksLikeJson } from '../common.js';
import { ParseError } from '../parse-error.js';
import { netBlockSchema, netEntrySchema } from './schema.js';
import { checkUnterminated, excerpt, firstIssue, jsonList } from '../parse-util.js';
import { Warnings } from '../warnings.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

const KIND_TO_HOOK: Readonly<Record<string, BpfHook>> = {
  'clsact/ingress': 'tc-ingress',
  'clsact/egress': 'tc-egress',
  'tcx/ingress': 'tcx-ingress',
  'tcx/egress': 'tcx-egress',
  'netkit/peer': 'netkit-peer',
  'netkit/primary': 'netkit-primary',
};
const HOOK_TO_KIND = Object.fromEntries(Object.entries(KIND_TO_HOOK).map(([k, h]) => [h, k])) as Record<
  BpfHook,
  string
>;
const XDP_MODES = new Set(['driver', 'generic', 'offload', 'hw', 'skb']);

/** The attachment as `bpftool net show` prints it. */
export function renderNetAttachment(a: BpfNetAttachment): string {
  if (a.hook === 'xdp') return `${a.dev}(${a.ifindex}) ${a.mode ?? 'xdp'} id ${a.progId ?? '?'}`;
  const head = `${a.dev}(${a.ifindex}) ${HOOK_TO_KIND[a.hook]} ${a.name}`;
  if (a.hook.startsWith('tc-')) return `${head} id ${a.progId ?? '?'}`;
  return `${head} prog_id ${a.progId ?? '?'}${a.linkId !== undefined ? ` link_id ${a.linkId}` : ''}`;
}

interface RawEntry {
  devname: string;
  ifindex: number;
  kind?: string | undefined;
  name?: string | undefined;
  progId?: number | undefined;
  linkId?: number | undefined;
}

/**
 * `bpftool [-j] net show`: XDP and tc-hook attachments of the current netns. bpftool 7.1
 * lists only clsact (cls_bpf) programs; ≥7.3 also tcx and netkit (with `prog_id`/`link_id`).
 * flow_dissector and netfilter attachments are not part of the model and are reported.
 */
export function parseBpftoolNet(text: string, probe: string): Parsed<BpfNetAttachment[]> {
  throwIfToolError(text, probe, 'bpftool net', { anywhere: true });
  const clean = cleanText(text);
  return looksLikeJson(clean) ? netJson(clean, probe) : withPaste(clean, probe, (t) => netText(t, probe));
}

function tcAttachment(e: RawEntry, probe: string, warnings: Warnings, line: string): BpfNetAttachment | undefined {
  const hook = e.kind !== undefined && Object.hasOwn(KIND_TO_HOOK, e.kind) ? KIND_TO_HOOK[e.kind] : undefined;
  if (!hook) {
    warnings.add(
      'unknown-attach-kind',
      `${e.devname}: attachment kind ${JSON.stringify(e.kind ?? null)} is not one netpath knows; skipped`,
    );
    return undefined;
  }
  const a: BpfNetAttachment = {
    dev: e.devname,
    ifindex: e.ifindex,
    hook,
    name: e.name ?? '',
    source: { probe, text: '' },
  };
  if (e.progId !== undefined) a.progId = e.progId;
  // link_id 0: attached with BPF_PROG_ATTACH (no bpf_link), as `bpftool net attach` does
  if (e.linkId !== undefined && e.linkId !== 0) a.linkId = e.linkId;
  a.source = ev(probe, line || renderNetAttachment(a));
  return a;
}

function xdpAttachment(
  dev: string,
  ifindex: number,
  mode: string,
  id: number | undefined,
  probe: string,
  line: string,
): BpfNetAttachment {
  const a: BpfNetAttachment = { dev, ifindex, hook: 'xdp', name: '', mode, source: { probe, text: '' } };
  if (id !== undefined) a.progId = id;
  a.source = ev(probe, line || renderNetAttachment(a));
  return a;
}

function netJson(text: string, probe: string): Parsed<BpfNetAttachment[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: BpfNetAttachment[] = [];
  for (const rawBlock of jsonList(text, probe)) {
    const b = netBlockSchema.safeParse(rawBlock);
    if (!b.success) {
      warnings.add('record-skipped', `net block: ${firstIssue(b.error)}`);
      continue;
    }
    for (const raw of b.data.xdp ?? []) {
      const r = netEntrySchema.safeParse(raw);
      if (!r.success) {
        warnings.add('record-skipped', `xdp entry: ${firstIssue(r.error)}`);
        continue;
      }
      const e = r.data;
      const progs = e.multi_attachments ?? (e.mode !== undefined ? [{ mode: e.mode, id: e.id }] : []);
      if (progs.length === 0) warnings.add('record-skipped', `xdp entry of ${e.devname}: no mode`);
      for (const p of progs) out.push(xdpAttachment(e.devname, e.ifindex, p.mode, p.id, probe, ''));
    }
    for (const raw of b.data.tc ?? []) {
      const r = netEntrySchema.safeParse(raw);
      if (!r.success) {
        warnings.add('record-skipped', `tc entry: ${firstIssue(r.error)}`);
        continue;
      }
      const e = r.data;
      const a = tcAttachment(
        {
          devname: e.devname,
          ifindex: e.ifindex,
          kind: e.kind,
          name: e.name,
          progId: e.prog_id ?? e.id,
          linkId: e.link_id,
        },
        probe,
        warnings,
        '',
      );
      if (a) out.push(a);
    }
    for (const section of ['flow_dissector', 'netfilter'] as const) {
      const n = b.data[section]?.length ?? 0;
      if (n > 0) warnings.add('unmodelled-attachment', `${n} ${section} attachment(s) not modelled`);
    }
  }
  return { value: out, warnings: warnings.done() };
}

const SECTION = /^(xdp|tc|flow_dissector|netfilter):$/;
const DEV = /^(\S{1,64})\((\d{1,10})\)\s+(\S+)(?:\s+(.*))?$/;

function netText(text: string, probe: string): Parsed<BpfNetAttachment[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: BpfNetAttachment[] = [];
  let section = '';
  let sawSection = false;
  const unmodelled: Record<string, number> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const s = SECTION.exec(line);
    if (s) {
      section = s[1]!;
      sawSection = true;
      continue;
    }
    const m = DEV.exec(line);
    const ifindex = m ? Number(m[2]) : NaN;
    if (!m || !section || ifindex > 0xffffffff) {
      warnings.add('line-skipped', `not a bpftool net line: ${excerpt(line)}`);
      continue;
    }
    const dev = m[1]!;
    const tokens = (m[4] ?? '').split(/\s+/).filter((t) => t !== '');
    const num = (key: string): number | undefined => {
      const i = tokens.indexOf(key);
      const v = i >= 0 ? tokens[i + 1] : undefined;
      return v !== undefined && /^\d{1,10}$/.test(v) && Number(v) <= 0xffffffff ? Number(v) : undefined;
    };
    if (section === 'xdp') {
      // `eth0(2) driver id 496`; several programs: one `MODE id N` pair each
      const pairs = [m[3]!, ...tokens];
      let found = 0;
      for (let i = 0; i + 2 < pairs.length + 1; i++) {
        const mode = pairs[i]!;
        if (XDP_MODES.has(mode) && pairs[i + 1] === 'id' && /^\d{1,10}$/.test(pairs[i + 2] ?? '')) {
          out.push(xdpAttachment(dev, ifindex, mode, Number(pairs[i + 2]), probe, line));
          found++;
          i += 2;
        }
      }
      if (found === 0) warnings.add('line-skipped', `xdp line without \`MODE id N\`: ${excerpt(line)}`);
    } else if (section === 'tc') {
      const first = tokens[0];
      const name = first !== undefined && first !== 'id' && first !== 'prog_id' ? first : undefined;
      const a = tcAttachment(
        { devname: dev, ifindex, kind: m[3]!, name, progId: num('prog_id') ?? num('id'), linkId: num('link_id') },
        probe,
        warnings,
        line,
      );
      if (a) out.push(a);
      const rest = tokens.slice(name !== undefined ? 1 : 0);
      const odd =
        rest.some((t, i) => (i % 2 === 0 ? !['id', 'prog_id', 'link_id'].includes(t) : !/^\d{1,10}$/.test(t))) ||
        rest.length % 2 === 1;
      if (a && odd) warnings.add('partial-line', `words bpftool does not print there (truncated?): ${excerpt(line)}`);
    } else {
      unmodelled[section] = (unmodelled[section] ?? 0) + 1;
    }
  }
  for (const [section, n] of Object.entries(unmodelled))
    warnings.add('unmodelled-attachment', `${n} ${section} attachment(s) not modelled`);
  if (!sawSection && text.trim() !== '')
    throw new ParseError(probe, 'no `xdp:` / `tc:` section: not `bpftool net show` output');
  checkUnterminated(text, warnings);
  return { value: out, warnings: warnings.done() };
}
