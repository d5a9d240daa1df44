import type { z } from 'zod';
import type { Link, Parsed } from '../../model/types.js';
import { ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { ipLinkSchema, zodWhy } from './schema.js';
import { Notes, isJson, isObj, jsonArray, prep, u32 } from './common.js';
import { cleanPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

const XDP_MODES: Record<number, string> = { 1: 'driver', 2: 'generic', 3: 'offload', 4: 'multi' };
// head-line words of `ip link` text for an attached XDP program (iproute2 print_linkinfo)
const XDP_WORDS: Partial<Record<string, string>> = {
  xdp: 'driver',
  xdpgeneric: 'generic',
  xdpoffload: 'offload',
  xdpmulti: 'multi',
};
// First word of the `ip -d link` line that names the device kind (linkinfo.info_kind).
const TEXT_KINDS = new Set([
  'veth',
  'bridge',
  'vxlan',
  'geneve',
  'tun',
  'tap',
  'macvlan',
  'macvtap',
  'ipvlan',
  'ipvtap',
  'dummy',
  'wireguard',
  'netkit',
  'vrf',
  'bond',
  'team',
  'ipip',
  'sit',
  'gre',
  'gretap',
  'ip6tnl',
  'ip6gre',
  'ip6gretap',
  'erspan',
  'ip6erspan',
  'vti',
  'vti6',
  'vlan',
  'nlmon',
  'ifb',
  'vcan',
  'vxcan',
  'can',
  'bareudp',
  'gtp',
  'hsr',
  'xfrm',
  'batadv',
  'macsec',
  'openvswitch',
  'dsa',
  'rmnet',
  'wwan',
  'virt_wifi',
  'amt',
  'lowpan',
  'ipoib',
]);

function linkText(l: Link): string {
  return `${l.ifindex}: ${l.name}${l.kind ? ` (${l.kind})` : ''}: <${l.flags.join(',')}>${l.mtu !== undefined ? ` mtu ${l.mtu}` : ''}${l.xdp ? ` xdp ${l.xdp.mode}${l.xdp.progId !== undefined ? ` id ${l.xdp.progId}` : ''}` : ''}${l.master ? ` master ${l.master}` : ''}${l.operstate ? ` state ${l.operstate}` : ''}${l.mac ? ` link/ether ${l.mac}` : ''}${l.linkIndex !== undefined ? ` link-index ${l.linkIndex}` : ''}${l.linkNetnsId !== undefined ? ` link-netnsid ${l.linkNetnsId}` : ''}`;
}

/**
 * `ip -j -d link show` JSON, or the text of `ip [-d] link show` / `ip addr show`. `lean: false` checks every
 * element with the zod schema (the reference the lean check is tested against, test/tools/ip/lean-json.test.ts).
 */
export function parseIpLink(text: string, probe: string, opts: { lean?: boolean } = {}): Parsed<Link[]> {
  throwIfToolError(text, probe, 'ip');
  const clean = prep(text);
  const notes = new Notes(probe);
  // a same-namespace lower/peer device is named, not numbered: resolve it within this dump
  const byName: { link: Link; lower: string }[] = [];
  const json = isJson(clean);
  const pasted = json ? undefined : cleanPaste(clean, probe);
  const links = pasted
    ? linkTextParse(pasted.text, probe, notes, byName)
    : linkJson(clean, probe, notes, byName, opts.lean !== false);
  if (byName.length > 0) {
    const idx = new Map(links.map((l) => [l.name, l.ifindex]));
    for (const { link, lower } of byName) {
      const i = idx.get(lower);
      if (i !== undefined) link.linkIndex = i;
      else notes.note('link-lower-unknown', 'lower/peer device named but not in this dump', `${link.name}@${lower}`);
    }
  }
  if (json) for (const l of links) l.source = ev(probe, linkText(l));
  return { value: links, warnings: [...(pasted?.warnings ?? []), ...notes.done()] };
}

type LinkJson = z.infer<typeof ipLinkSchema>;

const isU32 = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const optU32 = (v: unknown) => v === undefined || isU32(v);
const optStr = (v: unknown) => v === undefined || typeof v === 'string';

/**
 * ipLinkSchema's checks by hand, for the values it accepts: true only when the schema would accept `v` and give
 * back the same fields (an `xdp` object always goes to the schema). Anything else goes to the schema, which
 * rejects it with its own words. A node with 500 pods has 500+ devices, and zod costs ~0.1 s on them.
 */
function leanLink(v: unknown): v is LinkJson {
  if (!isObj(v)) return false;
  const n = v.ifname;
  const fl = v.flags;
  const li = v.linkinfo;
  if (fl !== undefined) {
    if (!Array.isArray(fl)) return false;
    for (const f of fl) if (typeof f !== 'string') return false;
  }
  return (
    isU32(v.ifindex) &&
    (v.ifindex as number) > 0 &&
    typeof n === 'string' &&
    n.length >= 1 &&
    n.length <= 256 &&
    (v.link === undefined || v.link === null || typeof v.link === 'string') &&
    optU32(v.link_index) &&
    optU32(v.link_netnsid) &&
    optU32(v.gso_max_size) &&
    optU32(v.gro_max_size) &&
    optU32(v.gso_ipv4_max_size) &&
    optU32(v.gro_ipv4_max_size) &&
    optU32(v.mtu) &&
    optStr(v.operstate) &&
    optStr(v.address) &&
    optStr(v.master) &&
    (li === undefined || (isObj(li) && optStr(li.info_kind) && optStr(li.info_slave_kind))) &&
    v.xdp === undefined
  );
}

function linkJson(
  clean: string,
  probe: string,
  notes: Notes,
  byName: { link: Link; lower: string }[],
  lean: boolean,
): Link[] {
  const out: Link[] = [];
  const arr = jsonArray(clean, probe);
  for (let i = 0; i < arr.length; i++) {
    const el = arr[i];
    let j: LinkJson;
    if (lean && leanLink(el)) j = el;
    else {
      const z = ipLinkSchema.safeParse(el);
      if (!z.success) {
        notes.skip(`link #${i}`, zodWhy(z));
        continue;
      }
      j = z.data;
    }
    const l: Link = {
      ifindex: j.ifindex,
      name: j.ifname,
      flags: j.flags ? j.flags.slice() : [],
      source: { probe, text: '' },
    };
    if (j.linkinfo?.info_kind) l.kind = j.linkinfo.info_kind;
    if (j.mtu !== undefined) l.mtu = j.mtu;
    const off = {
      ...(j.gso_max_size !== undefined ? { gsoMaxSize: j.gso_max_size } : {}),
      ...(j.gro_max_size !== undefined ? { groMaxSize: j.gro_max_size } : {}),
      ...(j.gso_ipv4_max_size !== undefined ? { gsoIpv4MaxSize: j.gso_ipv4_max_size } : {}),
      ...(j.gro_ipv4_max_size !== undefined ? { groIpv4MaxSize: j.gro_ipv4_max_size } : {}),
    };
    if (Object.keys(off).length) l.offload = off;
    if (j.operstate) l.operstate = j.operstate;
    if (j.address) l.mac = j.address;
    if (j.master) l.master = j.master;
    if (j.link_index !== undefined) l.linkIndex = j.link_index;
    else if (typeof j.link === 'string') byName.push({ link: l, lower: j.link });
    if (j.link_netnsid !== undefined) l.linkNetnsId = j.link_netnsid;
    if (j.xdp) {
      const mode = j.xdp.mode ?? j.xdp.attached?.[0]?.mode;
      l.xdp = { mode: (mode !== undefined ? XDP_MODES[mode] : undefined) ?? `mode ${mode ?? '?'}` };
      const id = j.xdp.prog?.id ?? j.xdp.attached?.[0]?.prog?.id;
      if (id !== undefined) l.xdp.progId = id;
    }
    out.push(l);
  }
  return out;
}

// `ip -d link` detail words for the segmentation limits, and the Link field each goes to
const TEXT_OFFLOAD: Record<string, keyof NonNullable<Link['offload']>> = {
  gso_max_size: 'gsoMaxSize',
  gro_max_size: 'groMaxSize',
  gso_ipv4_max_size: 'gsoIpv4MaxSize',
  gro_ipv4_max_size: 'groIpv4MaxSize',
};

const HEAD = /^(\d{1,10}):\s+([^\s:@]+)(?:@([^\s:]+))?:\s+<([^>]*)>(.*)$/;

function linkTextParse(clean: string, probe: string, notes: Notes, byName: { link: Link; lower: string }[]): Link[] {
  const out: Link[] = [];
  let cur: Link | undefined;
  // the kind is the first word of the first detail line after `link/...` (only with -d)
  let detailLine = 0;
  let unreadable = 0;
  for (const line of clean.split('\n')) {
    // a line at column 0 that is no `N: name: <FLAGS>` head is not ip output (a log line, prose)
    if (line !== '' && !/^\s/.test(line) && !HEAD.test(line))
      notes.note('line-skipped', 'line(s) not in `ip addr` / `ip link` form skipped', line.slice(0, 60));
    const h = HEAD.exec(line);
    if (h) {
      const rest = h[5]!;
      cur = { ifindex: Number(h[1]), name: h[2]!, flags: h[4] ? h[4].split(',') : [], source: ev(probe, line.trim()) };
      const tok = rest.trim().split(/\s+/);
      for (let i = 0; i < tok.length; i++) {
        const k = tok[i]!;
        if (k === 'mtu') {
          // a cut or garbled line (`mtu qdisc …`, `mtu 9x`) would give NaN: leave mtu unknown and say so
          const m = u32(tok[++i] ?? '');
          if (m !== undefined) cur.mtu = m;
          else notes.note('bad-value', 'unreadable mtu', cur.name);
        } else if (k === 'state') cur.operstate = tok[++i]!;
        else if (k === 'master') cur.master = tok[++i]!;
        else if (k.startsWith('xdp')) {
          // `ip link`: `xdpgeneric`, then a `prog/xdp id N` line; `ip addr`: `xdpgeneric/id:N`
          const m = /^(xdp[a-z]*)(?:\/id:(\d{1,10}))?$/.exec(k);
          const mode = m ? XDP_WORDS[m[1]!] : undefined;
          if (m && mode !== undefined) {
            cur.xdp = { mode };
            if (m[2] !== undefined) cur.xdp.progId = Number(m[2]);
          }
        }
      }
      const lower = h[3];
      if (lower !== undefined && lower !== 'NONE') {
        const peer = /^if(\d{1,10})$/.exec(lower);
        if (peer) cur.linkIndex = Number(peer[1]);
        else byName.push({ link: cur, lower });
      }
      detailLine = 0;
      out.push(cur);
      continue;
    }
    if (line.trim() === '') continue;
    if (!cur || !/^\s/.test(line)) {
      unreadable++;
      continue;
    }
    const t = line.trim();
    const tok = t.split(/\s+/);
    const w = tok[0]!;
    // the limits may sit on the link/ line (lo) or the kind line
    for (let i = 0; i + 1 < tok.length; i++) {
      const key = TEXT_OFFLOAD[tok[i]!];
      const v = key ? u32(tok[i + 1]!) : undefined;
      if (key && v !== undefined) cur.offload = { ...cur.offload, [key]: v };
    }
    if (w.startsWith('link/')) {
      if (w !== 'link/none' && tok[1] && /^[0-9a-f]{2}(:[0-9a-f]{2})+$/i.test(tok[1])) cur.mac = tok[1];
      for (let i = 2; i < tok.length; i++) {
        if (tok[i] === 'link-netnsid' && /^\d{1,10}$/.test(tok[i + 1] ?? '')) cur.linkNetnsId = Number(tok[++i]);
        else if (tok[i] === 'link-netns' && tok[i + 1] !== undefined) cur.linkNetns = tok[++i]!;
      }
      detailLine = 1;
      continue;
    }
    if (w === 'prog/xdp') {
      const id = /\bid (\d{1,10})\b/.exec(t);
      if (cur.xdp && id) cur.xdp.progId = Number(id[1]);
      continue;
    }
    if (detailLine === 1) {
      detailLine = 2;
      if (TEXT_KINDS.has(w)) cur.kind = w;
    }
  }
  if (out.length === 0 && (unreadable > 0 || clean.trim() !== ''))
    throw new ParseError(probe, 'no `N: name: <FLAGS>` line: not ip link output');
  return out;
}
