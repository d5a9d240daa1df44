import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';

// The README's first lines are what a newcomer runs; its example output must be what netpath prints.
const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

describe('README', () => {
  it('shows the real output of its first command', async () => {
    const first = /^ {4}npm install && node bin\/netpath\.js (trace .*)$/m.exec(readme);
    expect(first, 'first set-up command').not.toBeNull();
    const argv = first![1]!.split(/\s+/);
    let out = '';
    const code = await main([...argv, '--no-color'], { stdout: (s) => (out += s), stderr: () => {}, isTTY: false, env: {} });
    expect(code).toBe(0);
    const block = /first command, on node k1[^\n]*\n\n```\n([\s\S]*?)\n```/.exec(readme);
    expect(block, 'example block').not.toBeNull();
    expect(out.trimEnd()).toBe(block![1]);
  });

  it('names the test command CI runs', () => {
    expect(readme).toMatch(/^ {4}npm install && npm test$/m);
  });
});

describe('README safety section', () => {
  it('lists exactly the allow-list netpath enforces', async () => {
    const { describeAllowList } = await import('../../src/exec/allowlist.js');
    const block = /The commands netpath may run[^\n]*\n\n```\n([\s\S]*?)\n```/.exec(readme);
    expect(block).not.toBeNull();
    expect(block![1]!.split('\n')).toEqual(describeAllowList());
  });
});
