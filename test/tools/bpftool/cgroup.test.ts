import { describe, expect, it } from 'vitest';
import { parseBpftoolCgroup } from '../../../src/tools/bpftool/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { ansiCrlf, fixture, withoutSource } from '../tc/helpers.js';

const fx = (n: string) => fixture('bpftool', 'cgroup', n);
const CG = '/sys/fs/cgroup/unified/np-h2-test';

describe('parseBpftoolCgroup', () => {
  it('cgroup tree (our lab): cil_sock4_connect on connect4 and cil_sock_release, JSON and text alike', () => {
    const j = parseBpftoolCgroup(fx('bpftool-v7.1-j-cgroup-tree.h2.json'), 'bpftool-cgroup', '/sys/fs/cgroup/unified');
    const t = parseBpftoolCgroup(fx('bpftool-v7.1-cgroup-tree.h2.txt'), 'bpftool-cgroup', '/sys/fs/cgroup/unified');
    expect(withoutSource(j.value)).toEqual([
      { cgroup: CG, id: 1085, attachType: 'cgroup_inet4_connect', flags: 'multi', name: 'cil_sock4_connect' },
      { cgroup: CG, id: 1090, attachType: 'cgroup_inet_sock_release', name: 'cil_sock_release' },
    ]);
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
    expect(t.value[0]!.source.text).toBe(`${CG}  1085 cgroup_inet4_connect multi cil_sock4_connect`);
  });

  it('cgroup show PATH (our lab): a flat list whose cgroup is the root argument', () => {
    const j = parseBpftoolCgroup(fx('bpftool-v7.1-j-cgroup-show.h2.json'), 'p', CG);
    const t = parseBpftoolCgroup(fx('bpftool-v7.1-cgroup-show.h2.txt'), 'p', CG);
    expect(withoutSource(j.value)).toEqual(
      withoutSource(parseBpftoolCgroup(fx('bpftool-v7.1-j-cgroup-tree.h2.json'), 'p', '/x').value),
    );
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
  });

  it('shared captures: tree with indented program lines, 7.1 and 7.x, effective (no flags, inherited)', () => {
    const j = parseBpftoolCgroup(fx('bpftool-v7.1-j-p-cgroup-tree.json'), 'p', '/r');
    expect(j.value.map((a) => [a.cgroup, a.id, a.attachType, a.flags ?? null, a.name])).toEqual([
      ['/sys/fs/cgroup/unified/np-test', 509, 'cgroup_inet_egress', 'multi', 'cg_egress_pass'],
      ['/sys/fs/cgroup/unified/np-test', 510, 'cgroup_inet4_connect', null, 'cil_sock4_connect'],
    ]);
    for (const n of [
      'bpftool-v7.1-cgroup-tree.txt',
      'bpftool-v7.x-cgroup-tree.txt',
      'bpftool-v7.x-j-p-cgroup-tree.json',
    ]) {
      expect(withoutSource(parseBpftoolCgroup(fx(n), 'p', '/r').value), n).toEqual(withoutSource(j.value));
    }
    expect(parseBpftoolCgroup(fx('bpftool-v7.1-j-cgroup-show.json'), 'p', '/x').value.map((a) => a.cgroup)).toEqual([
      '/x',
      '/x',
    ]);
    const eff = parseBpftoolCgroup(fx('bpftool-v7.1-j-p-cgroup-tree-effective.json'), 'p', '/r');
    expect(eff.value.map((a) => [a.cgroup.split('/').pop(), a.id, a.flags ?? null])).toEqual([
      ['np-test', 509, null],
      ['np-test', 510, null],
      ['child', 509, null],
      ['child', 510, null],
    ]);
  });

  it('normalises the attach-type names older bpftool printed to libbpf names', () => {
    const r = parseBpftoolCgroup(
      [
        'ID       AttachType      AttachFlags     Name',
        '4021     connect4        multi           cil_sock4_connect',
        '4022     sendmsg6        multi           cil_sock6_sendmsg',
        '4023     getpeername4    multi           cil_sock4_getpeername',
        '4024     post_bind4      multi           cil_sock4_post_bind',
        '4025     bind6           multi           cil_sock6_pre_bind',
        '4026     sock_release    multi           cil_sock_release',
        '4027     recvmsg4        multi           cil_sock4_recvmsg',
      ].join('\n'),
      'p',
      '/run/cilium/cgroupv2',
    );
    expect(r.value.map((a) => a.attachType)).toEqual([
      'cgroup_inet4_connect',
      'cgroup_udp6_sendmsg',
      'cgroup_inet4_getpeername',
      'cgroup_inet4_post_bind',
      'cgroup_inet6_bind',
      'cgroup_inet_sock_release',
      'cgroup_udp4_recvmsg',
    ]);
    expect(r.value[0]!.source.text).toContain('connect4');
    const j = parseBpftoolCgroup(
      '[{"id":1,"attach_type":"connect6","attach_flags":"multi","name":"cil_sock6_connect"}]',
      'p',
      '/r',
    );
    expect(j.value[0]!.attachType).toBe('cgroup_inet6_connect');
  });

  it('bad input', () => {
    const t = fx('bpftool-v7.1-cgroup-tree.h2.txt');
    expect(withoutSource(parseBpftoolCgroup(ansiCrlf(t), 'p', '/r').value)).toEqual(
      withoutSource(parseBpftoolCgroup(t, 'p', '/r').value),
    );
    expect(() => parseBpftoolCgroup(fx('bpftool-v7.1-j-cgroup-tree.h2.json').slice(0, 90), 'p', '/r')).toThrow(
      ParseError,
    );
    const typed = parseBpftoolCgroup(
      '[{"cgroup":"/a","programs":[{"id":"1","attach_type":"x"},{"id":2,"attach_type":"cgroup_inet4_connect","__proto__":{"polluted":1}}]},{"cgroup":5,"programs":[]},{"id":3}]',
      'p',
      '/r',
    );
    expect(typed.value.map((a) => [a.cgroup, a.id])).toEqual([['/a', 2]]);
    expect(typed.warnings).toHaveLength(3);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(() => parseBpftoolCgroup("Error: can't open cgroup /run/cilium/cgroupv2\n", 'p', '/r')).toThrow(ParseError);
    expect(() => parseBpftoolCgroup('\u0000\u0001', 'p', '/r')).toThrow(ParseError);
    expect(parseBpftoolCgroup('', 'p', '/r')).toEqual({ value: [], warnings: [] });
  });
});
