import { describe, expect, it } from 'vitest';
import { BPF_LINK_TYPES, parseBpftoolLink, parseBpftoolProg } from '../../../src/tools/bpftool/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { ansiCrlf, fixture, withoutSource } from '../tc/helpers.js';

const prog = (n: string) => fixture('bpftool', 'prog-show', n);
const link = (n: string) => fixture('bpftool', 'link-show', n);

describe('parseBpftoolProg', () => {
  it('reads full BTF names of our programs from JSON and text alike', () => {
    const j = parseBpftoolProg(prog('bpftool-v7.1-j-prog-show.h2.json'), 'bpftool-prog');
    const t = parseBpftoolProg(prog('bpftool-v7.1-prog-show.h2.txt'), 'bpftool-prog');
    expect(j.value.map((p) => [p.id, p.type, p.name])).toEqual([
      [1059, 'sched_cls', 'cil_from_container'],
      [1063, 'sched_cls', 'cil_to_container'],
      [1067, 'sched_cls', 'cil_from_netdev'],
      [1071, 'sched_cls', 'cil_to_netdev'],
      [1075, 'sched_cls', 'cil_to_netdev'],
      [1080, 'xdp', 'cil_xdp_entry'],
      [1085, 'cgroup_sock_addr', 'cil_sock4_connect'],
      [1090, 'cgroup_sock', 'cil_sock_release'],
    ]);
    expect(withoutSource(j.value)[0]).toEqual({
      id: 1059,
      type: 'sched_cls',
      name: 'cil_from_container',
      tag: '59f4a931744dcdc6',
      btfId: 2083,
    });
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
    expect(t.value[0]!.source.text).toBe('1059: sched_cls  name cil_from_container  tag 59f4a931744dcdc6  gpl');
  });

  it('reads map ids from JSON, pretty JSON and the text detail line (shared captures)', () => {
    const j = parseBpftoolProg(prog('bpftool-j-prog-show.ours.json'), 'p');
    const jp = parseBpftoolProg(prog('bpftool-j-p-prog-show.ours.json'), 'p');
    const t = parseBpftoolProg(prog('bpftool-prog-show.ours.txt'), 'p');
    expect(j.value.find((p) => p.id === 483)).toMatchObject({ name: 'cil_from_container', mapIds: [57], btfId: 25 });
    expect(j.value.find((p) => p.id === 487)!.mapIds).toBeUndefined();
    expect(withoutSource(jp.value)).toEqual(withoutSource(j.value));
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
  });

  it('a single object (`prog show id N`) and an unknown numeric type', () => {
    const r = parseBpftoolProg('{"id":7,"type":32,"tag":"00ff","gpl_compatible":true}', 'p');
    expect(withoutSource(r.value)).toEqual([{ id: 7, type: 'type 32', name: '', tag: '00ff' }]);
  });

  it('bad input', () => {
    const t = prog('bpftool-v7.1-prog-show.h2.txt');
    expect(withoutSource(parseBpftoolProg(ansiCrlf(t), 'p').value)).toEqual(
      withoutSource(parseBpftoolProg(t, 'p').value),
    );
    const j = prog('bpftool-v7.1-j-prog-show.h2.json');
    expect(() => parseBpftoolProg(j.slice(0, 300), 'p')).toThrow(ParseError);
    const typed = parseBpftoolProg(
      '[{"id":"1","type":"xdp"},{"id":2,"type":"xdp","map_ids":[1,"x"]},{"id":3,"type":"xdp","name":"ok","__proto__":{"polluted":1}},{"id":-1,"type":"xdp"}]',
      'p',
    );
    expect(typed.value.map((p) => p.id)).toEqual([3]);
    expect(typed.warnings).toHaveLength(3);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(() => parseBpftoolProg("Error: can't get next program: Operation not permitted\n", 'p')).toThrow(ParseError);
    expect(() => parseBpftoolProg('\u0000\u0001\u0002', 'p')).toThrow(ParseError);
    expect(parseBpftoolProg('[]', 'p')).toEqual({ value: [], warnings: [] });
  });
});

describe('parseBpftoolLink', () => {
  it('names the link types bpftool 7.1 prints as numbers, keeping the number in the evidence', () => {
    const j = parseBpftoolLink(link('bpftool-v7.1-j-p-link-show.json'), 'bpftool-link');
    const t = parseBpftoolLink(link('bpftool-v7.1-link-show.txt'), 'bpftool-link');
    expect(withoutSource(j.value)).toEqual([
      { id: 89, type: 'tcx', progId: 505 },
      { id: 90, type: 'tcx', progId: 506 },
    ]);
    expect(withoutSource(t.value)).toEqual(withoutSource(j.value));
    expect(j.value[0]!.source.text).toBe('89: type 11 (tcx)  prog 505');
    expect(t.value[0]!.source.text).toBe('89: type 11  prog 505');
  });

  it('bpftool 7.x: tcx links with device and attach type, from JSON and text; `(unknown)` is no device', () => {
    const node = parseBpftoolLink(link('bpftool-v7.x-j-p-link-show.node.json'), 'p');
    const nodeText = parseBpftoolLink(link('bpftool-v7.x-link-show.node.txt'), 'p');
    expect(withoutSource(node.value)).toEqual([
      { id: 89, type: 'tcx', progId: 505, ifindex: 9, dev: 'vethA', attachType: 'tcx_ingress' },
      { id: 90, type: 'tcx', progId: 506, ifindex: 9, dev: 'vethA', attachType: 'tcx_egress' },
    ]);
    expect(withoutSource(nodeText.value)).toEqual(withoutSource(node.value));
    const outside = parseBpftoolLink(link('bpftool-v7.x-j-p-link-show.json'), 'p');
    expect(withoutSource(outside.value)[0]).toEqual({
      id: 89,
      type: 'tcx',
      progId: 505,
      ifindex: 9,
      attachType: 'tcx_ingress',
    });
    // the text form prints no ifindex at all when it cannot name the device
    expect(withoutSource(parseBpftoolLink(link('bpftool-v7.x-link-show.txt'), 'p').value)[0]).toEqual({
      id: 89,
      type: 'tcx',
      progId: 505,
      attachType: 'tcx_ingress',
    });
  });

  it('no links (our lab, bpftool 7.1): empty JSON array and empty text', () => {
    expect(parseBpftoolLink(link('bpftool-v7.1-j-link-show.h2.json'), 'p')).toEqual({ value: [], warnings: [] });
    expect(parseBpftoolLink(link('bpftool-v7.1-link-show.h2.txt'), 'p')).toEqual({ value: [], warnings: [] });
  });

  it('the enum table: 11 is tcx, 13 netkit; an unknown number stays a number', () => {
    expect(BPF_LINK_TYPES[11]).toBe('tcx');
    expect(BPF_LINK_TYPES[13]).toBe('netkit');
    expect(BPF_LINK_TYPES[3]).toBe('cgroup');
    const r = parseBpftoolLink(
      '[{"id":1,"type":13,"prog_id":2},{"id":3,"type":99,"prog_id":4},{"id":5,"type":"xdp","prog_id":6,"ifindex":2,"attach_type":46}]',
      'p',
    );
    expect(r.value.map((l) => [l.type, l.attachType ?? null])).toEqual([
      ['netkit', null],
      ['type 99', null],
      ['xdp', 'tcx_ingress'],
    ]);
  });

  it('bad input', () => {
    const t = link('bpftool-v7.x-link-show.node.txt');
    expect(withoutSource(parseBpftoolLink(ansiCrlf(t), 'p').value)).toEqual(
      withoutSource(parseBpftoolLink(t, 'p').value),
    );
    expect(() => parseBpftoolLink(link('bpftool-v7.x-j-p-link-show.node.json').slice(0, 120), 'p')).toThrow(ParseError);
    const typed = parseBpftoolLink(
      '[{"id":1,"type":null},{"id":2,"type":"tcx","prog_id":"5"},{"id":3,"type":"tcx","__proto__":{"polluted":1}},{"id":4,"type":1.5}]',
      'p',
    );
    expect(typed.value.map((l) => l.id)).toEqual([3]);
    expect(typed.warnings).toHaveLength(3);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(() => parseBpftoolLink('garbage here\n', 'p')).toThrow(ParseError);
  });
});
