import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { traceJsonSchema } from '../../src/render/json.js';
import { runCli } from '../helpers/cli.js';

const fx = (p: string) => fileURLToPath(new URL(`../../fixtures/snapshots/${p}`, import.meta.url));

const run = runCli;

describe('netpath trace --explain', () => {
  const argv = ['trace', '10.244.1.12', '10.244.2.7', '--port', '8080', '-s', fx('kind-v4/k1')];

  it('text: each hop says what, why, and the commands to confirm it', async () => {
    const r = await run([...argv, '--explain']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ {3}what bpf_fib_lookup\(\): /m);
    expect(r.out).toMatch(/^ {3}why {2}BPF host routing is on \(cilium-status: Host Routing: BPF\)/m);
    expect(r.out).toContain(
      '   $ ip route get 10.244.2.7 from 10.244.1.12 iif lxc6d1e0f2a3b4c ipproto tcp dport 8080\n',
    );
    const plain = await run(argv);
    expect(plain.out).not.toMatch(/^ {3}what /m);
  });

  it('json: an optional explain object per hop, in the contract schema', async () => {
    const r = await run([...argv, '--explain', '--json']);
    const j = traceJsonSchema.parse(JSON.parse(r.out));
    for (const h of j.hops) expect(h.explain?.confirm.length).toBeGreaterThan(0);
    const plain = traceJsonSchema.parse(JSON.parse((await run([...argv, '-o', 'json'])).out));
    expect(plain.hops.some((h) => h.explain !== undefined)).toBe(false);
  });

  it('cluster: every leg is explained', async () => {
    const r = await run([
      'trace',
      '2001:db8:42::a:5',
      '2001:db8:42::c:9',
      '--port',
      '443',
      '--cluster',
      fx('v6-wg'),
      '--explain',
      '--json',
    ]);
    const j = JSON.parse(r.out) as { legs: { trace: unknown }[] };
    expect(j.legs).toHaveLength(3);
    for (const l of j.legs) for (const h of traceJsonSchema.parse(l.trace).hops) expect(h.explain).toBeDefined();
  });
});
