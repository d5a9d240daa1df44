import type { CgroupAttachment, Parsed } from '../../model/types.js';
import { cleanText, ev, looksLikeJson } from '../common.js';
import { ParseError } from '../parse-error.js';
import { cgroupAttachTypeName } from './link-types.js';
import { cgroupProgSchema, cgroupTreeEntrySchema } from './schema.js';
import { checkUnterminated, excerpt, firstIssue, jsonList } from '../parse-util.js';
import { Warnings } from '../warnings.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

export function renderCgroupAttachment(a: CgroupAttachment, printedType: string): string {
  return `${a.cgroup}  ${a.id}  ${printedType}${a.flags ? `  ${a.flags}` : ''}  ${a.name}`.trimEnd();
}

/**
 * `bpftool [-j] cgroup tree ROOT [effective]` (entries per cgroup) and `bpftool [-j] cgroup show
 * PATH` (a flat list; its cgroup is `root`). Attach types are normalised to libbpf's names.
 */
export function parseBpftoolCgroup(text: string, probe: string, root: string): Parsed<CgroupAttachment[]> {
  throwIfToolError(text, probe, 'bpftool cgroup', { anywhere: true });
  const clean = cleanText(text);
  return looksLikeJson(clean)
    ? cgroupJson(clean, probe, root)
    : withPaste(clean, probe, (t) => cgroupText(t, probe, root));
}

interface RawProg {
  id: number;
  attachType: string | number;
  flags?: string | undefined;
  name?: string | undefined;
}

function attachment(cgroup: string, p: RawProg, probe: string, line: string): CgroupAttachment {
  const a: CgroupAttachment = {
    cgroup,
    id: p.id,
    attachType: cgroupAttachTypeName(p.attachType),
    name: p.name ?? '',
    source: { probe, text: '' },
  };
  if (p.flags) a.flags = p.flags;
  a.source = ev(probe, line ? `${cgroup}  ${line}` : renderCgroupAttachment(a, String(p.attachType)));
  return a;
}

function cgroupJson(text: string, probe: string, root: string): Parsed<CgroupAttachment[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: CgroupAttachment[] = [];
  const addProg = (cgroup: string, raw: unknown) => {
    const r = cgroupProgSchema.safeParse(raw);
    if (!r.success) {
      warnings.add('record-skipped', `cgroup program: ${firstIssue(r.error)}`);
      return;
    }
    out.push(
      attachment(
        cgroup,
        { id: r.data.id, attachType: r.data.attach_type, flags: r.data.attach_flags, name: r.data.name },
        probe,
        '',
      ),
    );
  };
  for (const raw of jsonList(text, probe)) {
    if (raw !== null && typeof raw === 'object' && Object.hasOwn(raw, 'programs')) {
      const t = cgroupTreeEntrySchema.safeParse(raw);
      if (!t.success) {
        warnings.add('record-skipped', `cgroup tree entry: ${firstIssue(t.error)}`);
        continue;
      }
      for (const p of t.data.programs) addProg(t.data.cgroup, p);
    } else {
      addProg(root, raw);
    }
  }
  return { value: out, warnings: warnings.done() };
}

// `510      cgroup_inet4_connect multi           cil_sock4_connect` (flags may be empty; none with `effective`)
const PROG = /^(\d{1,10})\s+([\w-]{1,64})(?:\s+(multi|override))?(?:\s+(\S{1,256}))?$/;

function cgroupText(text: string, probe: string, root: string): Parsed<CgroupAttachment[]> {
  const warnings = new Warnings(probe, { maxMessage: 200 });
  const out: CgroupAttachment[] = [];
  let cgroup = root;
  let recognised = 0;
  let unknown = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (
      line === 'CgroupPath' ||
      /^ID\s+AttachType\s+AttachFlags\s+Name$/.test(line) ||
      /^ID\s+AttachType\s+Name$/.test(line)
    ) {
      recognised++;
      continue;
    }
    if (line.startsWith('/') && !/\s/.test(line)) {
      cgroup = line;
      recognised++;
      continue;
    }
    const m = PROG.exec(line);
    if (!m || Number(m[1]) > 0xffffffff) {
      unknown++;
      warnings.add('line-skipped', `not a bpftool cgroup line: ${excerpt(line)}`);
      continue;
    }
    recognised++;
    const p: RawProg = { id: Number(m[1]), attachType: m[2]!, flags: m[3], name: m[4] };
    out.push(attachment(cgroup, p, probe, line.replace(/\s+/g, ' ')));
  }
  if (recognised === 0 && unknown > 0)
    throw new ParseError(probe, 'no `ID AttachType …` line: not `bpftool cgroup tree|show` output');
  checkUnterminated(text, warnings);
  return { value: out, warnings: warnings.done() };
}
