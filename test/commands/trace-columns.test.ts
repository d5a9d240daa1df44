import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { loadServices } from '../../src/collect/load-services.js';
import { dirSource } from '../../src/collect/source.js';
import type { Flow } from '../../src/model/trace.js';
import { loadForFlow } from '../../src/collect/flow-plan.js';
import type { NodeState } from '../../src/model/types.js';
import { canonIp } from '../../src/model/addr.js';

// A trace on routes held as columns (scanned from the bytes, Route objects built on demand) must be
// the trace on routes parsed into objects: same hops, evidence, warnings, for every node snapshot
// and flows between everything the node knows (its addresses, pods, routes' gateways, outside).

const ROOT = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const nodes: string[] = [];
for (const cluster of readdirSync(ROOT, { withFileTypes: true })) {
  if (!cluster.isDirectory()) continue;
  for (const n of readdirSync(`${ROOT}${cluster.name}`, { withFileTypes: true }))
    if (n.isDirectory()) nodes.push(`${cluster.name}/${n.name}`);
}

function endpoints(s: NodeState): string[] {
  const ips = new Set<string>();
  for (const a of s.addrs) if (a.ifname !== 'lo') ips.add(a.local);
  for (const ns of s.netns) for (const a of ns.addrs) if (a.ifname !== 'lo') ips.add(a.local);
  for (const r of s.routes) {
    for (const h of r.nexthops) if (h.gateway) ips.add(h.gateway);
    const base = r.dst.split('/')[0]!;
    if (r.dst !== '0.0.0.0/0' && r.dst !== '::/0')
      ips.add(base.includes(':') ? `${base}1` : base.replace(/\.0$/, '.9'));
  }
  ips.add('198.51.100.77');
  ips.add('2001:db8:ffff::77');
  // flows come from parseFlow: canonical addresses only
  return [...ips].filter((ip) => canonIp(ip) === ip);
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
      expect(columns.sources.sort((a, b) => a.probe.localeCompare(b.probe))).toEqual(
        objects.sources.sort((a, b) => a.probe.localeCompare(b.probe)),
      );
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

// A trace reads only what its flow can reach (loadForFlow): the trace must be the one a full read gives.
describe('trace of one flow on what it reads = trace on the whole node', () => {
  for (const node of nodes) {
    it(node, async () => {
      const src = dirSource(`${ROOT}${node}`);
      const full = await loadNodeState(src);
      const svc = await loadServices(src, full.addrs);
      const ips = endpoints(full);
      const a = createTraceContext(full, svc.entries);
      full.warnings.push(...svc.warnings);
      // every pair would take minutes: a fixed spread of them, each frontend with its own port
      const pairs: Flow[] = [];
      for (const s of ips)
        for (const d of ips)
          if (s !== d && s.includes(':') === d.includes(':')) pairs.push({ src: s, dst: d, proto: 'tcp', dport: 80 });
      const step = Math.max(1, Math.floor(pairs.length / 50));
      const flows = pairs.filter((_, i) => i % step === 0);
      for (const e of svc.entries.slice(0, 20))
        for (const s of ips.slice(0, 3))
          if (s.includes(':') === e.frontend.address.includes(':'))
            flows.push({ src: s, dst: e.frontend.address, proto: 'tcp', dport: e.frontend.port });
      // NodePorts on every address (0.0.0.0:PORT): to each node address at that port
      const nodeAddrs = full.addrs.filter((x) => x.ifname !== 'lo').map((x) => x.local);
      for (const e of svc.entries
        .filter((x) => x.frontend.address === '0.0.0.0' || x.frontend.address === '::')
        .slice(0, 5))
        for (const d of nodeAddrs)
          if (d.includes(':') === e.frontend.address.includes(':'))
            flows.push({ src: ips[0]!, dst: d, proto: 'tcp', dport: e.frontend.port });
      let n = 0;
      for (const flow of flows) {
        const part = await loadForFlow(src, flow);
        part.state.warnings.push(...part.services.warnings);
        const want = traceFlow(a, flow);
        expect(
          traceFlow(createTraceContext(part.state, part.services.entries), flow),
          `${node} ${flow.src} → ${flow.dst}:${flow.dport}`,
        ).toEqual(want);
        n++;
      }
      expect(n).toBeGreaterThan(10);
    }, 60_000);
  }
});
