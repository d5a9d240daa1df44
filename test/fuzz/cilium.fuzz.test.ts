import { parseCiliumConfig, parseCiliumEndpoints, parseCiliumStatus } from '../../src/tools/cilium/index.js';
import { parseCiliumLbList, parseCiliumServiceList } from '../../src/tools/cilium-lb/index.js';
import type { ServiceEntry } from '../../src/model/service.js';
import { canonIp } from '../../src/model/addr.js';
import { defineFuzz, eq, ok, seeds } from './harness.js';

defineFuzz({ name: 'cilium status', seeds: seeds('cilium/status'), parse: parseCiliumStatus });
defineFuzz({ name: 'cilium endpoint list/get', seeds: seeds('cilium/endpoints'), parse: parseCiliumEndpoints });
defineFuzz({
  name: 'cilium config',
  seeds: seeds('cilium/config'),
  parse: parseCiliumConfig,
  // YAML: a colour code or CR inside a value is not the same document.
  cleanInvariant: false,
});

function services(ss: ServiceEntry[]): void {
  for (const s of ss) {
    eq(canonIp(s.frontend.address), s.frontend.address, 'frontend');
    for (const b of s.backends) eq(canonIp(b.address), b.address, b.address);
  }
}

defineFuzz({ name: 'cilium service list', seeds: seeds('cilium-lb/service-list'), parse: parseCiliumServiceList, check: services });
defineFuzz({ name: 'cilium bpf lb list', seeds: seeds('cilium-lb/bpf-lb-list'), parse: parseCiliumLbList, check: services });
