import { afterAll, describe, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canUseNetns } from '../helpers/netns.js';
import { runLab } from '../helpers/lab.js';
import { expectTracesAgree, type EncapKernel } from '../helpers/encap.js';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 120_000 });

// scripts/lab/encap.sh built for real: a collect_md vxlan device with bpf_skb_set_tunnel_key, a cilium_wg0
// (wireguard-go) that a tc program on eth0 redirects to by a pinned ipcache-shaped map, and SNAT decided by the
// same map. The script runs in a private mount namespace of its own (netns names npwg-*, its own bpffs and
// WireGuard socket directory) and removes everything when it exits, also when a step fails.
const root = fileURLToPath(new URL('../..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'npwg-lab-'));

const canRun = (() => {
  if (!canUseNetns() || process.env.NETPATH_SKIP_LAB === '1') return false;
  const tools = ['clang', 'gcc', 'bpftool', 'nsenter', 'unshare', 'nft', 'tc', 'wg', 'wireguard-go'];
  return tools.every((t) => spawnSync('which', [t]).status === 0) && existsSync(join(root, 'dist/collect/capture.js'));
})();

describe.skipIf(!canRun)('encap lab built, counted and captured live', () => {
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("the kernel's counters and netpath's traces of the fresh capture agree", async () => {
    const r = await runLab(['bash', join(root, 'scripts/lab/encap.sh'), 'run', out], { timeoutMs: 240_000 });
    if (r.status !== 0) throw new Error(`encap.sh failed (${r.status ?? r.signal}):\n${r.tail}`);
    await expectTracesAgree(out, JSON.parse(readFileSync(join(out, 'kernel.json'), 'utf8')) as EncapKernel);
  });
});
