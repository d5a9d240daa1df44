import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allRoutes } from '../../../src/model/route-columns.js';
import { parseIpRoute } from '../../../src/tools/ip/index.js';
import { scanIpRouteJson } from '../../../src/tools/ip/route-scan.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { inputs, RUNS, SEED, seeds, wrongTypeDocs } from '../../fuzz/harness.js';
import { routeShapes } from '../../helpers/route-shapes.js';

// The byte scanner must give exactly what parseIpRoute gives (routes, evidence, warnings in order),
// or decline (undefined) so the loader uses parseIpRoute itself. It may never accept what
// parseIpRoute rejects.

type Fam = 4 | 6;

function same(input: string, family: Fam): 'scanned' | 'declined' {
  // an output is bytes: both paths see their UTF-8 decoding (a fuzzer's lone surrogates become U+FFFD)
  const text = Buffer.from(input, 'utf8').toString('utf8');
  const s = scanIpRouteJson(Buffer.from(text, 'utf8'), 'p', family);
  let full: ReturnType<typeof parseIpRoute> | undefined;
  try {
    full = parseIpRoute(text, 'p', family);
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
  }
  if (s === undefined) return 'declined';
  expect(full, 'scanner accepted what parseIpRoute rejects').toBeDefined();
  expect(allRoutes(s.columns)).toEqual(full!.value);
  expect(s.warnings).toEqual(full!.warnings);
  // the columns agree with the routes they stand for
  for (let i = 0; i < s.columns.count; i++) {
    if (s.columns.type[i] === 255) continue;
    const r = s.columns.route(i);
    expect(s.columns.table[i] === r.table).toBe(true);
    expect(s.columns.metric[i] === (r.metric ?? (family === 6 ? 1024 : 0))).toBe(true); // -0 is 0 here
    expect(s.columns.len[i]).toBe(Number(r.dst.split('/')[1]));
    const bad = (f?: string[]) => f?.includes('dead') || f?.includes('linkdown');
    expect(s.columns.plain[i], r.dst).toBe(bad(r.flags) || r.nexthops.some((h) => bad(h.flags)) ? 0 : 1);
  }
  return 'scanned';
}

const jsonSeeds = (fam: Fam) => seeds('ip/route', new RegExp(`\\.${fam}-j.*\\.json$`));

describe('scanIpRouteJson agrees with parseIpRoute', () => {
  for (const fam of [4, 6] as Fam[]) {
    it(`on every real IPv${fam} JSON capture (and takes the fast path for most routes)`, () => {
      for (const s of jsonSeeds(fam)) {
        if (s.text.includes('\u001b')) {
          expect(same(s.text, fam)).toBe('declined');
          continue;
        }
        expect(same(s.text, fam), s.name).toBe('scanned');
        const r = scanIpRouteJson(Buffer.from(s.text), 'p', fam)!;
        if (/-d-table-all/.test(s.name)) expect(r.slow, s.name).toBeLessThan(r.columns.count / 2);
      }
    });

    it(`on every wrong-typed key of a real IPv${fam} route`, () => {
      for (const s of jsonSeeds(fam)) for (const doc of wrongTypeDocs(s.text)) same(doc, fam);
    });

    it(`on fuzzed IPv${fam} captures`, () => {
      fc.assert(
        fc.property(inputs(jsonSeeds(fam)), (t) => {
          same(t, fam);
        }),
        { numRuns: RUNS * 4, seed: SEED },
      );
    });
  }

  const el4 = {
    type: 'unicast',
    dst: '10.20.0.0/16',
    gateway: '203.0.113.1',
    dev: 'ipa1',
    table: '200',
    protocol: 'boot',
    scope: 'global',
    flags: [] as string[],
  };
  const doc = (els: object[], pad = 64) => JSON.stringify([...Array.from({ length: pad }, () => el4), ...els]);
  const variants: [string, string][] = [
    ['repeated key', doc([]).slice(0, -2) + ',"dst":"10.30.0.0/16"}]'],
    [
      'escaped key',
      doc([]).replace(/"dst":"10.20.0.0\/16"}\]$/, '') + doc([]).slice(1).replace('"dst"', '"d\\u0073t"'),
    ],
    ['escaped value', doc([{ ...el4, dev: 'eth\u00e9' }])],
    ['metric as float text', doc([]).slice(0, -2) + ',"metric":2e1}]'],
    ['metric past u32', doc([]).slice(0, -2) + ',"metric":4294967296}]'],
    ['table as number', doc([{ ...el4, table: 200 }])],
    ['table by name', doc([{ ...el4, table: 'custom' }])],
    [
      'unspec and default tables',
      doc([
        { ...el4, table: 'unspec' },
        { ...el4, table: 'default' },
      ]),
    ],
    ['default dst', doc([{ ...el4, dst: 'default' }])],
    ['host bits set', doc([{ ...el4, dst: '10.20.1.0/16' }])],
    ['leading zero length', doc([{ ...el4, dst: '10.20.0.0/016' }])],
    ['leading zero octet', doc([{ ...el4, dst: '10.020.0.0/16' }])],
    ['bare host', doc([{ ...el4, dst: '10.20.0.1' }])],
    ['no dev', doc([{ ...el4, dev: undefined }])],
    [
      'blackhole without dev',
      doc([{ type: 'blackhole', dst: '10.9.0.0/16', table: 'main', protocol: 'boot', scope: 'global', flags: [] }]),
    ],
    ['unknown type', doc([{ ...el4, type: 'warp' }])],
    [
      'dead and onlink flags',
      doc([
        { ...el4, flags: ['onlink', 'dead'] },
        { ...el4, flags: ['linkdown'] },
      ]),
    ],
    [
      'bad gateway',
      doc([
        { ...el4, gateway: '203.0.113.300' },
        { ...el4, gateway: ' 203.0.113.3' },
        { ...el4, gateway: '2001:db8::1' },
      ]),
    ],
    [
      'nested unknown key',
      doc([{ ...el4, cache: ['x'], extra: { a: [1, { b: null }] }, ok: true, no: null, n: -1.5e-3 }]),
    ],
    [
      'no table, not detailed',
      JSON.stringify(
        Array.from({ length: 80 }, (_, i) => ({
          dst: `10.${i}.0.0/16`,
          gateway: '203.0.113.1',
          dev: 'ipa1',
          flags: [],
        })),
      ),
    ],
    ['no table, detailed', doc([{ ...el4, table: undefined }])],
    ['pretty printed', JSON.stringify(JSON.parse(doc([{ ...el4, metric: 7 }])), null, 4)],
    ['trailing garbage', doc([]) + 'x'],
    ['trailing comma', doc([]).slice(0, -1) + ',]'],
    ['not an array', JSON.stringify(el4)],
    ['element not an object', doc([1, 'x', null, [el4]])],
    ['empty object', doc([{}])],
    ['__proto__ key', doc([]).slice(0, -2) + ',"__proto__":{"polluted":1}}]'],
    ['truncated', doc([]).slice(0, -7)],
  ];
  for (const [name, text] of variants) {
    it(`on a real route changed: ${name}`, () => {
      same(text, 4);
    });
  }

  // multipath and nexthop-object routes, from the real capture (helpers/route-shapes.ts)
  const { ecmp, nhGroup, nhSingle } = routeShapes();
  const hop = (i: number, h: Record<string, unknown>) => ({
    ...ecmp,
    nexthops: (ecmp.nexthops as object[]).map((x, j) => (j === i ? h : x)),
  });
  const hop0 = (ecmp.nexthops as Record<string, unknown>[])[0]!;
  const hopVariants: [string, object[]][] = [
    ['as captured, many times', [ecmp, nhGroup, nhSingle, ecmp, nhGroup, nhSingle]],
    [
      'weight 0, string, float, huge, null',
      [0, '1', 1.5, 4294967296, null].map((weight) => hop(0, { ...hop0, weight })),
    ],
    ['a hop via another family', [hop(1, { via: { family: 'inet6', host: 'fe80::1' }, dev: 'eth0', weight: 1 })]],
    [
      'dead and linkdown hops',
      [hop(1, { ...hop0, flags: ['dead', 'linkdown'] }), hop(0, { ...hop0, flags: ['onlink'] })],
    ],
    ['nexthops as a string', [{ ...ecmp, nexthops: '@@' }]],
    ['hops without dev', [hop(0, { gateway: '172.18.0.5' }), { ...ecmp, nexthops: [{ gateway: '172.18.0.5' }] }]],
    [
      'bad hop gateways',
      ['172.18.0.300', '2001:db8::1', ' 172.18.0.5', 7].map((gateway) => hop(0, { ...hop0, gateway })),
    ],
    [
      'empty and odd hop lists',
      [
        { ...ecmp, nexthops: [] },
        { ...ecmp, nexthops: [1] },
        { ...ecmp, nexthops: [{}] },
      ],
    ],
    ['hops on a blackhole', [{ ...ecmp, type: 'blackhole' }]],
    ['hops and a top-level gateway', [{ ...ecmp, gateway: '172.18.0.9', dev: 'eth1' }]],
    ['an unknown hop key', [hop(0, { ...hop0, realm: 'x' })]],
    ['nhid as string, negative, float', ['101', -1, 1.5].map((nhid) => ({ ...nhSingle, nhid }))],
    [
      'nh_info not an object',
      [
        { ...nhSingle, nh_info: [1] },
        { ...nhSingle, nh_info: 'x' },
        { ...nhSingle, nh_info: 3 },
      ],
    ],
    // the nhid note: its example is the first route that reaches it; other notes keep their order
    [
      'the first nhid route skipped, then fast ones',
      [{ ...nhSingle, gateway: '1.2.3.300' }, nhSingle, { ...nhGroup, dst: '192.0.3.0/24' }, nhGroup],
    ],
    [
      'nhid notes among other notes',
      [{ ...ecmp, dev: undefined, nexthops: undefined }, nhGroup, { ...nhSingle, table: 'custom' }, nhSingle],
    ],
    ['nhid route without any dev first', [{ ...nhGroup, nexthops: [{ gateway: '172.18.0.5' }] }, nhSingle, nhGroup]],
  ];
  for (const [name, els] of hopVariants) {
    it(`multipath and nhid: ${name}`, () => {
      expect(same(doc(els), 4)).toBe('scanned');
    });
  }
  it('a repeated key inside a hop', () => {
    const text = doc([ecmp]).replace('"weight":1,', '"weight":1,"dev":"eth1","weight":2,');
    expect(text).toContain('"weight":2');
    expect(same(text, 4)).toBe('scanned');
  });
  it('multipath and nexthop-object tables take the fast path', () => {
    const els = Array.from({ length: 3000 }, (_, i) => ({
      ...[ecmp, nhGroup, nhSingle][i % 3]!,
      dst: `198.${(i >> 8) & 255}.${i & 255}.0/24`,
    }));
    expect(same(JSON.stringify(els), 4)).toBe('scanned');
    const r = scanIpRouteJson(Buffer.from(JSON.stringify(els)), 'p', 4)!;
    // the first nhid route is parsed in full, for the note's example
    expect(r.slow).toBe(0);
    expect(r.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/^routes use nexthop objects.*\[2000 records\]$/),
    ]);
  });

  it('IPv6: compressed, uppercase, embedded IPv4, zone ids, bad groups', () => {
    const el6 = {
      type: 'unicast',
      dst: '2001:db8:1::/48',
      gateway: 'fe80::1',
      dev: 'eth0',
      table: 'main',
      protocol: 'boot',
      scope: 'global',
      metric: 1024,
      flags: [],
      pref: 'medium',
    };
    const dsts = [
      '2001:DB8:1::/48',
      '::/0',
      '::1',
      '::ffff:192.0.2.0/120',
      'fe80::%eth0/64',
      '1:2:3:4:5:6:7::/112',
      '::2:3:4:5:6:7:8/128',
      '1::2:3:4:5:6:7:8/128',
      '2001:db8::1::/64',
      '12345::/16',
      '2001:db8:1::1/48',
      '2001:0db8:0001::/48',
      '::/129',
      'ff00::/8',
    ];
    const gws = ['FE80::1', 'fe80::1%eth0', '::ffff:1.2.3.4', '1.2.3.4', 'fe80:::1'];
    const els = [...dsts.map((dst) => ({ ...el6, dst })), ...gws.map((gateway) => ({ ...el6, gateway }))];
    same(JSON.stringify([...Array.from({ length: 64 }, () => el6), ...els]), 6);
  });
});
