import { readFileSync } from 'node:fs';
import { decodeLbMaps, LB_MAP_NAMES, parseMapDump, type LbMapDumps } from '../../src/tools/bpf-map/index.js';
import { canonIp } from '../../src/model/addr.js';
import { defineFuzz, eq, seeds } from './harness.js';

const dir = new URL('../../fixtures/tools/bpf-map/lb-maps/v1.17-kernel/', import.meta.url);
const real = (ext: 'json' | 'txt'): LbMapDumps =>
  Object.fromEntries(
    Object.entries(LB_MAP_NAMES).map(([k, n]) => [k, readFileSync(new URL(`${n}.${ext}`, dir), 'utf8')]),
  ) as LbMapDumps;
const realJson = real('json');

// One map's dump is fuzzed, the other five stay real, so the decoder's cross-map joins run too.
for (const key of Object.keys(LB_MAP_NAMES) as (keyof LbMapDumps)[]) {
  defineFuzz({
    name: `cilium LB maps (${key} fuzzed)`,
    seeds: seeds('bpf-map/lb-maps', new RegExp(`^${LB_MAP_NAMES[key]}\\.(json|txt)$`)),
    parse: (t, p) => decodeLbMaps({ ...realJson, [key]: t }, { probes: { [key]: p } }),
    probeCheck: false,
    check: ({ services }) => {
      for (const s of services) {
        eq(canonIp(s.frontend.address), s.frontend.address, s.frontend.address);
        for (const b of s.backends) eq(canonIp(b.address), b.address, b.address);
      }
    },
    runs: 25,
  });
}

defineFuzz({
  name: 'bpftool map dump (raw, scalar layouts)',
  seeds: seeds('bpf-map/lb-maps', /reverse_nat\.(json|txt)$/),
  parse: (t, p) => {
    const r = parseMapDump(t, p, { key: { scalar: 2 }, value: { scalar: 8 } });
    return { value: r.entries, warnings: r.warnings };
  },
  check: (es) => {
    for (const e of es) for (const b of [...e.key, ...e.value]) eq(Number.isInteger(b) && b >= 0 && b <= 255, true);
  },
  runs: 40,
});
