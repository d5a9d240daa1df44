import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpAddr } from '../../../src/tools/ip/index.js';
import { ParseError } from '../../../src/tools/parse-error.js';
import { inputs, RUNS, SEED, seeds, wrongTypeDocs } from '../../fuzz/harness.js';

// parseIpAddr checks `ip -j addr` elements by hand (leanDev / leanInfo) and gives to the zod schemas only what
// those checks do not accept. The result must be the zod-only parse's, byte for byte: the same addresses,
// the same warnings, or the same ParseError.

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

/** every ip-addr output in the repository: snapshots (node and pod namespaces), the corpus, the tool fixtures */
function addrFiles(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/ip-addr|\/ip\/addr\/|\/corpus\/ip-addr\//.test(p) && /\.(json|txt)$/.test(n))
        out.push({ name: p.slice(FIXTURES.length), text: readFileSync(p, 'utf8') });
    }
  };
  walk(FIXTURES);
  return out;
}

function outcome(text: string, lean: boolean): unknown {
  try {
    return parseIpAddr(text, 'netns/x/ip-addr', { lean });
  } catch (e) {
    if (e instanceof ParseError) return { error: e.message };
    throw e;
  }
}

const same = (text: string) => expect(outcome(text, true)).toEqual(outcome(text, false));

describe('parseIpAddr: lean checks give the zod parse', () => {
  const files = addrFiles();
  const json = files.filter((f) => /^\s*\[/.test(f.text));

  it('on every bundled ip-addr output', () => {
    expect(files.length).toBeGreaterThan(80);
    expect(json.length).toBeGreaterThan(60);
    for (const f of files) {
      const lean = outcome(f.text, true);
      expect(lean, f.name).toEqual(outcome(f.text, false));
    }
  });

  it('on every key of every bundled element given each wrong-typed value', () => {
    let n = 0;
    // each element shape once, alone in its array (the snapshots repeat a few shapes; wrongTypeDocs mutates
    // the first element only)
    const shapes = new Map<string, string>();
    for (const f of json)
      for (const el of JSON.parse(f.text) as unknown[])
        shapes.set(
          JSON.stringify(el, (_k, v) => (v !== null && typeof v === 'object' ? v : typeof v)),
          `[${JSON.stringify(el)}]`,
        );
    for (const text of shapes.values())
      for (const doc of wrongTypeDocs(text)) {
        same(doc);
        n++;
      }
    expect(n).toBeGreaterThan(1000);
  });

  it('on values at the edges of each check', () => {
    const dev = (o: Record<string, unknown>) => JSON.stringify([{ ifindex: 2, ifname: 'eth0', addr_info: [], ...o }]);
    const info = (o: Record<string, unknown>) =>
      dev({ addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: 24, scope: 'global', ...o }] });
    const docs = [
      ...[0, 1, -1, 1.5, 4294967295, 4294967296, '2', null, true].map((v) => dev({ ifindex: v })),
      ...['', 'x', 'x'.repeat(256), 'x'.repeat(257), '\u{1F600}'.repeat(128), 3, null].map((v) => dev({ ifname: v })),
      ...[null, {}, 'x', [{}], [null], [1]].map((v) => dev({ addr_info: v })),
      ...['inet', 'inet6', 'link', 'INET', null].map((v) => info({ family: v })),
      ...[0, 32, 33, 128, 129, -1, 2.5, '24', null].map((v) => info({ prefixlen: v })),
      ...['host', 'x'.repeat(256), 'x'.repeat(257), 0, 200, 1.5, null, true].map((v) => info({ scope: v })),
      ...[true, false, null, 'yes', 1].map((v) => info({ secondary: v })),
      ...['10.0.0.2', '::1', 'x', null, 3].map((v) => info({ address: v })),
      ...['eth0', '', null, 7].map((v) => info({ label: v })),
      ...['10.0.0.1', '::1', '10.0.0.256', '', null, 5].map((v) => info({ local: v })),
      dev({ addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: 24 }] }),
      // 1e999 is Infinity once parsed: zod's number refuses it
      '[{"ifindex":2,"ifname":"e","addr_info":[{"family":"inet","local":"10.0.0.1","prefixlen":24,"scope":1e999}]}]',
      '[{"ifindex":1e999,"ifname":"e"}]',
      '[{"ifindex":2,"ifname":"e","__proto__":{"ifindex":3}}]',
    ];
    for (const d of docs) same(d);
  });

  it('on fuzzed ip-addr outputs', () => {
    fc.assert(
      fc.property(inputs(seeds('ip/addr')), (text) => {
        same(text);
      }),
      { numRuns: RUNS * 10, seed: SEED },
    );
  });
});
