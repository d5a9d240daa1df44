import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../src/tools/parse-error.js';
import * as lean from '../../../src/tools/iptables/parse-iptables.js';
import { mutate } from '../../fuzz/harness.js';
import * as v1 from './reference/parse-iptables-v1.js';

/**
 * The parser keeps fewer and smaller objects per rule (exact-size arrays, shared module/option/chain name strings,
 * options read in place): what it returns must be what the parser before that change returned, on every bundled
 * iptables-save / iptables-restore text and on mutations of them, through both entry points (text and bytes).
 */

const ROOT = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

function dumps(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/ip6?tables-(save|restore)|iptables-restore/.test(n) && statSync(p).size < 8 << 20)
        out.push({ name: p.slice(ROOT.length), text: readFileSync(p, 'utf8') });
    }
  };
  walk(ROOT);
  return out;
}

type Outcome = { value: unknown; warnings: unknown } | { error: string };

function run(f: () => { value: unknown; warnings: unknown }): Outcome {
  try {
    return f();
  } catch (e) {
    if (e instanceof ParseError) return { error: e.message };
    throw e;
  }
}

function both(text: string): [Outcome, Outcome][] {
  const bytes = Buffer.from(text, 'utf8');
  const viaBytes = (m: typeof lean | typeof v1) => () => {
    const { lines, warnings } = m.iptablesByteLines(bytes, 'iptables-save.txt');
    const r = m.parseIptablesLines(lines, 'iptables-save.txt');
    return { value: r.value, warnings: [...warnings, ...r.warnings] };
  };
  return [
    [
      run(() => lean.parseIptablesSave(text, 'iptables-save.txt')),
      run(() => v1.parseIptablesSave(text, 'iptables-save.txt')),
    ],
    [run(viaBytes(lean)), run(viaBytes(v1))],
  ];
}

const files = dumps();

describe('lean iptables-save parse = the parser before it', () => {
  it('finds the bundled dumps', () => {
    // snapshots (migrations, conntrack node), sysdump, kube-proxy fixtures and upstream restore inputs
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  it.each(files.map((f) => [f.name, f.text] as const))('%s', (_name, text) => {
    for (const [a, b] of both(text)) expect(a).toEqual(b);
  });

  it('agrees on mutated dumps', () => {
    const seedTexts = files.filter((f) => f.text.length < 200_000).map((f) => f.text);
    fc.assert(
      fc.property(fc.oneof(...seedTexts.map((t) => mutate(t))), (text) => {
        for (const [a, b] of both(text)) expect(a).toEqual(b);
      }),
      { numRuns: 150, seed: 20261207 },
    );
  });

  it('agrees on rules built from option fragments', () => {
    const frag = fc.constantFrom(
      '-p tcp',
      '! -s 10.0.0.0/8',
      '-m tcp --dport 80',
      '--dport 443',
      '-m comment --comment "a b"',
      "-m comment --comment 'x'",
      '-m statistic --mode random --probability 0.5',
      '-j DNAT --to-destination 10.1.1.1:80',
      '-g KUBE-X',
      '-m foo --bar',
      '-f',
      '!',
      '--',
      '-x',
      '--9a 1',
      '-c 1 2',
      'stray',
      '"q"',
      '-m',
      '-j',
    );
    fc.assert(
      fc.property(fc.array(frag, { maxLength: 8 }), fc.boolean(), (parts, counters) => {
        const rule = `${counters ? '[1:2] ' : ''}-A KUBE-Y ${parts.join(' ')}`;
        const text = `*nat\n:KUBE-Y - [0:0]\n${rule}\nCOMMIT\n`;
        for (const [a, b] of both(text)) expect(a).toEqual(b);
      }),
      { numRuns: 300, seed: 20261207 },
    );
  });
});
