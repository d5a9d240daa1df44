import type { Diagram, DiagramNode, Tone } from './model.js';
import { dotString } from './escape.js';

// https://graphviz.org/doc/info/lang.html — every string is quoted and escaped; ids are generated.
const SHAPE: Record<DiagramNode['shape'], string> = {
  endpoint: 'oval',
  step: 'box',
  route: 'box',
  lb: 'hexagon',
  end: 'box',
};
const FILL: Record<Tone, [string, string, string]> = {
  plain: ['#ffffff', '#5f6368', '#202124'],
  ok: ['#e6f4ea', '#1e8e3e', '#0d652d'],
  bad: ['#fce8e6', '#d93025', '#a50e0e'],
  warn: ['#fef7e0', '#f29900', '#7a4f00'],
  lb: ['#e8f0fe', '#1a73e8', '#174ea6'],
  changed: ['#fff4e5', '#e8710a', '#202124'],
  muted: ['#f1f3f4', '#9aa0a6', '#5f6368'],
};

/** A Graphviz digraph of the diagram (`dot -Tsvg`, `dot -Tpng`). */
export function renderDot(d: Diagram): string {
  const out: string[] = ['digraph netpath {'];
  out.push(
    `  graph [label=${dotString([d.title, ...d.notes])}, labelloc=t, labeljust=l, fontname="Helvetica", fontsize=12, compound=true, newrank=true, nodesep=0.35, ranksep=0.4];`,
  );
  out.push('  node [fontname="Helvetica", fontsize=10, style="rounded,filled", margin="0.15,0.06"];');
  out.push('  edge [fontname="Helvetica", fontsize=9, color="#5f6368"];');
  const nodeLine = (n: DiagramNode, pad: string) => {
    const [fill, stroke, font] = FILL[n.tone];
    const style = [
      n.shape === 'route' || n.shape === 'step' || n.shape === 'end' ? 'rounded' : '',
      'filled',
      n.inferred ? 'dashed' : '',
    ]
      .filter(Boolean)
      .join(',');
    const attrs = [
      `label=${dotString(n.lines)}`,
      `shape=${SHAPE[n.shape]}`,
      `style="${style}"`,
      `fillcolor="${fill}"`,
      `color="${stroke}"`,
      `fontcolor="${font}"`,
      ...(n.tone === 'bad' || n.tone === 'changed' || n.shape === 'end' ? ['penwidth=2'] : []),
      ...(n.tooltip ? [`tooltip=${dotString(n.tooltip.split('\n'))}`] : []),
    ];
    out.push(`${pad}${n.id} [${attrs.join(', ')}];`);
  };
  const emitGroup = (id: string, pad: string) => {
    const g = d.groups.find((x) => x.id === id)!;
    out.push(`${pad}subgraph cluster_${g.id} {`);
    const colour = g.tone ? FILL[g.tone][1] : '#9aa0a6';
    out.push(
      `${pad}  label=${dotString([g.label])}; style="rounded${g.tone ? ',dashed' : ''}"; color="${colour}"; fontname="Helvetica"; fontsize=11;`,
    );
    for (const n of d.nodes.filter((x) => x.group === g.id)) nodeLine(n, `${pad}  `);
    for (const c of d.groups.filter((x) => x.parent === g.id)) emitGroup(c.id, `${pad}  `);
    out.push(`${pad}}`);
  };
  for (const n of d.nodes.filter((x) => x.group === undefined)) nodeLine(n, '  ');
  for (const g of d.groups.filter((x) => !x.parent)) emitGroup(g.id, '  ');
  // an edge between two groups is drawn between a node of each, clipped at the cluster borders
  const anchor = (gid: string): string | undefined => {
    const inside = (g: string): boolean =>
      g === gid || d.groups.some((x) => x.id === g && x.parent !== undefined && inside(x.parent));
    return d.nodes.find((n) => n.group !== undefined && inside(n.group))?.id;
  };
  for (const e of d.edges) {
    const attrs: string[] = [];
    if (e.label) attrs.push(`label=${dotString([e.label])}`);
    if (e.tooltip) attrs.push(`tooltip=${dotString(e.tooltip.split('\n'))}`);
    if (e.style === 'dashed') attrs.push('style=dashed');
    if (e.tone !== 'plain') attrs.push(`color="${FILL[e.tone][1]}"`, `fontcolor="${FILL[e.tone][2]}"`);
    if (e.tone === 'bad' || e.tone === 'changed') attrs.push('penwidth=2');
    let from = e.from;
    let to = e.to;
    if (e.betweenGroups) {
      const a = anchor(e.from);
      const b = anchor(e.to);
      if (!a || !b) continue;
      from = a;
      to = b;
      attrs.push(`ltail=cluster_${e.from}`, `lhead=cluster_${e.to}`, 'constraint=false');
    }
    out.push(`  ${from} -> ${to}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}
