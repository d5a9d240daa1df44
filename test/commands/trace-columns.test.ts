import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { loadServices } from '../../src/collect/load-services.js';
import { dirSource } from '../../src/collect/source.js';
import type { Flow } from '../../src/model/trace.js';
import type { NodeState } from '../../src/model/types.js';

// A trace on routes held as columns (scanned from the bytes, Route objects built on demand) must be
// the trace on routes parsed into objects: same hops, evidence, warnings, for every node snapshot
// and flows between everything the node knows (its addresses, pods, routes' gateways, outside).

const ROOT = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const nodes: string[] = [];
for (const cluster of readdirSync(ROOT, { withFileTypes: true })) {
  if (!cluster.isDirectory()) continue;
  for (const n of readdirSync(`${ROOT}${cluster.name}`, { withFileTypes: true })) if (n.isDirectory()) nodes.push(`${cluster.name}/${n.name}`);
}

function endpoints(s: NodeState): string[] {
  const ips = new Set<string>();
  for (const a of s.addrs) if (a.ifname !== 'lo') ips.add(a.local);
  for (const ns of s.netns) for (const a of ns.addrs) if (a.ifname !== 'lo') ips.add(a.local);
  for (const r of s.routes) {
    for (const h of r.nexthops) if (h.gateway) ips.add(h.gateway);
    const base = r.dst.split('/')[0]!;
    if (r.dst !== '0.0.0.0/0' && r.dst !== '::/0') ips.add(base.includes(':') ? `${base}1` : base.replace(/\.0$/, '.9'));
  }
  ips.add('198.51.100.77');
  ips.add('2001:db8:ffff::77');
  return [...ips];
}

describe('trace on route columns = trace on Route objects', () => {
  for (const node of nodes) {
    it(node, async () => {
      const src = dirSource(`${ROOT}${node}`);
      const objects = await loadNodeState(src);
      const columns = await loadNodeState(src, { routes: 'columns', scanMinBytes: 0 });
      expect(columns.routes).toEqual([]);
      expect(columns.routeColumns!.length).toBeGreaterThan(0);
      expect(columns.warnings).toEqual(objects.warnings);
      expect(columns.sources.sort((a, b) => a.probe.localeCompare(b.probe))).toEqual(objects.sources.sort((a, b) => a.probe.localeCompare(b.probe)));
      const svc = await loadServices(src, objects.addrs);
      const a = createTraceContext(objects, svc.entries);
      const b = createTraceContext(columns, svc.entries);
      const ips = endpoints(objects);
      let n = 0;
      for (const s of ips)
        for (const d of ips) {
          if (s === d || s.includes(':') !== d.includes(':')) continue;
          const flow: Flow = { src: s, dst: d, proto: 'tcp', dport: 80 };
          expect(traceFlow(b, flow), `${node} ${s} → ${d}`).toEqual(traceFlow(a, flow));
          n++;
        }
      expect(n).toBeGreaterThan(10);
    });
  }
});
