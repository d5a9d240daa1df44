import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext, traceFlow } from '../../src/analysis/trace.js';
import { parseCiliumStatus } from '../../src/tools/cilium/index.js';
import { parseIpRoute } from '../../src/tools/ip/index.js';
import { ciliumRuleHoldsAt } from '../../src/model/cilium-rules.js';
import type { NodeState } from '../../src/model/types.js';
import type { Flow, Trace } from '../../src/model/trace.js';
import { withConfig } from '../helpers/state.js';

// Legacy routing with endpoint routes, netkit, FIB-local and plain forwarding into a pod, on the bundled kind-v4 node
// k1 (a real capture) whose status and config are changed in memory to select the version and mode.
const K1 = fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url));
const k1 = () => loadNodeState(dirSource(K1));
const STATUS = readFileSync(`${K1}/cilium-status.txt`, 'utf8');
const flow = (src: string, dst: string): Flow => ({ src, dst, proto: 'tcp', dport: 80 });
const trace = (s: NodeState, f: Flow): Trace => traceFlow(createTraceContext(s), f);

/** k1's status with its lines replaced (`Host Routing: Legacy`, another version, more devices). */
function status(s: NodeState, edit: (text: string) => string): NodeState {
  s.cilium.status = parseCiliumStatus(edit(STATUS), 'cilium-status').value;
  return s;
}
const legacy = (t: string) => t.replace(/^Host Routing:.*$/m, 'Host Routing:            Legacy');
const version = (v: string) => (t: string) =>
  t.replace(/^Cilium:.*$/m, `Cilium:                  Ok   ${v} (v${v}-0123abcd)`);
// a second native device: no ENABLE_SKIP_FIB, so bpf_fib_lookup runs
const twoDevices = (t: string) =>
  t
    .replace(/^KubeProxyReplacement:.*$/m, 'KubeProxyReplacement:    Strict   [eth0 172.18.0.2 (Direct Routing), eth1]')
    .replace(/^ {2}Devices:.*$/m, '  Devices:                eth0 172.18.0.2 (Direct Routing), eth1');
const POD_A = '10.244.1.12'; // default/web-k1a on lxc6d1e0f2a3b4c
const POD_B = '10.244.1.57'; // default/web-k1b on lxc0a1b2c3d4e5f

/** Cilium's per-endpoint route for POD_B, as `ip route` prints it. */
function endpointRoute(s: NodeState): NodeState {
  s.routes.push(...parseIpRoute(`${POD_B} dev lxc0a1b2c3d4e5f scope link\n`, 'ip-route4', 4).value);
  return s;
}

describe('legacy host routing and per-endpoint routes (pod → local pod)', () => {
  it('with endpoint routes the packet goes to the stack: route podIP dev lxc, FORWARD, then delivered', async () => {
    const s = endpointRoute(withConfig(status(await k1(), legacy), { 'enable-endpoint-routes': 'true' }));
    const t = trace(s, flow(POD_A, POD_B));
    // k1 was captured with BPF host routing: no cil_to_container on the lxc egress, which the trace points out
    expect(t.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'stack', 'route', 'netfilter', 'deliver']);
    expect(t.hops[2]).toMatchObject({ why: 'legacy-host-routing', ciliumRules: ['legacy-endpoint-routes-to-stack'] });
    expect(t.hops[2]!.inferred).toBeUndefined();
    expect(t.hops[3]).toMatchObject({
      lookup: 'input',
      iif: 'lxc6d1e0f2a3b4c',
      dev: 'lxc0a1b2c3d4e5f',
      result: 'unicast',
    });
    expect(t.hops[4]).toMatchObject({ hooks: ['PREROUTING', 'FORWARD', 'POSTROUTING'] });
    expect(t.hops[5]).toMatchObject({ target: 'pod', address: POD_B, dev: 'lxc0a1b2c3d4e5f' });
    expect(t.warnings.find((w) => w.code === 'no-cilium-program')!.message).toMatch(
      /no cil_to_container on lxc0a1b2c3d4e5f egress/,
    );
    expect(t.hops.some((h) => h.kind === 'redirect' || h.kind === 'redirect_peer')).toBe(false);
    expect(t.disposition).toBe('delivered');
  });

  it('without endpoint routes (ENABLE_ROUTING) local delivery is a plain bpf_redirect, named by its rule', async () => {
    const s = withConfig(status(await k1(), legacy), { 'enable-endpoint-routes': 'false' });
    const t = trace(s, flow(POD_A, POD_B));
    const r = t.hops.find((h) => h.kind === 'redirect')!;
    expect(r).toMatchObject({ why: 'legacy-host-routing', ciliumRules: ['legacy-routing-local-redirect'] });
    expect(r.inferred).toBeUndefined();
  });

  it('without the config key, the routing table decides, and the hop says it was inferred from it', async () => {
    const off = trace(withConfig(status(await k1(), legacy), { tunnel: 'disabled' }), flow(POD_A, POD_B));
    const r = off.hops.find((h) => h.kind === 'redirect')!;
    expect(r).toMatchObject({ inferred: true });
    expect(r.because).toMatch(/through cilium_host, not lxc0a1b2c3d4e5f, so endpoint routes are taken as off/);

    const on = trace(endpointRoute(withConfig(status(await k1(), legacy), { tunnel: 'disabled' })), flow(POD_A, POD_B));
    expect(on.hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'stack', 'route', 'netfilter', 'deliver']);
    expect(on.hops[2]).toMatchObject({ inferred: true, ciliumRules: ['legacy-endpoint-routes-to-stack'] });
    expect(on.hops[2]!.because).toMatch(/a per-endpoint route/);
  });

  it('with BPF host routing, endpoint routes do not matter: redirect_peer', async () => {
    const s = endpointRoute(withConfig(await k1(), { 'enable-endpoint-routes': 'true' }));
    expect(trace(s, flow(POD_A, POD_B)).hops.map((h) => h.kind)).toEqual(['route', 'bpf', 'redirect_peer', 'deliver']);
  });
});

describe('netkit: a native device delivers with bpf_redirect_peer', () => {
  const netkit = (t: string) =>
    version('1.16.5')(t).replace(/^(Host Routing:.*)$/m, '$1\nDevice Mode:             netkit');

  it('outside → local pod on netkit with BPF host routing is redirect_peer, naming the rule', async () => {
    const t = trace(status(await k1(), netkit), flow('172.18.0.1', POD_A));
    const last2 = t.hops.slice(-2);
    expect(last2.map((h) => h.kind)).toEqual(['redirect_peer', 'deliver']);
    expect(last2[0]).toMatchObject({ dev: 'lxc6d1e0f2a3b4c', ciliumRules: ['netkit-netdev-redirect-peer'] });
    expect(t.disposition).toBe('delivered');
  });

  it('pod → local pod on netkit stays a plain redirect (bpf_lxc runs with ingress ifindex 0)', async () => {
    const t = trace(status(await k1(), netkit), flow(POD_A, POD_B));
    expect(t.hops.find((h) => h.kind === 'redirect')).toMatchObject({ why: 'netkit' });
  });
});

describe('the FIB answers local for an address that is not an endpoint', () => {
  async function localAddr(edit: (t: string) => string): Promise<Trace> {
    const s = status(await k1(), edit);
    s.routes.push(
      ...parseIpRoute('local 198.51.100.7 dev eth0 table local proto kernel scope host\n', 'ip-route4', 4).value,
    );
    return trace(s, flow(POD_A, '198.51.100.7'));
  }

  it('Cilium 1.17 drops it with DROP_NO_FIB', async () => {
    const t = await localAddr((x) => twoDevices(version('1.17.8')(x)));
    expect(t.hops.at(-1)).toMatchObject({ kind: 'drop', code: 'DROP_NO_FIB', ciliumRules: ['fib-local-drop'] });
    expect(t.disposition).toBe('dropped');
  });

  it('Cilium 1.19 passes it to the stack, to a local socket', async () => {
    const t = await localAddr((x) => twoDevices(version('1.19.0')(x)));
    expect(t.hops.slice(-2).map((h) => h.kind)).toEqual(['stack', 'deliver']);
    expect(t.hops.at(-2)).toMatchObject({ why: 'fib-local', ciliumRules: ['fib-local-to-stack'] });
    expect(t.disposition).toBe('delivered');
  });

  it('Cilium 1.18 (the backport line, patch not pinned) is unknown, and says why', async () => {
    const t = await localAddr((x) => twoDevices(version('1.18.3')(x)));
    expect(t.disposition).toBe('unknown');
    const w = t.warnings.find((x) => x.code === 'fib-local-undecided')!;
    expect(w.message).toMatch(/1\.18\.3 is on the backport's line/);
  });

  it('an unknown version is unknown', async () => {
    const t = await localAddr((x) => twoDevices(x.replace(/^Cilium:.*\n/m, '')));
    expect(t.disposition).toBe('unknown');
    expect(t.warnings.find((x) => x.code === 'fib-local-undecided')!.message).toMatch(/version is unknown/);
  });

  it('Cilium 1.13 on a single-device node makes no bpf_fib_lookup (ENABLE_SKIP_FIB): unknown, the FIB hop inferred', async () => {
    const t = await localAddr((x) => x);
    const fib = t.hops.find((h) => h.kind === 'route' && h.lookup === 'bpf_fib_lookup')!;
    expect(fib).toMatchObject({ inferred: true, ciliumRules: ['bpf-skip-fib-single-device'] });
    expect(fib.because).toMatch(/ENABLE_SKIP_FIB/);
    expect(t.disposition).toBe('unknown');
  });

  it('the backport rule answers per patch only where the table pins one', () => {
    expect(ciliumRuleHoldsAt('fib-local-to-stack', '1.19.1')).toBe(true);
    expect(ciliumRuleHoldsAt('fib-local-to-stack', '1.17.8')).toBe(false);
    expect(ciliumRuleHoldsAt('fib-local-to-stack', '1.18.3')).toBe('unknown');
    expect(ciliumRuleHoldsAt('fib-local-to-stack', 'garbage')).toBe('unknown');
  });
});

describe('plain stack forwarding into a pod (no Cilium program on the devices)', () => {
  const CT = fileURLToPath(new URL('../../fixtures/snapshots/conntrack/np-ct-node', import.meta.url));

  it('a packet the kernel routes out of a pod-side veth is delivered into that pod, not forwarded', async () => {
    const s = await loadNodeState(dirSource(CT));
    const t = trace(s, flow('192.0.2.2', '198.51.100.2'));
    expect(t.disposition).toBe('delivered');
    expect(t.hops.at(-1)).toMatchObject({ kind: 'deliver', target: 'pod', address: '198.51.100.2', netns: 'np-ct-be' });
  });

  it('a node whose uplink is itself a veth (k1: eth0 leads to another namespace) still forwards out of it', async () => {
    const t = trace(await k1(), flow('172.18.0.1', '203.0.113.9'));
    expect(t.disposition).toBe('forwarded');
    expect(t.hops.some((h) => h.kind === 'deliver')).toBe(false);
  });
});
