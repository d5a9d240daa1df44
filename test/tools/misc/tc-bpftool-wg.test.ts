import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseBpftoolCgroup, parseBpftoolLink, parseBpftoolNet, parseBpftoolProg } from '../../../src/tools/bpftool/index.js';
import { parseWgDump, redactWgDump } from '../../../src/tools/wg/index.js';
import { parseSysctl } from '../../../src/tools/sysctl/index.js';
import { parseUname } from '../../../src/tools/uname/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const fx = (tool: string, n: string) => readFileSync(new URL(`../../../fixtures/tools/${tool}/${n}`, import.meta.url), 'utf8');
const noSource = <T extends { source: unknown }>(xs: T[]) => xs.map(({ source: _s, ...rest }) => rest);

describe('bpftool', () => {
  it('reads legacy tc attachments (7.1) and tcx attachments (7.x), JSON and text alike', () => {
    const v71 = parseBpftoolNet(fx('bpftool', 'bpftool-j-p-net-show.node.json'), 'bpftool-net');
    expect(v71.value[0]).toMatchObject({ dev: 'lxc1234', ifindex: 2, hook: 'tc-ingress', name: 'prog.o:[tc]', progId: 483 });
    const j = parseBpftoolNet(fx('bpftool', 'bpftool-v7.x-j-p-net-show.node.json'), 'bpftool-net');
    const t = parseBpftoolNet(fx('bpftool', 'bpftool-v7.x-net-show.node.txt'), 'bpftool-net');
    expect(j.value.filter((a) => a.hook.startsWith('tcx'))).toEqual([
      expect.objectContaining({ dev: 'vethB', hook: 'tcx-ingress', name: 'cil_from_container', progId: 505 }),
      expect.objectContaining({ dev: 'vethA', hook: 'tcx-ingress', progId: 505, linkId: 89 }),
      expect.objectContaining({ dev: 'vethA', hook: 'tcx-egress', name: 'cil_to_container', progId: 506, linkId: 90 }),
    ]);
    expect(noSource(t.value)).toEqual(noSource(j.value));
    expect(() => parseBpftoolNet('Error: something', 'bpftool-net')).toThrow(ParseError);
  });

  it('reads programs with full names', () => {
    const j = parseBpftoolProg(fx('bpftool', 'bpftool-j-prog-show.ours.json'), 'bpftool-prog');
    const t = parseBpftoolProg(fx('bpftool', 'bpftool-prog-show.ours.txt'), 'bpftool-prog');
    expect(j.value.find((p) => p.id === 483)).toMatchObject({ type: 'sched_cls', name: 'cil_from_container', tag: 'd4d950593910dd42' });
    expect(t.value.map((p) => [p.id, p.name])).toEqual(j.value.map((p) => [p.id, p.name]));
  });

  it('names link types that bpftool 7.1 prints as numbers', () => {
    const v71 = parseBpftoolLink(fx('bpftool', 'bpftool-v7.1-j-p-link-show.json'), 'bpftool-link');
    const v7x = parseBpftoolLink(fx('bpftool', 'bpftool-v7.x-j-p-link-show.json'), 'bpftool-link');
    expect(v71.value.map((l) => [l.id, l.type, l.progId])).toEqual([[89, 'tcx', 505], [90, 'tcx', 506]]);
    expect(v7x.value.map((l) => l.type)).toEqual(['tcx', 'tcx']);
    expect(parseBpftoolLink(fx('bpftool', 'bpftool-v7.1-link-show.txt'), 'bpftool-link').value.map((l) => l.type)).toEqual(['tcx', 'tcx']);
  });

  it('reads cgroup tree and show, JSON and text', () => {
    const tree = parseBpftoolCgroup(fx('bpftool', 'bpftool-v7.1-j-p-cgroup-tree.json'), 'bpftool-cgroup', '/run/cilium/cgroupv2');
    const text = parseBpftoolCgroup(fx('bpftool', 'bpftool-v7.1-cgroup-tree.txt'), 'bpftool-cgroup', '/run/cilium/cgroupv2');
    const show = parseBpftoolCgroup(fx('bpftool', 'bpftool-v7.1-j-cgroup-show.json'), 'bpftool-cgroup', '/x');
    expect(tree.value.find((a) => a.name === 'cil_sock4_connect')).toMatchObject({ cgroup: '/sys/fs/cgroup/unified/np-test', id: 510, attachType: 'cgroup_inet4_connect' });
    expect(text.value.map((a) => [a.id, a.attachType, a.name])).toEqual(tree.value.map((a) => [a.id, a.attachType, a.name]));
    expect(show.value.map((a) => a.cgroup)).toEqual(['/x', '/x']);
    expect(parseBpftoolCgroup('4021     connect4 multi           cil_sock4_connect', 'p', '/r').value[0]!.attachType).toBe('cgroup_inet4_connect');
  });
});

describe('wg', () => {
  const dump = fx('wg', 'wg-show-all-dump.node.redacted.txt');
  it('reads interfaces and peers, never keeping private keys', () => {
    const { value } = parseWgDump(dump, 'wg');
    const node = value.find((d) => d.name === 'wg-node')!;
    expect(node).toMatchObject({ publicKey: 'vPvWFOFT35kiz5fkZQQULZJ9Ml0gcmpf2UzsZ7Gwzn0=', listenPort: 51820, fwmark: 1 });
    expect(node.peers[0]).toMatchObject({ endpoint: '192.0.2.1:51821', allowedIps: ['10.99.0.2/32', '10.245.9.0/24', 'fd99::2/128'], persistentKeepalive: 25 });
    expect(node.peers[1]!.endpoint).toBeUndefined();
    expect(JSON.stringify(value)).not.toMatch(/REDACTED|private/);
  });

  it('redacts private and preshared keys, keeping public keys and (none)', () => {
    const fake = ['wg0\tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\tBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=\t51820\toff',
      'wg0\tCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA=\tDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDA=\t192.0.2.1:1\t10.0.0.0/8\t0\t0\t0\toff',
      'wg0\tEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEA=\t(none)\t(none)\t(none)\t0\t0\t0\toff',
      'garbage\tFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA='].join('\n');
    const r = redactWgDump(fake);
    expect(r).not.toMatch(/AAAA|DDDD|FFFF/);
    expect(r).toMatch(/BBBB/);
    expect(r).toMatch(/CCCC/);
    expect(r.split('\n')[2]).toContain('(none)');
  });
});

describe('sysctl and uname', () => {
  it('reads key = value lines, refusing prototype keys', () => {
    const r = parseSysctl('net.ipv4.ip_forward = 1\r\nnet.ipv4.conf.all.rp_filter = 2\n__proto__ = 1\nsysctl: cannot stat /proc/sys/net/bridge: No such file\n', 'sysctl');
    expect(r.value['net.ipv4.ip_forward']!.value).toBe('1');
    expect(r.value['net.ipv4.conf.all.rp_filter']!.value).toBe('2');
    expect(Object.keys(r.value)).toHaveLength(2);
    expect(r.warnings).toHaveLength(2);
  });
  it('validates a kernel release', () => {
    expect(parseUname('6.18.44-fc-v669\n', 'uname').value).toBe('6.18.44-fc-v669');
    expect(() => parseUname('<html>', 'uname')).toThrow(ParseError);
  });
});
