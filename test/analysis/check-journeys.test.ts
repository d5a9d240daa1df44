import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { createTraceContext } from '../../src/analysis/trace.js';
import { journeyFindings } from '../../src/analysis/check/journeys.js';
import { parseIpRule } from '../../src/tools/ip/parse-rule.js';
import type { NodeState } from '../../src/model/types.js';
import { loadServices } from '../../src/collect/load-services.js';
import { kubeProxyReader } from '../../src/analysis/kube-proxy/index.js';

// The bundled kind-v4 cluster (k1, k2, k3; pod CIDRs 10.244.{1,2,3}.0/24, native routing).
const dir = fileURLToPath(new URL('../../fixtures/snapshots/kind-v4', import.meta.url));
const nodes = async (edit?: (name: string, s: NodeState) => void) =>
  Promise.all(
    ['k1', 'k2', 'k3'].map(async (name) => {
      const state = await loadNodeState(dirSource(`${dir}/${name}`));
      edit?.(name, state);
      return { name, state, ctx: createTraceContext(state) };
    }),
  );

// Captured here with iproute2 `ip -j rule` in a namespace after `ip rule add pref 100 table local; ip rule del
// pref 0 table local; ip rule add pref 10 from 10.244.1.0/24 prohibit`: k1's pod CIDR refused before any table.
const PROHIBIT_K1_PODS =
  '[{"priority":10,"src":"10.244.1.0","srclen":24,"action":"prohibit"},{"priority":100,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]';

describe('check --cluster journeys', () => {
  it('follows every pod → remote-pod flow onto its receiving node; a clean cluster gives no finding', async () => {
    const r = journeyFindings(await nodes(), dir);
    // k1, k2, k3 each send from a pod and from the host to one address in each other node's pod CIDR (6 + 6
    // journeys), every one is delivered, and each reply is walked back (12 more)
    expect(r.followed).toBe(24);
    expect(r.enumerated).toBe(24);
    expect(r.findings).toEqual([]);
  });

  it('a drop on the receiving node is reported there, naming the flows sent from the other node', async () => {
    const r = journeyFindings(
      await nodes((name, s) => {
        if (name === 'k2') s.rules = parseIpRule(PROHIBIT_K1_PODS, 'ip-rule4', 4).value;
      }),
      dir,
    );
    // the request from k1's pod, and (now that replies are walked) the reply to k2's host from k1's cilium_host
    // 10.244.1.1, whose source the same rule refuses on k2
    expect(r.findings.map((f) => f.message.split(' (')[0]!.slice(0, 40))).toEqual([
      "flows from other nodes' pods, host or Se",
      'replies to flows of other nodes end here',
    ]);
    const f = r.findings[0]!;
    expect(f).toMatchObject({ severity: 'error', kind: 'journey-drop', node: 'k2' });
    expect(f.message).toContain('k1 → k2');
    // only k1's pod sends to k2 (k3's flow to k2 comes from 10.244.3.0/24, which the rule does not name)
    expect(f.flows.count).toBe(1);
    expect(f.flows.examples[0]).toMatchObject({ node: 'k1', flow: { src: '10.244.1.12', dst: '10.244.2.1' } });
    expect(r.findings[1]!.flows.examples).toMatchObject([
      { category: 'reply', node: 'k2', flow: { src: '10.244.1.1', dst: '172.18.0.3' } },
    ]);
  });
});

// Captured here with iproute2 `ip -4 -j rule` in a namespace (np-cf-rule) after the same local-table move and
// `ip rule add pref 10 from 10.244.2.0/24 to 10.244.1.0/24 prohibit` (k2's pods refused towards k1's), or
// `… from 172.18.0.2 prohibit` (k1's host address refused).
const PROHIBIT_K2_PODS_TO_K1_PODS =
  '[{"priority":10,"src":"10.244.2.0","srclen":24,"dst":"10.244.1.0","dstlen":24,"action":"prohibit"},{"priority":100,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]';
const PROHIBIT_FROM_K1_HOST =
  '[{"priority":10,"src":"172.18.0.2","action":"prohibit"},{"priority":100,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]';

// kind-v4-svc/k1 (kind-v4/k1 with the LB maps of 10.96.0.10:53 → 10.244.1.57:53, 10.244.2.7:53 and NodePort
// 172.18.0.2:31940 → 10.244.2.7:8080) with kind-v4's k2 and k3: a cluster whose k1 has a Service backend on k2.
const svcDirs: Record<string, string> = {
  k1: fileURLToPath(new URL('../../fixtures/snapshots/kind-v4-svc/k1', import.meta.url)),
  k2: `${dir}/k2`,
  k3: `${dir}/k3`,
};
const svcCluster = async (edit?: (name: string, s: NodeState) => void) =>
  Promise.all(
    ['k1', 'k2', 'k3'].map(async (name) => {
      const source = dirSource(svcDirs[name]!);
      const state = await loadNodeState(source);
      edit?.(name, state);
      const svc = await loadServices(source, state.addrs, kubeProxyReader);
      return { name, state, ctx: createTraceContext(state, svc.entries) };
    }),
  );

describe('check --cluster: Service, host and reply journeys', () => {
  it('a Service backend on another node is followed there (pod and host → ClusterIP via 10.244.2.7:53); all delivered', async () => {
    const r = journeyFindings(await svcCluster(), 'cluster');
    // kind-v4's 24, plus k1's pod → 10.96.0.10:53 and host → 10.96.0.10:53 pinned to the k2 backend, and their
    // replies; the local backend 10.244.1.57 and the NodePort (from outside) are no journeys
    expect(r.followed).toBe(28);
    expect(r.findings).toEqual([]);
  });

  it('a reply lost on its way back is reported where it is lost, the Service reply among the flows', async () => {
    const r = journeyFindings(
      await svcCluster((name, s) => {
        if (name === 'k2') s.rules = parseIpRule(PROHIBIT_K2_PODS_TO_K1_PODS, 'ip-rule4', 4).value;
      }),
      'cluster',
    );
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0]!;
    expect(f).toMatchObject({ severity: 'error', kind: 'journey-drop', node: 'k2' });
    expect(f.message).toContain('replies to flows of other nodes end here');
    expect(f.evidence.some((e) => e.probe === 'ip-rule4')).toBe(true);
    // the requests get through (k2's rule needs a source in its pod CIDR; the request's arrival looks the route
    // back up without one); the replies of k1's pod → 10.244.2.7 and of its Service journey via 10.244.2.7:53 do not
    expect(f.flows.examples.every((x) => x.category === 'reply' && x.node === 'k1')).toBe(true);
    expect(f.flows.examples.map((x) => x.flow)).toContainEqual({
      src: '10.244.2.7',
      dst: '10.244.1.12',
      proto: 'tcp',
      sport: 53,
      dport: 40000,
    });
    // the host's replies (to 172.18.0.2) are not in 10.244.1.0/24: not lost
    expect(f.flows.examples.some((x) => x.flow.dst === '172.18.0.2')).toBe(false);
  });

  it('a host → remote-pod journey dropped on the receiving node', async () => {
    // kind-v4: k1's host sends to 10.244.2.1 (k2's cilium_host), which k2 takes through its own routing
    const r = journeyFindings(
      await nodes((name, s) => {
        if (name === 'k2') s.rules = parseIpRule(PROHIBIT_FROM_K1_HOST, 'ip-rule4', 4).value;
      }),
      dir,
    );
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0]!;
    expect(f).toMatchObject({ severity: 'error', kind: 'journey-drop', node: 'k2' });
    expect(f.message).toContain('k1 → k2');
    expect(f.flows.count).toBe(1);
    expect(f.flows.examples[0]).toMatchObject({
      category: 'host-to-remote-pod',
      node: 'k1',
      flow: { src: '172.18.0.2', dst: '10.244.2.1' },
    });
  });
});
