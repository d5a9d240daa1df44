import { describe, expect, it } from 'vitest';
import {
  decodeIpcacheMap,
  parseCiliumEgressList,
  parseCiliumEncryptStatus,
  parseCiliumIpcache,
} from '../../src/tools/cilium/index.js';
import { parseXfrmPolicy, parseXfrmState, redactXfrm } from '../../src/tools/xfrm/index.js';
import type { IpcacheEntry } from '../../src/model/types.js';
import { canonIp, canonPrefix } from '../../src/model/addr.js';
import { defineFuzz, eq, inputs, RUNS, SEED, seeds } from './harness.js';
import fc from 'fast-check';

function ipcache(es: IpcacheEntry[]): void {
  for (const e of es) {
    eq(canonPrefix(e.prefix), e.prefix, 'prefix');
    if (e.tunnelEndpoint !== undefined) eq(canonIp(e.tunnelEndpoint), e.tunnelEndpoint, 'tunnelEndpoint');
  }
}

defineFuzz({
  name: 'cilium bpf ipcache list',
  seeds: seeds('cilium/ipcache'),
  parse: parseCiliumIpcache,
  check: ipcache,
});
// one target per form, so each 5 MB run has the harness's time budget to itself
defineFuzz({
  name: 'pinned ipcache map (bpftool -j)',
  seeds: seeds('bpf-map/ipcache/bpf-map'),
  parse: decodeIpcacheMap,
  check: ipcache,
});
defineFuzz({
  name: 'pinned ipcache map (bpftool text)',
  seeds: seeds('bpf-map/ipcache/bpf-map-text'),
  parse: decodeIpcacheMap,
  check: ipcache,
});
defineFuzz({ name: 'cilium bpf egress list', seeds: seeds('cilium/egress'), parse: parseCiliumEgressList });
defineFuzz({ name: 'cilium encrypt status', seeds: seeds('cilium/encrypt'), parse: parseCiliumEncryptStatus });
defineFuzz({ name: 'ip xfrm state', seeds: seeds('xfrm', /^ip-xfrm-state.*\.txt$/), parse: parseXfrmState });
defineFuzz({ name: 'ip xfrm policy', seeds: seeds('xfrm', /policy.*\.txt$/), parse: parseXfrmPolicy });

describe('fuzz xfrm key redaction', () => {
  it('no hex run of 17+ digits and no key after an algorithm name survives, whatever the input', () => {
    fc.assert(
      fc.property(inputs(seeds('xfrm', /^ip-xfrm-state.*\.txt$/)), (text) => {
        const red = redactXfrm(text);
        expect(red).not.toMatch(/\b(0x)?[0-9a-fA-F]{17,}\b/);
        for (const m of red.matchAll(/(^|\s)(?:enc|auth|auth-trunc|aead)[ \t]+\S+[ \t]+(\S+)/g))
          expect(m[2]).toBe('(redacted)');
      }),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  });
});
