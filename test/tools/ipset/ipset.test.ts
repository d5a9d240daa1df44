import { describe, expect, it } from 'vitest';
import { parseIpset } from '../../../src/tools/ipset/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { fixtureText } from '../../helpers/state.js';

const save = fixtureText('tools/ipset/ipset-save.kube-proxy-ipvs.txt');
const list = fixtureText('tools/ipset/ipset-list.kube-proxy-ipvs.txt');
const terse = fixtureText('tools/ipset/ipset-list-t.kube-proxy-ipvs.txt');

const memberKey = (m: { text: string }) => m.text;

describe('ipset save / ipset list', () => {
  it('reads every kube-proxy set of `ipset save` with typed members', () => {
    const { value, warnings } = parseIpset(save, 'ipset');
    expect(warnings).toEqual([]);
    expect(value.map((s) => s.name)).toContain('KUBE-CLUSTER-IP');
    expect(value).toHaveLength(15);
    const cip = value.find((s) => s.name === 'KUBE-CLUSTER-IP')!;
    expect(cip.type).toBe('hash:ip,port');
    expect(cip.family).toBe(4);
    expect(cip.entries).toBe(5);
    expect(cip.references).toBeUndefined();
    const https = cip.members.find((m) => m.port === 443)!;
    expect(https).toMatchObject({ ip: '10.96.0.1', proto: 'tcp', port: 443, comment: 'default/kubernetes:https' });
    expect(https.source).toEqual({
      probe: 'ipset',
      text: 'add KUBE-CLUSTER-IP 10.96.0.1,tcp:443 comment "default/kubernetes:https"',
    });
    const loop = value.find((s) => s.name === 'KUBE-LOOP-BACK')!.members[0]!;
    expect(loop).toMatchObject({ ip: '10.244.1.57', proto: 'tcp', port: 53, ip2: '10.244.1.57' });
    const cidr = value.find((s) => s.name === 'KUBE-LOAD-BALANCER-SOURCE-CIDR')!.members[0]!;
    expect(cidr).toMatchObject({ ip: '198.51.100.7', port: 443, net: '203.0.113.0/24' });
    expect(
      value
        .find((s) => s.name === 'KUBE-NODE-PORT-TCP')!
        .members.map((m) => m.port)
        .sort(),
    ).toEqual([30080, 31940]);
    const v6 = value.find((s) => s.name === 'KUBE-6-CLUSTER-IP')!;
    expect(v6.family).toBe(6);
    expect(v6.members.map((m) => m.ip).sort()).toEqual(['fd00:10:96::1', 'fd00:10:96::a']);
  });

  it('gives the same sets and members from `ipset list`, with References', () => {
    const a = parseIpset(save, 'ipset').value;
    const b = parseIpset(list, 'ipset');
    expect(b.warnings).toEqual([]);
    expect(b.value.map((s) => s.name)).toEqual(a.map((s) => s.name));
    for (const s of b.value) {
      const t = a.find((x) => x.name === s.name)!;
      expect(s.type, s.name).toBe(t.type);
      expect(s.members.map(memberKey).sort(), s.name).toEqual(t.members.map(memberKey).sort());
      expect(s.entries, s.name).toBe(t.entries);
    }
    expect(b.value.find((s) => s.name === 'KUBE-CLUSTER-IP')!.references).toBe(1);
    expect(b.value.find((s) => s.name === 'KUBE-NODE-PORT-TCP')!.references).toBe(1);
    expect(b.value.find((s) => s.name === 'KUBE-EXTERNAL-IP')!.references).toBe(0);
  });

  it('reads `ipset list -t` as headers with entry counts and no members', () => {
    const { value } = parseIpset(terse, 'ipset');
    const cip = value.find((s) => s.name === 'KUBE-CLUSTER-IP')!;
    expect(cip.membersListed).toBe(false);
    expect(cip.members).toEqual([]);
    expect(cip.entries).toBe(5);
  });

  it('reads an empty `ipset save` as no sets, and refuses what is not ipset output', () => {
    expect(parseIpset(fixtureText('tools/ipset/ipset-save.empty.txt'), 'ipset').value).toEqual([]);
    expect(() => parseIpset('Chain INPUT (policy ACCEPT)\ntarget prot opt source destination\n', 'ipset')).toThrow(
      ParseError,
    );
  });

  it('accepts the numeric protocols of old ipset versions and keeps odd members as text with a warning', () => {
    const old = save.replace('10.96.0.10,udp:53', '10.96.0.10,17:53');
    const m = parseIpset(old, 'ipset')
      .value.find((s) => s.name === 'KUBE-CLUSTER-IP')!
      .members.find((x) => x.text === '10.96.0.10,17:53')!;
    expect(m).toMatchObject({ ip: '10.96.0.10', proto: '17', port: 53 });
    const bad = parseIpset(
      save.replace('add KUBE-CLUSTER-IP 10.96.0.10,tcp:53', 'add KUBE-CLUSTER-IP 10.96.0.999,tcp:53'),
      'ipset',
    );
    expect(bad.warnings.map((w) => w.code)).toContain('ipset-bad-member');
    expect(
      bad.value
        .find((s) => s.name === 'KUBE-CLUSTER-IP')!
        .members.some((x) => x.text === '10.96.0.999,tcp:53' && x.ip === undefined),
    ).toBe(true);
  });

  it('treats a set named __proto__ as a name, and a cut save as what it holds', () => {
    const r = parseIpset(save.replaceAll('KUBE-EXTERNAL-IP ', '__proto__ '), 'ipset');
    expect(r.value.find((s) => s.name === '__proto__')!.members).toHaveLength(1);
    expect(({} as Record<string, unknown>).type).toBeUndefined();
    const cut = save.slice(0, save.indexOf('add KUBE-CLUSTER-IP') + 10);
    const c = parseIpset(cut, 'ipset');
    expect(c.value.find((s) => s.name === 'KUBE-CLUSTER-IP')!.members).toHaveLength(0);
    expect(c.warnings.map((w) => w.code)).toContain('ipset-unknown-line');
  });
});
