import type { Trace } from '../../model/trace.js';
import type { Journey } from '../../model/journey.js';
import type { Diff } from '../../model/diff.js';
import { diffDiagram } from './diff.js';
import { journeyDiagram, traceDiagram, type Diagram } from './model.js';
import { renderMermaid } from './mermaid.js';
import { renderDot } from './dot.js';
import { renderSvg } from './svg.js';

export type DiagramFormat = 'mermaid' | 'dot' | 'svg';
export const DIAGRAM_FORMATS: readonly DiagramFormat[] = ['mermaid', 'dot', 'svg'];

export function renderDiagram(d: Diagram, format: DiagramFormat): string {
  return format === 'mermaid' ? renderMermaid(d) : format === 'dot' ? renderDot(d) : renderSvg(d);
}

export function renderTraceDiagram(t: Trace, format: DiagramFormat): string {
  return renderDiagram(traceDiagram(t), format);
}

export function renderJourneyDiagram(j: Journey, format: DiagramFormat): string {
  return renderDiagram(journeyDiagram(j), format);
}

export function renderDiffDiagram(d: Diff, format: DiagramFormat): string {
  return renderDiagram(diffDiagram(d), format);
}
