import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { dirSource, memorySource } from '../../src/collect/source.js';
import { runTrace } from '../../src/commands/trace.js';
import type { Hop, Trace } from '../../src/model/trace.js';

// One lab node (kind-v4 k1) captured twice (fixtures/snapshots/paste-k1/README.md): `json/` is netpath's own
// `-j -d` snapshot, `text/` the plain text a person pastes (`ip a`, `ip r`, `ip rule`, `tc filter show dev …`,
// each pod's `ip a`). Every pair of addresses the node knows must trace the same way on both, or the text side
// must say which missing fact made the difference.

const ROOT = fileURLToPath(new URL('../../fixtures/snapshots/paste-k1/', import.meta.url));
const json = dirSource(join(ROOT, 'json'));
const text = dirSource(join(ROOT, 'text'));

const shape = (hops: Hop[]) => hops.map((h) => `${h.kind}${h.dev ? `:${h.dev}` : ''}${h.netns ? `@${h.netns}` : ''}`);

/**
 * The JSON side's hops less those the text side says it could not take: the route lookup in a pod's own
 * namespace, when the paste has that pod's `ip a` only (`pod-routes-missing` names its route probe).
 */
function expectedOnText(j: Trace, t: Trace): string[] {
  const noRoutes = new Set(
    t.warnings.filter((w) => w.code === 'pod-routes-missing').map((w) => /^netns\/([^/]+)\//.exec(w.source ?? '')?.[1]),
  );
  return shape(j.hops.filter((h) => !(h.kind === 'route' && h.netns !== undefined && noRoutes.has(h.netns))));
}

async function addresses(): Promise<string[]> {
  const s = await loadNodeState(json);
  const ips = new Set<string>();
  for (const a of s.addrs) if (a.family === 4 && a.ifname !== 'lo') ips.add(a.local);
  for (const ns of s.netns) for (const a of ns.addrs) if (a.family === 4 && a.ifname !== 'lo') ips.add(a.local);
  for (const r of s.routes) for (const n of r.nexthops) if (n.gateway && !n.gateway.includes(':')) ips.add(n.gateway);
  // a remote pod, a free address in this node's pod CIDR, the outside
  for (const ip of ['10.244.2.7', '10.244.1.99', '203.0.113.9']) ips.add(ip);
  return [...ips].sort();
}

describe('text paste vs -j -d snapshot of the same node (paste-k1)', () => {
  it('every address pair: same endpoints, hops (devices) and disposition, or the text side says what it lacks', async () => {
    const ips = await addresses();
    expect(ips).toEqual(
      expect.arrayContaining(['172.18.0.2', '10.244.1.1', '10.244.1.12', '10.244.1.57', '172.18.0.1', '172.18.0.3']),
    );
    const ja = createTraceContext(await loadNodeState(json));
    const ta = createTraceContext(await loadNodeState(text));
    let same = 0;
    let podRouteOnly = 0;
    for (const src of ips)
      for (const dst of ips) {
        if (src === dst) continue;
        const flow = { src, dst, proto: 'tcp' as const, dport: 8080 };
        const j = traceFlow(ja, flow);
        const t = traceFlow(ta, flow);
        const what = `${src} → ${dst}`;
        expect({ src: t.src.kind, dst: t.dst.kind }, what).toEqual({ src: j.src.kind, dst: j.dst.kind });
        expect({ src: t.src.dev, dst: t.dst.dev }, what).toEqual({ src: j.src.dev, dst: j.dst.dev });
        expect(t.disposition, what).toBe(j.disposition);
        const want = expectedOnText(j, t);
        expect(shape(t.hops), what).toEqual(want);
        if (want.length === j.hops.length) same++;
        else podRouteOnly++;
      }
    // the pairs whose only difference is the pod's own route lookup are the ones leaving a pod
    expect(podRouteOnly).toBeGreaterThan(0);
    expect(same).toBeGreaterThan(podRouteOnly);
  });

  it('the text side reads the pods as this node’s pods through the veth pair, and says what it inferred', async () => {
    const { trace: t } = await runTrace(text, { src: '10.244.1.12', dst: '10.244.1.57', proto: 'tcp', port: 8080 });
    expect(t.src).toMatchObject({ kind: 'local-pod', dev: 'lxc6d1e0f2a3b4c', netns: 'cni-5f0c1d2e-k1a' });
    expect(t.dst).toMatchObject({ kind: 'local-pod', dev: 'lxc0a1b2c3d4e5f', netns: 'cni-7a9b3c4d-k1b' });
    expect(t.disposition).toBe('delivered');
    // the pair is proven by its two ends: the host's `lxc…@if2 … link-netns cni-…` and the pod's `eth0@if5`
    expect(t.src.evidence.map((e) => e.text)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^5: lxc6d1e0f2a3b4c@if2:/),
        expect.stringMatching(/^2: eth0@if5:/),
      ]),
    );
    const codes = t.warnings.map((w) => w.code);
    expect(codes).toEqual(expect.arrayContaining(['links-from-ip-addr', 'pod-routes-missing']));
    // an IPv4 trace does not rest on the IPv6 routes or rules the paste lacks
    expect(t.warnings.some((w) => w.source === 'ip-route6' || w.source === 'ip-rule6')).toBe(false);
  });

  it('host → its own address: the local table a plain `ip r` lacks is rebuilt from the addresses, and said so', async () => {
    const { trace: t } = await runTrace(text, { src: '172.18.0.2', dst: '10.244.1.1', proto: 'tcp', port: 80 });
    expect(t.dst.kind).toBe('host');
    expect(t.disposition).toBe('delivered');
    expect(t.hops[0]).toMatchObject({ kind: 'route', table: 255 });
    expect(t.warnings.find((w) => w.code === 'local-table-inferred')?.message).toMatch(/table main only/);
  });

  it('an address in this node’s pod CIDR that no captured pod holds is a local pod of unknown device, not remote', async () => {
    for (const side of [json, text]) {
      const { trace: t } = await runTrace(side, { src: '10.244.2.7', dst: '10.244.1.99', proto: 'tcp', port: 80 });
      expect(t.dst.kind).toBe('local-pod');
      expect(t.dst.node).toBeUndefined();
      expect(t.dst.because).toMatch(/this node's pod CIDR 10\.244\.1\.0\/24/);
      expect(t.disposition).toBe('unknown');
      expect(t.warnings.map((w) => w.code)).toContain('pod-device-unknown');
    }
  });
});

describe('endpoint routes, pods not captured (paste-k1/endpoint-routes)', () => {
  const er = dirSource(join(ROOT, 'endpoint-routes'));
  it('`<podIP> dev lxc…` makes the address a pod of this node behind that device', async () => {
    const { trace: t } = await runTrace(er, { src: '10.244.1.12', dst: '10.244.2.7', proto: 'tcp', port: 80 });
    expect(t.src).toMatchObject({ kind: 'local-pod', dev: 'lxc6d1e0f2a3b4c' });
    expect(t.src.netns).toBeUndefined();
    expect(t.src.because).toMatch(/per-endpoint route "10\.244\.1\.12 dev lxc6d1e0f2a3b4c scope link"/);
    expect(t.hops[0]).toMatchObject({ kind: 'bpf', dev: 'lxc6d1e0f2a3b4c', program: 'cil_from_container' });
    expect(t.dst.kind).toBe('remote-pod');
    expect(t.disposition).toBe('forwarded');
    expect(t.warnings.find((w) => w.code === 'pod-routes-missing')?.message).toMatch(/was not read/);
    const { trace: back } = await runTrace(er, { src: '10.244.2.7', dst: '10.244.1.57', proto: 'tcp', port: 80 });
    expect(back.dst).toMatchObject({ kind: 'local-pod', dev: 'lxc0a1b2c3d4e5f' });
    expect(back.disposition).toBe('delivered');
  });
});

describe('the blog-post paste: ip a, ip r, tc filter show, cilium status, cilium service list, the pods’ ip a', () => {
  // the text side less `ip rule`, plus the text service list of kind-v4-svc's Services
  const files = new Map<string, string>();
  const base = join(ROOT, 'text');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== 'ip-rule4.txt') files.set(relative(base, p), readFileSync(p, 'utf8'));
    }
  };
  walk(base);
  files.set(
    'cilium-service-list.txt',
    readFileSync(
      fileURLToPath(
        new URL('../../fixtures/tools/cilium-lb/service-list/v1.13-kind-v4-svc.from-format.txt', import.meta.url),
      ),
      'utf8',
    ),
  );
  const blog = memorySource(files, 'blog-paste');

  it('classifies this node’s pods as local, never as remote pods via cilium_host', async () => {
    for (const ip of ['10.244.1.12', '10.244.1.57']) {
      const { trace: t } = await runTrace(blog, { src: '172.18.0.3', dst: ip, proto: 'tcp', port: 80 });
      expect(t.dst.kind, ip).toBe('local-pod');
      expect(t.dst.node).toBeUndefined();
      expect(t.disposition).toBe('delivered');
    }
    const { trace: t } = await runTrace(blog, { src: '10.244.1.12', dst: '10.244.1.57', proto: 'tcp', port: 80 });
    expect(t.disposition).toBe('delivered');
  });

  it('a Service of the pasted list traces from a local pod to its backends', async () => {
    const { trace: t } = await runTrace(blog, { src: '10.244.1.12', dst: '10.96.0.10', proto: 'udp', port: 53 });
    expect(t.src).toMatchObject({ kind: 'local-pod', dev: 'lxc6d1e0f2a3b4c' });
    expect(t.dst.kind).toBe('service');
    expect(t.disposition).not.toBe('unknown');
  });
});
