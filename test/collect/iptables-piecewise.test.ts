import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';
import { iptablesServices, iptablesServicesFromFile, keepFor, narrowFor } from '../../src/collect/iptables-services.js';
import { loadServices } from '../../src/collect/load-services.js';
import { dirSource, type ProbeSource } from '../../src/collect/source.js';
import type { ServiceQuery } from '../../src/model/service.js';
import { fileLinesTuning } from '../../src/tools/iptables/file-lines.js';
import { ByteLines, pastedDump } from '../../src/tools/iptables/parse-iptables.js';
import { throwIfToolError } from '../../src/tools/tool-error.js';
import { mutate, SEED } from '../fuzz/harness.js';
import { filesUnder } from '../helpers/files.js';

// A trace's question about one address reads iptables-save from its file in pieces (iptablesServicesFromFile,
// tools/iptables/file-lines.ts) instead of reading the dump whole: it must give what the whole read gives (the same
// Services, warnings and rules) on every bundled dump, on the large bench node's, and on changed copies of them,
// whatever the size of the pieces. When it declines (undefined), the dump must be one the whole read cleans,
// decodes or refuses.

const ROOT = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const LARGE = '/work/benchdata/large/iptables-save.txt';
const dir = mkdtempSync(join(tmpdir(), 'npB-piecewise-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dumps = filesUnder(ROOT, /^ip6?tables-(save|restore)/)
  .sort()
  .map((p) => ({ name: p.slice(ROOT.length), text: readFileSync(p, 'utf8') }))
  .filter((d) => d.text.length < 8 << 20);

/** the questions a trace asks: frontends the dump has, one it lacks, a node port, and a name */
function questions(text: string): ServiceQuery[][] {
  const addrs = [...new Set([...text.matchAll(/-d (\d+\.\d+\.\d+\.\d+)\/32/g)].map((m) => m[1]!))].slice(0, 3);
  return [
    ...addrs.map((a) => [{ kind: 'address' as const, address: a }]),
    [{ kind: 'address', address: '203.0.113.77' }],
    [{ kind: 'address', address: '10.96.0.1' }],
    [
      { kind: 'address', address: addrs[0] ?? '10.96.0.10', port: 80 },
      { kind: 'address', address: '0.0.0.0', port: 80 },
    ],
    [{ kind: 'service', namespace: 'default', name: 'kubernetes' }],
  ];
}

let seq = 0;
function write(text: string | Buffer): string {
  const p = join(dir, `d${seq++}.txt`);
  writeFileSync(p, text);
  return p;
}

/** why the whole read would not take the dump as it is (undefined: it would) */
function notPlain(b: Buffer): string | undefined {
  if (b.length === 0) return 'empty';
  if (b.includes(0) || b.includes(0x1b) || b.includes(0x0d)) return 'NUL, ESC or CR';
  try {
    throwIfToolError(b.toString('utf8', 0, Math.min(b.length, 4096)), 'p', 'iptables-save');
  } catch {
    return 'tool error';
  }
  return pastedDump(new ByteLines(b)) ? 'pasted' : undefined;
}

type Outcome = ReturnType<typeof iptablesServices> | { error: string } | undefined;
const outcome = (f: () => Outcome): Outcome => {
  try {
    return f();
  } catch (e) {
    return { error: String(e) };
  }
};

function agree(text: string, chunks: number[] = [1 << 20, 4096, 61], asked = questions(text)): void {
  const b = Buffer.from(text, 'utf8');
  const path = write(b);
  const why = notPlain(b);
  for (const only of asked) {
    const keep = keepFor(only);
    const narrow = narrowFor(only);
    const whole = outcome(() => iptablesServices(b, 'iptables-save', 4, kubeProxyReader, keep, narrow));
    for (const chunk of chunks) {
      fileLinesTuning.chunk = chunk;
      try {
        const piece = outcome(() => iptablesServicesFromFile(path, 'iptables-save', 4, kubeProxyReader, keep, narrow));
        if (piece === undefined) expect(why, `declined a plain dump (${JSON.stringify(only)})`).toBeDefined();
        else if ('error' in piece) expect(whole).toEqual(piece);
        else {
          expect(why).toBeUndefined();
          expect(piece, `${JSON.stringify(only)} in pieces of ${chunk}`).toEqual(whole);
        }
      } finally {
        fileLinesTuning.chunk = 1 << 20;
      }
    }
  }
}

describe('iptables-save read in pieces = read whole', () => {
  it('finds the bundled dumps', () => {
    expect(dumps.length).toBeGreaterThanOrEqual(10);
  });

  it.each(dumps.map((d) => [d.name, d.text] as const))('%s', (_name, text) => agree(text));

  it.skipIf(!existsSync(LARGE))(
    'the large bench node (10,000 Services)',
    () => {
      const text = readFileSync(LARGE, 'utf8');
      // a Service's address and one the node lacks, as a trace without --port asks (each read whole costs seconds)
      const q = questions(text);
      agree(text, [1 << 20, 1 << 16], [q[0]!, q[3]!]);
    },
    120_000,
  );

  it('changed copies: a garbled line, no COMMIT, the address added, removed, in a comment, as a prefix', () => {
    const base = dumps.find((d) => /-d \d+\.\d+\.\d+\.\d+\/32/.test(d.text) && d.text.includes('COMMIT'))!.text;
    const addr = /-d (\d+\.\d+\.\d+\.\d+)\/32/.exec(base)![1]!;
    const lines = base.split('\n');
    const svcLine = lines.findIndex((l) => l.startsWith('-A KUBE-SERVICES -d'));
    const variants = [
      lines.map((l, i) => (i === svcLine ? `${l.slice(0, 10)}"${l.slice(10)}` : l)).join('\n'),
      lines.filter((l) => l !== 'COMMIT').join('\n'),
      base.replace('\nCOMMIT', '\n-A KUBE-SERVICES -d 203.0.113.77/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-X\nCOMMIT'),
      lines.filter((l) => !l.includes(`-d ${addr}/32`)).join('\n'),
      base.replace(
        '\nCOMMIT',
        `\n-A KUBE-SERVICES -m comment --comment "see ${addr} and 203.0.113.77" -j RETURN\nCOMMIT`,
      ),
      base.replaceAll(`-d ${addr}/32`, `-d ${addr}0/32`),
      base.replace('\nCOMMIT', '\n-A KUBE-SERVICES -d 203.0.113.7/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-Y\nCOMMIT'),
      base.replace('\nCOMMIT', '\n[3:4] -A KUBE-SERVICES -d 203.0.113.77/32 -p tcp --dport 81 -j KUBE-SVC-Z\nCOMMIT'),
      `${base.trimEnd()}`,
      base.replace('\n-A', '\n  -A'),
      `${base}\n\n`,
    ];
    for (const v of variants) agree(v);
  });

  it('mutated dumps', () => {
    const seedTexts = dumps.filter((d) => d.text.length < 100_000).map((d) => d.text);
    fc.assert(
      fc.property(fc.oneof(...seedTexts.map((t) => mutate(t))), (text) => agree(text, [4096, 37])),
      { numRuns: 60, seed: SEED },
    );
  });
});

describe('loadServices reads a snapshot dump in pieces as it reads it whole', () => {
  const snaps = [...new Set(filesUnder(ROOT, /^iptables-save\.txt$/).map((p) => join(p, '..')))].sort();
  const whole = (s: ProbeSource): ProbeSource => {
    const { file: _file, ...rest } = s;
    return rest;
  };
  it.each(snaps.map((s) => [s.slice(ROOT.length), s] as const))('%s', async (_name, root) => {
    const text = readFileSync(join(root, 'iptables-save.txt'), 'utf8');
    for (const only of questions(text)) {
      const a = await loadServices(dirSource(root), [], kubeProxyReader, { only });
      const b = await loadServices(whole(dirSource(root)), [], kubeProxyReader, { only });
      expect(a).toEqual(b);
    }
  });
});
