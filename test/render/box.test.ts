import { describe, expect, it } from 'vitest';
import { boxTable, viaCliTable3 } from '../../src/render/box.js';

// A seeded generator, so a failure is reproducible.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const WORDS = [
  '10.244.11.194:8242',
  'active',
  'terminating',
  'p=0.333',
  '[2001:db8::a]:443',
  'cilium-bpf',
  'kube-proxy-iptables',
  'ns42/svc4242:http',
  'a',
  '',
  'averyveryveryverylongwordthatcannotfitanywhere',
  'x y',
  '  ',
];

function cell(r: () => number): string {
  const lines = Math.floor(r() * 4);
  const out: string[] = [];
  for (let l = 0; l <= lines; l++) {
    const n = Math.floor(r() * 5);
    const ws: string[] = [];
    for (let w = 0; w < n; w++) ws.push(WORDS[Math.floor(r() * WORDS.length)]!);
    out.push(ws.join(r() < 0.2 ? '  ' : ' '));
  }
  return out.join('\n');
}

const unstyled = { head: [], border: [] };

describe('boxTable draws what cli-table3 draws', () => {
  it('on the svc lookup table of one frontend with ten backends', () => {
    const bs = Array.from({ length: 10 }, (_, i) => `10.244.11.${194 + i}:8242 active`).join('\n');
    const head = ['FRONTEND', 'TYPE', 'SERVICE', 'BACKENDS', 'PROGRAMMED BY'];
    const rows = [['10.96.16.146:80/TCP', 'ClusterIP', 'ns42/svc4242:http', bs, 'cilium-bpf\nkube-proxy-iptables']];
    const widths = [28, 13, 26, 24, 24];
    expect(boxTable(head, rows, widths)).toBe(viaCliTable3(head, rows, widths, unstyled));
  });

  it('on 300 fuzzed tables: wrapping, empty cells and lines, whitespace runs, words longer than the column', () => {
    const r = rng(17);
    for (let k = 0; k < 300; k++) {
      const cols = 1 + Math.floor(r() * 5);
      const widths = Array.from({ length: cols }, () => 3 + Math.floor(r() * 30));
      const head = Array.from({ length: cols }, () => cell(r));
      const rows = Array.from({ length: Math.floor(r() * 4) }, () => Array.from({ length: cols }, () => cell(r)));
      expect(boxTable(head, rows, widths), JSON.stringify({ head, rows, widths })).toBe(
        viaCliTable3(head, rows, widths, unstyled),
      );
    }
  });

  it('leaves what it cannot lay out for certain (wide characters, a styled table) to cli-table3', () => {
    const head = ['A', 'B'];
    const rows = [['日本語のサービス名', 'x']];
    expect(boxTable(head, rows, [8, 8])).toBe(viaCliTable3(head, rows, [8, 8], unstyled));
    const style = { head: ['bold'], border: ['grey'] };
    expect(boxTable(head, [['a', 'b']], [8, 8], style)).toBe(viaCliTable3(head, [['a', 'b']], [8, 8], style));
  });
});
