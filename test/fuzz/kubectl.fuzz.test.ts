import { parseKubeEndpointSlices, parseKubePod, parseKubeService } from '../../src/tools/kubectl/index.js';
import { discoverCiliumNodes } from '../../src/commands/snapshot.js';
import { SourceError } from '../../src/errors.js';
import { canonIp } from '../../src/model/addr.js';
import type { Runner } from '../../src/exec/runner.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asKubectlJson, asKubectlList } from '../helpers/kubectl.js';
import { assertNoPollution, defineFuzz, eq, inputs, ok, RUNS, SEED, type Seed } from './harness.js';

// kubectl's JSON (the Kubernetes documentation's objects, as kubectl prints them): name resolution and
// `snapshot --cluster --kubectl` read it.
const seed = (name: string, text: string): Seed => ({ name, text });
const pods = [seed('pod', asKubectlJson('pod.nginx-deployment-67d4bdd6f5-w6kd7.yaml'))];
const services = [
  seed('service v4', asKubectlJson('service.my-service.ipv4.yaml')),
  seed('service v6', asKubectlJson('service.my-service.ipv6.yaml')),
];
const slices = [seed('endpointslices', asKubectlList('endpointslice.example-abc.yaml'))];

const wrap =
  <T>(f: (t: string, p: string) => T) =>
  (t: string, p: string) => ({ value: f(t, p), warnings: [] });

defineFuzz({
  name: 'kubectl get pod -o json',
  seeds: pods,
  parse: wrap(parseKubePod),
  check: (p) => {
    for (const ip of p.ips) eq(canonIp(ip), ip, ip);
    ok(p.name.length > 0);
  },
});
defineFuzz({
  name: 'kubectl get service -o json',
  seeds: services,
  parse: wrap(parseKubeService),
  check: (s) => {
    for (const ip of s.clusterIPs) eq(canonIp(ip), ip, ip);
    for (const p of s.ports) eq(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535, true, String(p.port));
  },
});
defineFuzz({
  name: 'kubectl get endpointslices -o json',
  seeds: slices,
  parse: wrap(parseKubeEndpointSlices),
  check: (es) => {
    for (const e of es)
      if (e.port !== undefined) eq(Number.isInteger(e.port) && e.port >= 0 && e.port <= 65535, true, String(e.port));
  },
});

// `kubectl -n kube-system get pods -l k8s-app=cilium -o json`: every node and pod name that comes out becomes
// an argument of `kubectl exec`, so it must be a plain name, never something that reads as a flag.
describe('fuzz kubectl get pods (snapshot --cluster --kubectl discovery)', () => {
  const list = JSON.stringify({
    kind: 'List',
    items: ['k1', 'k2'].map((n, i) => ({
      kind: 'Pod',
      metadata: { name: `cilium-${i}abcd` },
      spec: { nodeName: n },
      status: { phase: 'Running' },
    })),
  });
  const runner =
    (stdout: string): Runner =>
    async (argv) => ({ argv, exitCode: 0, stdout, stderr: '', durationMs: 1 });
  it('returns only plain node and pod names, or one SourceError, for mutated and hostile lists', async () => {
    const one = async (text: string) => {
      let nodes: Awaited<ReturnType<typeof discoverCiliumNodes>>;
      try {
        nodes = await discoverCiliumNodes(runner(text));
      } catch (e) {
        assertNoPollution();
        if (!(e instanceof SourceError))
          throw new Error(`threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message} instead of SourceError`);
        return;
      }
      assertNoPollution();
      for (const n of nodes) {
        expect(n.name).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/);
        expect(n.prefix.slice(0, 4)).toEqual(['kubectl', '-n', 'kube-system', 'exec']);
        expect(n.prefix[4]).toMatch(/^[a-z0-9][a-z0-9.-]*$/);
        expect(n.prefix.slice(5)).toEqual(['-c', 'cilium-agent', '--']);
      }
    };
    await one(list);
    await fc.assert(
      fc.asyncProperty(inputs([{ name: 'pods', text: list }]), async (t) => one(t)),
      { numRuns: RUNS * 2, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  });
});

describe('fuzz regressions (kubectl)', () => {
  it('an EndpointSlice port of -1 is not a port, and a slice with no valid port gives no endpoint (not "all ports")', () => {
    const doc = JSON.parse(slices[0]!.text) as { items: { ports: { port: number }[] }[] };
    const good = parseKubeEndpointSlices(slices[0]!.text, 'p');
    expect(good.length).toBeGreaterThan(0);
    doc.items[0]!.ports[0]!.port = -1;
    const bad = parseKubeEndpointSlices(JSON.stringify(doc), 'p');
    expect(bad.some((e) => e.port === -1 || e.port === undefined)).toBe(false);
  });
});
