import { z } from 'zod';
import type { BpfHook, BpfLink, BpfNetAttachment, BpfProgram, CgroupAttachment, Parsed, Warning } from '../../model/types.js';
import { cleanText, ev, looksLikeJson, parseJsonText, warn } from '../common.js';
import { ParseError } from '../parse-error.js';

// bpftool(8): `net show`, `prog show`, `link show`, `cgroup tree|show`. Debian 12 ships 7.1, which
// does not list tcx attachments in `net show` and prints tcx links as `type 11`.

function arr(text: string, probe: string): unknown[] {
  const r = parseJsonText(text);
  if (!r.ok) throw new ParseError(probe, r.message);
  if (!Array.isArray(r.value)) throw new ParseError(probe, 'expected a JSON array');
  return r.value;
}

const KIND_TO_HOOK: Record<string, BpfHook> = {
  'clsact/ingress': 'tc-ingress',
  'clsact/egress': 'tc-egress',
  'tcx/ingress': 'tcx-ingress',
  'tcx/egress': 'tcx-egress',
  'netkit/peer': 'netkit-peer',
  'netkit/primary': 'netkit-primary',
};

const netEntry = z.looseObject({
  devname: z.string(),
  ifindex: z.number().int(),
  kind: z.string().optional(),
  mode: z.string().optional(),
  name: z.string().optional(),
  id: z.number().int().optional(),
  prog_id: z.number().int().optional(),
  link_id: z.number().int().optional(),
});

function netText(a: BpfNetAttachment): string {
  if (a.hook === 'xdp') return `${a.dev}(${a.ifindex}) ${a.mode ?? 'xdp'} id ${a.progId}`;
  const kind = Object.entries(KIND_TO_HOOK).find(([, h]) => h === a.hook)?.[0] ?? a.hook;
  return `${a.dev}(${a.ifindex}) ${kind} ${a.name}${a.linkId !== undefined ? ` prog_id ${a.progId} link_id ${a.linkId}` : ` id ${a.progId}`}`;
}

export function parseBpftoolNet(text: string, probe: string): Parsed<BpfNetAttachment[]> {
  const warnings: Warning[] = [];
  const out: BpfNetAttachment[] = [];
  const add = (o: z.infer<typeof netEntry>, section: string) => {
    let hook: BpfHook | undefined;
    if (section === 'xdp') hook = 'xdp';
    else if (o.kind) hook = KIND_TO_HOOK[o.kind];
    if (!hook) {
      warnings.push(warn('unknown-attach-kind', `${o.devname}: unknown attachment kind ${JSON.stringify(o.kind)}`, probe));
      return;
    }
    const a: BpfNetAttachment = { dev: o.devname, ifindex: o.ifindex, hook, name: o.name ?? '', source: { probe, text: '' } };
    const id = o.prog_id ?? o.id;
    if (id !== undefined) a.progId = id;
    if (o.link_id !== undefined && o.link_id !== 0) a.linkId = o.link_id;
    if (o.mode) a.mode = o.mode;
    a.source = ev(probe, netText(a));
    out.push(a);
  };
  if (looksLikeJson(cleanText(text))) {
    for (const block of arr(text, probe)) {
      if (block === null || typeof block !== 'object') continue;
      for (const section of ['xdp', 'tc']) {
        const list = (block as Record<string, unknown>)[section];
        if (!Array.isArray(list)) continue;
        for (const raw of list) {
          const r = netEntry.safeParse(raw);
          if (r.success) add(r.data, section);
          else warnings.push(warn('record-skipped', `${section} entry: ${r.error.issues[0]?.message}`, probe));
        }
      }
    }
    return { value: out, warnings };
  }
  let section = '';
  let sawSection = false;
  for (const raw of cleanText(text).split('\n')) {
    const line = raw.trim();
    const s = /^(xdp|tc|flow_dissector|netfilter):$/.exec(line);
    if (s) {
      section = s[1]!;
      sawSection = true;
      continue;
    }
    const m = /^(\S+)\((\d+)\)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m || (section !== 'tc' && section !== 'xdp')) continue;
    const rest = m[4]!;
    const o: z.infer<typeof netEntry> = { devname: m[1]!, ifindex: Number(m[2]) };
    if (section === 'xdp') {
      o.mode = m[3]!;
      const id = /\bid\s+(\d+)/.exec(rest);
      if (id) o.id = Number(id[1]);
    } else {
      o.kind = m[3]!;
      const name = /^(\S+)/.exec(rest);
      if (name && name[1] !== 'id' && name[1] !== 'prog_id') o.name = name[1]!;
      const pid = /\bprog_id\s+(\d+)/.exec(rest) ?? /\bid\s+(\d+)/.exec(rest);
      if (pid) o.id = Number(pid[1]);
      const lid = /\blink_id\s+(\d+)/.exec(rest);
      if (lid) o.link_id = Number(lid[1]);
    }
    add(o, section);
  }
  if (!sawSection && cleanText(text).trim() !== '') throw new ParseError(probe, 'no `xdp:`/`tc:` section: not bpftool net output');
  return { value: out, warnings };
}

const progEntry = z.looseObject({
  id: z.number().int(),
  type: z.string(),
  name: z.string().optional(),
  tag: z.string().optional(),
  map_ids: z.array(z.number().int()).optional(),
  btf_id: z.number().int().optional(),
});

export function parseBpftoolProg(text: string, probe: string): Parsed<BpfProgram[]> {
  const warnings: Warning[] = [];
  const out: BpfProgram[] = [];
  if (looksLikeJson(cleanText(text))) {
    for (const raw of arr(text, probe)) {
      const r = progEntry.safeParse(raw);
      if (!r.success) {
        warnings.push(warn('record-skipped', `prog: ${r.error.issues[0]?.message}`, probe));
        continue;
      }
      const p: BpfProgram = { id: r.data.id, type: r.data.type, name: r.data.name ?? '', source: ev(probe, `${r.data.id}: ${r.data.type}  name ${r.data.name ?? ''}  tag ${r.data.tag ?? ''}`) };
      if (r.data.tag) p.tag = r.data.tag;
      if (r.data.map_ids) p.mapIds = r.data.map_ids;
      if (r.data.btf_id !== undefined) p.btfId = r.data.btf_id;
      out.push(p);
    }
    return { value: out, warnings };
  }
  for (const raw of cleanText(text).split('\n')) {
    const m = /^(\d+):\s+(\S+)\s+(?:name\s+(\S+)\s+)?(?:tag\s+([0-9a-f]+))?/.exec(raw);
    if (!m) continue;
    const p: BpfProgram = { id: Number(m[1]), type: m[2]!, name: m[3] ?? '', source: ev(probe, raw.trim()) };
    if (m[4]) p.tag = m[4];
    out.push(p);
  }
  return { value: out, warnings };
}

// enum bpf_link_type (include/uapi/linux/bpf.h): tcx arrived in Linux 6.6, netkit in 6.7.
const LINK_TYPES: Record<number, string> = {
  1: 'raw_tracepoint', 2: 'tracing', 3: 'cgroup', 4: 'iter', 5: 'netns', 6: 'xdp', 7: 'perf_event',
  8: 'kprobe_multi', 9: 'struct_ops', 10: 'netfilter', 11: 'tcx', 12: 'uprobe_multi', 13: 'netkit', 14: 'sockmap',
};

const linkEntry = z.looseObject({
  id: z.number().int(),
  type: z.union([z.string(), z.number().int()]),
  prog_id: z.number().int().optional(),
  ifindex: z.number().int().optional(),
  attach_type: z.string().optional(),
});

export function parseBpftoolLink(text: string, probe: string): Parsed<BpfLink[]> {
  const warnings: Warning[] = [];
  const out: BpfLink[] = [];
  const typeName = (t: string | number) => (typeof t === 'number' ? (LINK_TYPES[t] ?? `type ${t}`) : t);
  if (looksLikeJson(cleanText(text))) {
    for (const raw of arr(text, probe)) {
      const r = linkEntry.safeParse(raw);
      if (!r.success) {
        warnings.push(warn('record-skipped', `link: ${r.error.issues[0]?.message}`, probe));
        continue;
      }
      const l: BpfLink = { id: r.data.id, type: typeName(r.data.type), source: { probe, text: '' } };
      if (r.data.prog_id !== undefined) l.progId = r.data.prog_id;
      if (r.data.ifindex !== undefined) l.ifindex = r.data.ifindex;
      if (r.data.attach_type) l.attachType = r.data.attach_type;
      l.source = ev(probe, `${l.id}: ${typeof r.data.type === 'number' ? `type ${r.data.type} (${l.type})` : l.type}  prog ${l.progId ?? '?'}${l.attachType ? `  attach_type ${l.attachType}` : ''}`);
      out.push(l);
    }
    return { value: out, warnings };
  }
  let cur: BpfLink | undefined;
  for (const raw of cleanText(text).split('\n')) {
    const m = /^(\d+):\s+(?:type\s+(\d+)|(\S+))\s+prog\s+(\d+)/.exec(raw);
    if (m) {
      cur = { id: Number(m[1]), type: m[2] !== undefined ? typeName(Number(m[2])) : m[3]!, progId: Number(m[4]), source: ev(probe, raw.trim()) };
      out.push(cur);
      continue;
    }
    const at = /\battach_type\s+(\S+)/.exec(raw);
    if (cur && at) cur.attachType = at[1]!;
  }
  return { value: out, warnings };
}

// Older bpftool printed the kernel's short attach-type names; newer ones the libbpf names.
const OLD_ATTACH: Record<string, string> = {
  connect4: 'cgroup_inet4_connect', connect6: 'cgroup_inet6_connect',
  sendmsg4: 'cgroup_udp4_sendmsg', sendmsg6: 'cgroup_udp6_sendmsg',
  recvmsg4: 'cgroup_udp4_recvmsg', recvmsg6: 'cgroup_udp6_recvmsg',
  getpeername4: 'cgroup_inet4_getpeername', getpeername6: 'cgroup_inet6_getpeername',
  post_bind4: 'cgroup_inet4_post_bind', post_bind6: 'cgroup_inet6_post_bind',
  bind4: 'cgroup_inet4_bind', bind6: 'cgroup_inet6_bind',
  sock_release: 'cgroup_inet_sock_release', ingress: 'cgroup_inet_ingress', egress: 'cgroup_inet_egress',
};

const cgProg = z.looseObject({ id: z.number().int(), attach_type: z.string(), attach_flags: z.string().optional(), name: z.string().optional() });

export function parseBpftoolCgroup(text: string, probe: string, root: string): Parsed<CgroupAttachment[]> {
  const warnings: Warning[] = [];
  const out: CgroupAttachment[] = [];
  const add = (cgroup: string, p: z.infer<typeof cgProg>) => {
    const attachType = OLD_ATTACH[p.attach_type] ?? p.attach_type;
    const a: CgroupAttachment = { cgroup, id: p.id, attachType, name: p.name ?? '', source: ev(probe, `${cgroup}  ${p.id}  ${p.attach_type}  ${p.attach_flags ?? ''}  ${p.name ?? ''}`.replace(/\s+/g, ' ')) };
    if (p.attach_flags) a.flags = p.attach_flags;
    out.push(a);
  };
  if (looksLikeJson(cleanText(text))) {
    for (const raw of arr(text, probe)) {
      if (raw !== null && typeof raw === 'object' && 'programs' in raw) {
        const cg = (raw as { cgroup?: unknown }).cgroup;
        const list = (raw as { programs?: unknown }).programs;
        if (typeof cg !== 'string' || !Array.isArray(list)) continue;
        for (const p of list) {
          const r = cgProg.safeParse(p);
          if (r.success) add(cg, r.data);
        }
      } else {
        const r = cgProg.safeParse(raw);
        if (r.success) add(root, r.data);
        else warnings.push(warn('record-skipped', `cgroup entry: ${r.error.issues[0]?.message}`, probe));
      }
    }
    return { value: out, warnings };
  }
  let cg = root;
  for (const raw of cleanText(text).split('\n')) {
    const line = raw.trim();
    if (line.startsWith('/')) {
      cg = line;
      continue;
    }
    const m = /^(\d+)\s+(\S+)\s+(?:(multi|override)\s+)?(\S+)?\s*$/.exec(line);
    if (m) add(cg, { id: Number(m[1]), attach_type: m[2]!, ...(m[3] ? { attach_flags: m[3] } : {}), ...(m[4] ? { name: m[4] } : {}) });
  }
  return { value: out, warnings };
}
