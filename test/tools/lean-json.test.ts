import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpAddr, parseIpLink } from '../../src/tools/ip/index.js';
import { ParseError } from '../../src/tools/parse-error.js';
import { parseCiliumEndpoints } from '../../src/tools/cilium/endpoints.js';
import { inputs, RUNS, SEED, seeds, wrongTypeDocs } from '../fuzz/harness.js';

// parseIpAddr, parseIpLink and parseCiliumEndpoints check JSON elements by hand (leanDev / leanInfo / leanLink /
// leanEndpoint) and give to the zod schemas only what those checks do not accept. The result must be the zod-only parse's: the same devices or
// addresses, the same warnings, or the same ParseError.

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));

type Parse = (text: string, probe: string, opts: { lean?: boolean }) => unknown;

/** every output of one probe in the repository: snapshots (node and pod namespaces), the corpus, the tool fixtures */
function files(probe: string, toolDir: string): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  const re = new RegExp(`${probe}|/tools/${toolDir}/`);
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (re.test(p) && /\.(json|txt)$/.test(n))
        out.push({ name: p.slice(FIXTURES.length), text: readFileSync(p, 'utf8') });
    }
  };
  walk(FIXTURES);
  return out;
}

function outcome(parse: Parse, text: string, lean: boolean): unknown {
  try {
    return parse(text, 'netns/x/probe', { lean });
  } catch (e) {
    if (e instanceof ParseError) return { error: e.message };
    throw e;
  }
}

/** the keys and value types of an element, arrays by the shapes of their elements (a set: any length) */
function shapeOf(v: unknown): string {
  if (Array.isArray(v)) return `[${[...new Set(v.map(shapeOf))].sort().join('|')}]`;
  if (v === null || typeof v !== 'object') return v === null ? 'null' : typeof v;
  return `{${Object.keys(v)
    .sort()
    .map((k) => `${k}:${shapeOf((v as Record<string, unknown>)[k])}`)
    .join(',')}}`;
}

/** each element shape once, alone in its array (wrongTypeDocs mutates the first element only) */
function shapes(json: { text: string }[]): string[] {
  const out = new Map<string, string>();
  for (const f of json)
    for (const el of JSON.parse(f.text) as unknown[]) out.set(shapeOf(el), `[${JSON.stringify(el)}]`);
  return [...out.values()];
}

const addrDev = (o: Record<string, unknown>) => JSON.stringify([{ ifindex: 2, ifname: 'eth0', addr_info: [], ...o }]);
const addrInfo = (o: Record<string, unknown>) =>
  addrDev({ addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: 24, scope: 'global', ...o }] });
const link = (o: Record<string, unknown>) =>
  JSON.stringify([{ ifindex: 2, ifname: 'eth0', flags: ['UP'], mtu: 1500, ...o }]);
const endpoint = (o: Record<string, unknown>) =>
  JSON.stringify([{ id: 7, status: { state: 'ready', networking: { addressing: [{ ipv4: '10.0.0.9' }] } }, ...o }]);
const u32Edges = [0, 1, -1, 1.5, 4294967295, 4294967296, '2', null, true];
const nameEdges = ['', 'x', 'x'.repeat(256), 'x'.repeat(257), '\u{1F600}'.repeat(128), 3, null];

const cases: { name: string; parse: Parse; probe: string; dir: string; min: number; edges: string[] }[] = [
  {
    name: 'ip -j addr',
    parse: parseIpAddr,
    probe: 'ip-addr',
    min: 60,
    dir: 'ip/addr',
    edges: [
      ...u32Edges.map((v) => addrDev({ ifindex: v })),
      ...nameEdges.map((v) => addrDev({ ifname: v })),
      ...[null, {}, 'x', [{}], [null], [1]].map((v) => addrDev({ addr_info: v })),
      ...['inet', 'inet6', 'link', 'INET', null].map((v) => addrInfo({ family: v })),
      ...[0, 32, 33, 128, 129, -1, 2.5, '24', null].map((v) => addrInfo({ prefixlen: v })),
      ...[0, 129].map((v) => addrInfo({ family: 'inet6', local: '::1', prefixlen: v })),
      ...['host', 'x'.repeat(256), 'x'.repeat(257), 0, 200, 1.5, null, true].map((v) => addrInfo({ scope: v })),
      ...[true, false, null, 'yes', 1].map((v) => addrInfo({ secondary: v })),
      ...['10.0.0.2', '::1', 'x', null, 3].map((v) => addrInfo({ address: v })),
      ...['eth0', '', null, 7].map((v) => addrInfo({ label: v })),
      ...['10.0.0.1', '::1', '10.0.0.256', '', null, 5].map((v) => addrInfo({ local: v })),
      addrDev({ addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: 24 }] }),
      // 1e999 is Infinity once parsed: zod's number refuses it
      '[{"ifindex":2,"ifname":"e","addr_info":[{"family":"inet","local":"10.0.0.1","prefixlen":24,"scope":1e999}]}]',
      '[{"ifindex":1e999,"ifname":"e"}]',
      '[{"ifindex":2,"ifname":"e","__proto__":{"ifindex":3}}]',
    ],
  },
  {
    name: 'ip -j link',
    parse: parseIpLink,
    probe: 'ip-link',
    min: 60,
    dir: 'ip/link',
    edges: [
      ...u32Edges.map((v) => link({ ifindex: v })),
      ...nameEdges.map((v) => link({ ifname: v })),
      ...[
        'mtu',
        'link_index',
        'link_netnsid',
        'gso_max_size',
        'gro_max_size',
        'gso_ipv4_max_size',
        'gro_ipv4_max_size',
      ].flatMap((k) => u32Edges.map((v) => link({ [k]: v }))),
      ...[null, 'eth1', 'NONE', 3, {}].map((v) => link({ link: v })),
      ...[[], ['UP', 'LOWER_UP'], [1], [null], 'UP', null, {}].map((v) => link({ flags: v })),
      ...['operstate', 'address', 'master'].flatMap((k) => ['', 'x', null, 1, []].map((v) => link({ [k]: v }))),
      ...[{}, { info_kind: 'veth' }, { info_kind: 3 }, { info_slave_kind: null }, null, [], 'veth'].map((v) =>
        link({ linkinfo: v }),
      ),
      ...[{ mode: 2, prog: { id: 7 } }, { attached: [{ mode: 1 }] }, { mode: 'x' }, null, {}].map((v) =>
        link({ xdp: v }),
      ),
      '[{"ifindex":2,"ifname":"e","mtu":1e999}]',
      '[{"ifindex":2,"ifname":"e","__proto__":{"mtu":3}}]',
    ],
  },
  {
    name: 'cilium-dbg endpoint list -o json',
    parse: parseCiliumEndpoints,
    probe: 'cilium-endpoints',
    dir: 'cilium/endpoints',
    min: 15,
    edges: [
      ...u32Edges.map((v) => endpoint({ id: v })),
      ...[null, 'x', [], {}].map((v) => endpoint({ status: v })),
      ...['ready', 'x'.repeat(4096), 'x'.repeat(4097), 3, null].map((v) => endpoint({ status: { state: v } })),
      ...[{}, { id: 7 }, { id: -1 }, { id: 1.5 }, { labels: [] }, { labels: ['a', 3] }, { labels: 'a' }, null].map(
        (v) => endpoint({ status: { identity: v } }),
      ),
      endpoint({ status: { identity: { labels: Array.from({ length: 1025 }, () => 'k8s:a=b') } } }),
      endpoint({ status: { labels: { 'security-relevant': Array.from({ length: 1024 }, () => 'k8s:a=b') } } }),
      ...[{}, { 'security-relevant': ['x'.repeat(4097)] }, { 'security-relevant': null }, []].map((v) =>
        endpoint({ status: { labels: v } }),
      ),
      ...['k8s-pod-name', 'k8s-namespace', 'pod-name'].flatMap((k) =>
        ['web', '', null, 1].map((v) => endpoint({ status: { 'external-identifiers': { [k]: v } } })),
      ),
      ...[
        { addressing: [] },
        { addressing: Array.from({ length: 65 }, () => ({ ipv4: '10.0.0.1' })) },
        { addressing: Array.from({ length: 64 }, () => ({ ipv4: '10.0.0.1' })) },
        { addressing: [null] },
        { addressing: [{ ipv4: 4 }] },
        { addressing: [{ ipv6: '::1', ipv4: 'x' }] },
        { 'interface-name': 3 },
        { 'interface-index': -1 },
        { 'interface-index': 4294967296 },
        { 'interface-index': 0 },
      ].map((v) => endpoint({ status: { networking: v } })),
      '[{"id":1e999}]',
      '[{"id":2,"__proto__":{"id":3}}]',
    ],
  },
];

for (const c of cases)
  describe(`${c.name}: lean checks give the zod parse`, () => {
    const same = (text: string) =>
      expect(outcome(c.parse, text, true), text.slice(0, 200)).toEqual(outcome(c.parse, text, false));
    const all = files(c.probe, c.dir);
    const json = all.filter((f) => /^\s*\[/.test(f.text));

    it('on every bundled output', () => {
      expect(all.length).toBeGreaterThan(c.min);
      expect(json.length).toBeGreaterThan(c.min / 2);
      for (const f of all) expect(outcome(c.parse, f.text, true), f.name).toEqual(outcome(c.parse, f.text, false));
    });

    it('on every key of every bundled element shape given each wrong-typed value', () => {
      let n = 0;
      for (const text of shapes(json))
        for (const doc of wrongTypeDocs(text)) {
          same(doc);
          n++;
        }
      expect(n).toBeGreaterThan(c.min * 10);
    });

    it('on values at the edges of each check', () => {
      for (const d of c.edges) same(d);
    });

    it('on fuzzed outputs', () => {
      fc.assert(
        fc.property(inputs(seeds(c.dir)), (text) => {
          same(text);
        }),
        { numRuns: RUNS * 10, seed: SEED },
      );
    });
  });
