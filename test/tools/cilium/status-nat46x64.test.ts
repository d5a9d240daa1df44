import { describe, expect, it } from 'vitest';
import { parseCiliumStatus } from '../../../src/tools/cilium/status.js';

// `cilium-dbg status --verbose` piped through awk from its NAT46/64 line, as published in
// netops2devops/netops2devops.github.io content/posts/cilium-nat64.md (a standalone NAT46x64 gateway); the
// `KubeProxyReplacement Details:` header those lines sit under is the one line added here.
const ENABLED = `KubeProxyReplacement Details:
  NAT46/64 Support:
  - Services:         Enabled
  - Gateway:          Enabled
    Prefixes:         64:ff9b::/96
  XDP Acceleration:   Disabled
  Services:
  - ClusterIP:      Enabled
  - NodePort:       Enabled (Range: 30000-32767)
  - LoadBalancer:   Enabled
  - externalIPs:    Enabled
  - HostPort:       Disabled
`;

describe('NAT46/64 Support in the status', () => {
  it('the block form: Services on its own line, not confused with the Services list below', () => {
    const s = parseCiliumStatus(ENABLED, 'cilium-status').value;
    expect(s.nat46x64Services).toMatchObject({ enabled: true, source: { text: '- Services:         Enabled' } });
    const off = ENABLED.replace('- Services:         Enabled', '- Services:         Disabled');
    expect(parseCiliumStatus(off, 'cilium-status').value.nat46x64Services?.enabled).toBe(false);
  });

  it('the one-line form', () => {
    const s = parseCiliumStatus('KubeProxyReplacement Details:\n  NAT46/64 Support:       Disabled\n', 'cilium-status');
    expect(s.value.nat46x64Services?.enabled).toBe(false);
  });

  it('absent: nothing is claimed', () => {
    const s = parseCiliumStatus('KubeProxyReplacement Details:\n  Socket LB:              Enabled\n', 'cilium-status');
    expect(s.value.nat46x64Services).toBeUndefined();
  });
});
