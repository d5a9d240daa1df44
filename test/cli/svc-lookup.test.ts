import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
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

  // migrate-iptables/before: Cilium 1.19 without kube-proxy replacement beside kube-proxy's iptables rules; its
  // default/sticky has session affinity in kube-proxy's rules but not in Cilium's maps (TOPOLOGY.md)
  const before = join(root, 'fixtures/snapshots/migrate-iptables/before');

  it('json: every flag per source and merged, values with what showed them, unknown with why, layers that differ', async () => {
    const r = await run(['svc', 'lookup', '10.96.88.30:8443/tcp', '-s', before, '-o', 'json']);
    expect(r.code).toBe(0);
    const j = svcJsonSchema.parse(JSON.parse(r.out));
    const f = j.frontends[0]!;
    expect(f.flags.sessionAffinity).toMatchObject({ value: false, from: expect.stringMatching(/^cilium-bpf: /) });
    expect(f.flags.affinityTimeoutSeconds).toBeUndefined();
    expect(f.flagsDiffer).toContain('sessionAffinity: cilium-bpf false, kube-proxy-iptables true');
    const kp = f.bySource.find((s) => s.source === 'kube-proxy-iptables')!;
    expect(kp.flags.sessionAffinity).toMatchObject({ value: true });
    expect(kp.flags.affinityTimeoutSeconds).toMatchObject({ value: 10800 });
    expect(kp.flags.routable).toMatchObject({ unknown: expect.stringMatching(/Cilium's setting/) });
    // the 1.19 maps defer to the node's default (algorithm byte 0), which a status without kube-proxy replacement
    // does not print: unknown for Cilium, while kube-proxy's statistic rules pick at random
    const bpf = f.bySource.find((s) => s.source === 'cilium-bpf')!;
    expect(bpf.flags.algorithm).toMatchObject({ unknown: expect.stringMatching(/algorithm byte 0.*not read/) });
    expect(f.flags.algorithm).toMatchObject({ value: 'random', from: expect.stringMatching(/^kube-proxy-iptables: /) });
  });

  it('yaml: the same object as json', async () => {
    const j = await run(['svc', 'lookup', '10.96.88.30:8443/tcp', '-s', before, '-o', 'json']);
    const y = await run(['svc', 'lookup', '10.96.88.30:8443/tcp', '-s', before, '-o', 'yaml']);
    expect(y.code).toBe(0);
    expect(parseYaml(y.out)).toEqual(JSON.parse(j.out));
    expect(y.out).toMatch(/sessionAffinity:\n\s+value: false/);
  });

  it('text: the flags under the table, why each unknown one is unknown, and where layers differ', async () => {
    // the composed snapshot has no cilium-dbg status: the node-wide DSR mode and algorithm are not known
    const t = await run(['svc', 'lookup', '10.96.0.10:53/udp', '-s', dir, '--no-color']);
    expect(t.code).toBe(0);
    expect(t.out).toMatch(
      /flags of 10\.96\.0\.10:53\/UDP:\n\s+routable: no {3}DSR: unknown {3}algorithm: unknown {3}session affinity: no/,
    );
    expect(t.out).toMatch(/unknown because:\n\s+DSR: cilium-bpf: DSR bit clear .*Mode\) was not read/);
    const b = await run(['svc', 'lookup', '10.96.88.30:8443/tcp', '-s', before, '--no-color']);
    expect(b.out).toMatch(/the layers differ.*\n\s+sessionAffinity: cilium-bpf false, kube-proxy-iptables true/);
  });

  it('wide: a FLAGS column with every flag', async () => {
    const w = await run(['svc', 'lookup', '10.96.88.30:8443/tcp', '-s', before, '-o', 'wide', '--no-color']);
    expect(w.code).toBe(0);
    expect(w.out).toMatch(/\bFLAGS\b/);
    expect(w.out).toMatch(
      /routable=no,dsr=no,algorithm=random,sessionAffinity=no,externalTrafficPolicy=Cluster,internalTrafficPolicy=Cluster,l7LoadBalancer=no,sourceRangeCheck=no/,
    );
  });
});
