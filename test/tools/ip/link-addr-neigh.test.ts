import { describe, expect, it } from 'vitest';
import { parseIpAddr, parseIpLink, parseIpNeigh, parseIpNetnsList } from '../../../src/tools/ip/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import type { Link } from '../../../src/model/types.js';
import { codes, fx, noText } from './helpers.js';

// JSON has the peer's numeric nsid, text the namespace name when it has one: compare the rest
const common = (ls: Link[]) => noText(ls).map(({ linkNetnsId: _i, linkNetns: _n, source: _s, ...l }) => l);

describe('ip link', () => {
  const json = parseIpLink(fx('link/np-ip-a.j-d.json'), 'ip-link');
  const text = parseIpLink(fx('link/np-ip-a.d.txt'), 'ip-link');
  const l = (n: string) => json.value.find((x) => x.name === n)!;

  it('gives the same model from `ip -j -d link` and `ip -d link` (np-ip-a lab)', () => {
    expect(json.warnings).toEqual([]);
    expect(text.warnings).toEqual([]);
    expect(json.value.map((x) => x.name)).toEqual(['lo', 'ipa0', 'ipa1', 'vx1', 'vx0', 'br0', 'mv0', 'tun0', 'vxl0']);
    expect(common(text.value)).toEqual(common(json.value));
  });

  it('reads kinds, peers, masters, MACs and XDP', () => {
    expect(l('lo').kind).toBeUndefined();
    expect(noText([l('ipa0')])[0]).toEqual({
      ifindex: 2,
      name: 'ipa0',
      kind: 'veth',
      mtu: 1500,
      operstate: 'UP',
      flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      mac: '1e:18:c0:f2:b8:1c',
      linkIndex: 2,
      linkNetnsId: 0,
      offload: { gsoMaxSize: 65536, groMaxSize: 65536 },
      source: { probe: 'ip-link' },
    });
    expect(text.value.find((x) => x.name === 'ipa0')).toMatchObject({ linkIndex: 2, linkNetns: 'np-ip-b' });
    // same-namespace peer and lower devices are named: resolved to their ifindex
    expect(l('vx1')).toMatchObject({ kind: 'veth', master: 'br0', linkIndex: 5 });
    expect(l('vx0')).toMatchObject({ linkIndex: 4, xdp: { mode: 'generic', progId: 1095 } });
    expect(l('mv0')).toMatchObject({ kind: 'macvlan', linkIndex: 2 });
    expect(l('br0').kind).toBe('bridge');
    expect(l('tun0')).toMatchObject({
      kind: 'tun',
      operstate: 'DOWN',
      flags: ['NO-CARRIER', 'POINTOPOINT', 'MULTICAST', 'NOARP', 'UP'],
    });
    expect(l('tun0').mac).toBeUndefined();
    expect(l('vxl0')).toMatchObject({ kind: 'vxlan', mtu: 1450, operstate: 'UNKNOWN' });
    expect(l('vx0').source.text).toBe(
      '5: vx0 (veth): <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 xdp generic id 1095 state UP link/ether 12:c3:67:50:ac:90 link-index 4',
    );
  });

  it('reads `ip link` and `ip a l` text without -d (no kinds)', () => {
    const plain = parseIpLink(fx('link/np-ip-a.txt'), 'p');
    const al = parseIpLink(fx('link/np-ip-a.a-l.txt'), 'p');
    // without -d there are no kinds and no segmentation limits
    const noKind = (ls: Link[]) => common(ls).map(({ kind: _k, xdp: _x, offload: _o, ...x }) => x);
    expect(noKind(plain.value)).toEqual(noKind(json.value));
    expect(noText(al.value)).toEqual(noText(plain.value));
    expect(al.value.find((x) => x.name === 'vx0')!.xdp).toEqual({ mode: 'generic', progId: 1095 });
  });

  it('reads the shared captures: driver-mode XDP in a pod, wireguard-go as tun, bridge ports', () => {
    const pj = parseIpLink(fx('link/shared-pod.j-p-d.json'), 'p');
    const pt = parseIpLink(fx('link/shared-pod.d.txt'), 'p');
    expect(common(pt.value)).toEqual(common(pj.value));
    expect(pj.value.find((x) => x.name === 'eth0')).toMatchObject({
      kind: 'veth',
      linkIndex: 2,
      xdp: { mode: 'driver', progId: 496 },
    });
    const wj = parseIpLink(fx('link/shared-wg-node.j-d.json'), 'p');
    expect(common(parseIpLink(fx('link/shared-wg-node.d.txt'), 'p').value)).toEqual(common(wj.value));
    expect(wj.value.find((x) => x.name === 'wg-node')!.kind).toBe('tun');
    const nj = parseIpLink(fx('link/shared-node.j-d.json'), 'p');
    expect(common(parseIpLink(fx('link/shared-node.d.txt'), 'p').value)).toEqual(common(nj.value));
    expect(nj.value.find((x) => x.name === 'vethB')).toMatchObject({
      master: 'cni0',
      linkIndex: nj.value.find((x) => x.name === 'vethA')!.ifindex,
    });
    expect(common(parseIpLink(fx('link/shared-node.j-p-d.json'), 'p').value).length).toBeGreaterThan(5);
  });

  it('rejects garbage and truncation, skips bad elements', () => {
    expect(() => parseIpLink('garbage that is not ip output', 'ip-link')).toThrow(ParseError);
    expect(() => parseIpLink(fx('link/np-ip-a.j-d.json').slice(0, 200), 'ip-link')).toThrow(/^ip-link: not valid JSON/);
    const r = parseIpLink(
      '[{"ifindex":"1","ifname":"lo"},{"ifindex":2,"ifname":"eth0","flags":["UP"],"__proto__":{"master":"evil"},"new":1}]',
      'p',
    );
    expect(r.value.map((x) => [x.name, x.master])).toEqual([['eth0', undefined]]);
    expect(codes(r.warnings)).toEqual(['record-skipped']);
  });
});

describe('ip addr', () => {
  it('gives the same model from JSON and text (np-ip-a lab and shared node)', () => {
    const j = parseIpAddr(fx('addr/np-ip-a.j.json'), 'ip-addr');
    const t = parseIpAddr(fx('addr/np-ip-a.txt'), 'ip-addr');
    expect(j.warnings).toEqual([]);
    expect(noText(t.value)).toEqual(noText(j.value));
    expect(j.value.find((a) => a.local === '192.0.2.11')).toMatchObject({
      ifname: 'ipa0',
      prefixlen: 24,
      secondary: true,
      scope: 'global',
    });
    expect(j.value.find((a) => a.ifname === 'tun0')).toMatchObject({
      family: 4,
      local: '10.9.9.1',
      peer: '10.9.9.2',
      prefixlen: 32,
    });
    expect(j.value.find((a) => a.local === 'fe80::a')).toMatchObject({ family: 6, prefixlen: 64, scope: 'link' });
    expect(parseIpAddr(fx('link/np-ip-a.a-l.txt'), 'p').value).toEqual(
      t.value.map((a) => ({ ...a, source: { ...a.source, probe: 'p' } })),
    );
    const sj = parseIpAddr(fx('addr/shared-node.j-p.json'), 'p');
    expect(noText(parseIpAddr(fx('addr/shared-node.txt'), 'p').value)).toEqual(noText(sj.value));
  });

  it('skips the empty objects a filtered dump leaves and bad entries', () => {
    const r = parseIpAddr(
      '[{"ifindex":2,"ifname":"eth0","addr_info":[{},{"family":"inet","local":"192.0.2.1","prefixlen":24},{"family":"inet","local":"::1","prefixlen":24},{"family":"inet6","local":"2001:db8::1","prefixlen":"64"}]}]',
      'p',
    );
    expect(r.value.map((a) => a.local)).toEqual(['192.0.2.1']);
    expect(r.warnings).toHaveLength(2);
  });
});

describe('ip neigh', () => {
  it('gives the same model from JSON and text (lab, proxy, nud all, -s)', () => {
    const pairs: [string, string][] = [
      ['neigh/np-ip-a.j.json', 'neigh/np-ip-a.txt'],
      ['neigh/np-ip-a.proxy.j.json', 'neigh/np-ip-a.proxy.txt'],
      ['neigh/shared-node.j-p.json', 'neigh/shared-node.txt'],
      ['neigh/shared-node.nud-all.j.json', 'neigh/shared-node.nud-all.txt'],
      ['neigh/shared-node.proxy.j.json', 'neigh/shared-node.proxy.txt'],
      ['neigh/shared-node.s.j.json', 'neigh/shared-node.s.txt'],
    ];
    for (const [j, t] of pairs) {
      const a = parseIpNeigh(fx(j), 'p');
      const b = parseIpNeigh(fx(t), 'p');
      expect(a.warnings, j).toEqual([]);
      expect(b.warnings, t).toEqual([]);
      expect(noText(b.value), t).toEqual(noText(a.value));
      expect(a.value.length, j).toBeGreaterThan(0);
    }
  });

  it('reads states, router and proxy flags', () => {
    const n = parseIpNeigh(fx('neigh/np-ip-a.j.json'), 'ip-neigh').value;
    const d = (a: string) => n.find((x) => x.dst === a)!;
    expect(noText([d('fe80::b')])[0]).toEqual({
      dst: 'fe80::b',
      family: 6,
      dev: 'ipa0',
      lladdr: '02:00:00:00:00:0b',
      state: ['REACHABLE'],
      router: true,
      source: { probe: 'ip-neigh' },
    });
    expect(d('192.0.2.99').state).toEqual(['PERMANENT']);
    expect(d('192.0.2.98').state).toEqual(['STALE']);
    expect(d('192.0.2.50')).toMatchObject({ state: ['INCOMPLETE'] });
    expect(d('192.0.2.50').lladdr).toBeUndefined();
    const p = parseIpNeigh(fx('neigh/np-ip-a.proxy.txt'), 'p').value;
    expect(noText(p)).toEqual([
      { dst: '192.0.2.77', family: 4, dev: 'ipa0', state: [], proxy: true, source: { probe: 'p' } },
      { dst: '2001:db8:1::77', family: 6, dev: 'ipa0', state: [], proxy: true, source: { probe: 'p' } },
    ]);
    const all = parseIpNeigh(fx('neigh/shared-node.nud-all.j.json'), 'p').value;
    expect(all.some((x) => x.state.includes('NOARP'))).toBe(true);
  });

  it('handles bad input', () => {
    const r = parseIpNeigh(
      '[{"dst":"nope","dev":"eth0"},{"dst":"192.0.2.1"},{"dst":"192.0.2.2","dev":"eth0","state":"REACHABLE"},{"dst":"192.0.2.3","dev":"eth0","state":["DELAY"],"extern_valid":null}]',
      'p',
    );
    expect(r.value.map((x) => [x.dst, x.state])).toEqual([['192.0.2.3', ['DELAY']]]);
    expect(r.warnings).toHaveLength(3);
    expect(() => parseIpNeigh('Device "eth9" does not exist.\n', 'p')).toThrow(ParseError);
    const t = parseIpNeigh('192.0.2.1 dev eth0 lladdr 02:00:00:00:00:01 weird REACHABLE\r\n', 'p');
    expect(t.value[0]).toMatchObject({ lladdr: '02:00:00:00:00:01', state: ['REACHABLE'] });
    expect(codes(t.warnings)).toEqual(['neigh-token-unknown']);
  });
});

describe('ip netns list', () => {
  it('gives the same list from JSON and text, ids included', () => {
    const j = parseIpNetnsList(fx('netns/np-ip.j.json'), 'p');
    const t = parseIpNetnsList(fx('netns/np-ip.txt'), 'p');
    expect(t).toEqual(j);
    expect(j.value).toContainEqual({ name: 'np-ip-b', id: 0 });
    expect(j.value).toContainEqual({ name: 'np-ip-a' });
    expect(parseIpNetnsList(fx('netns/shared-host.j.json'), 'p').value.length).toBeGreaterThan(0);
    expect(parseIpNetnsList('', 'p')).toEqual({ value: [], warnings: [] });
    expect(parseIpNetnsList('[{"name":""},{"name":"x","id":"1"},{"name":"ok"}]', 'p').value).toEqual([{ name: 'ok' }]);
    expect(() => parseIpNetnsList('{"name":"x"', 'p')).toThrow(ParseError);
  });
});
