import { describe, expect, it } from 'vitest';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import { bytesToIp, ipToBytes } from '../../src/model/addr.js';
import { dirSource, memorySource, readSnapshotFiles } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { loadServices } from '../../src/collect/load-services.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import type { Flow, Trace } from '../../src/model/trace.js';
import { Redactor } from '../../src/redact/redactor.js';
import { learnNames, redactFiles } from '../../src/redact/snapshot.js';

// Routing analysis on a redacted snapshot must give the same path as on the original: every bundled snapshot
// is redacted, and flows between all its interesting addresses are traced on both. The redacted trace must be
// the original trace with its addresses (and MACs, names) mapped, hop for hop.
const root = fileURLToPath(new URL('../..', import.meta.url));
const SNAPS = join(root, 'fixtures/snapshots');
const nodes: string[] = [];
for (const set of readdirSync(SNAPS)) {
  const p = join(SNAPS, set);
  if (!statSync(p).isDirectory()) continue;
  for (const n of readdirSync(p)) if (statSync(join(p, n)).isDirectory()) nodes.push(`${set}/${n}`);
}

async function context(source: ReturnType<typeof dirSource>) {
  const state = await loadNodeState(source);
  const svc = await loadServices(source, state.addrs, kubeProxyReader);
  return { state, ctx: createTraceContext(state, svc.entries), services: svc.entries };
}

/** Without evidence: evidence lines are cut at 400 characters, and mapped addresses have other lengths. */
function shape(t: Trace): unknown {
  return JSON.parse(JSON.stringify(t, (k, v) => (k === 'evidence' ? undefined : v)));
}

describe('a redacted snapshot gives the same paths', () => {
  for (const node of nodes) {
    it(`${node}: every flow between its addresses, original and redacted`, async () => {
      const r = new Redactor({ key: Buffer.alloc(32, 0x5a) });
      const { files } = await readSnapshotFiles(join(SNAPS, node));
      const text = new Map([...files].map(([k, v]) => [k, v.toString('utf8')] as [string, string]));
      learnNames(r, text, [node.split('/')[1]!]);
      const red = redactFiles(r, files, 'random');
      expect(red.dropped).toEqual([]);
      const orig = await context(dirSource(join(SNAPS, node)));
      const redc = await context(memorySource(red.files, 'redacted'));
      expect(redc.state.warnings.map((w) => w.code).sort()).toEqual(orig.state.warnings.map((w) => w.code).sort());

      const addrs = new Set<string>();
      for (const a of orig.state.addrs) addrs.add(a.local);
      for (const ns of orig.state.netns) for (const a of ns.addrs) addrs.add(a.local);
      for (const rt of orig.state.routes) for (const nh of rt.nexthops) if (nh.gateway) addrs.add(nh.gateway);
      for (const n of orig.state.neigh) addrs.add(n.dst);
      for (const s of orig.services) addrs.add(s.frontend.address);
      // an address inside every routed prefix (pods of other nodes, networks behind gateways)
      for (const rt of orig.state.routes) {
        const [net, len] = rt.dst.split('/');
        const b = ipToBytes(net!);
        if (!b || Number(len) === 0 || Number(len) > b.length * 8 - 4) continue;
        b[b.length - 1] = b[b.length - 1]! | 9;
        addrs.add(bytesToIp(b));
      }
      for (const x of ['203.0.113.9', '2001:db8:ffff::1', '192.0.2.200']) addrs.add(x);
      const list = [...addrs]
        .filter((a) => isIP(a) && !a.startsWith('fe80') && a !== '127.0.0.1' && a !== '::1')
        .sort();
      let traced = 0;
      const dispo: Record<string, number> = {};
      for (const src of list) {
        // let the worker answer vitest's runner between sources (its RPC times out after 60 s of blocking)
        await new Promise((r) => setImmediate(r));
        for (const dst of list) {
          if (src === dst || isIP(src) !== isIP(dst)) continue;
          for (const f of [
            { proto: 'tcp', dport: 8080 },
            { proto: 'udp', dport: 53 },
          ] as const) {
            const flow: Flow = { src, dst, ...f };
            const a = traceFlow(orig.ctx, flow);
            const b = traceFlow(redc.ctx, { ...flow, src: r.ip(src)!, dst: r.ip(dst)! });
            r.learnKeys(JSON.stringify(a));
            expect(shape(b), `${src} → ${dst} ${f.proto}`).toEqual(r.json(shape(a)));
            dispo[a.disposition] = (dispo[a.disposition] ?? 0) + 1;
            for (const h of a.hops) dispo[h.kind] = (dispo[h.kind] ?? 0) + 1;
            traced++;
          }
        }
      }
      expect(traced).toBeGreaterThan(10);
      if (process.env.NP_DEBUG) console.log(node, traced, JSON.stringify(dispo));
    }, 120_000);
  }
});
