import { readFileSync } from 'node:fs';

export const fixture = (tool: string, sub: string, name: string): string =>
  readFileSync(new URL(`../../../fixtures/tools/${tool}/${sub}/${name}`, import.meta.url), 'utf8');

export const withoutSource = <T extends { source: unknown }>(xs: T[]): Omit<T, 'source'>[] =>
  xs.map(({ source: _s, ...rest }) => rest);

/** Colours every line and ends it with CRLF, as a terminal paste from Windows would. */
export const ansiCrlf = (text: string): string =>
  text
    .split('\n')
    .map((l) => (l === '' ? l : `\u001b[1;32m${l}\u001b[0m`))
    .join('\r\n');
