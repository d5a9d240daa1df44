import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { runDiff } from '../../src/commands/diff.js';
import { diffDiagram } from '../../src/render/diagram/diff.js';
import { renderMermaid } from '../../src/render/diagram/mermaid.js';
import { renderDot } from '../../src/render/diagram/dot.js';
import { renderSvg } from '../../src/render/diagram/svg.js';
import { badMermaidLines, tokenizeDot } from '../helpers/diagram-syntax.js';
import { findAll, parseXml } from '../helpers/xml.js';

const side = (pair: string, s: string) =>
  dirSource(fileURLToPath(new URL(`../../fixtures/snapshots/${pair}/${s}`, import.meta.url)));

describe('diff pictures: before and after paths side by side', () => {
  it('migrate-iptables: one pair of columns per changed flow, steps on the same rows, changed hops highlighted', async () => {
    const { diff } = await runDiff(side('migrate-iptables', 'before'), side('migrate-iptables', 'after'));
    const d = diffDiagram(diff);
    const changed = diff.paths.flows.filter((f) => f.changed);
    expect(d.columnsPerBand).toBe(2);
    const cols = d.groups.filter((g) => !g.parent);
    expect(cols.length).toBe(2 * Math.min(12, changed.length));
    expect(cols[0]!.label.startsWith('before · ')).toBe(true);
    expect(cols[1]!.label).toBe(cols[0]!.label.replace('before', 'after'));
    // every step of a drawn flow is a node on its row, highlighted unless the step is the same on both sides
    const f = diff.paths.flows.find((x) => x.label === cols[0]!.label.slice('before · '.length))!;
    const inCol = (g: string) => d.nodes.filter((n) => n.group === g);
    f.steps.forEach((s, row) => {
      for (const [sideName, g] of [
        ['before', cols[0]!.id],
        ['after', cols[1]!.id],
      ] as const) {
        const hop = s[sideName];
        const n = inCol(g).find((x) => x.row === row);
        if (!hop) expect(n).toBeUndefined();
        else {
          expect(n!.tooltip).toBe(`[${hop.kind}] ${hop.detail}${hop.inferred ? ' (inferred)' : ''}`);
          expect(n!.tone).toBe(s.change === 'same' ? 'plain' : 'changed');
        }
      }
    });
    // the note says so exactly when some flow kept its path
    expect(d.notes.some((n) => /unchanged flow\(s\) not drawn/.test(n))).toBe(changed.length < diff.paths.flows.length);
    // the renderers keep the rows: a same step sits at the same height in both columns
    const xml = parseXml(renderSvg(d));
    const yOf = (id: string) => Number(findAll(findAll(xml, 'g').find((g) => g.attrs.id === id)!, 'rect')[0]!.attrs.y);
    f.steps.forEach((s, row) => {
      if (s.change !== 'same') return;
      const [a, b] = [inCol(cols[0]!.id).find((x) => x.row === row)!, inCol(cols[1]!.id).find((x) => x.row === row)!];
      // same height nodes are centred on the same row, so their tops agree
      if (a.lines.length === b.lines.length) expect(yOf(a.id)).toBe(yOf(b.id));
    });
    expect(badMermaidLines(renderMermaid(d))).toEqual([]);
    expect(() => tokenizeDot(renderDot(d))).not.toThrow();
  });

  it('after-broken: regressions first, their after end node red', async () => {
    const { diff } = await runDiff(side('migrate-iptables', 'before'), side('migrate-iptables', 'after-broken'));
    const d = diffDiagram(diff);
    expect(d.title).toMatch(/\d+ regression\(s\)/);
    const first = d.groups.filter((g) => !g.parent)[1]!;
    expect(first.tone).toBe('bad');
    const end = d.nodes.filter((n) => n.group === first.id).at(-1)!;
    expect(end.tone).toBe('bad');
    const flow = diff.paths.flows.find((x) => first.label === `after · ${x.label}`)!;
    expect(flow.regression).toBe(true);
  });
});
