import { describe, expect, it } from 'vitest';
import { parseTcQdisc, type TcQdisc } from '../../../src/tools/tc/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { ansiCrlf, fixture, withoutSource } from './helpers.js';

const fx = (n: string) => fixture('tc', 'qdisc-show', n);

describe('parseTcQdisc', () => {
  it('reads dev, kind, handle and parent from JSON and text alike (our lab)', () => {
    const j = parseTcQdisc(fx('tc-j-qdisc-show.h2node.json'), 'tc-qdisc');
    const t = parseTcQdisc(fx('tc-qdisc-show.h2node.txt'), 'tc-qdisc');
    expect(withoutSource(j.value)).toEqual([
      { dev: 'lo', kind: 'noqueue', handle: '0:', parent: 'root' },
      { dev: 'lxc0a1b', kind: 'noqueue', handle: '0:', parent: 'root' },
      { dev: 'lxc0a1b', kind: 'clsact', handle: 'ffff:', parent: 'ffff:fff1' },
      { dev: 'ens6', kind: 'noqueue', handle: '0:', parent: 'root' },
      { dev: 'ens6', kind: 'clsact', handle: 'ffff:', parent: 'ffff:fff1' },
    ]);
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
    expect(t.value[2]!.source.text).toBe('qdisc clsact ffff: dev lxc0a1b parent ffff:fff1');
    expect(j.value[2]!.source.text).toBe('qdisc clsact ffff: dev lxc0a1b parent ffff:fff1');
  });

  it('reads the shared node capture (pfifo_fast with options, pretty JSON)', () => {
    const j = parseTcQdisc(fx('tc-j-p-qdisc-show.node.json'), 'tc-qdisc');
    const t = parseTcQdisc(fx('tc-qdisc-show.node.txt'), 'tc-qdisc');
    expect(j.value.filter((q) => q.kind === 'clsact').map((q) => q.dev)).toEqual(['lxc1234', 'ens5']);
    expect(j.value.find((q) => q.dev === 'tun0')).toMatchObject({ kind: 'pfifo_fast', parent: 'root' });
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
  });

  it('takes the device from the caller when `tc -j qdisc show dev X` left it out', () => {
    const r = parseTcQdisc(fx('tc-j-qdisc-show-dev-lxc0a1b.json'), 'tc-qdisc/lxc0a1b', 'lxc0a1b');
    expect(withoutSource(r.value)).toEqual<Omit<TcQdisc, 'source'>[]>([
      { dev: 'lxc0a1b', kind: 'noqueue', handle: '0:', parent: 'root' },
      { dev: 'lxc0a1b', kind: 'clsact', handle: 'ffff:', parent: 'ffff:fff1' },
    ]);
    // a tcx-only device has no clsact qdisc at all
    const tcx = parseTcQdisc(fx('tc-j-qdisc-show-vethA.tcx-attached.json'), 'p', 'vethA');
    expect(tcx.value.map((q) => q.kind)).toEqual(['noqueue']);
  });

  it('without a device anywhere, the record is skipped with a warning rather than guessed', () => {
    const r = parseTcQdisc(fx('tc-j-qdisc-show-dev-lxc0a1b.json'), 'tc-qdisc');
    expect(r.value).toEqual([]);
    expect(r.warnings.map((w) => w.code)).toEqual(['record-skipped', 'record-skipped']);
  });

  it('bad input: ANSI/CRLF, truncation, wrong types, __proto__, garbage', () => {
    const t = fx('tc-qdisc-show.h2node.txt');
    expect(withoutSource(parseTcQdisc(ansiCrlf(t), 'p').value)).toEqual(withoutSource(parseTcQdisc(t, 'p').value));
    const j = fx('tc-j-qdisc-show.h2node.json');
    expect(() => parseTcQdisc(j.slice(0, 100), 'p')).toThrow(ParseError);
    const typed = parseTcQdisc(
      '[{"kind":7,"dev":"a"},{"kind":"clsact","dev":"b","handle":"ffff:","__proto__":{"x":1}},{"kind":"x y","dev":"c"}]',
      'p',
    );
    expect(typed.value.map((q) => [q.dev, q.kind])).toEqual([['b', 'clsact']]);
    expect(typed.warnings).toHaveLength(2);
    expect(() => parseTcQdisc('<html>oops</html>', 'p')).toThrow(ParseError);
    expect(parseTcQdisc('', 'p')).toEqual({ value: [], warnings: [] });
  });
});
