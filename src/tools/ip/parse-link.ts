import type { Address, Family, Link, Parsed, Warning } from '../../model/types.js';
import { canonIp } from '../../model/addr.js';
import { ev, looksLikeJson, cleanText } from '../common.js';
import { ParseError } from '../parse-error.js';
import { ipAddrInfoSchema, ipAddrSchema, ipLinkSchema } from './schema.js';
import { famOf, jsonArray, skip } from './common.js';

const XDP_MODES: Record<number, string> = { 1: 'driver', 2: 'generic', 3: 'offload', 4: 'multi' };
// First word of the `ip -d link` detail line that names the device kind.
const TEXT_KINDS = new Set([
  'veth', 'bridge', 'vxlan', 'geneve', 'tun', 'tap', 'macvlan', 'macvtap', 'ipvlan', 'dummy', 'wireguard', 'netkit',
  'vrf', 'bond', 'ipip', 'sit', 'gre', 'gretap', 'ip6tnl', 'ip6gre', 'vlan', 'team', 'nlmon', 'ifb', 'erspan',
]);

function linkText(l: Link): string {
  return `${l.ifindex}: ${l.name}${l.kind ? ` (${l.kind})` : ''}${l.master ? ` master ${l.master}` : ''} <${l.flags.join(',')}>${l.mtu ? ` mtu ${l.mtu}` : ''}${l.operstate ? ` state ${l.operstate}` : ''}${l.linkIndex !== undefined ? ` link-index ${l.linkIndex}` : ''}${l.linkNetnsId !== undefined ? ` link-netnsid ${l.linkNetnsId}` : ''}`;
}

export function parseIpLink(text: string, probe: string): Parsed<Link[]> {
  return looksLikeJson(cleanText(text)) ? linkJson(text, probe) : linkTextParse(text, probe);
}

function linkJson(text: string, probe: string): Parsed<Link[]> {
  const warnings: Warning[] = [];
  const out: Link[] = [];
  for (const raw of jsonArray(text, probe)) {
    const r = ipLinkSchema.safeParse(raw);
    if (!r.success) {
      skip(warnings, probe, 'link', r.error.issues[0]?.message ?? 'invalid');
      continue;
    }
    const j = r.data;
    const l: Link = { ifindex: j.ifindex, name: j.ifname, flags: j.flags ?? [], source: { probe, text: '' } };
    if (j.linkinfo?.info_kind) l.kind = j.linkinfo.info_kind;
    if (j.mtu !== undefined) l.mtu = j.mtu;
    if (j.operstate) l.operstate = j.operstate;
    if (j.address) l.mac = j.address;
    if (j.master) l.master = j.master;
    if (j.link_index !== undefined) l.linkIndex = j.link_index;
    if (j.link_netnsid !== undefined) l.linkNetnsId = j.link_netnsid;
    if (j.xdp) {
      l.xdp = { mode: XDP_MODES[j.xdp.mode ?? 0] ?? String(j.xdp.mode ?? '?') };
      if (j.xdp.prog?.id !== undefined) l.xdp.progId = j.xdp.prog.id;
    }
    l.source = ev(probe, linkText(l));
    out.push(l);
  }
  return { value: out, warnings };
}

const HEAD = /^(\d+):\s+([^:@\s]+)(?:@([^:\s]+))?:\s+<([^>]*)>(.*)$/;

function linkTextParse(text: string, probe: string): Parsed<Link[]> {
  const warnings: Warning[] = [];
  const out: Link[] = [];
  let cur: Link | undefined;
  let sawHead = false;
  for (const line of cleanText(text).split('\n')) {
    const h = HEAD.exec(line);
    if (h) {
      sawHead = true;
      const rest = h[5]!;
      cur = { ifindex: Number(h[1]), name: h[2]!, flags: h[4] ? h[4].split(',') : [], source: ev(probe, line.trim()) };
      const mtu = /\bmtu (\d+)/.exec(rest);
      if (mtu) cur.mtu = Number(mtu[1]);
      const st = /\bstate (\S+)/.exec(rest);
      if (st) cur.operstate = st[1]!;
      const m = /\bmaster (\S+)/.exec(rest);
      if (m) cur.master = m[1]!;
      const peer = h[3] ? /^if(\d+)$/.exec(h[3]) : null;
      if (peer) cur.linkIndex = Number(peer[1]);
      if (/\bxdp(generic|drv|offload)?\b/.test(rest)) cur.xdp = { mode: /xdpgeneric/.test(rest) ? 'generic' : 'driver' };
      out.push(cur);
      continue;
    }
    if (!cur || !/^\s/.test(line)) continue;
    const t = line.trim();
    const ll = /^link\/\S+(?: (\S+))?/.exec(t);
    if (ll) {
      if (ll[1] && /^[0-9a-f]{2}(:[0-9a-f]{2})+$/i.test(ll[1])) cur.mac = ll[1];
      const nsid = /\blink-netnsid (\d+)/.exec(t);
      if (nsid) cur.linkNetnsId = Number(nsid[1]);
      continue;
    }
    const xdp = /^prog\/xdp id (\d+)/.exec(t);
    if (xdp && cur.xdp) cur.xdp.progId = Number(xdp[1]);
    const word = t.split(/\s+/)[0]!;
    if (cur.kind === undefined && TEXT_KINDS.has(word)) cur.kind = word;
  }
  if (!sawHead && cleanText(text).trim() !== '') throw new ParseError(probe, 'no `N: name: <FLAGS>` line: not ip link output');
  return { value: out, warnings };
}

function addrText(a: Address): string {
  return `${a.ifindex}: ${a.ifname} ${a.family === 4 ? 'inet' : 'inet6'} ${a.local}${a.peer ? ` peer ${a.peer}` : ''}/${a.prefixlen} scope ${a.scope}${a.secondary ? ' secondary' : ''}`;
}

export function parseIpAddr(text: string, probe: string): Parsed<Address[]> {
  return looksLikeJson(cleanText(text)) ? addrJson(text, probe) : addrTextParse(text, probe);
}

function addrJson(text: string, probe: string): Parsed<Address[]> {
  const warnings: Warning[] = [];
  const out: Address[] = [];
  for (const raw of jsonArray(text, probe)) {
    const r = ipAddrSchema.safeParse(raw);
    if (!r.success) {
      skip(warnings, probe, 'interface', r.error.issues[0]?.message ?? 'invalid');
      continue;
    }
    for (const info of r.data.addr_info ?? []) {
      // filtered-out addresses show up as {} in iproute2 6.1
      if (info && typeof info === 'object' && !('family' in info)) continue;
      const a = ipAddrInfoSchema.safeParse(info);
      if (!a.success) {
        skip(warnings, probe, `address on ${r.data.ifname}`, a.error.issues[0]?.message ?? 'invalid');
        continue;
      }
      const fam = famOf(a.data.family)!;
      const local = canonIp(a.data.local);
      if (local === null || (fam === 4 && a.data.prefixlen > 32)) {
        skip(warnings, probe, `address on ${r.data.ifname}`, `not a valid ${a.data.family} address: ${a.data.local}`);
        continue;
      }
      const addr: Address = {
        ifindex: r.data.ifindex,
        ifname: r.data.ifname,
        family: fam,
        local,
        prefixlen: a.data.prefixlen,
        scope: String(a.data.scope ?? 'global'),
        source: { probe, text: '' },
      };
      if (a.data.address) {
        const p = canonIp(a.data.address);
        if (p) addr.peer = p;
      }
      if (a.data.secondary) addr.secondary = true;
      addr.source = ev(probe, addrText(addr));
      out.push(addr);
    }
  }
  return { value: out, warnings };
}

function addrTextParse(text: string, probe: string): Parsed<Address[]> {
  const warnings: Warning[] = [];
  const out: Address[] = [];
  let ifindex = -1;
  let ifname = '';
  let sawHead = false;
  for (const line of cleanText(text).split('\n')) {
    const h = HEAD.exec(line);
    if (h) {
      sawHead = true;
      ifindex = Number(h[1]);
      ifname = h[2]!;
      continue;
    }
    const m = /^\s+(inet6?)\s+(\S+?)(?:\/(\d+))?(?:\s+peer\s+(\S+?)(?:\/(\d+))?)?(\s.*)?$/.exec(line);
    if (!m || ifindex < 0) continue;
    const fam: Family = m[1] === 'inet' ? 4 : 6;
    const local = canonIp(m[2]!);
    if (local === null) {
      skip(warnings, probe, `address on ${ifname}`, `not an address: ${m[2]}`);
      continue;
    }
    const rest = m[6] ?? '';
    const scope = /\bscope (\S+)/.exec(rest)?.[1] ?? 'global';
    const a: Address = {
      ifindex,
      ifname,
      family: fam,
      local,
      prefixlen: Number(m[5] ?? m[3] ?? (fam === 4 ? 32 : 128)),
      scope,
      source: ev(probe, `${ifindex}: ${ifname} ${line.trim()}`),
    };
    if (m[4]) {
      const p = canonIp(m[4]);
      if (p) a.peer = p;
    }
    if (/\bsecondary\b/.test(rest)) a.secondary = true;
    out.push(a);
  }
  if (!sawHead && cleanText(text).trim() !== '') throw new ParseError(probe, 'no `N: name: <FLAGS>` line: not ip addr output');
  return { value: out, warnings };
}
