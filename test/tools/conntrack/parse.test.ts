import { describe, expect, it } from 'vitest';
import { parseConntrack, parseConntrackFull, parseConntrackLine } from '../../../src/tools/conntrack/index.js';
import { conntrackEntrySchema } from '../../../src/model/conntrack.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { ansiCrlf, fixture } from '../tc/helpers.js';

const shared = (n: string) => fixture('conntrack', 'shared', n);
const brief = (t: string) =>
  parseConntrack(t, 'conntrack4').value.map((e) => [
    e.proto,
    e.orig.src,
    e.orig.dst,
    e.orig.sport ?? e.orig.type ?? null,
    e.orig.dport ?? e.orig.code ?? null,
    e.reply.src,
    e.reply.dst,
    e.dnat,
    e.snat,
  ]);

describe('parseConntrack on the shared captures (conntrack-tools 1.4.7)', () => {
  it('-o extended: both families, NAT, zone, marks, flags; the summary line is a count, not an entry', () => {
    const r = parseConntrackFull(shared('conntrack-L-o-extended.node.txt'), 'conntrack4');
    expect(r.warnings).toEqual([]);
    expect(r.value.summaryCount).toBe(8);
    const es = r.value.entries;
    expect(es).toHaveLength(8);
    for (const e of es) expect(conntrackEntrySchema.safeParse(e).success).toBe(true);
    expect(
      es.map((e) => [
        e.line,
        e.family,
        e.proto,
        e.protonum,
        e.timeout,
        e.state ?? null,
        e.flags.join(','),
        e.mark,
        e.zone ?? null,
        e.deltaTime,
        e.use,
      ]),
    ).toEqual([
      [2, 4, 'udp', 17, 22, null, 'UNREPLIED', 0, 5, 8, 1],
      [3, 6, 'icmpv6', 58, 2, null, 'UNREPLIED', 0, null, 29, 1],
      [4, 4, 'tcp', 6, 431992, 'ESTABLISHED', 'ASSURED', 0, null, 8, 1],
      [5, 6, 'udp', 17, 3, null, 'UNREPLIED', 0, null, 26, 1],
      [6, 4, 'tcp', 6, 119, 'TIME_WAIT', 'ASSURED', 16384, null, 46, 1],
      [7, 4, 'tcp', 6, 431999, 'ESTABLISHED', 'ASSURED', 16384, null, 1, 1],
      [8, 6, 'tcp', 6, 299, 'ESTABLISHED', 'UNREPLIED', 0, null, 1, 1],
      [9, 6, 'tcp', 6, 431971, 'ESTABLISHED', 'ASSURED', 0, null, 29, 1],
    ]);
    // the kube-proxy-like DNAT to 203.0.113.1:8080 with SNAT to the node address
    expect(es[2]).toMatchObject({
      orig: { src: '10.244.1.5', dst: '10.96.0.10', sport: 52312, dport: 80, packets: 2, bytes: 112 },
      reply: { src: '203.0.113.1', dst: '192.0.2.10', sport: 8080, dport: 52312, packets: 1, bytes: 60 },
      dnat: true,
      snat: true,
    });
    expect(es[1]).toMatchObject({
      orig: { type: 128, code: 0, id: 12242 },
      reply: { type: 129, code: 0, id: 12242 },
      dnat: false,
      snat: false,
    });
    expect(es[7]!.source).toEqual({
      probe: 'conntrack4',
      text: shared('conntrack-L-o-extended.node.txt').split('\n')[8],
    });
  });

  it('plain, -o id, -o timestamp and -o ktimestamp give the same tuples as -o extended', () => {
    const ext = brief(shared('conntrack-L-o-extended.node.txt'));
    for (const f of [
      'conntrack-L.node.txt',
      'conntrack-L-o-id.node.txt',
      'conntrack-L-o-timestamp.node.txt',
      'conntrack-L-o-ktimestamp.node.txt',
      'conntrack-L-o-extended,id.node.txt',
    ]) {
      expect(brief(shared(f)), f).toEqual(ext);
    }
    // plain format has no l3 column: the family comes from the addresses
    expect(parseConntrack(shared('conntrack-L.node.txt'), 'c').value.map((e) => e.family)).toEqual([
      4, 6, 4, 6, 4, 4, 6, 6,
    ]);
  });

  it('-o id: the entry id after use=, the ICMP id inside the tuple', () => {
    const es = parseConntrack(shared('conntrack-L-o-extended,id.node.txt'), 'c').value;
    expect(es.map((e) => e.id)).toEqual([
      3960913720, 675381393, 2930255272, 1637359446, 2487460771, 2149084234, 2211991722, 4212017281,
    ]);
    expect(es[1]!.orig.id).toBe(12242);
    expect(es[1]!.reply.id).toBe(12242);
  });

  it('-o ktimestamp: [start=...] with spaces inside is one field', () => {
    const es = parseConntrack(shared('conntrack-L-o-ktimestamp.node.txt'), 'c').value;
    expect(es[0]!.start).toBe('Sun Nov 22 11:10:37 2026');
    expect(es[0]!.use).toBe(1);
  });

  it('without accounting or timestamps: no counters, no delta-time', () => {
    const r = parseConntrack(shared('conntrack-L-o-extended.no-acct-no-timestamp.node.txt'), 'c');
    expect(r.warnings).toEqual([]);
    expect(r.value[0]!.orig).toEqual({ src: '169.254.42.1', dst: '10.244.1.5', type: 8, code: 0, id: 15164 });
    expect(r.value[0]!.deltaTime).toBeUndefined();
    expect(r.value[1]!.zone).toBe(5);
  });

  it('-f ipv6 in both formats', () => {
    const a = parseConntrack(shared('conntrack-L-f-ipv6-o-extended.node.txt'), 'conntrack6').value;
    const b = parseConntrack(shared('conntrack-L-f-ipv6.node.txt'), 'conntrack6').value;
    expect(a.map((e) => [e.family, e.proto, e.orig.src, e.orig.dst])).toEqual([
      [6, 'icmpv6', '2001:db8:1::10', '2001:db8:244::5'],
      [6, 'udp', '2001:db8:1::10', '2001:db8:1::1'],
      [6, 'tcp', '2001:db8:1::10', '2001:db8:1::1'],
    ]);
    expect(b.map((e) => e.orig)).toEqual(a.map((e) => e.orig));
  });

  it('stderr alone (the summary) has no entries; a count that disagrees with the entries is a warning', () => {
    const r = parseConntrackFull(shared('conntrack-L.node.stderr.txt'), 'c');
    expect(r.value.entries).toEqual([]);
    expect(r.value.summaryCount).toBe(8);
    expect(r.warnings.map((w) => w.code)).toEqual(['conntrack-count-mismatch']);
  });

  it('XML, `conntrack -C` and `-S` output are not a table: one-line ParseError', () => {
    expect(() => parseConntrack(shared('conntrack-L-o-xml.node.xml'), 'c')).toThrow(/XML output/);
    expect(() => parseConntrack(shared('conntrack-C.node.txt'), 'c')).toThrow(ParseError);
    expect(() => parseConntrack(shared('conntrack-S.node.txt'), 'c')).toThrow(ParseError);
    expect(() => parseConntrack('abc\u0000def\n', 'c')).toThrow(/NUL/);
  });
});

describe('parseConntrack on bad and unusual lines', () => {
  const good = shared('conntrack-L-o-extended.node.txt').split('\n')[3]!;

  it('garbage lines are line-skipped warnings naming the probe and the line number; the rest stands', () => {
    const t = `${good}\nhello world\n${good.replace('sport=52312', 'sport=99999')}\n${good.replace(' src=203.0.113.1', '')}\n${good}\n`;
    const r = parseConntrack(t, 'conntrack4');
    expect(r.value.map((e) => e.line)).toEqual([1, 5]);
    expect(r.warnings.map((w) => [w.code, w.source, w.message.split(':')[0]])).toEqual([
      ['line-skipped', 'conntrack4', 'line 2'],
      ['line-skipped', 'conntrack4', 'line 3'],
      ['line-skipped', 'conntrack4', 'line 4'],
    ]);
    expect(r.warnings[1]!.message).toMatch(/sport=99999 is not a valid number/);
  });

  it('ANSI colour and CRLF do not change the result', () => {
    const t = shared('conntrack-L-o-extended.node.txt');
    expect(parseConntrack(ansiCrlf(t), 'c').value.map((e) => e.orig)).toEqual(
      parseConntrack(t, 'c').value.map((e) => e.orig),
    );
  });

  it('an IPv6 address not spelled as inet_ntop prints it is skipped; the v4-mapped dotted form is read', () => {
    const v6 = shared('conntrack-L-f-ipv6-o-extended.node.txt').split('\n')[3]!;
    const upper = parseConntrack(`${v6.replace('dst=2001:db8:1::1 ', 'dst=2001:DB8:1::1 ')}\n${good}\n`, 'c');
    expect(upper.value.map((e) => e.line)).toEqual([2]);
    expect(upper.warnings[0]!.message).toMatch(/not written as conntrack prints it \(2001:db8:1::1\)/);
    const mapped = parseConntrack(v6.replaceAll('2001:db8:1::10', '::ffff:192.0.2.7'), 'c');
    expect(mapped.warnings).toEqual([]);
    expect(mapped.value[0]!.orig.src).toBe('::ffff:c000:207');
  });

  it('zones in both directions, secctx, helper, labels, offload flags', () => {
    const l =
      'ipv4     2 tcp      6 src=192.0.2.1 dst=198.51.100.2 sport=1000 dport=80 zone-orig=3 packets=1 bytes=60 src=198.51.100.2 dst=192.0.2.1 sport=80 dport=1000 zone-reply=4 packets=1 bytes=60 [HW_OFFLOAD] mark=7 secctx=system_u:object_r:unlabeled_t:s0 zone=9 helper=ftp use=2 id=5 labels=a,b';
    const r = parseConntrackLine(l, 1, 'c');
    expect(r.kind).toBe('entry');
    if (r.kind !== 'entry') return;
    expect('timeout' in r.entry).toBe(false);
    expect(r.entry).toMatchObject({
      orig: { zone: 3 },
      reply: { zone: 4 },
      flags: ['HW_OFFLOAD'],
      mark: 7,
      secctx: 'system_u:object_r:unlabeled_t:s0',
      zone: 9,
      helper: 'ftp',
      use: 2,
      id: 5,
      labels: ['a', 'b'],
      dnat: false,
      snat: false,
    });
    expect(conntrackEntrySchema.safeParse(r.entry).success).toBe(true);
  });

  it('DNAT and SNAT are read from the tuples, ports included', () => {
    const l = (rs: string, rd: string, sp: number, dp: number) =>
      `tcp      6 10 ESTABLISHED src=10.0.0.1 dst=10.96.0.1 sport=1111 dport=443 src=${rs} dst=${rd} sport=${sp} dport=${dp} [ASSURED] mark=0 use=1`;
    const nat = (s: string) => {
      const r = parseConntrackLine(s, 1, 'c');
      return r.kind === 'entry' ? [r.entry.dnat, r.entry.snat] : r;
    };
    expect(nat(l('10.96.0.1', '10.0.0.1', 443, 1111))).toEqual([false, false]);
    expect(nat(l('10.0.9.9', '10.0.0.1', 6443, 1111))).toEqual([true, false]);
    expect(nat(l('10.96.0.1', '10.0.0.1', 6443, 1111))).toEqual([true, false]);
    expect(nat(l('10.96.0.1', '192.0.2.1', 443, 1111))).toEqual([false, true]);
    expect(nat(l('10.96.0.1', '10.0.0.1', 443, 2222))).toEqual([false, true]);
  });

  it('a last line without a newline is read only when it ends like a conntrack line', () => {
    const t = shared('conntrack-L.node.txt').trimEnd();
    expect(parseConntrack(t, 'c').value).toHaveLength(8);
    const cut = t.slice(0, t.lastIndexOf(' mark='));
    const r = parseConntrack(cut, 'c');
    expect(r.value).toHaveLength(7);
    expect(r.warnings[0]!.message).toMatch(/line 8: last line without a newline/);
  });

  it('an event line of conntrack -E is not an entry', () => {
    expect(parseConntrackLine(`    [NEW] ${good}`, 1, 'c')).toMatchObject({
      kind: 'skip',
      why: expect.stringMatching(/event/),
    });
  });

  it('hostile words never escape as an exception or a polluted object', () => {
    for (const w of [
      '__proto__',
      'constructor',
      'toString',
      '__proto__=1',
      'src=__proto__',
      'mark=__proto__',
      '[__proto__]',
      '[start=',
      'zone-orig=1',
    ]) {
      const r = parseConntrack(good.replace('mark=0', w) + '\n' + good + '\n', 'c');
      expect(r.value.length).toBeGreaterThanOrEqual(1);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  });
});
