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
    const code = await main([...argv, '--no-color'], {
      stdout: (s) => (out += s),
      stderr: () => {},
      isTTY: false,
      env: {},
    });
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

describe('README pictures', () => {
  const cli = async (cmd: string) => {
    let out = '';
    const argv = cmd
      .replace(/^node bin\/netpath\.js /, '')
      .replace(/ (\||>) .*$/, '')
      .split(/\s+/);
    const code = await main(argv, { stdout: (s) => (out += s), stderr: () => {}, isTTY: false, env: {} });
    return { code, out };
  };
  const commands = /^## Pictures[\s\S]*?```\n([\s\S]*?)\n```/m.exec(readme)![1]!.split('\n');

  it('shows the real mermaid output of its first picture command', async () => {
    const block = /The first command prints this[^\n]*\n\n```mermaid\n([\s\S]*?)\n```/.exec(readme);
    expect(block, 'mermaid block').not.toBeNull();
    const { code, out } = await cli(commands[0]!);
    expect(code).toBe(0);
    expect(out.trimEnd()).toBe(block![1]);
  });

  it('ships the SVG its third command draws', async () => {
    expect(commands[2]).toMatch(/-o svg > journey\.svg$/);
    const { code, out } = await cli(commands[2]!);
    expect(code).toBe(0);
    const file = readFileSync(fileURLToPath(new URL('../../docs/pictures/journey-v6-wg.svg', import.meta.url)), 'utf8');
    expect(file).toBe(out);
  });
});

describe('README Migrating from kube-proxy', () => {
  it('shows the real output of its diff example', async () => {
    const block = /```\n\$ node bin\/netpath\.js (diff [^\n]*)\n([\s\S]*?)\n```/.exec(readme);
    expect(block, 'diff example block').not.toBeNull();
    let out = '';
    const code = await main([...block![1]!.split(/\s+/), '--no-color'], {
      stdout: (s) => (out += s),
      stderr: () => {},
      isTTY: false,
      env: {},
    });
    expect(code).toBe(1);
    expect(out.trimEnd()).toBe(block![2]);
  });
});
