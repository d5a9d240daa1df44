import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dirSource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';

// The socket-lb lab (scripts/lab/socket-lb.sh): what netpath says about the captured node must agree with what
// the kernel answered the client there (results.json, recorded by the same run).
const dir = fileURLToPath(new URL('../../fixtures/snapshots/socket-lb', import.meta.url));
const judged = JSON.parse(readFileSync(`${dir}/results.json`, 'utf8')) as {
  connects: Record<string, { ok: boolean; peer?: string; errno?: string }>;
  packets: Record<string, number>;
};
const trace = (dst: string) => {
  const [address, port] = [dst.slice(0, dst.lastIndexOf(':')), Number(dst.slice(dst.lastIndexOf(':') + 1))];
  return runTrace(dirSource(`${dir}/k1`), { src: '172.18.0.2', dst: address, proto: 'tcp', port });
};

describe('socket-lb snapshot: netpath agrees with the kernel', () => {
  it.each(['127.0.0.1:31940', '172.18.0.3:31940'])(
    'connect() to %s matches the wildcard NodePort entry and reaches the backend',
    async (dst) => {
      expect(judged.connects[dst]).toMatchObject({ ok: true, peer: '10.244.2.7:8080' });
      const { trace: t } = await trace(dst);
      expect(t.hops[0]).toMatchObject({
        kind: 'socket-lb',
        frontend: '0.0.0.0:31940/ANY',
        backend: '10.244.2.7:8080',
        wildcard: { connectedTo: dst },
        ciliumRules: ['socket-lb-wildcard-nodeport'],
      });
    },
  );

  it("connect() to the node's own NodePort address uses its exact entry", async () => {
    expect(judged.connects['172.18.0.2:31940']).toMatchObject({ ok: true, peer: '10.244.2.7:8080' });
    const { trace: t } = await trace('172.18.0.2:31940');
    expect(t.hops[0]).toMatchObject({ kind: 'socket-lb', frontend: '172.18.0.2:31940/ANY' });
    expect(t.hops[0]).not.toHaveProperty('wildcard');
  });

  it('no packet carried a frontend address; packets to the backend did leave', () => {
    for (const k of ['frontend-loopback', 'frontend-node', 'frontend-remote-node', 'frontend-no-backend'])
      expect(judged.packets[k], k).toBe(0);
    expect(judged.packets.backend).toBeGreaterThan(0);
  });

  it('a frontend without backends: the call fails with the errno the kernel returned, no packet', async () => {
    const { trace: t } = await trace('10.96.0.20:80');
    expect(t.hops).toHaveLength(1);
    expect(t.hops[0]).toMatchObject({ kind: 'drop', syscall: { call: 'connect' } });
    expect(judged.connects['10.96.0.20:80']).toEqual({
      ok: false,
      errno: (t.hops[0] as { syscall: { errno: string } }).syscall.errno,
    });
  });

  it('an address that is no node’s is not translated: the packet leaves with it', async () => {
    expect(judged.packets['not-a-node']).toBeGreaterThan(0);
    const { trace: t } = await trace('198.51.100.1:31940');
    expect(t.hops.map((h) => h.kind)).not.toContain('socket-lb');
    expect(t.dst.kind).toBe('external');
    // the state cannot show it is no node's (Cilium asks its ipcache): said, not assumed
    expect(t.warnings.map((w) => w.code)).toContain('wildcard-nodeport-unknown');
  });
});
