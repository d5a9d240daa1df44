import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { traceDefers } from '../../src/collect/flow-plan.js';
import { liveSource } from '../../src/collect/live-source.js';
import { runTrace } from '../../src/commands/trace.js';
import { replayRunner } from '../helpers/replay.js';

// traceDefers holds back the probes a trace between two addresses may not read. Held back, a probe runs only when
// read, so the trace is the fully probed node's; the ones a trace never reads (the other family's conntrack table,
// ipset) must then never run at all. Checked on every bundled node with a manifest, for flows between its own
// addresses and to the outside.

const SNAPSHOTS = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const NODES = [
  'kind-v4/k1',
  'kind-v4-svc/k1',
  'conntrack/np-ct-node',
  'encap/tunnel-node',
  'migrate-ipvs/after',
  'migrate-nft/after',
  'v6-wg/node-a',
];

function flowsOf(node: string): [string, string][] {
  const addrs = JSON.parse(readFileSync(join(SNAPSHOTS, node, 'ip-addr.json'), 'utf8')) as {
    addr_info?: { local?: string; scope?: string }[];
  }[];
  const global = addrs.flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => a.local!));
  const out: [string, string][] = [];
  for (const fam of [4, 6]) {
    const mine = global.filter((a) => a.includes(':') === (fam === 6)).slice(0, 3);
    if (mine.length === 0) continue;
    out.push([mine[0]!, fam === 4 ? '8.8.8.8' : '2001:4860:4860::8888']);
    for (const b of mine.slice(1)) out.push([mine[0]!, b]);
  }
  return out;
}

describe('traceDefers on bundled nodes', () => {
  for (const node of NODES) {
    it(`${node}: the fully probed node's traces; the other family's conntrack and ipset never run`, async () => {
      const flows = flowsOf(node);
      expect(flows.length).toBeGreaterThan(0);
      for (const [src, dst] of flows) {
        const held = replayRunner(join(SNAPSHOTS, node));
        const a = await runTrace(
          await liveSource(held, { defer: traceDefers(src, dst)! }),
          { src, dst, port: 80 },
          {
            kernelRoutes: false,
          },
        );
        const full = replayRunner(join(SNAPSHOTS, node));
        const b = await runTrace(await liveSource(full), { src, dst, port: 80 }, { kernelRoutes: false });
        expect(a.trace, `${src} → ${dst}`).toEqual(b.trace);
        const ran = held.calls.map((c) => c.join(' '));
        const other = dst.includes(':') ? 'ipv4' : 'ipv6';
        expect(ran).not.toContain(`conntrack -L -f ${other} -o extended`);
        expect(ran).not.toContain('ipset save');
        // the fully probed node did run them: the test would see it if they were read
        expect(full.calls.map((c) => c.join(' '))).toContain('ipset save');
      }
    });
  }
});
