import type { Diff, PathDiff, PathHop, PathStep } from '../../model/diff.js';
import { DiagramBuilder, wrap, type Diagram, type DiagramNode } from './model.js';

const WORD = {
  delivered: 'DELIVERED',
  forwarded: 'FORWARDED',
  dropped: 'DROPPED',
  'no-route': 'NO ROUTE',
  unknown: 'UNKNOWN',
} as const;
const MAX_FLOWS = 12;

const MARK: Record<PathStep['change'], [string, string]> = {
  same: ['', ''],
  removed: ['gone after', ''],
  added: ['', 'new'],
  replaced: ['replaced', 'replaces'],
};

function hopLines(h: PathHop, mark: string): string[] {
  return [...wrap(h.label, 40, 3), ...(mark ? [`(${mark})`] : [])];
}

function tooltip(h: PathHop): string {
  return `[${h.kind}] ${h.detail}${h.inferred ? ' (inferred)' : ''}`;
}

/** One flow: its before and after paths side by side, aligned step by step, the changed hops highlighted. */
function addFlow(b: DiagramBuilder, f: PathDiff): void {
  const tone = f.regression ? 'bad' : f.changed ? 'changed' : undefined;
  const cols = {
    before: b.group(`before · ${f.label}`, undefined, tone),
    after: b.group(`after · ${f.label}`, undefined, tone),
  };
  const last: { before?: string; after?: string } = {};
  const put = (side: 'before' | 'after', row: number, n: Omit<DiagramNode, 'id' | 'group' | 'row'>) => {
    const id = b.node({ ...n, group: cols[side], row });
    const prev = last[side];
    if (prev) b.edge({ from: prev, to: id });
    last[side] = id;
  };
  f.steps.forEach((s, row) => {
    const changed = s.change !== 'same';
    if (s.before)
      put('before', row, {
        lines: hopLines(s.before, MARK[s.change][0]),
        shape: 'step',
        tone: changed ? 'changed' : 'plain',
        tooltip: tooltip(s.before),
        ...(s.before.inferred ? { inferred: true } : {}),
      });
    if (s.after)
      put('after', row, {
        lines: hopLines(s.after, MARK[s.change][1]),
        shape: 'step',
        tone: changed ? 'changed' : 'plain',
        tooltip: tooltip(s.after),
        ...(s.after.inferred ? { inferred: true } : {}),
      });
  });
  for (const side of ['before', 'after'] as const) {
    const p = f[side];
    const t =
      p.disposition === 'delivered' || p.disposition === 'forwarded'
        ? 'ok'
        : p.disposition === 'unknown'
          ? 'warn'
          : 'bad';
    const why =
      side === 'after' && f.regression
        ? wrap(f.summary, 40, 3)
        : p.disposition === 'unknown' && p.warnings[0]
          ? wrap(p.warnings[0], 40, 2)
          : [];
    // a regression is marked on the after side whatever its disposition (delivered → forwarded is one)
    put(side, f.steps.length, {
      lines: [WORD[p.disposition], ...why],
      shape: 'end',
      tone: side === 'after' && f.regression ? 'bad' : t,
      tooltip: [f.summary, ...p.warnings].join('\n'),
    });
  }
}

/** The paths of a `netpath diff`: per flow, before and after side by side (changed flows first, regressions first). */
export function diffDiagram(d: Diff): Diagram {
  const b = new DiagramBuilder();
  const flows = [...d.paths.flows].sort(
    (x, y) => Number(y.regression) - Number(x.regression) || Number(y.changed) - Number(x.changed),
  );
  const drawn = flows.filter((f) => f.changed || f.regression).slice(0, MAX_FLOWS);
  const shown = drawn.length ? drawn : flows.slice(0, 1);
  for (const f of shown) addFlow(b, f);
  const notes = d.summary.lines.slice(0, 3);
  const unchanged = flows.filter((f) => !f.changed && !f.regression && !shown.includes(f));
  const more = flows.filter((f) => (f.changed || f.regression) && !shown.includes(f));
  if (more.length) notes.push(`${more.length} more changed flow(s) not drawn: ${more.map((f) => f.label).join('; ')}`);
  if (unchanged.length)
    notes.push(`${unchanged.length} unchanged flow(s) not drawn: ${unchanged.map((f) => f.label).join('; ')}`);
  const title = `netpath diff ${d.before.source} → ${d.after.source}: ${d.summary.verdict === 'clean' ? 'no regression' : `${d.summary.regressions} regression(s)`}, ${d.summary.paths.changed} of ${d.summary.paths.traced} path(s) changed`;
  const out = b.done(title, notes);
  out.columnsPerBand = 2;
  return out;
}
