import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { byCodeUnit } from '../../src/model/order.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('byCodeUnit', () => {
  const names = ['z', 'aa', 'B', 'a', 'ab-c', 'abc', '10.0.0.10', '10.0.0.1', 'cni-Ab', 'cni-aa'];

  it('is the order of a sort without a comparator', () => {
    expect([...names].sort(byCodeUnit)).toEqual([...names].sort());
  });

  it('gives one order whatever the locale, where localeCompare does not', () => {
    // ICU takes its default locale from LANG / LC_ALL: the same list in two child processes
    const script = `const n=${JSON.stringify(names)};console.log(JSON.stringify([[...n].sort((a,b)=>a.localeCompare(b)),[...n].sort((a,b)=>a<b?-1:a>b?1:0)]))`;
    const run = (locale: string) =>
      JSON.parse(
        execFileSync(process.execPath, ['-e', script], {
          env: { ...process.env, LANG: locale, LC_ALL: locale },
        }).toString(),
      ) as [string[], string[]];
    const [localeC, codeC] = run('C');
    const [localeDa, codeDa] = run('da_DK.UTF-8');
    // the reason this module exists: under da_DK `aa` sorts after `z`
    expect(localeDa).not.toEqual(localeC);
    expect(codeDa).toEqual(codeC);
    expect(codeC).toEqual([...names].sort(byCodeUnit));
  });

  it('is the only string order in src (no localeCompare or Intl.Collator)', () => {
    const offenders = tsFiles(SRC)
      .filter((f) => !f.endsWith('model/order.ts'))
      .filter((f) => /\.localeCompare\(|Intl\.Collator/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
