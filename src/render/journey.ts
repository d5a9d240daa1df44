import type { Journey } from '../model/journey.js';
import { renderTraceText } from './text.js';
import { painter, type RenderOptions } from './style.js';

/** A cluster trace: one section per node, then where the journey ended. */
export function renderJourneyText(j: Journey, opts: RenderOptions): string {
  const c = painter(opts);
  const out: string[] = [
    c.bold(
      `journey of ${j.flow.src} → ${j.flow.dport === undefined ? j.flow.dst : `${j.flow.dst.includes(':') ? `[${j.flow.dst}]` : j.flow.dst}:${j.flow.dport}`} ${j.flow.proto} across ${j.legs.length} node(s): ${j.legs.map((l) => l.node).join(' → ')}`,
    ),
    '',
  ];
  j.legs.forEach((l, i) => {
    out.push(c.bold(`━━ ${i + 1}. node ${l.node} ━━`));
    out.push(renderTraceText(l.trace, opts).trimEnd());
    if (l.next) out.push(c.cyan(`⇒ ${l.next}`));
    out.push('');
  });
  out.push(journeyResultLine(j));
  if (j.returnPath)
    out.push(
      `reply: ${j.returnPath.nodes.join(' → ')} — ${j.returnPath.disposition.toUpperCase()}${j.returnPath.differs ? c.yellow(' (asymmetric)') : ''}`,
    );
  for (const w of j.warnings) out.push(c.yellow(`  - ${w.message}`));
  return out.join('\n') + '\n';
}

/** `journey: FORWARDED (leaves the captured nodes towards …)`: the one line that answers the question. */
export function journeyResultLine(j: Journey): string {
  return `journey: ${j.disposition.toUpperCase()}${j.leftAt ? ` (leaves the captured nodes towards ${j.leftAt})` : ''}`;
}
