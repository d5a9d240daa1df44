import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';
import { safeText, terminalSafe } from '../../src/render/terminal-safe.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('safeText / terminalSafe', () => {
  it('makes controls, bidi overrides and newlines visible, leaves the rest', () => {
    expect(safeText('web\x1b]0;pwned\x07-\x1b[2J\u202egnp.exe\n result: DELIVERED')).toBe(
      'web\\x1b]0;pwned\\x07-\\x1b[2J\\u202egnp.exe\\x0a result: DELIVERED',
    );
    expect(safeText('2001:db8::1 → lxc6d1e0f2a3b4c ✓ \t')).toBe('2001:db8::1 → lxc6d1e0f2a3b4c ✓ \\x09');
  });
  it('copies plain data deeply and leaves non-plain objects alone', () => {
    const m = new Map([['a', '\x1b']]);
    const v = terminalSafe({ a: ['\x1b[31m', { b: '\u2066x' }], n: 3, m });
    expect(v).toEqual({ a: ['\\x1b[31m', { b: '\\u2066x' }], n: 3, m });
    expect(v.m).toBe(m);
  });
});

describe('a hostile pod name from a snapshot reaches the terminal inert', () => {
  const POD = 'web\x1b]0;owned\x07\x1b[2J\u202e\nresult: DELIVERED';
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'np-term-'));
    cpSync(join(root, 'fixtures/snapshots/kind-v4/k1'), dir, { recursive: true });
    const eps = JSON.parse(readFileSync(join(dir, 'cilium-endpoints.json'), 'utf8')) as {
      status: { 'external-identifiers'?: Record<string, string> };
    }[];
    let n = 0;
    for (const e of eps) {
      const ids = e.status['external-identifiers'];
      if (ids?.['k8s-pod-name'] === 'web-k1a') {
        ids['k8s-pod-name'] = POD;
        n++;
      }
    }
    expect(n).toBe(1);
    writeFileSync(join(dir, 'cilium-endpoints.json'), JSON.stringify(eps));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const fmt of ['text', 'table', 'wide'])
    it(`-o ${fmt}: no control character but the renderer's own newlines and colours`, async () => {
      let out = '';
      let err = '';
      const code = await main(['trace', '10.244.1.12', '10.244.2.7', '--port', '8080', '-s', dir, '-o', fmt], {
        stdout: (s) => (out += s),
        stderr: (s) => (err += s),
        isTTY: true,
        env: {},
      });
      expect(code, err).toBe(0);
      if (fmt === 'text') expect(out).toContain('\x1b[');
      // tables cut long names; the text form shows the whole name, escaped
      if (fmt === 'text') expect(out).toContain('web\\x1b]0;owned\\x07\\x1b[2J\\u202e\\x0aresult: DELIVERED');
      // the only ESC left is our own SGR colouring
      const stripped = out.replace(/\x1b\[[0-9;]*m/g, '');
      expect(stripped).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
      // the forged line does not stand on a line of its own
      expect(stripped.split('\n').filter((l) => l.startsWith('result: DELIVERED'))).toHaveLength(0);
    });
});
