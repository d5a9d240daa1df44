import { readFileSync } from 'node:fs';

export const fx = (n: string): string =>
  readFileSync(new URL(`../../../fixtures/tools/ip/${n}`, import.meta.url), 'utf8');

/** Records without `source.text` (JSON evidence is a rendering, text evidence the line itself). */
export const noText = <T extends { source: { probe: string; text: string } }>(xs: T[]) =>
  xs.map((x) => ({ ...x, source: { probe: x.source.probe } }));

/** One `### command` section of a multi-command capture file. */
export function section(text: string, title: string): string {
  const start = text.indexOf(`### ${title}`);
  if (start < 0) throw new Error(`no section ${title}`);
  const body = text.slice(text.indexOf('\n', start) + 1);
  const end = body.indexOf('\n###');
  return end < 0 ? body : body.slice(0, end);
}

export const codes = (ws: { code: string }[]) => ws.map((w) => w.code);
