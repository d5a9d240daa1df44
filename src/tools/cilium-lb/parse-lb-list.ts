import type { Parsed, Evidence } from '../../model/types.js';
import type { Backend, ServiceEntry, ServiceFlags, ServiceType } from '../../model/service.js';
import { cleanText, ev } from '../common.js';
import { ParseError } from '../parse-error.js';
import { cleanPaste } from '../paste.js';
import { parseFlagWords, parseL3n4, type L3n4 } from './l3n4.js';
import { throwIfToolError } from '../tool-error.js';
import { Warnings } from '../warnings.js';
import { byCodeUnit } from '../../model/order.js';

interface Row {
  fe: L3n4;
  feText: string;
  revnat?: number;
  slot?: number;
  line: string;
  lineNo: number;
  master?: { type?: ServiceType; flags: ServiceFlags; l7Port?: number };
  backend?: { addr: L3n4 };
  missingBackendId?: number;
}

// Column 1: `IP:port[/PROTO][/i]` then ` (slot)` from 1.15; grouped rows (1.13–1.14) leave it empty.
const FRONT = /^(\S+)(?: \((\d+)\))?(?=\s)/;
// Column 2 after the frontend: address, `(revnat)`, `(slot)` (absent before 1.13), flags, L7 port.
const BACK = /^(\S+) \((\d+)\)(?: \((\d+)\))?(?: \[([^\]]*)\])?(?: \(L7LB Proxy Port: (\d+)\))?$/;
const NOT_FOUND = /^backend (\d+) not found\b(?: \((\d+)\))?(?: \((\d+)\))?/;

/**
 * `cilium[-dbg] bpf lb list` of v1.13 → main: one ServiceEntry per frontend (address, port, protocol,
 * scope) with slot 0 giving type, flags and rev-NAT id, and slots > 0 the backends in slot order.
 * Rows come from a Go map (random order), so rows are grouped by frontend, not by position.
 * The list shows no backend state: backends are `unknown` with their slot.
 *
 * Before 1.13 (2018 on) the header is `SERVICE ADDRESS  BACKEND ADDRESS` and each row carries one
 * number, the rev-NAT id, with `0.0.0.0:0 (0)` as the master row: no slot, no flags, so the type
 * cannot be read (see type-unknown). An L7 load-balancer frontend (`[…, l7-load-balancer] (L7LB Proxy
 * Port: N)`, 1.15+) has no backend slots: its traffic is redirected to the proxy on port N.
 */
export function parseCiliumLbList(text: string, probe: string): Parsed<ServiceEntry[]> {
  throwIfToolError(text, probe, 'cilium-dbg bpf lb list');
  const paste = cleanPaste(cleanText(text), probe);
  const lines = paste.text.split('\n');
  const warnings = new Warnings(probe).preface(paste.warnings);
  let oldLayout = false;
  const rows: Row[] = [];
  let current: { fe: L3n4; text: string } | undefined;
  let recognised = 0;
  let sawHeader = false;

  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\s+$/, '');
    if (line.trim() === '') continue;
    if (/^SERVICE ADDRESS\s/.test(line)) {
      sawHeader = true;
      oldLayout = !/\(REVNAT_ID\)/.test(line);
      recognised++;
      current = undefined;
      continue;
    }
    let rest: string;
    let colSlot: number | undefined;
    if (/^\s/.test(line)) {
      if (!current) {
        warnings.add('line-skipped', `line ${i + 1}: continuation row with no frontend before it: ${line.trim()}`);
        continue;
      }
      rest = line.trim();
    } else {
      const m = FRONT.exec(line);
      const fe = m ? parseL3n4(m[1] ?? '') : null;
      if (!m || !fe) {
        current = undefined;
        warnings.add('line-skipped', `line ${i + 1}: not a bpf lb list row: ${line.slice(0, 120)}`);
        continue;
      }
      current = { fe, text: m[1] ?? '' };
      colSlot = m[2] === undefined ? undefined : Number(m[2]);
      rest = line.slice(m[0].length).trim();
    }
    const row: Row = { fe: current.fe, feText: current.text, line, lineNo: i + 1 };
    const nf = NOT_FOUND.exec(rest);
    const bm = nf ? null : BACK.exec(rest);
    // Service ID (rev NAT index), slot and proxy port are u16 in the datapath, backend IDs u32:
    // a longer number is a garbled line, not a Service to report.
    const u16s = nf ? [nf[2], nf[3]] : bm ? [bm[2], bm[3], bm[5]] : [];
    if (
      u16s.some((x) => x !== undefined && Number(x) > 0xffff) ||
      (colSlot ?? 0) > 0xffff ||
      (nf !== null && Number(nf[1]) > 0xffffffff)
    ) {
      warnings.add('line-skipped', `line ${i + 1}: number out of range: ${line.slice(0, 120)}`);
      continue;
    }
    if (nf) {
      row.missingBackendId = Number(nf[1]);
      if (nf[2] !== undefined) row.revnat = Number(nf[2]);
      if (nf[3] !== undefined) row.slot = Number(nf[3]);
    } else if (bm) {
      const addr = parseL3n4(bm[1] ?? '');
      if (!addr) {
        warnings.add('line-skipped', `line ${i + 1}: unreadable backend address ${bm[1] ?? ''}`);
        continue;
      }
      row.revnat = Number(bm[2]);
      if (bm[3] !== undefined) row.slot = Number(bm[3]);
      const isZero = (addr.address === '0.0.0.0' || addr.address === '::') && addr.port === 0;
      if (bm[4] !== undefined || (isZero && (row.slot ?? 0) === 0)) {
        const fw = parseFlagWords(bm[4] ?? '');
        if (fw.unknown.length > 0) {
          warnings.add(
            'unknown-flag',
            `line ${i + 1}: unknown service flag ${fw.unknown.map((u) => `'${u}'`).join(', ')} for ${current.text}`,
          );
        }
        if (bm[4] === undefined) delete fw.flags.routable; // no flag string printed (before v1.8): unknown
        row.master = { flags: fw.flags };
        if (fw.type !== undefined) row.master.type = fw.type;
        if (bm[5] !== undefined) row.master.l7Port = Number(bm[5]);
        row.slot ??= 0;
      } else {
        row.backend = { addr };
      }
    } else {
      warnings.add('line-skipped', `line ${i + 1}: unreadable backend column: ${rest.slice(0, 120)}`);
      continue;
    }
    if (colSlot !== undefined && row.slot !== undefined && colSlot !== row.slot) {
      warnings.add(
        'slot-mismatch',
        `line ${i + 1}: frontend column says slot ${colSlot}, backend column says ${row.slot}`,
      );
    }
    row.slot ??= colSlot;
    recognised++;
    rows.push(row);
  }
  if (recognised === 0 || (rows.length === 0 && !sawHeader)) {
    throw new ParseError(probe, 'no line looks like `cilium-dbg bpf lb list` output');
  }

  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${r.fe.address}|${r.fe.port}|${r.fe.proto ?? ''}|${r.fe.scope}`;
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }

  const out: ServiceEntry[] = [];
  const untyped: string[] = [];
  for (const g of groups.values()) {
    const first = g[0]!;
    const masters = g.filter((r) => r.master);
    if (masters.length === 0) {
      warnings.add(
        'service-without-master',
        `${first.feText}: backend slots but no slot-0 entry; BPF finds no service here`,
      );
      continue;
    }
    if (masters.length > 1) {
      warnings.add('duplicate-slot', `${first.feText}: ${masters.length} slot-0 entries; the first one is used`);
    }
    const m = masters[0]!;
    const mm = m.master!;
    const evidence: Evidence[] = [ev(probe, m.line.trim())];
    const entry: ServiceEntry = {
      source: 'cilium-dbg',
      frontend: {
        address: first.fe.address,
        port: first.fe.port,
        proto: first.fe.proto ?? 'ANY',
        scope: first.fe.scope,
      },
      type: mm.type ?? 'ClusterIP',
      flags: mm.l7Port !== undefined ? { ...mm.flags, l7ProxyPort: mm.l7Port } : mm.flags,
      backends: [],
      evidence,
    };
    if (mm.type === undefined) {
      untyped.push(first.feText);
      entry.flags.raw = [...(entry.flags.raw ?? []), 'type-not-printed'];
    }
    if (m.revnat !== undefined) entry.id = m.revnat;
    const seen = new Set<number>();
    const slotted = g.filter((r) => r !== m && !r.master).sort((a, b) => (a.slot ?? Infinity) - (b.slot ?? Infinity));
    for (const r of slotted) {
      // the pre-1.13 master row prints rev-NAT 0; its backends carry the service's id
      if (oldLayout && m.revnat === 0 && r.revnat !== undefined) entry.id = r.revnat;
      else if (r.revnat !== undefined && m.revnat !== undefined && r.revnat !== m.revnat) {
        warnings.add(
          'revnat-mismatch',
          `line ${r.lineNo}: ${first.feText} slot ${r.slot ?? '?'} has rev-NAT ${r.revnat}, slot 0 has ${m.revnat}`,
        );
      }
      if (r.slot !== undefined) {
        if (seen.has(r.slot)) {
          warnings.add('duplicate-slot', `line ${r.lineNo}: ${first.feText} slot ${r.slot} appears twice; skipped`);
          continue;
        }
        seen.add(r.slot);
      }
      if (r.missingBackendId !== undefined) {
        warnings.add(
          'backend-missing',
          `line ${r.lineNo}: ${first.feText} slot ${r.slot ?? '?'} points at backend ${r.missingBackendId}, which is not in the backend map`,
        );
        evidence.push(ev(probe, r.line.trim()));
        continue;
      }
      const a = r.backend!.addr;
      const b: Backend = { address: a.address, port: a.port, state: 'unknown', source: ev(probe, r.line.trim()) };
      if (a.proto !== undefined) b.proto = a.proto;
      if (r.slot !== undefined) b.slot = r.slot;
      entry.backends.push(b);
    }
    out.push(entry);
  }
  if (untyped.length > 0)
    warnings.add(
      'type-unknown',
      `${untyped.length} frontend(s) with no service type printed (${untyped.slice(0, 3).join(', ')}${untyped.length > 3 ? ', …' : ''}): type assumed ClusterIP, marked type-not-printed`,
    );
  out.sort(
    (a, b) =>
      (a.id ?? 0) - (b.id ?? 0) ||
      byCodeUnit(a.frontend.address, b.frontend.address) ||
      a.frontend.port - b.frontend.port,
  );
  return { value: out, warnings: warnings.done() };
}
