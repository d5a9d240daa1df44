import { describe, expect, it } from 'vitest';
import { parseBpftoolNet } from '../../../src/tools/bpftool/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { ansiCrlf, fixture, withoutSource } from '../tc/helpers.js';

const fx = (n: string) => fixture('bpftool', 'net-show', n);

describe('parseBpftoolNet', () => {
  it('reads our Cilium-named clsact lab (bpftool 7.1) from -j, -j -p and text alike', () => {
    const j = parseBpftoolNet(fx('bpftool-v7.1-j-net-show.h2node.json'), 'bpftool-net');
    const jp = parseBpftoolNet(fx('bpftool-v7.1-j-p-net-show.h2node.json'), 'bpftool-net');
    const t = parseBpftoolNet(fx('bpftool-v7.1-net-show.h2node.txt'), 'bpftool-net');
    expect(withoutSource(j.value)).toEqual([
      { dev: 'lxc0a1b', ifindex: 2, hook: 'tc-ingress', name: 'cil_from_container.o:[tc]', progId: 1059 },
      { dev: 'lxc0a1b', ifindex: 2, hook: 'tc-egress', name: 'cil_to_container.o:[tc]', progId: 1063 },
      { dev: 'ens6', ifindex: 3, hook: 'tc-ingress', name: 'cil_from_netdev.o:[tc]', progId: 1067 },
      { dev: 'ens6', ifindex: 3, hook: 'tc-egress', name: 'cil_to_netdev.o:[tc]', progId: 1071 },
      { dev: 'ens6', ifindex: 3, hook: 'tc-egress', name: 'cil_to_netdev.o:[tc]', progId: 1075 },
    ]);
    expect(withoutSource(jp.value)).toEqual(withoutSource(j.value));
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
    expect(j.value.map((a) => a.source.text)).toEqual(t.value.map((a) => a.source.text));
    expect(t.value[0]!.source).toEqual({
      probe: 'bpftool-net',
      text: 'lxc0a1b(2) clsact/ingress cil_from_container.o:[tc] id 1059',
    });
    expect([j.warnings, t.warnings]).toEqual([[], []]);
  });

  it('reads generic XDP in the pod namespace (ours) and driver XDP (shared)', () => {
    for (const n of ['bpftool-v7.1-j-net-show.h2pod-xdp.json', 'bpftool-v7.1-net-show.h2pod-xdp.txt']) {
      expect(withoutSource(parseBpftoolNet(fx(n), 'p').value), n).toEqual([
        { dev: 'eth0', ifindex: 2, hook: 'xdp', name: '', mode: 'generic', progId: 1080 },
      ]);
    }
    for (const n of [
      'bpftool-j-p-net-show.pod.json',
      'bpftool-net-show.pod.txt',
      'bpftool-v7.x-j-p-net-show.pod.json',
    ]) {
      expect(withoutSource(parseBpftoolNet(fx(n), 'p').value), n).toEqual([
        { dev: 'eth0', ifindex: 2, hook: 'xdp', name: '', mode: 'driver', progId: 496 },
      ]);
    }
  });

  it('bpftool 7.x: tcx entries with prog_id and link_id next to clsact ones; link_id 0 is no link', () => {
    const j = parseBpftoolNet(fx('bpftool-v7.x-j-p-net-show.node.json'), 'bpftool-net');
    const t = parseBpftoolNet(fx('bpftool-v7.x-net-show.node.txt'), 'bpftool-net');
    expect(withoutSource(j.value.filter((a) => a.hook.startsWith('tcx')))).toEqual([
      { dev: 'vethB', ifindex: 8, hook: 'tcx-ingress', name: 'cil_from_container', progId: 505 },
      { dev: 'vethA', ifindex: 9, hook: 'tcx-ingress', name: 'cil_from_container', progId: 505, linkId: 89 },
      { dev: 'vethA', ifindex: 9, hook: 'tcx-egress', name: 'cil_to_container', progId: 506, linkId: 90 },
    ]);
    expect(j.value.filter((a) => a.hook === 'tc-ingress').map((a) => a.progId)).toEqual([483, 500, 491]);
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
    expect(j.value.find((a) => a.linkId === 90)!.source.text).toBe(
      'vethA(9) tcx/egress cil_to_container prog_id 506 link_id 90',
    );
    expect(j.warnings).toEqual([]);
  });

  it('7.1 and 7.x agree on the clsact attachments of the same node', () => {
    const v71 = parseBpftoolNet(fx('bpftool-j-p-net-show.node.json'), 'p').value;
    const v7x = parseBpftoolNet(fx('bpftool-v7.x-j-p-net-show.node.json'), 'p').value.filter((a) =>
      a.hook.startsWith('tc-'),
    );
    expect(withoutSource(v71)).toEqual(withoutSource(v7x));
    expect(withoutSource(parseBpftoolNet(fx('bpftool-net-show.node.txt'), 'p').value)).toEqual(withoutSource(v71));
  });

  it('maps netkit and every known kind to a hook; an unknown kind is a warning, never a guess', () => {
    const r = parseBpftoolNet(
      JSON.stringify([
        {
          xdp: [],
          tc: [
            { devname: 'lxc1', ifindex: 12, kind: 'netkit/peer', name: 'cil_from_container', prog_id: 40, link_id: 7 },
            { devname: 'lxc1', ifindex: 12, kind: 'netkit/primary', name: 'cil_to_container', prog_id: 41, link_id: 8 },
            { devname: 'lxc1', ifindex: 12, kind: 'tcx/sideways', name: 'x', prog_id: 42, link_id: 9 },
          ],
          netfilter: [{ pf: 2, hooknum: 1, prio: -128, prog_id: 3 }],
        },
      ]),
      'p',
    );
    expect(r.value.map((a) => [a.hook, a.progId, a.linkId])).toEqual([
      ['netkit-peer', 40, 7],
      ['netkit-primary', 41, 8],
    ]);
    expect(r.warnings.map((w) => w.code)).toEqual(['unknown-attach-kind', 'unmodelled-attachment']);
  });

  it('XDP multi-attachments give one record per mode', () => {
    const r = parseBpftoolNet(
      '[{"xdp":[{"devname":"eth0","ifindex":2,"multi_attachments":[{"mode":"generic","id":5},{"mode":"driver","id":6}]}],"tc":[]}]',
      'p',
    );
    expect(r.value.map((a) => [a.mode, a.progId])).toEqual([
      ['generic', 5],
      ['driver', 6],
    ]);
  });

  it('bad input: ANSI/CRLF, truncation, wrong types, __proto__, garbage', () => {
    const t = fx('bpftool-v7.x-net-show.node.txt');
    expect(withoutSource(parseBpftoolNet(ansiCrlf(t), 'p').value)).toEqual(
      withoutSource(parseBpftoolNet(t, 'p').value),
    );
    const j = fx('bpftool-v7.1-j-net-show.h2node.json');
    expect(() => parseBpftoolNet(j.slice(0, j.length / 2), 'p')).toThrow(ParseError);
    // text cut in the middle of a line: whole lines are kept, the broken one is reported
    const cut = parseBpftoolNet(t.slice(0, t.indexOf('link_id 89') + 4), 'p');
    expect(cut.value.map((a) => a.progId)).toEqual([483, 487, 500, 491, 505, 505]);
    expect(cut.value.at(-1)!.linkId).toBeUndefined();
    expect(cut.warnings.map((w) => w.code)).toEqual(['partial-line', 'unterminated-line']);
    const typed = parseBpftoolNet(
      '[{"tc":[{"devname":"a","ifindex":"2","kind":"clsact/ingress","id":1},{"devname":"b","ifindex":3,"kind":"clsact/ingress","id":1e300},{"devname":"c","ifindex":4,"kind":"clsact/ingress","id":2,"__proto__":{"polluted":1}}]},"junk"]',
      'p',
    );
    expect(typed.value.map((a) => a.dev)).toEqual(['c']);
    expect(typed.warnings).toHaveLength(3);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(() => parseBpftoolNet("Error: can't get netns\n", 'p')).toThrow(ParseError);
    expect(() => parseBpftoolNet('\u0000\u00ff\u0001', 'p')).toThrow(ParseError);
    expect(parseBpftoolNet('', 'p')).toEqual({ value: [], warnings: [] });
  });
});
