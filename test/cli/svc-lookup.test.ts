import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { svcJsonSchema } from '../../src/render/svc.js';
import { runCli } from '../helpers/cli.js';

// A snapshot composed for this test from real dumps: Cilium LB maps dumped by bpftool from the kernel
// (fixtures/tools/bpf-map) and a real iptables-save of a kube-proxy iptables-mode ruleset.
const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'np-svc-'));

const run = runCli;

describe('netpath svc lookup', () => {
  beforeAll(() => {
    mkdirSync(join(dir, 'bpf-map'));
    cpSync(join(root, 'fixtures/tools/bpf-map/lb-maps/v1.17-kernel'), join(dir, 'bpf-map'), {
      recursive: true,
      filter: (p) => !p.endsWith('.txt'),
    });
    cpSync(
      join(
        root,
        'fixtures/tools/kube-proxy/iptables-save/iptables-save.kubeproxy-iptables-mode+cilium-like.nft-backend.txt',
      ),
      join(dir, 'iptables-save.txt'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves a ClusterIP from the raw LB maps, with backend states and the layout it decoded', async () => {
    const r = await run(['svc', 'lookup', '10.96.0.10:53/udp', '-s', dir, '--json']);
    expect(r.code).toBe(0);
    const j = svcJsonSchema.parse(JSON.parse(r.out));
    expect(j.frontends).toHaveLength(1);
    expect(j.frontends[0]).toMatchObject({
      frontend: '10.96.0.10:53/UDP',
      type: 'ClusterIP',
      sources: ['cilium-bpf'],
      backends: [
        { address: '10.244.1.171', port: 53, state: 'active' },
        { address: '10.244.2.206', port: 53, state: 'active' },
      ],
    });
    expect(j.warnings.map((w) => w.code)).toContain('lb-layout');
  });

  it('resolves a kube-proxy Service by namespace/name with its KUBE-SVC chain', async () => {
    const r = await run(['svc', 'lookup', 'ns1/svc1', '-s', dir, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    const f = j.frontends.find((x: { frontend: string }) => x.frontend === '172.30.0.41:80/TCP');
    expect(f.sources).toEqual(['kube-proxy-iptables']);
    expect(f.bySource[0].chain).toMatch(/^KUBE-SVC-/);
    expect(f.backends.length).toBeGreaterThan(0);
  });

  it('prints a table, exits 1 when nothing matches, 2 on a bad query, 3 without any Service source', async () => {
    const t = await run(['svc', 'lookup', '10.96.0.10', '-s', dir, '--no-color']);
    expect(t.out).toMatch(/10\.96\.0\.10:53\/UDP\s+│ ClusterIP/);
    const none = await run(['svc', 'lookup', '10.99.99.99', '-s', dir]);
    expect(none.code).toBe(1);
    expect(none.out).toMatch(/no frontend matches 10\.99\.99\.99/);
    expect((await run(['svc', 'lookup', '10.96.0.10:99999', '-s', dir])).code).toBe(2);
    // node-b has empty (but present) nftables and iptables dumps: they answer "nothing programs it"
    expect((await run(['svc', 'lookup', '10.96.0.10', '-s', join(root, 'fixtures/snapshots/v6-wg/node-b')])).code).toBe(
      1,
    );
    const bare = mkdtempSync(join(tmpdir(), 'np-svc-bare-'));
    try {
      cpSync(join(root, 'fixtures/snapshots/v6-wg/node-b/ip-addr.json'), join(bare, 'ip-addr.json'));
      const r = await run(['svc', 'lookup', '10.96.0.10', '-s', bare]);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(/no Service source/);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});
