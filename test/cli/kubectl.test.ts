import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../../src/exec/runner.js';
import { asKubectlJson, asKubectlList, fakeKubectl } from '../helpers/kubectl.js';
import { runCli } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
const SVC = join(root, 'fixtures/snapshots/kind-v4-svc/k1');
const V6A = join(root, 'fixtures/snapshots/v6-wg/node-a');
const POD = 'nginx-deployment-67d4bdd6f5-w6kd7';

const run = runCli;

const cluster = () =>
  fakeKubectl({
    [`pod/${POD}`]: asKubectlJson('pod.nginx-deployment-67d4bdd6f5-w6kd7.yaml'),
    'service/my-service': asKubectlJson('service.my-service.ipv4.yaml'),
    'endpointslices/my-service': asKubectlList('endpointslice.example-abc.yaml'),
  });

type J = {
  flow: unknown;
  hops: unknown[];
  disposition: string;
  dst: { pod?: string; service?: string };
  warnings: { code: string; message: string }[];
};

describe('names resolved through kubectl', () => {
  it('a pod name traces exactly as its address does, and says what it resolved', async () => {
    const kubectl = cluster();
    const named = JSON.parse(
      (await run(['trace', '10.244.1.12', `default/${POD}`, '--port', '80', '-s', K1, '--json'], { kubectl })).out,
    ) as J;
    const byIp = JSON.parse(
      (await run(['trace', '10.244.1.12', '10.88.0.3', '--port', '80', '-s', K1, '--json'])).out,
    ) as J;
    expect(kubectl.calls).toEqual([['kubectl', '-n', 'default', 'get', 'pod', POD, '-o', 'json']]);
    expect(named.flow).toEqual(byIp.flow);
    expect(named.hops).toEqual(byIp.hops);
    expect(named.disposition).toBe(byIp.disposition);
    expect(named.dst.pod).toBe(`default/${POD}`);
    expect(named.warnings[0]).toEqual({
      code: 'name-resolved',
      message: `destination pod default/${POD} is 10.88.0.3 (also 2001:db8::1), from kubectl`,
      source: `kubectl -n default get pod ${POD} -o json`,
    });
    expect(named.warnings.slice(1)).toEqual(byIp.warnings);
  });

  it('picks the dual-stack pod address of the source family, and passes --context / --namespace through', async () => {
    const kubectl = cluster();
    const r = await run(
      ['trace', '2001:db8:42::a:5', `pod/${POD}`, '-n', 'default', '--context', 'kind-kind', '-s', V6A, '--json'],
      { kubectl },
    );
    expect(kubectl.calls).toEqual([
      ['kubectl', '--context=kind-kind', '-n', 'default', 'get', 'pod', POD, '-o', 'json'],
    ]);
    expect((JSON.parse(r.out) as { flow: { dst: string } }).flow.dst).toBe('2001:db8::1');
  });

  it("a Service name traces to its ClusterIP on the Service's only port", async () => {
    const kubectl = cluster();
    const r = await run(['trace', '10.244.1.12', 'svc/default/my-service', '-s', K1, '--json'], { kubectl });
    const j = JSON.parse(r.out) as J & { flow: { dst: string; dport: number; proto: string } };
    expect(kubectl.calls).toEqual([['kubectl', '-n', 'default', 'get', 'service', 'my-service', '-o', 'json']]);
    expect(j.flow).toMatchObject({ dst: '10.0.217.164', dport: 80, proto: 'tcp' });
    expect(j.dst.service).toBe('default/my-service');
    const byIp = JSON.parse(
      (await run(['trace', '10.244.1.12', '10.0.217.164', '--port', '80', '-s', K1, '--json'])).out,
    ) as J;
    expect(j.hops).toEqual(byIp.hops);
  });

  it('names the node state knows (Cilium endpoints) need no kubectl', async () => {
    const kubectl = cluster();
    const r = await run(['trace', 'default/web-k1a', 'default/web-k1b', '-s', K1, '--json'], { kubectl });
    expect(kubectl.calls).toEqual([]);
    expect((JSON.parse(r.out) as { flow: unknown }).flow).toEqual({
      src: '10.244.1.12',
      dst: '10.244.1.57',
      proto: 'tcp',
    });
  });

  it('svc lookup of a Service the node state cannot name asks the API, and says the node does not program it', async () => {
    const kubectl = cluster();
    const r = await run(['svc', 'lookup', 'default/my-service', '-s', SVC, '--json'], { kubectl });
    expect(r.code).toBe(1);
    expect(kubectl.calls).toEqual([
      ['kubectl', '-n', 'default', 'get', 'service', 'my-service', '-o', 'json'],
      [
        'kubectl',
        '-n',
        'default',
        'get',
        'endpointslices',
        '--selector=kubernetes.io/service-name=my-service',
        '-o',
        'json',
      ],
    ]);
    const w = (JSON.parse(r.out) as J).warnings.map((x) => `${x.code}: ${x.message}`);
    expect(w).toContain(
      'name-resolved: default/my-service is 10.0.217.164:80/TCP (from kubectl; the node state does not name it)',
    );
    expect(w).toContain(
      'not-programmed: the API has service default/my-service, but no Service source on this node programs 10.0.217.164:80/TCP',
    );
  });

  it('without kubectl, or with kubectl failing: one line naming kubectl, exit 3', async () => {
    const missing: Runner = async (argv) => ({
      argv,
      exitCode: -1,
      stdout: '',
      stderr: '',
      durationMs: 0,
      failed: 'ENOENT',
      message: 'kubectl: not installed',
    });
    const r = await run(['trace', '10.244.1.12', `default/${POD}`, '-s', K1], { kubectl: missing });
    expect(r).toEqual({
      code: 3,
      out: '',
      err: `netpath: kubectl: not installed (needed to resolve pod default/${POD})\n`,
    });
    const none = await run(['trace', '10.244.1.12', `default/${POD}`, '-s', K1]);
    expect(none.code).toBe(3);
    expect(none.err).toMatch(/^netpath: kubectl: not available in this build/);
  });

  it('bad names, namespaces and contexts are usage errors before kubectl runs', async () => {
    const kubectl = cluster();
    for (const argv of [
      ['trace', '10.244.1.12', 'default/-o=yaml', '-s', K1],
      ['trace', '10.244.1.12', 'svc/default/My', '-s', K1],
      ['trace', '10.244.1.12', 'pod/x', '-n', '--kubeconfig=/x', '-s', K1],
      ['trace', '10.244.1.12', 'pod/x', '-n', 'Prod', '-s', K1],
      ['trace', '10.244.1.12', 'pod/x', '--context', '-x', '-s', K1],
      ['svc', 'lookup', 'default/my-service', '--context', 'a b', '-s', SVC],
    ]) {
      const r = await run(argv, { kubectl });
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err.trim().split('\n').length, argv.join(' ')).toBeLessThanOrEqual(2);
    }
    expect(kubectl.calls).toEqual([]);
  });
});
