import { describe, expect, it } from 'vitest';
import { parseIpRule, renderRule } from '../../../src/tools/ip/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import type { Rule } from '../../../src/model/types.js';
import { codes, fx, noText } from './helpers.js';

const strip = (rs: Rule[]) => noText(rs).map(({ source: _s, ...r }) => r);

describe('ip rule (np-ip-a lab)', () => {
  const json = parseIpRule(fx('rule/np-ip-a.4-j.json'), 'ip-rule4', 4);
  const text = parseIpRule(fx('rule/np-ip-a.4.txt'), 'ip-rule4', 4);
  const r = (p: number) => json.value.find((x) => x.priority === p)!;

  it('gives the same model from JSON and text', () => {
    expect(json.warnings).toEqual([]);
    expect(text.warnings).toEqual([]);
    expect(json.value).toHaveLength(20);
    expect(noText(text.value)).toEqual(noText(json.value));
  });

  it('reads every selector', () => {
    expect(strip([r(9)])[0]).toEqual({
      family: 4,
      priority: 9,
      action: 'lookup',
      fwmark: 0x200,
      fwmask: 0xf00,
      table: 2004,
    });
    expect(strip([r(100)])[0]).toEqual({
      family: 4,
      priority: 100,
      action: 'lookup',
      src: '10.244.1.5/32',
      table: 100,
    });
    expect(r(101)).toMatchObject({ dst: '10.100.0.0/24', iif: 'ipa0', table: 100 });
    expect(r(200)).toMatchObject({
      src: '10.244.0.0/16',
      dst: '10.96.0.0/12',
      ipproto: 6,
      dport: [443, 443],
      table: 200,
    });
    expect(r(201)).toMatchObject({ oif: 'ipa1', uidrange: [1000, 2000], table: 200 });
    expect(r(204)).toMatchObject({ ipproto: 17, sport: [1000, 2000], table: 100 });
    expect(r(205)).toMatchObject({ tos: 0x10, table: 100 });
    expect(strip([r(209)])[0]).toEqual({ family: 4, priority: 209, action: 'lookup', fwmark: 0x40, table: 4000000000 });
    expect(r(210)).toMatchObject({ iif: 'ghost0', table: 100 });
    expect(r(211)).toMatchObject({ suppressIfgroup: 5, table: 254 });
    expect(strip([r(32000)])[0]).toEqual({
      family: 4,
      priority: 32000,
      action: 'lookup',
      not: true,
      fwmark: 1,
      fwmask: 1,
      table: 254,
      suppressPrefixlen: 0,
    });
    expect([r(0).table, r(32766).table, r(32767).table]).toEqual([255, 254, 253]);
  });

  it('reads every action (iproute2 6.1 prints nop and l3mdev as null flags in JSON)', () => {
    expect(strip([r(202)])[0]).toEqual({ family: 4, priority: 202, action: 'prohibit', src: '198.51.100.0/24' });
    expect(strip([r(203)])[0]).toEqual({ family: 4, priority: 203, action: 'goto', goto: 32766, iif: 'lo' });
    expect(r(206)).toMatchObject({ action: 'blackhole', src: '10.1.0.0/16' });
    expect(r(207)).toMatchObject({ action: 'unreachable', src: '10.2.0.0/16' });
    expect(strip([r(208)])[0]).toEqual({ family: 4, priority: 208, action: 'nop' });
    expect(strip([r(1000)])[0]).toEqual({ family: 4, priority: 1000, action: 'lookup', l3mdev: true });
  });

  it('renders JSON rules as ip-rule lines', () => {
    expect(r(200).source.text).toBe('200: from 10.244.0.0/16 to 10.96.0.0/12 ipproto 6 dport 443 lookup 200');
    expect(renderRule(r(32000))).toBe('32000: not from all fwmark 0x1/0x1 lookup main suppress_prefixlength 0');
    expect(renderRule(r(1000))).toBe('1000: from all lookup [l3mdev-table]');
    expect(text.value.find((x) => x.priority === 210)!.source.text).toBe(
      '210: from all iif ghost0 [detached] lookup 100',
    );
  });

  it('reads IPv6 rules', () => {
    const j = parseIpRule(fx('rule/np-ip-a.6-j.json'), 'ip-rule6', 6);
    const t = parseIpRule(fx('rule/np-ip-a.6.txt'), 'ip-rule6', 6);
    expect(j.warnings).toEqual([]);
    expect(noText(t.value)).toEqual(noText(j.value));
    const p = (n: number) => j.value.find((x) => x.priority === n)!;
    expect(p(100)).toMatchObject({ family: 6, src: '2001:db8:244::/48', table: 100 });
    expect(p(101)).toMatchObject({ dst: '2001:db8:cc::/48', oif: 'ipa0', table: 254, suppressPrefixlen: 0 });
    expect(p(102)).toMatchObject({ fwmark: 0xa00, fwmask: 0xf00, table: 2005 });
    expect(p(103)).toMatchObject({ ipproto: 58, action: 'prohibit' });
  });

  it('reads the shared node captures in every form', () => {
    const a = parseIpRule(fx('rule/shared-node.4-j-d.json'), 'p', 4);
    expect(noText(parseIpRule(fx('rule/shared-node.4-d.txt'), 'p', 4).value)).toEqual(noText(a.value));
    // captured at another moment (two more rules): pairs with the -p JSON
    const b = parseIpRule(fx('rule/shared-node.4-j-p.json'), 'p', 4);
    expect(noText(parseIpRule(fx('rule/shared-node.4.txt'), 'p', 4).value)).toEqual(noText(b.value));
    expect(b.value.find((x) => x.priority === 401)).toMatchObject({ iif: 'ghost0', table: 401 });
    expect(a.warnings).toEqual([]);
    expect(a.value.find((x) => x.priority === 300)).toMatchObject({ iif: 'cni0', sport: [1000, 2000], table: 300 });
    const j6 = parseIpRule(fx('rule/shared-node.6-j-p.json'), 'p', 6);
    expect(noText(parseIpRule(fx('rule/shared-node.6.txt'), 'p', 6).value)).toEqual(noText(j6.value));
  });
});

describe('ip rule bad input', () => {
  it('skips a rule that looks up an rt_tables name, with a warning, and keeps the rest', () => {
    const t = parseIpRule(
      '0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1 lookup cilium\n32766:\tfrom all lookup main\n',
      'p',
      4,
    );
    expect(t.value.map((x) => x.priority)).toEqual([0, 32766]);
    expect(codes(t.warnings)).toEqual(['table-name-unresolved']);
    const j = parseIpRule(
      '[{"priority":100,"src":"all","table":"cilium"},{"priority":101,"src":"all","table":"7"}]',
      'p',
      4,
    );
    expect(j.value.map((x) => [x.priority, x.table])).toEqual([[101, 7]]);
    expect(j.warnings[0]!.message).toMatch(/table "cilium"/);
  });

  it('skips rules with selectors the model cannot express rather than over-matching', () => {
    const j = parseIpRule(
      '[{"priority":5,"src":"all","dscp":"0x2e","table":"main"},{"priority":6,"src":"all","sport":80,"sport_mask":"0xff00","table":"main"}]',
      'p',
      4,
    );
    expect(j.value).toEqual([]);
    expect(codes(j.warnings)).toEqual(['rule-selector-unmodelled', 'rule-selector-unmodelled']);
    const t = parseIpRule('5:\tfrom all dscp 46 lookup main\n6:\tfrom all sport 0x50/0xff00 lookup main\n', 'p', 4);
    expect(t.value).toEqual([]);
    expect(codes(t.warnings)).toEqual(['rule-selector-unmodelled', 'rule-selector-unmodelled']);
  });

  it('handles wrong types, unknown keys and words, __proto__, CRLF, ANSI and truncation', () => {
    const j = parseIpRule(
      '[{"priority":"x","src":"all"},{"priority":1,"src":"all","table":"main","future_key":[1],"__proto__":{"not":null}},{"priority":2,"src":"all","action":"teleport"}]',
      'p',
      4,
    );
    expect(strip(j.value)).toEqual([{ family: 4, priority: 1, action: 'lookup', table: 254 }]);
    expect(codes(j.warnings)).toEqual(['record-skipped', 'rule-action-unknown']);
    const t = parseIpRule('\u001b[32m0:\u001b[0m\tfrom all lookup local\r\n1:\tfrom all frob lookup main\r\n', 'p', 4);
    expect(strip(t.value)).toEqual([
      { family: 4, priority: 0, action: 'lookup', table: 255 },
      { family: 4, priority: 1, action: 'lookup', table: 254 },
    ]);
    expect(codes(t.warnings)).toEqual(['rule-token-unknown']);
    expect(() => parseIpRule(fx('rule/np-ip-a.4-j.json').slice(0, 100), 'ip-rule4', 4)).toThrow(
      /^ip-rule4: not valid JSON/,
    );
    expect(() => parseIpRule('Error: ipv4: FIB table does not exist.\n', 'p', 4)).toThrow(ParseError);
  });
});
