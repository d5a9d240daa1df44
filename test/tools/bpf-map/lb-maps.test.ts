import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeLbMaps, LB_MAP_NAMES, parseMapDump, type LbMapDumps } from '../../../src/tools/bpf-map/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';

const dir = '../../../fixtures/tools/bpf-map/lb-maps/v1.17-kernel';
const load = (ext: 'json' | 'txt'): LbMapDumps =>
  Object.fromEntries(
    Object.entries(LB_MAP_NAMES).map(([k, name]) => [
      k,
      readFileSync(new URL(`${dir}/${name}.${ext}`, import.meta.url), 'utf8'),
    ]),
  ) as LbMapDumps;
const codes = (w: { code: string }[]) => w.map((x) => x.code);

/** Turns a real dump back into [keyHex, valueHex] pairs so tests can alter single bytes. */
function pairs(json: string): [string[], string[]][] {
  return (JSON.parse(json) as { key: string[]; value: string[] }[]).map((e) => [e.key, e.value]);
}
function dump(p: [string[], string[]][]): string {
  return JSON.stringify(p.map(([key, value]) => ({ key, value })));
}
const b = (n: number) => '0x' + n.toString(16).padStart(2, '0');

describe('decodeLbMaps on the real-kernel dump (v1.17 layout)', () => {
  for (const ext of ['json', 'txt'] as const) {
    it(`${ext}: services, backends, states, flags`, () => {
      const r = decodeLbMaps(load(ext));
      expect(r.value.layout.version).toBe('1.17+');
      expect(r.value.layout.ambiguous).toBe(false);
      expect(r.value.layout.because).toContain('protocol byte');
      expect(codes(r.warnings)).toEqual(['backend-missing']);
      const s = r.value.services;
      expect(
        s.map(
          (x) =>
            `${x.id} ${x.type} ${x.frontend.address}:${x.frontend.port}/${x.frontend.proto} ${x.backends.map((y) => `${y.address}:${y.port}=${y.state}`).join(',')}`,
        ),
      ).toEqual([
        '5 ClusterIP 10.96.0.10:53/UDP 10.244.1.171:53=active,10.244.2.206:53=active',
        '7 NodePort 0.0.0.0:31940/TCP ',
        '8 NodePort 192.0.2.10:31940/TCP 10.244.1.20:8080=terminating,10.244.2.30:8080=quarantined',
        '9 ClusterIP 2001:db8::a:443/TCP 2001:db8:1::5:8443=active',
      ]);
      expect(s[0]!.evidence[0]).toEqual({
        probe: 'cilium_lb4_services_v2',
        text: '10.96.0.10:53/UDP slot 0: key 0a 60 00 0a 00 35 00 00 11 00 00 00 value 00 00 00 00 02 00 00 05 00 00 00 00',
      });
      expect(s[3]!.flags).toMatchObject({ sessionAffinity: true, affinityTimeoutSeconds: 10800, algorithm: 'maglev' });
    });
  }

  it('a lone family and missing maps decode what is there', () => {
    const all = load('json');
    const r = decodeLbMaps({ services6: all.services6 });
    expect(r.value.services).toHaveLength(1);
    expect(r.value.services[0]!.backends).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('custom probe ids are used in evidence and warnings', () => {
    const r = decodeLbMaps(load('json'), { probes: { services4: 'lb4-services', backends4: 'lb4-backends' } });
    expect(r.value.services[0]!.evidence[0]!.probe).toBe('lb4-services');
    expect(r.warnings[0]!.source).toBe('lb4-services');
  });
});

describe('layout detection', () => {
  // the same dump with every protocol byte zeroed: what a ≤ 1.16 agent (or 1.17 with proto-diff off) writes
  function zeroProtos(): LbMapDumps {
    const all = load('json');
    const s4 = pairs(all.services4!).map(
      ([k, v]) => [k.map((x, i) => (i === 8 ? '0x00' : x)), v] as [string[], string[]],
    );
    const b4 = pairs(all.backends4!).map(
      ([k, v]) => [k, v.map((x, i) => (i === 6 ? '0x00' : x))] as [string[], string[]],
    );
    // the quarantined slot and the qcount are 1.17-only too
    const s4b = s4.map(
      ([k, v]) => [k, v.map((x, i) => (i === 10 || (i === 9 && x === '0x40') ? '0x00' : x))] as [string[], string[]],
    );
    return { services4: dump(s4b), backends4: dump(b4), revnat4: all.revnat4 };
  }

  it('all-zero protocol bytes: ambiguous, and said so', () => {
    const r = decodeLbMaps(zeroProtos());
    expect(r.value.layout).toMatchObject({ version: '1.13+', ambiguous: true });
    expect(r.value.layout.because).toContain('nothing in the maps tells');
    expect(r.value.services[0]!.frontend.proto).toBe('ANY');
  });

  it('a given version resolves it; ≤ 1.16 has no qcount, no backend protocol', () => {
    const r = decodeLbMaps(zeroProtos(), { version: 'v1.16.5' });
    expect(r.value.layout).toMatchObject({ version: '1.16', ambiguous: false });
    expect(r.value.services[0]!.slots).toEqual({ count: 2 });
    expect(r.value.services[0]!.backends[0]!.proto).toBeUndefined();
    expect(r.value.services[0]!.flags.dsr).toBeUndefined();
  });

  it('a version that contradicts the data is a warning; the data wins', () => {
    const r = decodeLbMaps(load('json'), { version: '1.14.4' });
    expect(r.value.layout.version).toBe('1.17+');
    expect(codes(r.warnings)).toContain('layout-conflict');
  });

  it('backend tail bytes narrow the range (u16 cluster id ⇒ ≥ 1.15, zone ⇒ ≥ 1.16)', () => {
    const base = zeroProtos();
    const b4 = pairs(base.backends4!);
    b4[0]![1][9] = '0x01';
    let r = decodeLbMaps({ ...base, backends4: dump(b4) });
    expect(r.value.layout).toMatchObject({ version: '1.15–1.17+', ambiguous: true });
    b4[1]![1][10] = '0x03';
    r = decodeLbMaps({ ...base, backends4: dump(b4) });
    expect(r.value.layout).toMatchObject({ version: '1.16–1.17+', ambiguous: true });
  });

  it('flags2 bits 0x40/0x80 under a ≤ 1.16 version are unknown flag bits', () => {
    const base = zeroProtos();
    const s4 = pairs(base.services4!);
    const master = s4.find(([k]) => k[0] === '0x0a' && k[6] === '0x00')!;
    master[1][9] = '0x80';
    const r = decodeLbMaps({ ...base, services4: dump(s4) }, { version: '1.16.0' });
    // the data (flags2 0x80) says 1.17+, the version says 1.16: conflict, decoded as 1.17+ (dsr)
    expect(codes(r.warnings)).toContain('layout-conflict');
    expect(r.value.services.find((s) => s.id === 5)!.flags.dsr).toBe(true);
  });
});

describe('malformed dumps', () => {
  it('wrong sizes, short values, non-hex bytes, missing backends: warnings naming map and entry', () => {
    const all = load('json');
    const s4 = pairs(all.services4!);
    s4.push([['0x0a', '0x00'], ['0x00']]);
    const b4 = pairs(all.backends4!);
    const bi = b4.findIndex(([k]) => k[0] === '0x08');
    b4[bi]![1] = b4[bi]![1].slice(0, 8);
    const r4 = pairs(all.revnat4!);
    r4[0]![1][2] = '0xzz';
    const r = decodeLbMaps({ services4: dump(s4), backends4: dump(b4), revnat4: dump(r4) });
    const msgs = r.warnings.map((w) => `${w.code}: ${w.message}`);
    expect(msgs.some((m) => /^bad-entry: cilium_lb4_services_v2 entry #8: key 2 bytes/.test(m))).toBe(true);
    expect(
      msgs.some((m) => /^bad-entry: cilium_lb4_backends_v3 entry #\d+: key 4 bytes \/ value 8 bytes/.test(m)),
    ).toBe(true);
    expect(msgs.some((m) => /^bad-entry: cilium_lb4_reverse_nat entry #0: value byte 2 is not hex/.test(m))).toBe(true);
    expect(msgs.some((m) => m.includes('backend 8 is unreadable'))).toBe(true);
    expect(msgs.some((m) => m.includes('backend 99 is not in the backend map'))).toBe(true);
    const dns = r.value.services.find((s) => s.id === 5)!;
    expect(dns.backends.map((x) => x.address)).toEqual(['10.244.1.171']);
  });

  it('slot 0 missing, count larger than the slots, unknown protocol and state', () => {
    const all = load('json');
    const s4 = pairs(all.services4!).filter(([k]) => !(k[0] === '0x00' && k[6] === '0x00'));
    const m = s4.find(([k]) => k[0] === '0x0a' && k[6] === '0x00')!;
    m[1][4] = b(3);
    s4.push([
      ['0x0a', '0x00', '0x00', '0x01', '0x00', '0x50', '0x00', '0x00', '0x2f', '0x00', '0x00', '0x00'],
      new Array<string>(12).fill('0x00'),
    ]);
    const b4 = pairs(all.backends4!);
    b4.find(([k]) => k[0] === '0x07')![1][7] = '0x09';
    const r = decodeLbMaps({ services4: dump(s4), backends4: dump(b4) });
    const c = codes(r.warnings);
    expect(c).toContain('service-without-master');
    expect(c).toContain('slot-missing');
    expect(c).toContain('unknown-flag-bits');
    expect(r.warnings.find((w) => w.code === 'bad-entry')!.message).toContain('unknown protocol byte 47');
    expect(r.value.services.find((s) => s.id === 5)!.backends[0]!.state).toBe('unknown');
  });

  it('revnat entries: missing and mismatching', () => {
    const all = load('json');
    const rn = pairs(all.revnat4!).filter(([k]) => k[1] !== '0x07');
    rn.find(([k]) => k[1] === '0x05')![1][5] = '0x36';
    const r = decodeLbMaps({ services4: all.services4, backends4: all.backends4, revnat4: dump(rn) });
    expect(r.warnings.filter((w) => w.code.startsWith('revnat')).map((w) => w.message)).toEqual([
      'cilium_lb4_reverse_nat entry 5 is 10.96.0.10:54, frontend is 10.96.0.10:53/UDP',
      'cilium_lb4_reverse_nat: no entry 7 for 0.0.0.0:31940/TCP; replies are not rewritten back to the frontend',
    ]);
  });

  it('unreadable whole dumps are ParseErrors; hostile JSON elements are skipped', () => {
    expect(() => decodeLbMaps({ services4: '[{"key": ' })).toThrow(ParseError);
    expect(() => decodeLbMaps({ services4: 'Error: bpf obj get (/sys/fs/bpf): No such file' })).toThrow(ParseError);
    const r = decodeLbMaps({ services4: '[{"__proto__": {"x": 1}, "key": [], "value": []}, {"key": 5}, 7]' });
    expect(r.value.services).toEqual([]);
    // __proto__ key; {key: 5}: key not a struct and no value; 7: not an element
    expect(codes(r.warnings)).toEqual(['bad-entry', 'bad-entry', 'bad-entry', 'bad-entry']);
    expect(decodeLbMaps({ services4: 'Found 0 elements\n' }).value.services).toEqual([]);
  });

  it('plain text with garbage between entries', () => {
    const t =
      'key: 0a 60 00 0a 00 35 00 00  11 00 00 00  value: 00 00 00 00 00 00 00 05  00 00 00 00\nWARNING: something\nkey: 0a 60 00 0a 00 35 00 00  11 00 00 xx  value: 00\nFound 2 elements\n';
    const d = parseMapDump(t, 'm', { key: { scalar: 4 }, value: { scalar: 4 } });
    expect(d.entries).toHaveLength(1);
    expect(codes(d.warnings)).toEqual(['bad-entry', 'bad-entry']);
  });
});

describe('BTF forms (real dumps of maps with BTF types, fixtures/tools/bpf-map/src/lb-btf.c)', () => {
  const f = (n: string) =>
    readFileSync(new URL(`../../../fixtures/tools/bpf-map/lb-maps/v1.17-btf/${n}`, import.meta.url), 'utf8');
  const names = ['cilium_lb4_services_v2', 'cilium_lb4_backends_v3', 'cilium_lb4_reverse_nat'];
  const expected = ['5 10.96.0.10:53/UDP 10.244.1.171:53=active,10.244.2.206:53=terminating'];
  const render = (r: ReturnType<typeof decodeLbMaps>) =>
    r.value.services.map(
      (x) =>
        `${x.id} ${x.frontend.address}:${x.frontend.port}/${x.frontend.proto} ${x.backends.map((y) => `${y.address}:${y.port}=${y.state}`).join(',')}`,
    );

  it('-j with `formatted`: the raw bytes are used, and the result matches', () => {
    const [s, be, rn] = names.map((n) => f(`${n}.json`));
    const r = decodeLbMaps({ services4: s, backends4: be, revnat4: rn });
    expect(r.warnings).toEqual([]);
    expect(render(r)).toEqual(expected);
    // cluster id 2 (u16) and zone 1 on backend 8 narrow nothing beyond 1.17+ here; protocol bytes decide
    expect(r.value.layout.version).toBe('1.17+');
  });

  it('plain text with BTF (objects only, anonymous union as ""): bytes rebuilt from fields', () => {
    const [s, be, rn] = names.map((n) => f(`${n}.txt`));
    const r = decodeLbMaps({ services4: s, backends4: be, revnat4: rn });
    expect(r.warnings).toEqual([]);
    expect(render(r)).toEqual(expected);
    expect(r.value.services[0]!.evidence[0]!.text).toBe(
      '10.96.0.10:53/UDP slot 0: key 0a 60 00 0a 00 35 00 00 11 00 00 00 value 00 00 00 00 02 00 00 05 00 00 00 00',
    );
  });

  it('-j with only `formatted` (raw bytes dropped) reads the same', () => {
    const strip = (t: string) =>
      JSON.stringify((JSON.parse(t) as { formatted: unknown }[]).map((e) => ({ formatted: e.formatted })));
    const [s, be, rn] = names.map((n) => strip(f(`${n}.json`)));
    const r = decodeLbMaps({ services4: s, backends4: be, revnat4: rn });
    expect(r.warnings).toEqual([]);
    expect(render(r)).toEqual(expected);
  });
});

describe('decodeLbMaps warnings', () => {
  it('name the map each is about, and are capped per parse with a count per map', () => {
    const all = load('json');
    // 60 backend entries with a 3-byte value: each is skipped by the size check of the backend map
    const bad = dump(
      Array.from({ length: 60 }, (_, i) => [
        [b(i + 100), b(0), b(0), b(0)],
        [b(1), b(2), b(3)],
      ]),
    );
    const r = decodeLbMaps({ ...all, backends4: bad }, { probes: { backends4: 'be4', services4: 'svc4' } });
    const sized = r.warnings.filter((w) => w.code === 'bad-entry');
    expect(sized.every((w) => w.source === 'be4')).toBe(true);
    expect(sized.filter((w) => w.message.startsWith('be4 entry #'))).toHaveLength(50);
    expect(sized.at(-1)!.message).toBe('10 more of this kind (warnings truncated)');
    // the services whose backends are now missing are reported against the service map
    const missing = r.warnings.filter((w) => w.code === 'backend-missing');
    expect(missing.length).toBeGreaterThan(0);
    expect(missing.every((w) => w.source === 'svc4')).toBe(true);
  });
});
