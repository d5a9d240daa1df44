import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dumpTables, joinParsed, withTableKeys } from '../../src/collect/kernel-routes.js';
import type { Runner } from '../../src/exec/runner.js';
import { seeded } from '../helpers/seeded.js';

// fixtures/tools/ip/table-dumps: one run of fixtures/tools/ip/lab/capture-table-dumps.sh (iproute2 6.1), each
// numbered table of a namespace dumped as a live trace dumps its small tables
const dir = new URL('../../fixtures/tools/ip/table-dumps/', import.meta.url);
const dumps = readdirSync(dir)
  .filter((f) => /^ip-route[46]\.table-(\d+|local)\.json$/.test(f))
  .map((f) => ({ f, text: readFileSync(new URL(f, dir), 'utf8') }))
  .filter((d) => d.text.startsWith('[{'));

const tableOf = (f: string) => /table-(\w+)\.json$/.exec(f)![1]!;
const tableNumber = (name: string) => (name === 'local' ? 255 : Number(name));

/** What the splice must equal: the old path's text for one table, or undefined where that path fails. */
function parsed(text: string, name: string): string | undefined {
  const got = joinParsed([text], 4, [tableNumber(name)]);
  return typeof got === 'string' ? got : undefined;
}

function agrees(text: string, name: string): boolean {
  const fast = withTableKeys(text, name);
  if (fast === undefined) return true;
  return `[${fast}]\n` === parsed(text, name);
}

describe('ip route dumps joined with their table keys spliced in as text', () => {
  it('takes the splice on every captured table dump and prints what parsing and printing them prints', () => {
    expect(dumps.length).toBeGreaterThanOrEqual(5);
    for (const { f, text } of dumps) {
      const fast = withTableKeys(text, tableOf(f));
      expect(fast, f).toBeDefined();
      expect(`[${fast}]\n`, f).toBe(parsed(text, tableOf(f)));
    }
    expect(withTableKeys('[]\n', '100')).toBe('');
  });

  it('dumpTables joins several tables as the parse did', async () => {
    const byArgv = new Map(dumps.map((d) => [`-${d.f[8]}|${tableOf(d.f)}`, d.text]));
    const run: Runner = async (argv) => ({
      argv,
      exitCode: 0,
      stdout: byArgv.get(`${argv[1]}|${argv[7]}`) ?? '[]\n',
      stderr: '',
      durationMs: 0,
    });
    for (const [family, tables] of [
      [4, [100, 200, 255]],
      [6, [100, 255]],
      [4, [999, 100]],
    ] as const) {
      const got = await dumpTables(run, family, [...tables]);
      const texts = tables.map((t) => byArgv.get(`-${family}|${t === 255 ? 'local' : t}`) ?? '[]\n');
      expect(got).toBe(joinParsed(texts, family, [...tables]));
    }
  });

  it('declines, or agrees, on mutated captures and generated JSON (seeded)', () => {
    const { int, pick, rnd } = seeded(0x7ab1e5);
    const pieces = [
      '"table":"main"',
      '"0":1',
      '"__proto__":{}',
      '"a\\u0041":1',
      '"x":"\\n"',
      '"x":1.5',
      '"x":1e3',
      '"x":-0',
      '"x":0',
      '"x":-12',
      '"x":1234567890123456',
      '"x":123456789012345',
      '"x":9999999999999999',
      '"x":01',
      '"x":"\ud800"',
      '"x":"é😀"',
      '"dst":"default","dst":"x"',
      '"x":[1,{"y":true,"z":null}]',
      '"x":[]',
      '"x":{}',
      ' "x" : 1 ',
      '"x":tru',
      '"x":"\u2028"',
      '"table":1',
    ];
    let taken = 0;
    let declined = 0;
    for (let n = 0; n < 4000; n++) {
      let text: string;
      if (rnd() < 0.5) {
        // a capture with one character inserted, removed or replaced
        const base = pick(dumps).text;
        const at = int(base.length);
        const ch = pick(['{', '}', '[', ']', ',', ':', '"', '\\', ' ', '0', '-', 'e', '.', 'x', '\n']);
        const k = int(3);
        text =
          k === 0
            ? base.slice(0, at) + ch + base.slice(at)
            : k === 1
              ? base.slice(0, at) + base.slice(at + 1)
              : base.slice(0, at) + ch + base.slice(at + 1);
      } else {
        // objects of random pieces, some of which print back unchanged and some of which do not
        const objs = Array.from({ length: 1 + int(3) }, () => {
          const keys = Array.from({ length: int(4) }, (_, i) => (rnd() < 0.7 ? `"k${i}":${int(100)}` : pick(pieces)));
          return `{${keys.join(',')}}`;
        });
        text = `[${objs.join(',')}]${rnd() < 0.8 ? '\n' : ''}`;
      }
      const name = pick(['100', 'local', '7']);
      if (withTableKeys(text, name) === undefined) declined++;
      else taken++;
      expect(agrees(text, name), JSON.stringify(text)).toBe(true);
    }
    expect(taken).toBeGreaterThan(500);
    expect(declined).toBeGreaterThan(500);
  });
});
