import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { traceJsonSchema } from '../../src/render/json.js';
import { svcJsonSchema } from '../../src/render/svc.js';
import { formatsFor, registerFormat } from '../../src/render/output.js';
import { runCli } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
const SVC = join(root, 'fixtures/snapshots/kind-v4-svc/k1');
const V6 = join(root, 'fixtures/snapshots/v6-wg');
const ANSI = /\u001b\[/;

const run = runCli;

// one command of each output kind, on the bundled snapshots
const COMMANDS: Record<string, string[]> = {
  trace: ['trace', '10.244.1.12', '10.244.2.7', '--port', '8080', '-s', K1],
  'trace to a Service': ['trace', '10.244.1.12', '10.96.0.10', '--proto', 'udp', '--port', '53', '-s', SVC],
  'trace --cluster': ['trace', '2001:db8:42::a:5', '2001:db8:42::c:9', '--cluster', V6],
  'svc lookup': ['svc', 'lookup', '10.96.0.10', '-s', SVC],
};

describe('-o, --output', () => {
  for (const [name, argv] of Object.entries(COMMANDS)) {
    it(`${name}: -o yaml is the same object as -o json, and --json is -o json`, async () => {
      const json = await run([...argv, '-o', 'json']);
      const alias = await run([...argv, '--json']);
      const yaml = await run([...argv, '-o', 'yaml']);
      expect(json.code).toBe(0);
      expect(alias).toEqual(json);
      expect(yaml.code).toBe(0);
      expect(yaml.out).not.toMatch(/^\s*\{/);
      expect(parseYaml(yaml.out)).toEqual(JSON.parse(json.out));
    });
  }

  it('the JSON and YAML documents still satisfy the contract schemas', async () => {
    const t = await run([...COMMANDS.trace!, '-o', 'yaml']);
    expect(traceJsonSchema.parse(parseYaml(t.out)).disposition).toBe('forwarded');
    const s = await run([...COMMANDS['svc lookup']!, '-o', 'yaml']);
    expect(svcJsonSchema.parse(parseYaml(s.out)).frontends[0]!.frontend).toBe('10.96.0.10:53/ANY');
  });

  it('table: one row per hop in path order, then the result line; exit code as for text', async () => {
    const json = JSON.parse((await run([...COMMANDS.trace!, '--json'])).out) as {
      hops: { kind: string; dev?: string }[];
    };
    const r = await run([...COMMANDS.trace!, '-o', 'table']);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]!.split(/\s{3,}/)).toEqual(['#', 'HOP', 'DEVICE', 'DETAIL']);
    const rows = lines.slice(1, 1 + json.hops.length).map((l) => l.split(/\s{3,}/));
    expect(rows.map((c) => c[1])).toEqual(json.hops.map((h) => h.kind));
    expect(rows.map((c) => c[2])).toEqual(json.hops.map((h) => h.dev ?? '-'));
    expect(lines[1 + json.hops.length]).toBe('');
    expect(lines[2 + json.hops.length]).toBe('result: FORWARDED — leaves this node towards 172.18.0.3');
    // the last column is cut to the terminal width
    const narrow = await run([...COMMANDS.trace!, '-o', 'table'], { columns: 60 });
    for (const l of narrow.out.split('\n').slice(0, 1 + json.hops.length)) expect(l.length).toBeLessThanOrEqual(60);
  });

  it('wide: adds netns, hook, program, the program id printed in its own evidence, next hop and evidence probes', async () => {
    const json = JSON.parse((await run([...COMMANDS.trace!, '--json'])).out) as {
      hops: { kind: string; program?: string; evidence: { probe: string; text: string }[] }[];
    };
    const r = await run([...COMMANDS.trace!, '-o', 'wide']);
    const lines = r.out.split('\n');
    const head = lines[0]!.split(/\s{3,}/);
    expect(head).toEqual([
      '#',
      'HOP',
      'NETNS',
      'DEVICE',
      'HOOK',
      'PROGRAM',
      'PROG-ID',
      'NEXT-HOP',
      'INFERRED',
      'EVIDENCE',
      'DETAIL',
    ]);
    const rows = lines.slice(1, 1 + json.hops.length).map((l) => l.split(/\s{3,}/));
    json.hops.forEach((h, i) => {
      const row = Object.fromEntries(head.map((k, j) => [k, rows[i]![j]]));
      expect(row.HOP).toBe(h.kind);
      expect(row.EVIDENCE).toBe([...new Set(h.evidence.map((e) => e.probe))].join(','));
      if (h.program) {
        // the id must be the one bpftool printed for this program, not invented
        const printed = h.evidence
          .filter((e) => e.probe === 'bpftool-net' && e.text.includes(h.program!))
          .map((e) => /\bid (\d+)/.exec(e.text)![1]);
        expect(printed.length).toBeGreaterThan(0);
        expect(row['PROG-ID']).toBe(printed[0]);
      }
    });
    expect(rows.find((c) => c[1] === 'bpf')![6]).toBe('889');
  });

  it('svc lookup table/wide: BACKENDS is active/total; wide lists every backend with its state', async () => {
    const t = await run([...COMMANDS['svc lookup']!, '-o', 'table']);
    expect(t.code).toBe(0);
    expect(
      t.out
        .split('\n')
        .slice(0, 2)
        .map((l) => l.split(/\s{3,}/)),
    ).toEqual([
      ['FRONTEND', 'TYPE', 'SERVICE', 'BACKENDS', 'SOURCES'],
      ['10.96.0.10:53/ANY', 'ClusterIP', '-', '2/2', 'cilium-bpf'],
    ]);
    const w = await run([...COMMANDS['svc lookup']!, '-o', 'wide']);
    const row = w.out.split('\n')[1]!.split(/\s{3,}/);
    expect(row[5]).toBe('10.244.1.57:53=active,10.244.2.7:53=active');
    const none = await run(['svc', 'lookup', '10.96.0.99', '-s', SVC, '-o', 'table']);
    expect(none.code).toBe(1);
    expect(none.out).toMatch(/^no frontend matches 10\.96\.0\.99/);
  });

  it('trace --cluster table: a NODE column, every leg, the journey line', async () => {
    const j = JSON.parse((await run([...COMMANDS['trace --cluster']!, '--json'])).out) as {
      legs: { node: string; trace: { hops: unknown[] } }[];
    };
    const r = await run([...COMMANDS['trace --cluster']!, '-o', 'table']);
    const nodes = r.out
      .split('\n')
      .slice(1)
      .filter((l) => /^\S+\s{3,}\d+\s{3,}/.test(l))
      .map((l) => l.split(/\s{3,}/)[0]);
    expect(nodes).toEqual(j.legs.flatMap((l) => l.trace.hops.map(() => l.node)));
    expect(r.out).toMatch(/^journey: DELIVERED$/m);
  });

  it('an unknown format is a usage error naming the allowed ones, before anything is read', async () => {
    for (const argv of [
      [...COMMANDS.trace!, '-o', 'xml'],
      ['svc', 'lookup', '10.96.0.10', '-s', '/nonexistent', '--output', 'jsonl'],
      [...COMMANDS.trace!, '--json', '-o', 'yaml'],
      [...COMMANDS.trace!, '-o'],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
    }
    const r = await run([...COMMANDS.trace!, '-o', 'xml']);
    expect(r.err).toBe(`netpath: -o/--output must be one of ${formatsFor('trace', 'journey').join('|')}, not "xml"\n`);
    expect(r.err).toMatch(/text\|json\|yaml\|table\|wide/);
  });

  it('colour only on a terminal, never for json/yaml, never with NO_COLOR or --no-color', async () => {
    const tty = { isTTY: true };
    expect((await run([...COMMANDS.trace!, '-o', 'table'], tty)).out).toMatch(ANSI);
    expect((await run([...COMMANDS.trace!], tty)).out).toMatch(ANSI);
    expect((await run([...COMMANDS.trace!, '-o', 'table'])).out).not.toMatch(ANSI);
    expect((await run([...COMMANDS.trace!, '-o', 'table'], { ...tty, env: { NO_COLOR: '1' } })).out).not.toMatch(ANSI);
    expect((await run([...COMMANDS.trace!, '-o', 'table', '--no-color'], tty)).out).not.toMatch(ANSI);
    for (const f of ['json', 'yaml']) expect((await run([...COMMANDS.trace!, '-o', f], tty)).out).not.toMatch(ANSI);
  });

  it('a registered format is offered by every command whose kind it renders, and only there', async () => {
    registerFormat({
      name: 'hopcount',
      summary: 'test format',
      render: { trace: (t) => `${t.hops.length}\n`, journey: (j) => `${j.legs.length}\n` },
    });
    const r = await run([...COMMANDS.trace!, '-o', 'hopcount']);
    expect(r).toEqual({ code: 0, out: '6\n', err: '' });
    expect((await run([...COMMANDS['svc lookup']!, '-o', 'hopcount'])).code).toBe(2);
    expect(formatsFor('svc')).not.toContain('hopcount');
  });
});
