import { describe, expect, it } from 'vitest';
import { parseTcFilter } from '../../../src/tools/tc/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { ansiCrlf, fixture, withoutSource } from './helpers.js';

const fx = (n: string) => fixture('tc', 'filter-show', n);

describe('parseTcFilter on our lab captures (Cilium-named programs, iproute2 6.1)', () => {
  it('reads cil_from_container on ingress of an lxc device from JSON, text and -s -d text alike', () => {
    const j = parseTcFilter(
      fx('tc-j-filter-show-lxc0a1b-ingress.json'),
      'tc-filter/lxc0a1b.ingress',
      'lxc0a1b',
      'ingress',
    );
    const t = parseTcFilter(
      fx('tc-filter-show-lxc0a1b-ingress.txt'),
      'tc-filter/lxc0a1b.ingress',
      'lxc0a1b',
      'ingress',
    );
    const sd = parseTcFilter(
      fx('tc-s-d-filter-show-lxc0a1b-ingress.txt'),
      'tc-filter/lxc0a1b.ingress',
      'lxc0a1b',
      'ingress',
    );
    expect(withoutSource(j.value)).toEqual([
      {
        dev: 'lxc0a1b',
        direction: 'ingress',
        kind: 'bpf',
        protocol: 'all',
        pref: 1,
        chain: 0,
        handle: '0x1',
        bpfName: 'cil_from_container.o:[tc]',
        directAction: true,
        progId: 1059,
        progName: 'cil_from_contai',
        tag: '59f4a931744dcdc6',
      },
    ]);
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
    expect(withoutSource(sd.value)).toEqual(withoutSource(j.value));
    expect([j.warnings, t.warnings, sd.warnings]).toEqual([[], [], []]);
    expect(t.value[0]!.source).toEqual({
      probe: 'tc-filter/lxc0a1b.ingress',
      text: 'filter protocol all pref 1 bpf chain 0 handle 0x1 cil_from_container.o:[tc] direct-action not_in_hw id 1059 name cil_from_contai tag 59f4a931744dcdc6 jited',
    });
    expect(j.value[0]!.source.text).toBe(
      'filter protocol all pref 1 bpf chain 0 handle 0x1 cil_from_container.o:[tc] direct-action id 1059 name cil_from_contai tag 59f4a931744dcdc6',
    );
  });

  it('keeps two BPF filters of one hook apart (pref 1 and the kernel default 49152)', () => {
    const j = parseTcFilter(fx('tc-j-filter-show-ens6-egress.json'), 'p', 'ens6', 'egress');
    expect(j.value.map((f) => [f.pref, f.progId, f.progName])).toEqual([
      [1, 1071, 'cil_to_netdev'],
      [49152, 1075, 'cil_to_netdev'],
    ]);
    const t = parseTcFilter(fx('tc-filter-show-ens6-egress.txt'), 'p', 'ens6', 'egress');
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
  });

  it('reads a u32 key next to the BPF filter, skipping headers and the hash-table node, also from the indented match line', () => {
    for (const n of [
      'tc-j-filter-show-ens6-ingress.json',
      'tc-filter-show-ens6-ingress.txt',
      'tc-s-d-filter-show-ens6-ingress.txt',
    ]) {
      const r = parseTcFilter(fx(n), 'p', 'ens6', 'ingress');
      expect(withoutSource(r.value), n).toEqual([
        {
          dev: 'ens6',
          direction: 'ingress',
          kind: 'bpf',
          protocol: 'all',
          pref: 1,
          chain: 0,
          handle: '0x1',
          bpfName: 'cil_from_netdev.o:[tc]',
          directAction: true,
          progId: 1067,
          progName: 'cil_from_netdev',
          tag: '59f4a931744dcdc6',
        },
        { dev: 'ens6', direction: 'ingress', kind: 'u32', protocol: 'ip', pref: 3, chain: 0, handle: '800::800' },
      ]);
      expect(r.warnings, n).toEqual([]);
    }
  });
});

describe('parseTcFilter on the shared captures', () => {
  it('reads -j, -j -p and -j -p -s -d alike', () => {
    const a = parseTcFilter(fx('tc-j-filter-show-lxc1234-ingress.json'), 'p', 'lxc1234', 'ingress');
    const b = parseTcFilter(fx('tc-j-p-s-d-filter-show-lxc1234-ingress.json'), 'p', 'lxc1234', 'ingress');
    const c = parseTcFilter(fx('tc-s-d-filter-show-lxc1234-ingress.txt'), 'p', 'lxc1234', 'ingress');
    expect(a.value).toHaveLength(1);
    expect(a.value[0]).toMatchObject({
      handle: '0x1',
      bpfName: 'prog.o:[tc]',
      progId: 483,
      progName: 'cil_from_contai',
    });
    expect(withoutSource(b.value)).toEqual(withoutSource(a.value));
    expect(withoutSource(c.value)).toEqual(withoutSource(a.value));
  });

  it('egress of the lxc device', () => {
    const r = parseTcFilter(fx('tc-j-p-filter-show-lxc1234-egress.json'), 'p', 'lxc1234', 'egress');
    expect(r.value.map((f) => [f.direction, f.progId, f.bpfName])).toEqual([['egress', 487, 'prog.o:[classifier]']]);
  });

  it('the u32-free pretty JSON and the valid non-pretty u32 JSON agree on the BPF filters', () => {
    const pretty = parseTcFilter(fx('tc-j-p-filter-show-ens5-ingress.json'), 'p', 'ens5', 'ingress');
    const withU32 = parseTcFilter(
      fx('tc-j-filter-show-ens5-ingress.with-u32.nonpretty-VALID.json'),
      'p',
      'ens5',
      'ingress',
    );
    const text = parseTcFilter(fx('tc-filter-show-ens5-ingress.txt'), 'p', 'ens5', 'ingress');
    expect(pretty.value.map((f) => f.progId)).toEqual([500, 491]);
    expect(withU32.value.map((f) => [f.kind, f.pref, f.handle ?? null, f.progId ?? null])).toEqual([
      ['u32', 3, '800::800', null],
      ['bpf', 5, '0x5', 500],
      ['bpf', 49152, '0x1', 491],
    ]);
    expect(withoutSource(text.value)).toEqual(withoutSource(pretty.value));
  });

  it('names the broken JSON `tc -j -p` prints with u32 filters and says to capture without -p', () => {
    const broken = fx('tc-j-p-filter-show-ens5-ingress.with-u32.pretty-BROKEN-JSON.txt');
    let err: unknown;
    try {
      parseTcFilter(broken, 'tc-filter/ens5.ingress', 'ens5', 'ingress');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect((err as Error).message).toMatch(/^tc-filter\/ens5\.ingress: not valid JSON/);
    expect((err as Error).message).toContain('`tc -j -p` prints invalid JSON when u32 filters are present');
    expect((err as Error).message).toContain('without `-p`');
  });
});

describe('parseTcFilter on bad input', () => {
  const p = (t: string) => parseTcFilter(t, 'tc-filter/x.ingress', 'x', 'ingress');

  it('empty output (no clsact qdisc, or no filters) is no filter, not an error', () => {
    expect(p('')).toEqual({ value: [], warnings: [] });
    expect(p('[]\n')).toEqual({ value: [], warnings: [] });
  });

  it('reads coloured CRLF text and JSON the same as the plain forms', () => {
    const t = fx('tc-filter-show-ens6-egress.txt');
    expect(withoutSource(p(ansiCrlf(t)).value)).toEqual(withoutSource(p(t).value));
    const j = fx('tc-j-filter-show-ens6-egress.json');
    expect(withoutSource(p(ansiCrlf(j)).value)).toEqual(withoutSource(p(j).value));
    expect(p(ansiCrlf(t)).value[0]!.source.text).not.toMatch(/\u001b|\r/);
  });

  it('truncated JSON is a ParseError; truncated text keeps the whole lines', () => {
    const j = fx('tc-j-filter-show-ens6-egress.json');
    expect(() => p(j.slice(0, j.length - 40))).toThrow(ParseError);
    const t = fx('tc-filter-show-ens6-egress.txt');
    const cut = t.slice(0, t.indexOf('filter protocol all pref 49152 bpf chain 0 handle') + 30);
    expect(p(cut).value.map((f) => f.progId)).toEqual([1071]);
    expect(p(cut).warnings.map((w) => w.code)).toEqual(['line-skipped', 'unterminated-line']);
    // a line cut inside a number is not silent either
    const inId = t.slice(0, t.indexOf(' id 1071') + 6);
    expect(p(inId).value[0]!.progId).toBe(10);
    expect(p(inId).warnings[0]!.message).toMatch(/last line may be cut: ….*not_in_hw id 10$/);
  });

  it('skips elements of the wrong type with a warning and keeps the rest', () => {
    const r = p(
      JSON.stringify([
        { protocol: 'all', pref: '1', kind: 'bpf', chain: 0, options: { handle: '0x1' } },
        { protocol: 'all', pref: 1, kind: 'bpf', chain: 0, options: { handle: '0x1', prog: { id: -3 } } },
        { protocol: 'all', pref: 2 ** 60, kind: 'bpf', options: { handle: '0x1' } },
        'filter',
        null,
        {
          protocol: 'all',
          pref: 2,
          kind: 'bpf',
          chain: 0,
          options: { handle: '0x2', bpf_name: 'ok', prog: { id: 7 } },
        },
      ]),
    );
    expect(r.value.map((f) => [f.pref, f.progId])).toEqual([[2, 7]]);
    expect(r.warnings).toHaveLength(5);
    expect(r.warnings.every((w) => w.code === 'record-skipped' && w.source === 'tc-filter/x.ingress')).toBe(true);
  });

  it('does not let __proto__ keys reach the model', () => {
    const r = p(
      '[{"protocol":"all","pref":1,"kind":"bpf","chain":0,"__proto__":{"polluted":true},"options":{"handle":"0x1","__proto__":{"x":1},"prog":{"id":9}}}]',
    );
    expect(r.value).toHaveLength(1);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.keys(r.value[0]!)).not.toContain('__proto__');
  });

  it('a JSON object instead of an array, garbage and binary are ParseErrors', () => {
    expect(() => p('{"kind":"bpf"}')).toThrow(/expected a JSON array/);
    expect(() => p('Cannot find device "x"\n')).toThrow(ParseError);
    expect(() => p('\u0000\u0001\u00ff\u0002garbage\n\u0003')).toThrow(ParseError);
    expect(() => p('['.repeat(100_000))).toThrow(ParseError);
  });

  it('a stray line among filters is a warning, not a filter', () => {
    const r = p(`${fx('tc-filter-show-lxc0a1b-ingress.txt')}Error: something odd\n`);
    expect(r.value.map((f) => f.progId)).toEqual([1059]);
    expect(r.warnings.map((w) => w.code)).toEqual(['line-skipped']);
  });

  it('older iproute2 without `chain` and without a program name still reads', () => {
    const r = p(
      'filter protocol all pref 1 bpf\nfilter protocol all pref 1 bpf handle 0x1 bpf_lxc.o:[from-container] direct-action not_in_hw id 12 tag 0123456789abcdef jited\n',
    );
    expect(withoutSource(r.value)).toEqual([
      {
        dev: 'x',
        direction: 'ingress',
        kind: 'bpf',
        protocol: 'all',
        pref: 1,
        handle: '0x1',
        bpfName: 'bpf_lxc.o:[from-container]',
        directAction: true,
        progId: 12,
        tag: '0123456789abcdef',
      },
    ]);
  });

  it('a huge output of warnings is capped', () => {
    const r = p(`${fx('tc-filter-show-lxc0a1b-ingress.txt')}${'junk line\n'.repeat(5000)}`);
    expect(r.value).toHaveLength(1);
    expect(r.warnings.length).toBe(51);
  });
});
