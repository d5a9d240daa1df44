import type { Diagram, DiagramNode, Tone } from './model.js';
import { clean, mermaidLabel, mermaidLine } from './escape.js';

// https://mermaid.js.org/syntax/flowchart.html
const SHAPE: Record<DiagramNode['shape'], [string, string]> = {
  endpoint: ['([', '])'],
  step: ['[', ']'],
  route: ['(', ')'],
  lb: ['{{', '}}'],
  end: ['[[', ']]'],
};

const CLASS: Record<Tone, string> = {
  plain: 'fill:#ffffff,stroke:#5f6368,color:#202124',
  ok: 'fill:#e6f4ea,stroke:#1e8e3e,stroke-width:2px,color:#0d652d',
  bad: 'fill:#fce8e6,stroke:#d93025,stroke-width:3px,color:#a50e0e',
  warn: 'fill:#fef7e0,stroke:#f29900,color:#7a4f00',
  lb: 'fill:#e8f0fe,stroke:#1a73e8,color:#174ea6',
  changed: 'fill:#fff4e5,stroke:#e8710a,stroke-width:3px,color:#202124',
  muted: 'fill:#f1f3f4,stroke:#9aa0a6,color:#5f6368',
};

const LINK_COLOUR: Partial<Record<Tone, string>> = {
  bad: '#d93025',
  warn: '#f29900',
  lb: '#1a73e8',
  changed: '#e8710a',
  muted: '#9aa0a6',
  ok: '#1e8e3e',
};

/** A mermaid flowchart of the diagram (GitHub renders these in Markdown). */
export function renderMermaid(d: Diagram): string {
  const out: string[] = [];
  // the title goes in the front matter as a JSON string (valid YAML), escaped like any label
  out.push('---', `title: ${JSON.stringify(clean(d.title).replace(/[%#`]/g, ' '))}`, '---');
  out.push('flowchart TB');
  const byGroup = new Map<string | undefined, DiagramNode[]>();
  for (const n of d.nodes) byGroup.set(n.group, [...(byGroup.get(n.group) ?? []), n]);
  const node = (n: DiagramNode, pad: string) => {
    const [open, close] = SHAPE[n.shape];
    out.push(`${pad}${n.id}${open}${mermaidLabel(n.lines)}${close}`);
  };
  const emitGroup = (id: string, pad: string) => {
    const g = d.groups.find((x) => x.id === id)!;
    out.push(`${pad}subgraph ${g.id}[${mermaidLabel([g.label])}]`);
    out.push(`${pad}  direction TB`);
    for (const n of byGroup.get(g.id) ?? []) node(n, `${pad}  `);
    for (const c of d.groups.filter((x) => x.parent === g.id)) emitGroup(c.id, `${pad}  `);
    out.push(`${pad}end`);
  };
  for (const n of byGroup.get(undefined) ?? []) node(n, '  ');
  for (const g of d.groups.filter((x) => !x.parent)) emitGroup(g.id, '  ');
  if (d.notes.length) out.push(`  notes>${mermaidLabel(d.notes)}]`);
  const linkStyles: string[] = [];
  d.edges.forEach((e, i) => {
    const arrow = e.style === 'dashed' ? '-.->' : e.tone === 'bad' ? '==>' : '-->';
    out.push(`  ${e.from} ${arrow}${e.label ? `|${mermaidLabel([e.label])}|` : ''} ${e.to}`);
    const colour = LINK_COLOUR[e.tone];
    if (colour) linkStyles.push(`  linkStyle ${i} stroke:${colour},color:${colour}`);
  });
  out.push(...linkStyles);
  for (const tone of (Object.keys(CLASS) as Tone[]).filter((x) => x !== 'plain')) {
    const ids = d.nodes.filter((n) => n.tone === tone).map((n) => n.id);
    if (tone === 'muted' && d.notes.length) ids.push('notes');
    if (ids.length) out.push(`  classDef ${tone} ${CLASS[tone]}`, `  class ${ids.join(',')} ${tone}`);
  }
  const inferred = d.nodes.filter((n) => n.inferred).map((n) => n.id);
  if (inferred.length) out.push('  classDef inferred stroke-dasharray:5 4', `  class ${inferred.join(',')} inferred`);
  for (const g of d.groups.filter((x) => x.tone))
    out.push(`  style ${g.id} stroke:${LINK_COLOUR[g.tone!] ?? '#5f6368'},stroke-dasharray:5 4`);
  // evidence as tooltips (mermaid shows them on hover; a strict renderer just ignores the callback)
  for (const n of d.nodes) {
    if (n.tooltip)
      out.push(
        `  click ${n.id} callback "${mermaidLine(n.tooltip.split('\n').slice(0, 4).join(' · ').slice(0, 300))}"`,
      );
  }
  return out.join('\n') + '\n';
}
