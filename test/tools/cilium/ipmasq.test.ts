import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeIpMasqMap } from '../../../src/tools/cilium/ipmasq.js';
import { loadNodeState } from '../../../src/collect/load-state.js';
import { memorySource } from '../../../src/collect/source.js';

// real `bpftool -j map dump pinned` output of scripts/lab/ipmasq-map.sh (maps in Cilium's layout)
const fx = (m: string) =>
  readFileSync(new URL(`../../../fixtures/tools/bpf-map/ipmasq/${m}.json`, import.meta.url), 'utf8');

describe('ip-masq-agent maps (cilium_ipmasq_v4/v6)', () => {
  it('decodes the LPM keys of both families into prefixes, with the raw bytes as evidence', () => {
    const v4 = decodeIpMasqMap(fx('cilium_ipmasq_v4'), 'bpf-map/cilium_ipmasq_v4', 4);
    expect(v4.warnings).toEqual([]);
    expect(v4.value.map((c) => c.prefix)).toEqual(['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16']);
    expect(v4.value[0]!.source.text).toBe('key: 08 00 00 00 0a 00 00 00  value: 00 (10.0.0.0/8)');
    expect(decodeIpMasqMap(fx('cilium_ipmasq_v6'), 'p', 6).value.map((c) => c.prefix)).toEqual(['fc00::/7']);
  });

  it('a key of the other family is skipped with a warning, never read as an address', () => {
    const r = decodeIpMasqMap(fx('cilium_ipmasq_v6'), 'p', 4);
    expect(r.value).toEqual([]);
    expect(r.warnings.map((w) => w.code)).toEqual(['entry-skipped']);
  });

  it('the snapshot loader keeps each family undefined unless its map was read', async () => {
    const s = await loadNodeState(
      memorySource(
        new Map([
          ['uname.txt', '6.1.0\n'],
          ['bpf-map/cilium_ipmasq_v4.json', fx('cilium_ipmasq_v4')],
        ]),
        'test',
      ),
    );
    expect(s.cilium.ipMasqMap?.v4?.map((c) => c.prefix)).toHaveLength(4);
    expect(s.cilium.ipMasqMap?.v6).toBeUndefined();
  });
});
