import { describe, expect, it } from 'vitest';
import { ipvsVipsFromAddrs, parseIpvsadm } from '../../../src/tools/ipvsadm/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import type { Address } from '../../../src/model/types.js';
import { read } from '../../helpers/kube-proxy.js';

const vips = ['10.96.0.1', '10.96.0.10', '10.96.0.20', 'fd00:10:96::1'];
const brief = (e: ReturnType<typeof parseIpvsadm>['value'][number]) =>
  `${e.type} ${e.frontend.proto} ${e.frontend.address}:${e.frontend.port}${e.flags.affinityTimeoutSeconds ? ' persistent ' + e.flags.affinityTimeoutSeconds : ''} -> ${e.backends.map((b) => `${b.address}:${b.port}/w${b.weight}`).join(',')}`;

describe('parseIpvsadm (ipvsadm 1.31 formats; synthesized, this kernel has no IPVS)', () => {
  it('-Sn and -Ln give the same Services', () => {
    const s = parseIpvsadm(read('ipvsadm/ipvsadm-Sn.synthesized.txt'), 'ipvsadm-Sn', { vips });
    const l = parseIpvsadm(read('ipvsadm/ipvsadm-Ln.synthesized.txt'), 'ipvsadm-Ln', { vips });
    expect(s.warnings).toEqual([]);
    expect(l.warnings).toEqual([]);
    expect(s.value.map(brief)).toEqual([
      'ClusterIP TCP 10.96.0.1:443 -> 192.168.0.2:6443/w1',
      'ClusterIP TCP 10.96.0.10:53 -> 10.244.1.5:53/w1,10.244.2.7:53/w1',
      'ClusterIP TCP 10.96.0.20:80 persistent 10800 -> 10.244.1.9:8080/w1',
      'NodePort TCP 192.168.0.2:30080 -> 10.244.1.9:8080/w1',
      'ClusterIP UDP 10.96.0.10:53 -> 10.244.1.5:53/w1,10.244.2.7:53/w1',
      'ClusterIP TCP fd00:10:96::1:443 -> 2001:db8::2:6443/w1',
    ]);
    expect(l.value.map(brief).sort()).toEqual(s.value.map(brief).sort());
    expect(s.value[0]).toMatchObject({
      source: 'ipvs',
      chain: '-A -t 10.96.0.1:443 -s rr',
      flags: { raw: ['scheduler:rr'] },
    });
    expect(l.value[0]!.chain).toBe('TCP  10.96.0.1:443 rr');
  });

  it('without the kube-ipvs0 addresses the type is flagged unknown', () => {
    const s = parseIpvsadm(read('ipvsadm/ipvsadm-Sn.synthesized.txt'), 'ipvsadm-Sn');
    expect(s.value.every((e) => e.flags.raw?.includes('type-unknown'))).toBe(true);
  });

  it('a kernel without IPVS (stderr saved as the probe) is a ParseError', () => {
    expect(() => parseIpvsadm(read('ipvsadm/ipvsadm-Ln.unsupported-kernel.txt'), 'ipvsadm-Ln')).toThrow(ParseError);
  });

  it('weight 0 is a draining endpoint; garbage and fwmark lines are warnings naming the line', () => {
    const t =
      '-A -t 10.96.0.1:443 -s rr\n-a -t 10.96.0.1:443 -r 10.0.0.5:6443 -m -w 0\nhello\n-A -f 258 -s rr\n-a -t 10.9.9.9:1 -r 10.0.0.6:1 -m -w 1\n';
    const p = parseIpvsadm(t, 'ipvsadm-Sn', { vips });
    expect(p.value[0]!.backends[0]).toMatchObject({ address: '10.0.0.5', weight: 0, state: 'terminating' });
    expect(p.warnings.map((w) => [w.code, w.message.split(':')[0]])).toEqual([
      ['ipvs-unknown-line', 'line 3'],
      ['ipvs-fwmark', 'line 4'],
      ['ipvs-orphan-real-server', 'line 5'],
    ]);
  });

  it('ipvsVipsFromAddrs lists kube-ipvs0 addresses only', () => {
    const a = (ifname: string, local: string): Address => ({
      ifindex: 1,
      ifname,
      family: local.includes(':') ? 6 : 4,
      local,
      prefixlen: 32,
      scope: 'global',
      source: { probe: 'ip-addr', text: local },
    });
    expect(
      ipvsVipsFromAddrs([a('kube-ipvs0', '10.96.0.1'), a('eth0', '192.168.0.2'), a('kube-ipvs0', 'fd00:10:96::1')]),
    ).toEqual(['10.96.0.1', 'fd00:10:96::1']);
  });
});

describe('ipvsadm alone: the Service type is unknown, never guessed', () => {
  it('without the kube-ipvs0 addresses every virtual server says its type is unknown, and svc lookup prints unknown', async () => {
    const { lookupServices } = await import('../../../src/analysis/services.js');
    const { svcContract, typeText } = await import('../../../src/render/svc.js');
    const alone = parseIpvsadm(read('ipvsadm/ipvsadm-Sn.synthesized.txt'), 'ipvsadm');
    expect(alone.value.length).toBeGreaterThan(0);
    for (const e of alone.value)
      expect(e.unknown).toEqual([{ property: 'type', because: expect.stringMatching(/no Service type.*kube-ipvs0/) }]);
    const r = lookupServices(alone.value, { kind: 'address', address: '192.168.0.2', port: 30080 });
    expect(r.frontends).toHaveLength(1);
    expect(typeText(r.frontends[0]!)).toBe('unknown');
    expect(svcContract(null, '192.168.0.2:30080', r).frontends[0]).toMatchObject({ type: 'unknown' });
    // with the kube-ipvs0 addresses the same line is a NodePort, and nothing is unknown
    const withVips = parseIpvsadm(read('ipvsadm/ipvsadm-Sn.synthesized.txt'), 'ipvsadm', { vips });
    const k = lookupServices(withVips.value, { kind: 'address', address: '192.168.0.2', port: 30080 });
    expect(typeText(k.frontends[0]!)).toBe('NodePort');
    expect(withVips.value.every((e) => e.unknown === undefined)).toBe(true);
  });
});
