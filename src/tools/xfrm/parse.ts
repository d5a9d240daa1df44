import type { Parsed, XfrmPolicy, XfrmState, XfrmTemplate } from '../../model/types.js';
import { canonIp, canonPrefix } from '../../model/addr.js';
import { cleanText, ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { Warnings } from '../warnings.js';

/**
 * `ip xfrm state` / `ip xfrm policy` print one block per object: a header line at column 0 (`src A dst B`), then
 * indented lines. iproute2 has no JSON for xfrm (`ip -j xfrm …` prints the same text, checked with 6.1), so text
 * is the only form. `ip -o` joins a block on one line with `\`; both are read.
 */
function blocks(text: string): string[][] {
  const out: string[][] = [];
  for (const raw of cleanText(text).split('\n')) {
    if (raw.trim() === '') continue;
    // `ip -o`: one block per line, its parts joined by a backslash
    const parts = raw.includes('\\') ? raw.split('\\').map((p) => p.trim()) : [raw];
    if (!/^\s/.test(raw) && /^src\s/.test(raw.trim())) out.push(parts.map((p) => p.trim()).filter((p) => p !== ''));
    else if (out.length > 0) out[out.length - 1]!.push(...parts.map((p) => p.trim()).filter((p) => p !== ''));
  }
  return out;
}

function uint(s: string | undefined, max = 0xffffffff): number | undefined {
  if (s === undefined) return undefined;
  // `0x00000003(3)`, `1(0x00000001)` with `ip -s`: the number before the parenthesis
  const t = s.replace(/\(.*$/, '');
  const n = /^0x[0-9a-fA-F]{1,8}$/.test(t) ? parseInt(t, 16) : /^\d{1,10}$/.test(t) ? Number(t) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= max ? n : undefined;
}

function markOf(s: string | undefined): { value: number; mask: number } | undefined {
  if (s === undefined) return undefined;
  const [v, m] = s.split('/');
  const value = uint(v);
  const mask = m === undefined ? 0xffffffff : uint(m);
  return value === undefined || mask === undefined ? undefined : { value, mask };
}

/** the word after `key` in a token list */
function after(tokens: string[], key: string): string | undefined {
  const i = tokens.indexOf(key);
  return i >= 0 ? tokens[i + 1] : undefined;
}

function header(line: string, prefix: boolean): { src: string; dst: string } | undefined {
  const t = line.split(/\s+/);
  const s = after(t, 'src');
  const d = after(t, 'dst');
  if (s === undefined || d === undefined) return undefined;
  const src = prefix ? canonPrefix(s) : canonIp(s);
  const dst = prefix ? canonPrefix(d) : canonIp(d);
  return src !== null && dst !== null ? { src, dst } : undefined;
}

/**
 * `ip xfrm state`: per state its addresses, protocol, SPI, reqid, mode, marks, selector, UDP encapsulation and
 * the names of its algorithms. Key bytes are never read into the model (the probe stores them redacted anyway).
 */
export function parseXfrmState(text: string, probe: string): Parsed<XfrmState[]> {
  const warnings = new Warnings(probe);
  const out: XfrmState[] = [];
  const bs = blocks(text);
  if (bs.length === 0) throw new ParseError(probe, 'no `src … dst …` line: not `ip xfrm state` output');
  for (const b of bs) {
    const h = header(b[0]!, false);
    const words = b.slice(1).join(' ').split(/\s+/);
    const proto = after(words, 'proto');
    if (!h || proto === undefined || !/^[a-z0-9-]{1,16}$/.test(proto)) {
      warnings.add('block-skipped', `state \`${b[0]!.slice(0, 120)}\` not in a known shape; skipped`);
      continue;
    }
    const s: XfrmState = { src: h.src, dst: h.dst, proto, algorithms: [], source: ev(probe, b[0]!) };
    const spi = uint(after(words, 'spi'));
    if (spi !== undefined) s.spi = spi;
    const reqid = uint(after(words, 'reqid'));
    if (reqid !== undefined) s.reqid = reqid;
    const mode = after(words, 'mode');
    if (mode !== undefined && /^[a-z_-]{1,20}$/.test(mode)) s.mode = mode;
    const mark = markOf(after(words, 'mark'));
    if (mark) s.mark = mark;
    const om = markOf(after(words, 'output-mark'));
    if (om) s.outputMark = om;
    for (const line of b.slice(1)) {
      const t = line.split(/\s+/);
      for (let i = 0; i < t.length - 1; i++) {
        if (['enc', 'auth', 'auth-trunc', 'aead', 'comp'].includes(t[i]!) && /^[\w()-]{1,64}$/.test(t[i + 1]!)) {
          s.algorithms.push({ kind: t[i]!, name: t[i + 1]! });
          i++;
        }
      }
      if (t[0] === 'sel') {
        const sel = header(line, true);
        if (sel) s.sel = sel;
      }
      if (t[0] === 'encap') {
        const sport = uint(after(t, 'sport'), 65535);
        const dport = uint(after(t, 'dport'), 65535);
        const type = after(t, 'type');
        if (type !== undefined && sport !== undefined && dport !== undefined) s.encap = { type, sport, dport };
      }
    }
    out.push(s);
  }
  if (out.length === 0) throw new ParseError(probe, 'no xfrm state in a known shape');
  return { value: out, warnings: warnings.done() };
}

/** `ip xfrm policy`: selector, direction, priority, action, mark and templates of each policy. */
export function parseXfrmPolicy(text: string, probe: string): Parsed<XfrmPolicy[]> {
  const warnings = new Warnings(probe);
  const out: XfrmPolicy[] = [];
  const bs = blocks(text);
  if (bs.length === 0) throw new ParseError(probe, 'no `src … dst …` line: not `ip xfrm policy` output');
  for (const b of bs) {
    const h = header(b[0]!, true);
    const first = (b.find((l) => /^dir\s/.test(l)) ?? '').split(/\s+/);
    const dir = after(first, 'dir');
    if (!h || dir === undefined || !/^(in|out|fwd)$/.test(dir)) {
      warnings.add('block-skipped', `policy \`${b[0]!.slice(0, 120)}\` not in a known shape; skipped`);
      continue;
    }
    const p: XfrmPolicy = { src: h.src, dst: h.dst, dir, templates: [], source: ev(probe, b[0]!) };
    const hw = b[0]!.trim().split(/\s+/);
    for (let i = 4; i + 1 < hw.length; i += 2) {
      // `uid 0` (ip -s) is the selector's unused user field, not a condition
      if (hw[i] === 'uid' || !/^[a-z-]{1,16}$/.test(hw[i]!)) continue;
      (p.match ??= Object.create(null) as Record<string, string>)[hw[i]!] = hw[i + 1]!.slice(0, 64);
    }
    const prio = uint(after(first, 'priority'));
    if (prio !== undefined) p.priority = prio;
    const action = after(first, 'action');
    if (action === 'allow' || action === 'block') p.action = action;
    const ptype = after(first, 'ptype');
    if (ptype === 'main' || ptype === 'sub') p.ptype = ptype;
    let tmpl: XfrmTemplate | undefined;
    for (const line of b.slice(1)) {
      const t = line.split(/\s+/);
      if (t[0] === 'mark') {
        const m = markOf(t[1]);
        if (m) p.mark = m;
      } else if (t[0] === 'tmpl') {
        const th = header(line, false);
        tmpl = undefined;
        if (th) {
          tmpl = { src: th.src, dst: th.dst, proto: '' };
          p.templates.push(tmpl);
        } else warnings.add('template-skipped', `\`${line.slice(0, 120)}\`: template addresses unreadable`);
      } else if (tmpl && t[0] === 'proto') {
        const proto = t[1];
        if (proto !== undefined && /^[a-z0-9-]{1,16}$/.test(proto)) tmpl.proto = proto;
        const spi = uint(after(t, 'spi'));
        if (spi !== undefined) tmpl.spi = spi;
        const reqid = uint(after(t, 'reqid'));
        if (reqid !== undefined) tmpl.reqid = reqid;
        const mode = after(t, 'mode');
        if (mode !== undefined && /^[a-z_-]{1,20}$/.test(mode)) tmpl.mode = mode;
      } else if (tmpl && t[0] === 'level') {
        if (t[1] === 'use' || t[1] === 'required') tmpl.level = t[1];
      }
    }
    out.push(p);
  }
  if (out.length === 0) throw new ParseError(probe, 'no xfrm policy in a known shape');
  return { value: out, warnings: warnings.done() };
}
