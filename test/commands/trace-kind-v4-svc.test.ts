import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';
import { runSvcLookup } from '../../src/commands/svc-lookup.js';

const snap = () => dirSource(fileURLToPath(new URL('../../fixtures/snapshots/kind-v4-svc/k1', import.meta.url)));

describe('kind-v4-svc snapshot (k1 with LB maps built in the kernel)', () => {
  it('svc lookup decodes both Services from the raw maps', async () => {
    const r = await runSvcLookup(snap(), '10.96.0.10:53/udp');
    expect(r.exitCode).toBe(0);
    expect(r.result.frontends[0]).toMatchObject({
      frontend: '10.96.0.10:53/ANY',
      type: 'ClusterIP',
      sources: ['cilium-bpf'],
    });
    expect(r.result.frontends[0]!.backends.map((b) => `${b.address}:${b.port}`)).toEqual([
      '10.244.1.57:53',
      '10.244.2.7:53',
    ]);
    const np = await runSvcLookup(snap(), '172.18.0.2:31940');
    expect(np.result.frontends[0]).toMatchObject({ type: 'NodePort' });
  });

  it('pod → ClusterIP: socket-LB, then redirect_peer to the local backend', async () => {
    const { trace: t, exitCode } = await runTrace(snap(), {
      src: '10.244.1.12',
      dst: '10.96.0.10',
      proto: 'udp',
      port: 53,
    });
    expect(exitCode).toBe(0);
    expect(t.hops.map((h) => h.kind)).toEqual(['socket-lb', 'route', 'bpf', 'redirect_peer', 'deliver']);
    expect(t.hops[0]!.evidence.map((e) => e.probe)).toEqual(
      expect.arrayContaining(['bpftool-cgroup', 'bpf-map/cilium_lb4_services_v2']),
    );
  });

  it('outside → NodePort: load-balanced in cil_from_netdev, SNAT, redirect_neigh to the backend node', async () => {
    const { trace: t } = await runTrace(snap(), { src: '203.0.113.50', dst: '172.18.0.2', proto: 'tcp', port: 31940 });
    expect(t.hops.map((h) => h.kind).slice(0, 4)).toEqual(['route', 'bpf', 'tc-lb', 'masquerade']);
    expect(t.disposition).toBe('forwarded');
  });
});
