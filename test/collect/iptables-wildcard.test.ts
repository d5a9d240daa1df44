import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';
import { kubeProxyServicesFromIptables } from '../../src/analysis/kube-proxy/iptables.js';
import { iptablesLinesNeeded } from '../../src/analysis/kube-proxy/iptables-lines.js';
import { keepFor, narrowFor } from '../../src/collect/iptables-services.js';
import { loadServices } from '../../src/collect/load-services.js';
import { dirSource } from '../../src/collect/source.js';
import { serviceMatches, type ServiceEntry, type ServiceQuery } from '../../src/model/service.js';
import { iptablesByteLines, parseIptablesLines, parseIptablesSave } from '../../src/tools/iptables/parse-iptables.js';
import { ParseError } from '../../src/tools/parse-error.js';
import { inputs, RUNS, SEED, seeds } from '../fuzz/harness.js';

// A trace to address:port asks two questions at once: that frontend, and the wildcard NodePort frontend
// (0.0.0.0:port) kube-proxy and socket-LB fall back to (collect/flow-plan.ts). iptables-save is then read for the
// lines that may name the address or may give 0.0.0.0 (narrowFor's `wildcard`, iptables-lines.ts mayZero), and the
// answer must be the whole dump's, filtered by the two questions.

/** the trace's pair of questions for each frontend (and a few that match nothing) */
const pairsFor = (entries: ServiceEntry[]): ServiceQuery[][] => {
  const out: ServiceQuery[][] = [];
  const pair = (address: string, port: number): ServiceQuery[] => [
    { kind: 'address', address, port },
    { kind: 'address', address: address.includes(':') ? '::' : '0.0.0.0', port },
  ];
  for (const e of entries)
    if (e.frontend.address !== '0.0.0.0' && e.frontend.address !== '::') {
      out.push(pair(e.frontend.address, e.frontend.port));
      out.push(pair(e.frontend.address, (e.frontend.port + 1) % 65536));
    }
  // NodePorts: any node address with a NodePort's port
  for (const e of entries)
    if (e.frontend.address === '0.0.0.0' || e.frontend.address === '::')
      out.push(pair(e.frontend.address === '::' ? '2001:db8::1' : '192.0.2.1', e.frontend.port));
  out.push(pair('192.0.2.254', 80), pair('2001:db8::dead', 80));
  return out;
};
const matchesAny = (qs: ServiceQuery[]) => (e: ServiceEntry) => qs.some((q) => serviceMatches(e, q));

const SNAPS = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const snapshots: string[] = [];
for (const c of readdirSync(SNAPS, { withFileTypes: true }))
  if (c.isDirectory())
    for (const n of readdirSync(`${SNAPS}${c.name}`, { withFileTypes: true }))
      if (n.isDirectory()) snapshots.push(`${c.name}/${n.name}`);

describe('a trace question (address:port and 0.0.0.0:port) reads iptables-save narrowed', () => {
  it('narrowFor gives the address and the wildcard for that pair only', () => {
    const a: ServiceQuery = { kind: 'address', address: '10.96.0.10', port: 53 };
    const w: ServiceQuery = { kind: 'address', address: '0.0.0.0', port: 53 };
    expect(narrowFor([a, w])).toEqual({ address: '10.96.0.10', wildcard: true });
    expect(narrowFor([a])).toEqual({ address: '10.96.0.10' });
    expect(narrowFor([w, a])).toEqual({});
    expect(narrowFor([a, a])).toEqual({});
    expect(narrowFor([a, { kind: 'name', namespace: 'a', name: 'b' }])).toEqual({});
  });

  for (const snap of snapshots)
    it(`loadServices on ${snap}: the full load's entries, filtered`, async () => {
      const src = dirSource(`${SNAPS}${snap}`);
      const full = await loadServices(src, [], kubeProxyReader);
      for (const only of pairsFor(full.entries)) {
        const part = await loadServices(src, [], kubeProxyReader, { only });
        expect(part.entries, JSON.stringify(only)).toEqual(full.entries.filter(matchesAny(only)));
        expect(part.sources).toEqual(full.sources);
        for (const w of part.warnings) expect(full.warnings).toContainEqual(w);
      }
    });

  const iptSeeds = [...seeds('kube-proxy/iptables-save'), ...seeds('kube-proxy/upstream', /iptables-restore\.txt$/)];
  let checked = 0;
  let zeroRead = 0;
  const check = (input: string) => {
    const text = Buffer.from(input, 'utf8').toString('utf8');
    let rs: ReturnType<typeof parseIptablesSave>;
    try {
      rs = parseIptablesSave(text, 'p');
    } catch (e) {
      if (e instanceof ParseError) return;
      throw e;
    }
    const all = kubeProxyServicesFromIptables(rs.value, 'p', 4).value;
    const { lines } = iptablesByteLines(Buffer.from(text, 'utf8'), 'p');
    for (const only of pairsFor(all).slice(0, 30)) {
      const keep = keepFor(only);
      const narrow = narrowFor(only);
      const need = iptablesLinesNeeded(lines, 4, keep, narrow);
      const part = kubeProxyServicesFromIptables(
        parseIptablesLines(lines, 'p', need.skip, need.cache).value,
        'p',
        4,
        keep,
      ).value;
      expect(part, JSON.stringify(only)).toEqual(all.filter(matchesAny(only)));
      checked++;
      if (all.some((e) => e.frontend.address === '0.0.0.0' && only.some((q) => serviceMatches(e, q)))) zeroRead++;
    }
  };

  it('on the real and upstream dumps, and with frontends written as 0.0.0.0 in KUBE-SERVICES', () => {
    for (const s of iptSeeds) check(s.text);
    expect(checked).toBeGreaterThan(50);
    const base = iptSeeds.find((s) => s.name.includes('kubeproxy-iptables-mode'))!.text;
    // a Service rule whose frontend is 0.0.0.0/32 in every spelling canonPrefix takes, quoted or not; and the
    // localhost NodePort rules kube-proxy writes with -d 127.0.0.0/8
    const front = /^-A KUBE-SERVICES -d (\d+\.\d+\.\d+\.\d+)\/32 (.*)$/m;
    const was = zeroRead;
    for (const spelling of ['0.0.0.0/32', '0/32', '0.0/32', '0.0.0/32', '"0.0.0.0/32"', "'0'.0.0.0/32", '0.0.0.0'])
      check(base.replace(front, (m, _a, rest: string) => `${m}\n-A KUBE-SERVICES -d ${spelling} ${rest}`));
    check(base.replace(/^-A KUBE-NODEPORTS (.*)$/gm, '-A KUBE-NODEPORTS -d 127.0.0.0/8 $1\n-A KUBE-NODEPORTS $1'));
    // the 0.0.0.0 frontends were asked and found: the zero lines were read
    expect(zeroRead).toBeGreaterThan(was);
  });

  it('on fuzzed dumps', () => {
    fc.assert(fc.property(inputs(iptSeeds), check), { numRuns: RUNS * 2, seed: SEED });
  });
});
