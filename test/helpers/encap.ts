import { expect } from 'vitest';
import { join } from 'node:path';
import { dirSource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';
import type { Hop, Trace } from '../../src/model/trace.js';

/** What the kernel counted in one run of scripts/lab/encap.sh (its kernel.json). */
export interface EncapKernel {
  vxlanAtB: number;
  wgAtB: number;
  plainToPodAtB: number;
  podToNodeUnsnatAtB: number;
  worldSnatAtSwitch: number;
  worldUnsnatAtSwitch: number;
}

const trace = async (dir: string, node: string, src: string, dst: string): Promise<Trace> =>
  (await runTrace(dirSource(join(dir, node)), { src, dst, proto: 'icmp' })).trace;
const one = <K extends Hop['kind']>(t: Trace, kind: K) =>
  t.hops.filter((h) => h.kind === kind) as Extract<Hop, { kind: K }>[];

/**
 * netpath's trace of each flow the lab sent, set against what the kernel did with it: each claim is asserted only
 * when the kernel's counters prove it (a count > 0 on the path the trace names, 0 on the one it rules out).
 */
export async function expectTracesAgree(dir: string, k: EncapKernel): Promise<void> {
  // tunnel-node: the kernel sent vxlan to npwg-b and nothing in plain text
  expect(k.vxlanAtB).toBeGreaterThan(0);
  expect(k.plainToPodAtB).toBe(0);
  const tun = await trace(dir, 'tunnel-node', '10.77.1.10', '10.77.2.20');
  expect(one(tun, 'encap')).toMatchObject([
    { dev: 'cilium_vxlan', protocol: 'vxlan', tunnelEndpoint: '192.168.77.3', port: 8472 },
  ]);
  expect(one(tun, 'redirect_neigh')).toEqual([]);
  expect(one(tun, 'gateway')).toMatchObject([{ gateway: '192.168.77.3', dev: 'eth0', encrypted: false }]);
  expect(tun.disposition).toBe('forwarded');

  // wg-node → a keyed entry: the kernel sent UDP 51871 to npwg-b and no plain packet
  expect(k.wgAtB).toBeGreaterThan(0);
  const wg = await trace(dir, 'wg-node', '10.77.3.10', '10.77.2.20');
  expect(one(wg, 'wireguard')).toMatchObject([
    { dev: 'cilium_wg0', redirectedBy: 'cil_to_netdev', endpoint: '192.168.77.3:51871' },
  ]);
  expect(one(wg, 'gateway')).toMatchObject([{ gateway: '192.168.77.3', encrypted: true }]);
  expect(one(wg, 'masquerade')).toEqual([]);

  // wg-node → the world: SNATed to the node address, never left with the pod's
  expect(k.worldSnatAtSwitch).toBeGreaterThan(0);
  expect(k.worldUnsnatAtSwitch).toBe(0);
  const world = await trace(dir, 'wg-node', '10.77.3.10', '203.0.113.9');
  expect(one(world, 'masquerade')).toMatchObject([{ applied: true, snatTo: '192.168.77.4' }]);
  expect(one(world, 'gateway')).toMatchObject([{ gateway: '192.168.77.1', role: 'router' }]);

  // wg-node → a remote node: arrived with the pod's own address
  expect(k.podToNodeUnsnatAtB).toBeGreaterThan(0);
  const nodeT = await trace(dir, 'wg-node', '10.77.3.10', '192.168.77.3');
  expect(nodeT.dst).toMatchObject({ kind: 'remote-node' });
  expect(one(nodeT, 'masquerade')).toMatchObject([{ applied: false, why: 'remote-node' }]);
}
