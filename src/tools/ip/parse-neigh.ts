import type { Neighbor, Parsed } from '../../model/types.js';
import { canonIp } from '../../model/addr.js';
import { ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { ipNeighSchema, ipNetnsSchema, zodWhy } from './schema.js';
import { Notes, has, isJson, jsonArray, prep, u32 } from './common.js';
import { withPaste } from '../paste.js';
import { throwIfToolError } from '../tool-error.js';

const NUD = new Set(['REACHABLE', 'STALE', 'FAILED', 'INCOMPLETE', 'PERMANENT', 'NOARP', 'DELAY', 'PROBE', 'NONE']);
// words that stand alone in `ip neigh` text (flags), and words followed by one value
const NEIGH_FLAGS = new Set(['router', 'proxy', 'extern_learn', 'offload', 'managed', 'extern_valid']);
const NEIGH_ONE = new Set(['ref', 'used', 'probes', 'protocol', 'nomaster', 'vrf']);

function neighText(n: Neighbor): string {
  return `${n.dst} dev ${n.dev}${n.lladdr !== undefined ? ` lladdr ${n.lladdr}` : ''}${n.router ? ' router' : ''}${n.proxy ? ' proxy' : ''}${n.state.length > 0 ? ' ' + n.state.join(' ') : ''}`;
}

/** `ip [-j] neigh show` (also `nud all` and `proxy`). */
export function parseIpNeigh(text: string, probe: string): Parsed<Neighbor[]> {
  throwIfToolError(text, probe, 'ip');
  const clean = prep(text);
  return isJson(clean) ? neighOf(clean, probe) : withPaste(clean, probe, (t) => neighOf(t, probe));
}

function neighOf(clean: string, probe: string): Parsed<Neighbor[]> {
  const notes = new Notes(probe);
  const out: Neighbor[] = [];
  const make = (dst: string, dev: string | undefined, what: string): Neighbor | undefined => {
    const d = canonIp(dst);
    if (d === null || dev === undefined) {
      notes.skip(
        what,
        d === null ? `${JSON.stringify(dst)} is not an address` : 'no device (was the output filtered by `dev X`?)',
      );
      return undefined;
    }
    return { dst: d, family: d.includes(':') ? 6 : 4, dev, state: [], source: { probe, text: '' } };
  };
  if (isJson(clean)) {
    const arr = jsonArray(clean, probe);
    for (let i = 0; i < arr.length; i++) {
      const raw = arr[i];
      const z = ipNeighSchema.safeParse(raw);
      if (!z.success) {
        notes.skip(`neighbour #${i}`, zodWhy(z));
        continue;
      }
      const o = raw as Record<string, unknown> & typeof z.data;
      const n = make(o.dst, o.dev, `neighbour ${o.dst}`);
      if (!n) continue;
      if (o.lladdr !== undefined) n.lladdr = o.lladdr;
      if (o.state) n.state = o.state.slice();
      if (has(o, 'router')) n.router = true;
      if (has(o, 'proxy')) n.proxy = true;
      n.source = ev(probe, neighText(n));
      out.push(n);
    }
    return { value: out, warnings: notes.done() };
  }
  let recognised = 0;
  let unreadable = 0;
  for (const raw of clean.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const tok = line.split(/\s+/);
    let dev: string | undefined;
    let lladdr: string | undefined;
    const state: string[] = [];
    let router = false;
    let proxy = false;
    for (let i = 1; i < tok.length; i++) {
      const k = tok[i]!;
      if (k === 'dev') dev = tok[++i];
      else if (k === 'lladdr') lladdr = tok[++i];
      else if (NUD.has(k)) state.push(k);
      else if (k === 'router') router = true;
      else if (k === 'proxy') proxy = true;
      else if (NEIGH_FLAGS.has(k)) continue;
      else if (NEIGH_ONE.has(k)) {
        // `ip -s neigh` 6.1 glues `used A/B/Cprobes N` together
        if (k === 'used' && tok[++i]?.endsWith('probes')) i++;
        else if (k !== 'used') i++;
      } else notes.note('neigh-token-unknown', `unknown word ${JSON.stringify(k)} in a neighbour ignored`, line);
    }
    if (canonIp(tok[0]!) === null) {
      unreadable++;
      notes.skip(`line ${JSON.stringify(line.slice(0, 60))}`, 'does not start with an address');
      continue;
    }
    recognised++;
    const n = make(tok[0]!, dev, `neighbour ${tok[0]}`);
    if (!n) continue;
    if (lladdr !== undefined) n.lladdr = lladdr;
    n.state = state;
    if (router) n.router = true;
    if (proxy) n.proxy = true;
    n.source = ev(probe, line);
    out.push(n);
  }
  if (recognised === 0 && unreadable > 0)
    throw new ParseError(probe, 'no `ADDR dev DEV ...` line: not ip neigh output');
  return { value: out, warnings: notes.done() };
}

/** `ip [-j] netns list`: names, and the nsid when one is assigned (text `NAME (id: N)`). */
export function parseIpNetnsList(text: string, probe: string): Parsed<{ name: string; id?: number }[]> {
  throwIfToolError(text, probe, 'ip');
  const clean = prep(text);
  const notes = new Notes(probe);
  const out: { name: string; id?: number }[] = [];
  if (isJson(clean)) {
    const arr = jsonArray(clean, probe);
    for (let i = 0; i < arr.length; i++) {
      const z = ipNetnsSchema.safeParse(arr[i]);
      if (!z.success) {
        notes.skip(`netns #${i}`, zodWhy(z));
        continue;
      }
      out.push(z.data.id === undefined ? { name: z.data.name } : { name: z.data.name, id: z.data.id });
    }
    return { value: out, warnings: notes.done() };
  }
  let unreadable = 0;
  for (const raw of clean.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^([^\s()]+)(?:\s+\(id:\s*(\d{1,10})\))?$/.exec(line);
    const id = m?.[2] === undefined ? undefined : u32(m[2]);
    if (!m || (m[2] !== undefined && id === undefined)) {
      unreadable++;
      notes.skip(`line ${JSON.stringify(line.slice(0, 60))}`, 'not `NAME` or `NAME (id: N)`');
      continue;
    }
    out.push(id === undefined ? { name: m[1]! } : { name: m[1]!, id });
  }
  if (out.length === 0 && unreadable > 0) throw new ParseError(probe, 'not ip netns list output');
  return { value: out, warnings: notes.done() };
}
