// A whole decode of in-place LB maps looks up every backend: past a few look-ups the ids go into one Map
// (lb-maps.ts, BACKEND_SEARCHES). Same answer as the row scan on a generated node with 1,000 backends, whose
// every Service refers to backends far apart in the dump, and on questions of one or a few frontends.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeLbMaps, type LbMapDumps } from '../../../src/tools/bpf-map/index.js';
import { uniformDump } from '../../../src/tools/bpf-map/dump.js';
import { genSnapshot } from '../../helpers/bench-gen.js';

const dir = mkdtempSync(join(tmpdir(), 'np-lbwhole-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LB maps decoded whole in place, against the row scan', () => {
  it('same Services on a generated node with 1,000 backends', () => {
    genSnapshot(dir);
    const read = (n: string) => readFileSync(join(dir, 'bpf-map', `${n}.json`));
    const dumps: LbMapDumps = {
      services4: read('cilium_lb4_services_v2'),
      backends4: read('cilium_lb4_backends_v3'),
      revnat4: read('cilium_lb4_reverse_nat'),
    };
    // the in-place reading applies (else this compares the row scan with itself)
    expect(uniformDump(dumps.backends4 as Buffer)).toBeDefined();
    const ref = decodeLbMaps(dumps, { inPlace: false });
    const fast = decodeLbMaps(dumps);
    expect(ref.value.services.length).toBe(100);
    expect(ref.value.services.reduce((n, s) => n + s.backends.length, 0)).toBe(1000);
    expect(fast).toEqual(ref);
    // a few frontends asked (fewer look-ups than the Map threshold) and many (more)
    const all = ref.value.services.map((s) => ({ address: s.frontend.address, port: s.frontend.port }));
    for (const only of [all.slice(0, 2), all.slice(0, 60), all.slice(40)])
      expect(decodeLbMaps(dumps, { only })).toEqual(decodeLbMaps(dumps, { only, inPlace: false }));
  });
});
