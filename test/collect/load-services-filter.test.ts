import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadServices } from '../../src/collect/load-services.js';
import { dirSource } from '../../src/collect/source.js';
import { serviceMatches, type ServiceEntry, type ServiceQuery } from '../../src/model/service.js';
import { decodeLbMaps, LB_MAP_NAMES, parseMapDump, type LbMapDumps } from '../../src/tools/bpf-map/index.js';
import { parseMapDumpRows, rowEntry } from '../../src/tools/bpf-map/dump.js';
import { kubeProxyServicesFromIptables } from '../../src/analysis/kube-proxy/iptables.js';
import { iptablesLinesNeeded, lineIndexTuning } from '../../src/analysis/kube-proxy/iptables-lines.js';
import { iptablesByteLines, parseIptablesLines, parseIptablesSave } from '../../src/tools/iptables/parse-iptables.js';
import { ParseError } from '../../src/tools/parse-error.js';
import { inputs, RUNS, SEED, seeds } from '../fuzz/harness.js';

// A question about one frontend (or one name) reads every Service source but builds only what can
// answer it. Its entries must be exactly the full load's entries that answer it.

const queriesFor = (entries: ServiceEntry[]): ServiceQuery[] => {
  const qs: ServiceQuery[] = [];
  for (const e of entries) {
    qs.push({ kind: 'address', address: e.frontend.address });
    qs.push({ kind: 'address', address: e.frontend.address, port: e.frontend.port, proto: e.frontend.proto });
    qs.push({ kind: 'address', address: e.frontend.address, port: (e.frontend.port + 1) % 65536 });
    if (e.name) {
      const [ns, rest] = e.name.split('/');
      qs.push({ kind: 'name', namespace: ns!, name: rest!.split(':')[0]! });
    }
  }
  qs.push(
    { kind: 'address', address: '192.0.2.254' },
    { kind: 'address', address: '0.0.0.0' },
    { kind: 'address', address: '2001:db8::dead' },
    { kind: 'name', namespace: 'nope', name: 'nothing' },
  );
  return qs;
};

const SNAPS = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const snapshots: string[] = [];
for (const c of readdirSync(SNAPS, { withFileTypes: true }))
  if (c.isDirectory())
    for (const n of readdirSync(`${SNAPS}${c.name}`, { withFileTypes: true }))
      if (n.isDirectory()) snapshots.push(`${c.name}/${n.name}`);

describe('loadServices({ only }) = the full load, filtered', () => {
  for (const snap of snapshots) {
    it(snap, async () => {
      const src = dirSource(`${SNAPS}${snap}`);
      const full = await loadServices(src, [], kubeProxyReader);
      for (const q of queriesFor(full.entries)) {
        const part = await loadServices(src, [], kubeProxyReader, { only: q });
        expect(part.entries, JSON.stringify(q)).toEqual(full.entries.filter((e) => serviceMatches(e, q)));
        expect(part.sources).toEqual(full.sources);
        // what is said about the sources themselves (layout, unreadable entries) is kept
        for (const w of part.warnings) expect(full.warnings).toContainEqual(w);
      }
    });
  }
});

describe('iptables-save: the lines a question needs give the Services the whole dump gives', () => {
  const iptSeeds = [...seeds('kube-proxy/iptables-save'), ...seeds('kube-proxy/upstream', /iptables-restore\.txt$/)];
  const check = (input: string) => {
    // a dump is bytes: what the text path sees is their UTF-8 decoding (lone surrogates a fuzzer
    // puts in a JS string come out as U+FFFD either way)
    const text = Buffer.from(input, 'utf8').toString('utf8');
    let rs: ReturnType<typeof parseIptablesSave>;
    try {
      rs = parseIptablesSave(text, 'p');
    } catch (e) {
      if (e instanceof ParseError) return;
      throw e;
    }
    const all = kubeProxyServicesFromIptables(rs.value, 'p', 4).value;
    checked += all.length;
    const { lines } = iptablesByteLines(Buffer.from(text, 'utf8'), 'p');
    // every name a comment carries, also those of rules that lost their frontend to an earlier rule
    const named = [
      ...new Set(
        [...text.matchAll(/--comment "?([a-z0-9][-a-z0-9.]*)\/([a-z0-9][-a-z0-9.]*)/g)].map((m) => `${m[1]}/${m[2]}`),
      ),
    ];
    const byName: ServiceQuery[] = named
      .slice(0, 20)
      .map((n) => ({ kind: 'name', namespace: n.split('/')[0]!, name: n.split('/')[1]! }));
    for (const q of [...queriesFor(all).slice(0, 40), ...byName]) {
      const keep = (f: ServiceEntry['frontend'], name: string | undefined) =>
        serviceMatches(name === undefined ? { frontend: f } : { frontend: f, name }, q);
      const need = iptablesLinesNeeded(
        lines,
        4,
        keep,
        q.kind === 'address' ? { address: q.address } : { name: `${q.namespace}/${q.name}` },
      );
      const part = kubeProxyServicesFromIptables(
        parseIptablesLines(lines, 'p', need.skip, need.cache).value,
        'p',
        4,
        keep,
      ).value;
      expect(part, JSON.stringify(q)).toEqual(all.filter((e) => serviceMatches(e, q)));
    }
  };
  let checked = 0;
  it('on the real and upstream dumps', () => {
    for (const s of iptSeeds) check(s.text);
    expect(checked).toBeGreaterThan(10);
  });
  it('on fuzzed dumps', () => {
    fc.assert(fc.property(inputs(iptSeeds), check), { numRuns: RUNS, seed: SEED });
  });
  it('with the chain look-ups in hash buckets from the first one (a large question takes them)', () => {
    const was = lineIndexTuning.bucketsAfter;
    lineIndexTuning.bucketsAfter = 0;
    try {
      for (const s of iptSeeds) check(s.text);
      fc.assert(fc.property(inputs(iptSeeds), check), { numRuns: Math.ceil(RUNS / 4), seed: SEED });
    } finally {
      lineIndexTuning.bucketsAfter = was;
    }
  });
  it('with counters on every rule (iptables-save -c)', () => {
    for (const s of iptSeeds) check(s.text.replace(/^-A /gm, '[3:180] -A '));
  });
  it('with odd whitespace, undeclared chains, -I/-X/-F/-N lines and a table given twice', () => {
    const base = iptSeeds.find((s) => s.name.includes('kubeproxy-iptables-mode'))!.text;
    const sep = /^:(KUBE-SEP-\S+) - \[0:0\]$/m.exec(base)![1]!;
    const svc = /^:(KUBE-SVC-\S+) - \[0:0\]$/m.exec(base)![1]!;
    const variants = [
      base.replace(/^:(KUBE-SVC-\S+) -/gm, ':$1\u00a0-'),
      base.replace(/^:(KUBE-SEP-\S+) - \[0:0\]$/gm, ':$1 - [0:0]  '),
      base.replace(/^-A (KUBE-SVC-\S+) /gm, '-A\t$1\t'),
      base.replace(new RegExp(`^:${sep} .*$`, 'm'), ''),
      base.replace(/^COMMIT$/gm, (m, off: number) =>
        off > base.length / 2 ? `-I ${svc} 1 -j ${sep}\n-X ${sep}\n-F ${svc}\n-N KUBE-NEW\n${m}` : m,
      ),
      base + base.slice(base.indexOf('*nat')),
      base.replace(/^-A KUBE-SERVICES (.*)$/gm, '-A KUBE-SERVICES "$1"'),
      base.replace(/^\*nat$/m, '*NAT'),
      // the frontend written so its text is not the address: quoted pieces, trailing zeros left out
      base.replace(/-d (\d+\.\d+\.\d+)\.(\d+)\/32/g, '-d $1."$2"/32'),
      base.replace(/-d 172\.30\.0\.41\/32/g, '-d 10.200/32').replace(/-d 172\.30\.0\.42\/32/g, '-d 10.201.0/32'),
      base.replace(/-d 172\.30\.0\.43\/32/g, '-d 172.30.0.4\\3/32'),
      // a second Service's rule for a frontend an earlier rule made: asked by its name, it has none
      base.replace(
        /^(-A KUBE-SERVICES -d (\S+) .*--comment "?)([a-z0-9-]+)\/([a-z0-9-]+)(.*)$/m,
        (m, a: string, _d: string, ns: string, n: string, rest: string) => `${m}\n${a}other-${ns}/late-${n}${rest}`,
      ),
      base.replace(
        /^(-A KUBE-SERVICES -d (\S+) .*--comment "?)([a-z0-9-]+)\/([a-z0-9-]+)(.* -j KUBE-SVC-\S+)$/m,
        (m, a: string, _d: string, ns: string, n: string, rest: string) => `${m}\n${a}other-${ns}/late-${n}${rest}`,
      ),
    ];
    for (const v of variants) check(v);
  });
});

describe('LB map dumps read as bytes = read as text', () => {
  const dir = (v: string) => new URL(`../../fixtures/tools/bpf-map/lb-maps/${v}/`, import.meta.url);
  const real = (v: string, ext: string): LbMapDumps =>
    Object.fromEntries(
      Object.entries(LB_MAP_NAMES)
        .filter(([, n]) => existsSync(new URL(`${n}.${ext}`, dir(v))))
        .map(([k, n]) => [k, readFileSync(new URL(`${n}.${ext}`, dir(v)), 'utf8')]),
    ) as LbMapDumps;
  const bytes = (d: LbMapDumps): LbMapDumps =>
    Object.fromEntries(Object.entries(d).map(([k, t]) => [k, Buffer.from(t as string)])) as LbMapDumps;
  const layouts = { key: { scalar: 2 }, value: { scalar: 6 } };

  it('rows equal parseMapDump entries, on real dumps and fuzzed ones', () => {
    const dumpSeeds = seeds('bpf-map/lb-maps', /\.json$/);
    const same = (input: string) => {
      const t = Buffer.from(input, 'utf8').toString('utf8');
      let want: ReturnType<typeof parseMapDump> | undefined;
      try {
        want = parseMapDump(t, 'p', layouts);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        expect(() => parseMapDumpRows(Buffer.from(t), 'p', layouts)).toThrow(ParseError);
        return;
      }
      const got = parseMapDumpRows(Buffer.from(t), 'p', layouts);
      expect(Array.from({ length: got.rows.count }, (_, i) => rowEntry(got.rows, i))).toEqual(want.entries);
      expect(got.warnings).toEqual(want.warnings);
      expect(got.form).toBe(want.form);
    };
    for (const s of dumpSeeds) same(s.text);
    fc.assert(fc.property(inputs(dumpSeeds), same), { numRuns: RUNS * 2, seed: SEED });
  });

  for (const v of ['v1.17-kernel', 'v1.17-btf']) {
    it(`${v}: decoded the same from bytes, and filtered by frontend`, () => {
      for (const ext of ['json', 'txt']) {
        const text = real(v, ext);
        const full = decodeLbMaps(text);
        expect(full.value.services.length).toBeGreaterThan(0);
        expect(decodeLbMaps(bytes(text))).toEqual(full);
        for (const q of queriesFor(full.value.services)) {
          if (q.kind !== 'address') continue;
          const part = decodeLbMaps(bytes(text), {
            only: { address: q.address, ...(q.port !== undefined ? { port: q.port } : {}) },
          });
          expect(part.value.services).toEqual(
            full.value.services.filter((e) =>
              serviceMatches(e, {
                kind: 'address',
                address: q.address,
                ...(q.port !== undefined ? { port: q.port } : {}),
              }),
            ),
          );
          expect(part.value.layout).toEqual(full.value.layout);
        }
        expect(decodeLbMaps(bytes(text), { only: 'none' }).value.services).toEqual([]);
      }
    });
  }
});
