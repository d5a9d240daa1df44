import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext } from '../../src/analysis/trace.js';
import { journeyFindings } from '../../src/analysis/check/journeys.js';
import { parseIpRule } from '../../src/tools/ip/parse-rule.js';
import type { NodeState } from '../../src/model/types.js';

// The bundled kind-v4 cluster (k1, k2, k3; pod CIDRs 10.244.{1,2,3}.0/24, native routing).
const dir = fileURLToPath(new URL('../../fixtures/snapshots/kind-v4', import.meta.url));
const nodes = async (edit?: (name: string, s: NodeState) => void) =>
  Promise.all(
    ['k1', 'k2', 'k3'].map(async (name) => {
      const state = await loadNodeState(dirSource(`${dir}/${name}`));
      edit?.(name, state);
      return { name, state, ctx: createTraceContext(state) };
    }),
  );

// Captured here with iproute2 `ip -j rule` in a namespace after `ip rule add pref 100 table local; ip rule del
// pref 0 table local; ip rule add pref 10 from 10.244.1.0/24 prohibit`: k1's pod CIDR refused before any table.
const PROHIBIT_K1_PODS =
  '[{"priority":10,"src":"10.244.1.0","srclen":24,"action":"prohibit"},{"priority":100,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]';

describe('check --cluster journeys', () => {
  it('follows every pod → remote-pod flow onto its receiving node; a clean cluster gives no finding', async () => {
    const r = journeyFindings(await nodes(), dir);
    // k1, k2, k3 each send to one address in each other node's pod CIDR
    expect(r.followed).toBe(6);
    expect(r.findings).toEqual([]);
  });

  it('a drop on the receiving node is reported there, naming the flows sent from the other node', async () => {
    const r = journeyFindings(
      await nodes((name, s) => {
        if (name === 'k2') s.rules = parseIpRule(PROHIBIT_K1_PODS, 'ip-rule4', 4).value;
      }),
      dir,
    );
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0]!;
    expect(f).toMatchObject({ severity: 'error', kind: 'journey-drop', node: 'k2' });
    expect(f.message).toContain('k1 → k2');
    // only k1's pod sends to k2 (k3's flow to k2 comes from 10.244.3.0/24, which the rule does not name)
    expect(f.flows.count).toBe(1);
    expect(f.flows.examples[0]).toMatchObject({ node: 'k1', flow: { src: '10.244.1.12', dst: '10.244.2.1' } });
  });
});
