import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { traceJsonSchema } from '../../src/render/json.js';
import { runCli } from '../helpers/cli.js';

const K1 = fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url));

describe('the trace contract types every hop by its kind', () => {
  it('a real trace passes; a hop without the typed fields of its kind does not', async () => {
    const r = await runCli(['trace', '10.244.1.12', '203.0.113.9', '-s', K1, '--json']);
    const t = JSON.parse(r.out) as { hops: Record<string, unknown>[] };
    expect(traceJsonSchema.safeParse(t).success).toBe(true);
    expect(t.hops.map((h) => h.kind)).toEqual(
      expect.arrayContaining(['route', 'bpf', 'redirect_neigh', 'masquerade', 'gateway']),
    );
    for (const [kind, field] of [
      ['route', 'lookup'],
      ['bpf', 'attachMode'],
      ['redirect_neigh', 'nexthop'],
      ['masquerade', 'why'],
      ['gateway', 'encrypted'],
    ] as const) {
      const hops = t.hops.map((h) => {
        if (h.kind !== kind) return h;
        const { [field]: _, ...rest } = h;
        return rest;
      });
      expect(traceJsonSchema.safeParse({ ...t, hops }).success, `${kind} without ${field}`).toBe(false);
    }
    // a kind outside the vocabulary
    expect(traceJsonSchema.safeParse({ ...t, hops: [{ ...t.hops[0], kind: 'teleport' }] }).success).toBe(false);
  });
});
