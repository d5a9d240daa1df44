import { describe, expect, it } from 'vitest';
import { parseConntrack, parseConntrackFull, scanConntrackText } from '../../../src/tools/conntrack/index.js';
import { conntrackEntrySchema } from '../../../src/model/conntrack.js';
import { fixture } from '../tc/helpers.js';

const lab = (n: string) => fixture('conntrack', 'lab', n);

/** The client's own record of which backend answered each connection (scripts/lab/conntrack/traffic.py). */
function answered(): Map<number, string> {
  const m = new Map<number, string>();
  for (const l of lab('client.log').split('\n')) {
    const x = /^tcp 192\.0\.2\.2:(\d+) -> 192\.0\.2\.100:80 answered by (\S+) (\d+)$/.exec(l);
    if (x) m.set(Number(x[1]), `${x[2]}:${x[3]}`);
  }
  return m;
}

describe('conntrack lab captures (np-ct-node, kube-proxy-style DNAT)', () => {
  const v4 = parseConntrack(lab('conntrack-L-f-ipv4-o-extended.txt'), 'conntrack4');

  it('-f ipv4 -o extended: every entry read, all in the model contract', () => {
    expect(v4.warnings).toEqual([]);
    expect(v4.value).toHaveLength(13);
    for (const e of v4.value) expect(conntrackEntrySchema.parse(e)).toEqual(e);
  });

  it('each Service connection is DNATed to the backend that answered it (client.log)', () => {
    const a = answered();
    expect(a.size).toBe(8);
    for (const [sport, backend] of a) {
      const e = v4.value.find((x) => x.orig.sport === sport && x.orig.dst === '192.0.2.100')!;
      expect([`${e.reply.src}:${e.reply.sport}`, e.dnat, e.snat, e.state, e.flags]).toEqual([
        backend,
        true,
        false,
        'ESTABLISHED',
        ['ASSURED'],
      ]);
    }
  });

  it('DNAT+SNAT (UDP Service, masqueraded), SNAT only (ICMP), no NAT, [UNREPLIED], zone and zone-orig', () => {
    const by = (f: (e: (typeof v4.value)[number]) => boolean) => v4.value.find(f)!;
    expect(by((e) => e.proto === 'udp' && e.orig.dport === 53)).toMatchObject({
      reply: { src: '198.51.100.2', sport: 5353, dst: '198.51.100.1' },
      dnat: true,
      snat: true,
    });
    expect(by((e) => e.proto === 'icmp')).toMatchObject({
      orig: { type: 8, code: 0 },
      reply: { type: 0, dst: '198.51.100.1' },
      dnat: false,
      snat: true,
    });
    expect(by((e) => e.orig.dport === 5999)).toMatchObject({ flags: ['UNREPLIED'], dnat: false, snat: false });
    expect(by((e) => e.orig.dport === 9090)).toMatchObject({ zone: 7, dnat: false });
    expect(by((e) => e.orig.dport === 9091)).toMatchObject({ orig: { zone: 8 }, dnat: false });
  });

  it('-f ipv6: the IPv6 Service is DNATed and masqueraded; stderr is only the summary', () => {
    const v6 = parseConntrack(lab('conntrack-L-f-ipv6-o-extended.txt'), 'conntrack6');
    expect(v6.warnings).toEqual([]);
    expect(v6.value.find((e) => e.orig.dst === '2001:db8:100::10')).toMatchObject({
      reply: { src: '2001:db8:2::2', sport: 8080, dst: '2001:db8:2::1' },
      dnat: true,
      snat: true,
    });
    const err = parseConntrackFull(lab('conntrack-L-f-ipv6-o-extended.stderr.txt'), 'conntrack6');
    expect([err.value.entries.length, err.value.summaryCount]).toEqual([0, 3]);
  });

  it('plain, -o extended,id and -o ktimestamp of the same table agree with -o extended', () => {
    const key = (t: string) =>
      parseConntrack(t, 'c')
        .value.map((e) => `${e.orig.src} ${e.orig.sport ?? e.orig.id} ${e.reply.src} ${e.reply.sport ?? ''}`)
        .sort();
    const all = key(lab('conntrack-L-o-extended,id.txt'));
    expect(key(lab('conntrack-L.txt'))).toEqual(all);
    expect(key(lab('conntrack-L-o-ktimestamp.txt'))).toEqual(all);
    expect(parseConntrack(lab('conntrack-L-o-extended,id.txt'), 'c').value.every((e) => e.id !== undefined)).toBe(true);
    expect(
      parseConntrack(lab('conntrack-L-o-ktimestamp.txt'), 'c').value.every((e) =>
        /^\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4}$/.test(e.start ?? ''),
      ),
    ).toBe(true);
  });

  it('the scanner finds the DNAT entries of one backend without parsing the others', () => {
    const r = scanConntrackText(
      lab('conntrack-L-f-ipv4-o-extended.txt'),
      { address: '198.51.100.3', nat: 'dnat' },
      { probe: 'conntrack4' },
    );
    expect(r.entries.map((e) => e.orig.sport).sort()).toEqual(
      [...answered()]
        .filter(([, b]) => b.startsWith('198.51.100.3:'))
        .map(([s]) => s)
        .sort(),
    );
    expect(r.parsed).toBeLessThan(r.lines);
  });
});
