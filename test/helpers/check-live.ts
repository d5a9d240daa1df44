import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CheckReport } from '../../src/model/check.js';
import { checkJsonSchema } from '../../src/render/check.js';
import { runCliLive } from './cli.js';

/**
 * The check labs' round: netpath's own live snapshot of namespace `ns` into `dir` (as node `node`), the Cilium
 * ConfigMap a lab has no agent for written beside it, then `check -o json` of the capture, its report validated.
 */
export async function snapshotAndCheck(
  ns: string,
  node: string,
  dir: string,
  ciliumConfig: string,
): Promise<{ code: number; report: CheckReport }> {
  const snap = await runCliLive(['snapshot', '-o', dir, '--exec', `ip netns exec ${ns}`, '--node', node]);
  expect(snap.code, snap.err).toBe(0);
  writeFileSync(join(dir, 'cilium-config.txt'), ciliumConfig);
  const r = await runCliLive(['check', '-s', dir, '-o', 'json']);
  expect(r.err).not.toMatch(/internal error/);
  return { code: r.code, report: checkJsonSchema.parse(JSON.parse(r.out)) as CheckReport };
}

/** The lab's Cilium ConfigMap: native routing, IPv4 only, kube-proxy replacement on or off; `nativeRoutingCidr`
 * also sets auto-direct-node-routes, as the check lab's node routes to the other nodes' pod CIDRs. */
export function labCiliumConfig(opts: { kpr: boolean; nativeRoutingCidr?: string }): string {
  return [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: cilium-config',
    '  namespace: kube-system',
    'data:',
    '  tunnel: disabled',
    ...(opts.nativeRoutingCidr
      ? [`  ipv4-native-routing-cidr: ${opts.nativeRoutingCidr}`, '  auto-direct-node-routes: "true"']
      : []),
    `  kube-proxy-replacement: ${opts.kpr ? '"true"' : '"false"'}`,
    '  enable-ipv4: "true"',
    '  enable-ipv6: "false"',
    '',
  ].join('\n');
}
