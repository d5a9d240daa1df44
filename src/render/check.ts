import { z } from 'zod';
import type { CheckReport } from '../model/check.js';
import { painter, type RenderOptions } from './style.js';
import { warningLines } from './text.js';

const evidence = z.object({ probe: z.string(), text: z.string() });
const warning = z.object({ code: z.string(), message: z.string(), source: z.string().optional() });
const flow = z.object({
  src: z.string(),
  dst: z.string(),
  proto: z.enum(['tcp', 'udp', 'icmp', 'sctp']),
  dport: z.number().int().optional(),
  sport: z.number().int().optional(),
});

/** The `netpath check -o json` contract (docs/check.md, docs/json.md); additions only within a schemaVersion. */
export const checkJsonSchema = z.object({
  schemaVersion: z.literal(1),
  node: z.string().nullable(),
  nodes: z.array(z.string()).optional(),
  flowsChecked: z.number().int(),
  flowsEnumerated: z.number().int(),
  findings: z.array(
    z.object({
      severity: z.enum(['error', 'warning', 'info']),
      kind: z.string(),
      message: z.string(),
      node: z.string().optional(),
      flows: z.object({
        count: z.number().int(),
        examples: z.array(
          z.object({
            category: z.string(),
            label: z.string(),
            flow,
            disposition: z.enum(['delivered', 'forwarded', 'dropped', 'no-route', 'unknown']),
            node: z.string().optional(),
          }),
        ),
      }),
      evidence: z.array(evidence),
      confirm: z.array(z.string()),
    }),
  ),
  warnings: z.array(warning),
});

/** The contract object of a check report (what `-o json` and `-o yaml` print), checked by its schema. */
export function checkContract(r: CheckReport): unknown {
  return checkJsonSchema.parse(r);
}

const count = (r: CheckReport, s: string) => r.findings.filter((f) => f.severity === s).length;
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/** The verdict line: how many flows, and how many findings of each severity. */
export function checkResultLine(r: CheckReport): string {
  const e = count(r, 'error');
  const head = e > 0 ? 'PROBLEMS' : r.findings.length > 0 ? 'OK, with findings' : 'OK';
  return `${head} — ${plural(r.flowsChecked, 'flow')} checked${r.nodes ? ` on ${plural(r.nodes.length, 'node')}` : ''}: ${plural(e, 'error')}, ${plural(count(r, 'warning'), 'warning')}, ${count(r, 'info')} info`;
}

/** `netpath check` as text: each finding with its affected flows, evidence and the commands that confirm it. */
export function renderCheckText(r: CheckReport, opts: RenderOptions): string {
  const c = painter(opts);
  const sev = { error: c.red.bold('ERROR'), warning: c.yellow('WARN '), info: c.cyan('INFO ') };
  const out = [c.bold(`check of ${r.node ?? (r.nodes ? `cluster (${r.nodes.join(', ')})` : '(unnamed node)')}`), ''];
  r.findings.forEach((f, i) => {
    out.push(`${sev[f.severity]} ${c.bold(f.kind)}${f.node ? c.dim(` [${f.node}]`) : ''}  ${f.message}`);
    if (f.flows.count > 0) {
      out.push(`      ${plural(f.flows.count, 'flow')}, e.g.:`);
      for (const x of f.flows.examples) out.push(`        - ${x.label} (${x.disposition})`);
    }
    for (const e of f.evidence) {
      const s = `↳ ${e.probe}: ${e.text.replace(/\s+/g, ' ').trim()}`;
      const room = opts.width - 6;
      out.push(`      ${c.dim(room > 20 && s.length > room ? `${s.slice(0, room - 1)}…` : s)}`);
    }
    if (f.confirm.length) out.push(`      confirm: ${f.confirm.map((x) => c.cyan(x)).join(`\n               `)}`);
    if (i < r.findings.length - 1) out.push('');
  });
  if (r.findings.length) out.push('');
  out.push(`result: ${checkResultLine(r)}`);
  out.push(...warningLines(r, opts));
  return `${out.join('\n')}\n`;
}
