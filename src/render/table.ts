import { joinHostPort } from '../model/addr.js';
import { hopField, type Hop, type Trace } from '../model/trace.js';
import type { Journey } from '../model/journey.js';
import type { FrontendView, LookupResult } from '../model/service.js';
import { painter, type RenderOptions } from './style.js';
import { resultLine, warningLines } from './text.js';
import { journeyResultLine } from './journey.js';
import { flagsCompact, typeText } from './svc.js';

/**
 * kubectl-style tables (`-o table`, `-o wide`): upper-case headers, no borders, columns three spaces
 * apart, one line per row, `-` for an empty cell, so `awk '{print $2}'` works on them.
 */
export function columns(head: string[], rows: string[][], opts: { width?: number } = {}): string {
  const cells = rows.map((r) => r.map((c) => (c === '' ? '-' : c.replace(/\s*\n\s*/g, ' '))));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => {
    let s = r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ');
    // only the last column is cut to the terminal: the ones before it stay aligned
    if (opts.width !== undefined && opts.width > 40 && s.length > opts.width) s = s.slice(0, opts.width - 1) + '…';
    return s.trimEnd();
  };
  return [line(head), ...cells.map(line)].join('\n') + '\n';
}

const ID = /\bid (\d{1,10})\b/;

/** The program id the hop's own evidence (bpftool / tc filter lines) prints next to its program. */
function programId(h: Hop): string {
  const progId = hopField(h, 'progId');
  if (progId !== undefined) return String(progId);
  const program = hopField(h, 'program');
  if (!program) return '';
  const ids = new Set<string>();
  for (const e of h.evidence) {
    if (!/^(bpftool|tc-filter)/.test(e.probe) || !e.text.includes(program)) continue;
    const m = ID.exec(e.text);
    if (m) ids.add(m[1]!);
  }
  return [...ids].join(',');
}

const nextHop = (h: Hop): string =>
  hopField(h, 'nexthop') ?? hopField(h, 'gateway') ?? hopField(h, 'endpoint') ?? hopField(h, 'backend') ?? '';
const probes = (h: Hop): string => [...new Set(h.evidence.map((e) => e.probe))].join(',');

function hopRow(h: Hop, i: number, wide: boolean): string[] {
  if (!wide) return [String(i + 1), h.kind, hopField(h, 'dev') ?? '', h.detail];
  return [
    String(i + 1),
    h.kind,
    h.netns ?? '',
    hopField(h, 'dev') ?? '',
    hopField(h, 'hook') ?? '',
    hopField(h, 'program') ?? hopField(h, 'chain') ?? '',
    programId(h),
    nextHop(h),
    h.inferred ? 'yes' : 'no',
    probes(h),
    h.detail,
  ];
}

const HOP_HEAD = ['#', 'HOP', 'DEVICE', 'DETAIL'];
const HOP_HEAD_WIDE = [
  '#',
  'HOP',
  'NETNS',
  'DEVICE',
  'HOOK',
  'PROGRAM',
  'PROG-ID',
  'NEXT-HOP',
  'INFERRED',
  'EVIDENCE',
  'DETAIL',
];

/** One row per hop, then the result line and the warnings. `wide` adds where, what program, and which probes prove it. */
export function renderTraceTable(t: Trace, opts: RenderOptions, wide = false): string {
  const table = columns(
    wide ? HOP_HEAD_WIDE : HOP_HEAD,
    t.hops.map((h, i) => hopRow(h, i, wide)),
    wide ? {} : { width: opts.width },
  );
  return [table, resultLine(t, opts), ...warningLines(t, opts)].join('\n') + '\n';
}

export function renderJourneyTable(j: Journey, opts: RenderOptions, wide = false): string {
  const rows = j.legs.flatMap((l) => l.trace.hops.map((h, i) => [l.node, ...hopRow(h, i, wide)]));
  const table = columns(['NODE', ...(wide ? HOP_HEAD_WIDE : HOP_HEAD)], rows, wide ? {} : { width: opts.width });
  const lines = [table, journeyResultLine(j)];
  if (j.returnPath)
    lines.push(
      `reply: ${j.returnPath.nodes.join(' → ')} — ${j.returnPath.disposition.toUpperCase()}${j.returnPath.differs ? ' (asymmetric)' : ''}`,
    );
  lines.push(...warningLines(j, opts));
  return lines.join('\n') + '\n';
}

function svcRow(f: FrontendView, wide: boolean): string[] {
  const active = f.backends.filter((b) => b.state === 'active').length;
  const row = [f.frontend, typeText(f), f.name ?? '', `${active}/${f.backends.length}`, f.sources.join(',')];
  if (!wide) return row;
  const states = f.backends
    .map(
      (b) =>
        `${joinHostPort(b.address, b.port)}=${b.state}${b.probability !== undefined ? `(p=${b.probability.toFixed(3)})` : ''}${b.weight !== undefined ? `(w=${b.weight})` : ''}`,
    )
    .join(',');
  const chains = [...new Set(f.bySource.map((s) => s.chain).filter((c): c is string => c !== undefined))].join(',');
  return [...row, states, chains, flagsCompact(f.flags), f.conflict ?? ''];
}

/** One row per frontend: BACKENDS is active/total; `wide` adds each backend with its state, the kube-proxy chains, every flag and conflicts. */
export function renderSvcTable(query: string, r: LookupResult, opts: RenderOptions, wide = false): string {
  const c = painter(opts);
  if (r.frontends.length === 0)
    return `no frontend matches ${query} in any Service source\n${warningLines(r, opts).slice(1).join('\n')}${r.warnings.length ? '\n' : ''}`;
  const head = [
    'FRONTEND',
    'TYPE',
    'SERVICE',
    'BACKENDS',
    'SOURCES',
    ...(wide ? ['ENDPOINTS', 'CHAIN', 'FLAGS', 'CONFLICT'] : []),
  ];
  const table = columns(
    head,
    r.frontends.map((f) => svcRow(f, wide)),
    wide ? {} : { width: opts.width },
  );
  const conflicts = wide
    ? []
    : r.frontends.filter((f) => f.conflict).map((f) => c.yellow(`conflict on ${f.frontend}: ${f.conflict}`));
  return [table.trimEnd(), ...conflicts, ...warningLines(r, opts)].join('\n') + '\n';
}
