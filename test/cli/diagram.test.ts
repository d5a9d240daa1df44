import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { badMermaidLines, tokenizeDot } from '../helpers/diagram-syntax.js';
import { findAll, parseXml, textOf } from '../helpers/xml.js';
import { runCli } from '../helpers/cli.js';

const fx = (p: string) => fileURLToPath(new URL(`../../fixtures/snapshots/${p}`, import.meta.url));

const run = (argv: string[]) => runCli(argv, { isTTY: true });

describe('netpath trace -o mermaid|dot|svg', () => {
  const flows: [string, string[], number][] = [
    ['pod → remote pod', ['trace', '10.244.1.12', '10.244.2.7', '--port', '8080', '-s', fx('kind-v4/k1')], 0],
    [
      'pod → ClusterIP',
      ['trace', '10.244.1.12', '10.96.0.10', '--proto', 'udp', '--port', '53', '-s', fx('kind-v4-svc/k1')],
      0,
    ],
    ['no route (exit 1)', ['trace', '2001:db8:1::10', '2001:db8:77::1', '-s', fx('v6-wg/gateway')], 1],
    [
      'cluster journey',
      ['trace', '2001:db8:42::a:5', '2001:db8:42::c:9', '--port', '443', '--cluster', fx('v6-wg')],
      0,
    ],
  ];
  for (const [name, argv, exit] of flows) {
    it(`${name}: each format on stdout, same exit code as text, no colour codes`, async () => {
      const text = await run(argv);
      expect(text.code).toBe(exit);
      const m = await run([...argv, '-o', 'mermaid']);
      expect(m.code).toBe(exit);
      expect(m.err).toBe('');
      expect(m.out).toMatch(/^---\ntitle: ".*"\n---\nflowchart TB\n/);
      expect(badMermaidLines(m.out)).toEqual([]);
      const d = await run([...argv, '--output', 'dot']);
      expect(d.code).toBe(exit);
      expect(d.out.startsWith('digraph netpath {')).toBe(true);
      expect(() => tokenizeDot(d.out)).not.toThrow();
      const s = await run([...argv, '-o', 'svg']);
      expect(s.code).toBe(exit);
      const xml = parseXml(s.out);
      expect(xml.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
      for (const out of [m.out, d.out, s.out]) expect(out).not.toContain('\u001b[');
      // the text output's hop kinds all show up in the picture (masquerade as a SNAT arrow label)
      const svgText = findAll(xml, 'text').map(textOf).join(' ');
      if (/result: (DELIVERED|FORWARDED)/.test(text.out)) expect(svgText).toMatch(/DELIVERED|FORWARDED/);
      if (text.out.includes('[masquerade]')) expect(svgText).toContain('SNAT');
      if (text.out.includes('[redirect_neigh]')) expect(svgText).toContain('bpf_redirect_neigh');
      if (text.out.includes('[socket-lb]')) expect(svgText).toContain('DNAT 10.96.0.10:53/ANY');
    });
  }

  it('svc lookup does not offer pictures (usage error, exit 2)', async () => {
    const r = await run(['svc', 'lookup', '10.96.0.10', '-s', fx('kind-v4-svc/k1'), '-o', 'svg']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/-o\/--output must be one of text\|json\|yaml\|table\|wide/);
  });

  it('--json stays an alias of -o json, and excludes a picture format', async () => {
    const r = await run(['trace', '10.244.1.12', '10.244.2.7', '-s', fx('kind-v4/k1'), '--json', '-o', 'mermaid']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--json and -o mermaid exclude each other/);
  });
});

describe('netpath diff -o mermaid|dot|svg', () => {
  const pair = (s: string) => fx(`migrate-iptables/${s}`);
  it('each format on stdout with the diff exit code (0 clean, 1 regressions)', async () => {
    for (const [after, exit] of [
      ['after', 0],
      ['after-broken', 1],
    ] as const) {
      const m = await run(['diff', pair('before'), pair(after), '-o', 'mermaid']);
      expect(m.code).toBe(exit);
      expect(badMermaidLines(m.out)).toEqual([]);
      expect(m.out).toMatch(/subgraph g0\["before · /);
      const d = await run(['diff', pair('before'), pair(after), '-o', 'dot']);
      expect(d.code).toBe(exit);
      expect(() => tokenizeDot(d.out)).not.toThrow();
      const s = await run(['diff', pair('before'), pair(after), '-o', 'svg']);
      expect(s.code).toBe(exit);
      const texts = findAll(parseXml(s.out), 'text').map(textOf);
      expect(texts.some((t) => t.startsWith('after · '))).toBe(true);
    }
  });
});
