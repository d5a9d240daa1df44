import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runClusterTrace } from '../../src/commands/trace-cluster.js';

const dir = (t: string) => fileURLToPath(new URL(`../../fixtures/snapshots/${t}`, import.meta.url));

describe('trace --cluster: node by node across the captured snapshots', () => {
  it('v6-wg: node-a → (WireGuard) → gateway → node-c, delivered to the pod', async () => {
    const { journey, exitCode } = await runClusterTrace(dir('v6-wg'), {
      src: '2001:db8:42::a:5',
      dst: '2001:db8:42::c:9',
      proto: 'tcp',
      port: 443,
    });
    expect(exitCode).toBe(0);
    expect(journey.legs.map((l) => l.node)).toEqual(['node-a', 'gateway', 'node-c']);
    expect(journey.legs[0]!.trace.hops.some((h) => h.kind === 'wireguard')).toBe(true);
    expect(journey.legs[0]!.next).toBe('2001:db8:1::1 belongs to gateway');
    expect(journey.legs[1]!.trace.hops[0]).toMatchObject({ dev: 'wg-a' });
    expect(journey.legs[2]!.trace.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'redirect_peer', 'deliver']);
    expect(journey.disposition).toBe('delivered');
  });

  it('kind-v4: k1 → k2 over the shared L2', async () => {
    const { journey } = await runClusterTrace(dir('kind-v4'), {
      src: '10.244.1.12',
      dst: '10.244.2.7',
      proto: 'tcp',
      port: 8080,
    });
    expect(journey.legs.map((l) => l.node)).toEqual(['k1', 'k2']);
    expect(journey.legs[1]!.trace.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'redirect_peer', 'deliver']);
    expect(journey.disposition).toBe('delivered');
  });

  it('stops where the packet leaves the captured nodes, and says so', async () => {
    const { journey, exitCode } = await runClusterTrace(dir('kind-v4'), {
      src: '10.244.1.12',
      dst: '203.0.113.9',
      proto: 'tcp',
      port: 443,
    });
    expect(journey.legs.map((l) => l.node)).toEqual(['k1']);
    expect(journey.leftAt).toBe('172.18.0.1');
    expect(journey.legs[0]!.next).toMatch(/not an address of any captured node/);
    expect(exitCode).toBe(0);
  });

  it('names a source no captured node owns', async () => {
    await expect(runClusterTrace(dir('kind-v4'), { src: '198.51.100.1', dst: '10.244.2.7' })).rejects.toThrow(
      /no captured node owns the source 198.51.100.1/,
    );
  });
});

describe('trace --cluster: the reply', () => {
  it('is traced back and matches the request reversed on the L2 pair', async () => {
    const { journey } = await runClusterTrace(dir('kind-v4'), {
      src: '10.244.1.12',
      dst: '10.244.2.7',
      proto: 'tcp',
      port: 8080,
    });
    expect(journey.returnPath).toEqual({ nodes: ['k2', 'k1'], disposition: 'delivered', differs: false });
  });

  it('through the WireGuard gateway comes back the same way', async () => {
    const { journey } = await runClusterTrace(dir('v6-wg'), {
      src: '2001:db8:42::a:5',
      dst: '2001:db8:42::c:9',
      proto: 'tcp',
      port: 443,
    });
    expect(journey.returnPath?.nodes).toEqual(['node-c', 'gateway', 'node-a']);
    expect(journey.returnPath?.disposition).toBe('delivered');
    expect(journey.warnings.map((w) => w.code)).not.toContain('asymmetric');
  });
});
