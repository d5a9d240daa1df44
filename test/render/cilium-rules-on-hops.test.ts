import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { traceJsonSchema } from '../../src/render/json.js';
import { renderTraceText } from '../../src/render/text.js';
import { ruled } from '../../src/analysis/trace/hops.js';
import type { Trace } from '../../src/model/trace.js';
import { runCli } from '../helpers/cli.js';

const K1 = fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url));

// A hop a Cilium rule decided names the rule (src/model/cilium-rules.ts): --explain prints where in Cilium's source
// to check it, and the JSON carries the ids.
describe('hops name the Cilium rules that decided them', () => {
  it('--explain shows the rule with its source and versions; the JSON contract carries the ids', async () => {
    const r = await runCli(['trace', '10.244.1.12', '203.0.113.9', '-s', K1, '--json', '--explain']);
    const t = JSON.parse(r.out) as Trace;
    const hops = t.hops.map((h, i) => (i === 0 ? ruled(h, 'tcx-attach', 'netkit-device') : h));
    const withRules: Trace = { ...t, hops };
    expect(traceJsonSchema.safeParse(withRules).success).toBe(true);
    const text = renderTraceText(withRules, { color: false, width: 200 });
    expect(text).toMatch(/rule tcx-attach: .+ \(Cilium 1\.\d+\+\)/);
    expect(text).toMatch(/rule netkit-device: /);
    // ids only, as strings
    const bad = { ...t, hops: [{ ...t.hops[0], ciliumRules: [7] }, ...t.hops.slice(1)] };
    expect(traceJsonSchema.safeParse(bad).success).toBe(false);
  });
});
