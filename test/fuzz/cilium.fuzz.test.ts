import { describe, expect, it } from 'vitest';
import { parseCiliumConfig, parseCiliumEndpoints, parseCiliumStatus } from '../../src/tools/cilium/index.js';
import { parseCiliumLbList, parseCiliumServiceList } from '../../src/tools/cilium-lb/index.js';
import type { ServiceEntry } from '../../src/model/service.js';
import { canonIp } from '../../src/model/addr.js';
import { contract, defineFuzz, eq, seeds } from './harness.js';

defineFuzz({ name: 'cilium status', seeds: seeds('cilium/status'), parse: parseCiliumStatus });
defineFuzz({ name: 'cilium endpoint list/get', seeds: seeds('cilium/endpoints'), parse: parseCiliumEndpoints });
defineFuzz({
  name: 'cilium config',
  seeds: seeds('cilium/config'),
  parse: parseCiliumConfig,
  // YAML: a colour code or CR inside a value is not the same document.
  cleanInvariant: false,
  // a key → {value, source} map: its keys are Cilium option names (`mtu`), not model fields
  addrKeys: false,
});

function services(ss: ServiceEntry[]): void {
  for (const s of ss) {
    eq(canonIp(s.frontend.address), s.frontend.address, 'frontend');
    for (const b of s.backends) eq(canonIp(b.address), b.address, b.address);
  }
}

defineFuzz({
  name: 'cilium service list',
  seeds: seeds('cilium-lb/service-list'),
  parse: parseCiliumServiceList,
  check: services,
});
defineFuzz({
  name: 'cilium bpf lb list',
  seeds: seeds('cilium-lb/bpf-lb-list'),
  parse: parseCiliumLbList,
  check: services,
});

describe('fuzz regressions (cilium)', () => {
  it('an endpoint row whose identity does not fit u32 (`24121` → `6184467440`) is skipped with a warning', () => {
    const text = seeds('cilium/endpoints', /v1\.18\.0-endpoint-list\.txt$/)[0]!.text;
    const good = contract(() => parseCiliumEndpoints(text, 'p'), 'p')!;
    const r = parseCiliumEndpoints(text.replace('24121', '6184467440'), 'p');
    expect(r.value.map((e) => e.id)).toEqual(good.map((e) => e.id).filter((id) => id !== 33));
    expect(r.warnings.map((w) => w.code)).toContain('line-unreadable');
  });

  it('a bpf endpoint entry with a sec_id past u32 is skipped', () => {
    const text = seeds('cilium/endpoints', /bpf-endpoint-list/)[0]!.text;
    const r = parseCiliumEndpoints(text.replace('sec_id=24121', 'sec_id=99999999999999'), 'p');
    expect(r.value.some((e) => e.id === 33)).toBe(false);
  });

  it('a bpf lb list row whose REVNAT_ID does not fit u16 (`(8)` → `(429496729633)`) is skipped with a warning', () => {
    const text = seeds('cilium-lb/bpf-lb-list', /v1\.17\.from-format/)[0]!.text;
    const good = contract(() => parseCiliumLbList(text, 'p'), 'p')!;
    const r = parseCiliumLbList(
      text.replace('10.244.1.20:8080/TCP (8) (1)', '10.244.1.20:8080/TCP (429496729633) (1)'),
      'p',
    );
    expect(r.value.some((s) => s.id === 429496729633)).toBe(false);
    expect(r.value.flatMap((s) => s.backends).length).toBe(good.flatMap((s) => s.backends).length - 1);
    expect(r.warnings.some((w) => w.code === 'line-skipped' && w.message.includes('out of range'))).toBe(true);
  });
});
