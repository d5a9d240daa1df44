import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';

const snap = (p: string) => fileURLToPath(new URL(`../../fixtures/snapshots/${p}`, import.meta.url));

describe('the result line names where the packet leaves the node', () => {
  it('an on-link last route: towards the destination, not the pod default route gateway', async () => {
    // encap lab, wg-node: the pod's default route goes via 10.77.3.1; the node reaches 192.168.77.3 on-link
    const r = await runCli(['trace', '10.77.3.10', '192.168.77.3', '-s', snap('encap/wg-node')]);
    expect(r.out).toMatch(/result: FORWARDED — leaves this node towards 192\.168\.77\.3 \(on-link\)/);
    expect(r.out).not.toMatch(/towards 10\.77\.3\.1/);
  });

  it('a gateway route: towards the gateway', async () => {
    const r = await runCli(['trace', '10.244.1.12', '203.0.113.9', '-s', snap('kind-v4/k1')]);
    expect(r.out).toMatch(/result: FORWARDED — leaves this node towards 172\.18\.0\.1\n/);
  });
});

describe('tunnel mode, host to a remote pod', () => {
  it('a route that bypasses cilium_host is followed, and the trace says the tunnel is not on it', async () => {
    const r = await runCli(['trace', '192.168.77.2', '10.77.2.20', '-s', snap('encap/tunnel-node'), '--json']);
    const t = JSON.parse(r.out) as { warnings: { code: string; message: string }[] };
    const w = t.warnings.find((x) => x.code === 'tunnel-host-path-unknown');
    expect(w?.message).toMatch(/not to cilium_host, so Cilium's tunnel is not on this path/);
  });
});
