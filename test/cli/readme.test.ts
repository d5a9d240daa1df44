import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';

// The README is the front door: its first lines are what a newcomer runs, its example output must be what netpath
// prints, and it stays small enough to read; the manual lives in docs/.
const root = fileURLToPath(new URL('../..', import.meta.url));
const readmeBytes = readFileSync(join(root, 'README.md'));
const readme = readmeBytes.toString('utf8');

describe('README', () => {
  it('shows the real output of its first command', async () => {
    // .ci/run executes this same line (the first indented `… bin/netpath.js trace …`)
    const first = /^ {4}npm install && node bin\/netpath\.js (trace .*)$/m.exec(readme);
    expect(first, 'first set-up command').not.toBeNull();
    const { code, out } = await runCli(first![1]!.split(/\s+/));
    expect(code).toBe(0);
    const block = /first command, on node k1[^\n]*\n\n```\n([\s\S]*?)\n```/.exec(readme);
    expect(block, 'example block').not.toBeNull();
    expect(out.trimEnd()).toBe(block![1]);
  });

  it('names the test command CI runs', () => {
    expect(readme).toMatch(/^ {4}npm install && npm test$/m);
  });

  it('is at most 12 KB (12,288 bytes): the manual belongs in docs/', () => {
    expect(readmeBytes.length).toBeLessThanOrEqual(12_288);
  });

  it('says how to lint, and that CI runs it', () => {
    const dev = /^## Development\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme);
    expect(dev, 'Development section').not.toBeNull();
    expect(dev![1]).toContain('npm run lint');
    expect(dev![1]).toMatch(/\.ci\/run[^.]*npm run lint/);
    expect(readFileSync(join(root, '.ci/run'), 'utf8')).toMatch(/^npm run lint$/m);
  });
});

describe('links between README, docs/ and bench/RESULTS.md', () => {
  // Written by work that lands separately (typed hops; layering and the CLI): linked now, checked once present.
  const pending = new Set(['docs/hops.md', 'docs/architecture.md']);
  const docs = readdirSync(join(root, 'docs'))
    .filter((n) => n.endsWith('.md'))
    .map((n) => `docs/${n}`);
  const files = ['README.md', 'bench/RESULTS.md', ...docs];

  /** GitHub's heading anchors: lower case, punctuation other than `-` and `_` dropped, spaces to `-`. */
  const anchors = (md: string) =>
    new Set(
      md
        .replace(/^```[\s\S]*?^```/gm, '')
        .split('\n')
        .filter((l) => /^#{1,6} /.test(l))
        .map((l) =>
          l
            .replace(/^#+ /, '')
            .toLowerCase()
            .replace(/[^\p{L}\p{N} _-]/gu, '')
            .replace(/ /g, '-'),
        ),
    );

  it('every relative link names a file of the repository, and a heading of it when it has #anchor', () => {
    let checked = 0;
    for (const f of files) {
      const text = readFileSync(join(root, f), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const file = path === '' ? f : relative(root, join(root, dirname(f), path));
        if (pending.has(file) && !existsSync(join(root, file))) continue;
        expect(existsSync(join(root, file)), `${f}: link to ${target}`).toBe(true);
        if (anchor && file.endsWith('.md'))
          expect([...anchors(readFileSync(join(root, file), 'utf8'))], `${f}: link to ${target}`).toContain(anchor);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });
});
