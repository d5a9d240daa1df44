import { describe, expect, it } from 'vitest';
import { Warnings } from '../../src/tools/warnings.js';
import { parseIptablesSave } from '../../src/tools/iptables/index.js';
import { parseSysctl } from '../../src/tools/sysctl/index.js';
import { parseCiliumConfig } from '../../src/tools/cilium/index.js';

describe('Warnings, the collector every parser uses', () => {
  it('keeps the first `max` warnings and counts the rest once per kind', () => {
    const w = new Warnings('p', { max: 3, more: 'lines skipped' });
    for (let i = 1; i <= 4; i++) w.add('line-skipped', `line ${i}`);
    w.add('bad-value', 'x');
    w.add('bad-value', 'y');
    expect(w.added).toBe(6);
    expect(w.first).toEqual({ code: 'line-skipped', message: 'line 1', source: 'p' });
    expect(w.done()).toEqual([
      { code: 'line-skipped', message: 'line 1', source: 'p' },
      { code: 'line-skipped', message: 'line 2', source: 'p' },
      { code: 'line-skipped', message: 'line 3', source: 'p' },
      { code: 'line-skipped', message: '1 more lines skipped (warnings truncated)', source: 'p' },
      { code: 'bad-value', message: '2 more lines skipped (warnings truncated)', source: 'p' },
    ]);
  });

  it('says a once() thing once, with how often and its first example, after the others', () => {
    const w = new Warnings('p');
    w.once('route-no-dev', 'routes without a device', '10.0.0.0/8');
    w.add('record-skipped', 'route #3: bad');
    w.once('route-no-dev', 'routes without a device', '10.1.0.0/16');
    w.once('other', 'said once');
    expect(w.done()).toEqual([
      { code: 'record-skipped', message: 'route #3: bad', source: 'p' },
      { code: 'route-no-dev', message: 'routes without a device (e.g. 10.0.0.0/8) [2 records]', source: 'p' },
      { code: 'other', message: 'said once', source: 'p' },
    ]);
  });

  it("counts the dropped warnings per code and source, and keeps a sub-parse's finished warnings in order", () => {
    const w = new Warnings(undefined, { max: 2 });
    w.add('bad-entry', 'a', 'map-a');
    w.include([{ code: 'from-dump', message: 'already capped', source: 'map-b' }]);
    w.add('layout', 'about all maps');
    w.add('bad-entry', 'b', 'map-a');
    w.add('bad-entry', 'c', 'map-b');
    w.add('layout', 'again');
    expect(w.added).toBe(5);
    expect(w.done()).toEqual([
      { code: 'bad-entry', message: 'a', source: 'map-a' },
      { code: 'from-dump', message: 'already capped', source: 'map-b' },
      { code: 'layout', message: 'about all maps' },
      { code: 'bad-entry', message: '1 more of this kind (warnings truncated)', source: 'map-a' },
      { code: 'bad-entry', message: '1 more of this kind (warnings truncated)', source: 'map-b' },
      { code: 'layout', message: '1 more of this kind (warnings truncated)' },
    ]);
  });

  it('cuts long messages only when asked to', () => {
    const long = 'x'.repeat(300);
    const cut = new Warnings('p', { maxMessage: 200 });
    cut.add('c', long);
    expect(cut.done()[0]!.message).toBe(`${'x'.repeat(197)}...`);
    const whole = new Warnings('p');
    whole.add('c', long);
    expect(whole.done()[0]!.message).toBe(long);
  });

  it('caps a parser fed 10,000 bad lines (iptables-save and sysctl use it)', () => {
    const junk = 'junk line\n'.repeat(10_000);
    const ipt = parseIptablesSave(`*nat\n:PREROUTING ACCEPT [0:0]\n${junk}COMMIT\n`, 'iptables-save');
    expect(ipt.warnings).toHaveLength(51);
    expect(ipt.warnings[50]).toEqual({
      code: 'iptables-unknown-line',
      message: '9950 more of this kind (warnings truncated)',
      source: 'iptables-save',
    });
    const sys = parseSysctl(`net.ipv4.ip_forward = 1\n${junk}`, 'sysctl');
    expect(sys.warnings).toHaveLength(51);
    expect(sys.warnings[50]!.message).toBe('9950 more lines skipped (warnings truncated)');
  });

  it('caps the cilium config reader too (it kept every warning)', () => {
    const data = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`key-${i}`, { nested: i }]));
    const r = parseCiliumConfig(JSON.stringify({ kind: 'ConfigMap', data: { 'enable-ipv4': 'true', ...data } }), 'cfg');
    expect(r.warnings).toHaveLength(51);
    expect(r.warnings[50]).toEqual({
      code: 'value-skipped',
      message: '10 more of this kind (warnings truncated)',
      source: 'cfg',
    });
  });
});
