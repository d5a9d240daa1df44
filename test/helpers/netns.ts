import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** True when this process can build network namespaces (root with iproute2), as in CI. */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.status === 0;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Runs ip with the given argv in a namespace (test set-up only, never from netpath itself). */
export function ipIn(ns: string, args: string[], input?: string): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8', input, maxBuffer: 512 * 1024 * 1024 });
}

/** `ip -force -batch -` in a namespace: stdout, plus the line numbers that failed with their message. */
export function ipBatch(
  ns: string,
  lines: string[],
  json = false,
  family?: 4 | 6,
): { stdout: string; failed: Map<number, string> } {
  const r = spawnSync(
    'ip',
    ['-n', ns, ...(family ? [`-${family}`] : []), ...(json ? ['-j'] : []), '-force', '-batch', '-'],
    {
      input: lines.join('\n') + '\n',
      encoding: 'utf8',
      maxBuffer: 512 * 1024 * 1024,
    },
  );
  const failed = new Map<number, string>();
  let msg: string[] = [];
  for (const l of (r.stderr ?? '').split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(l);
    if (m) {
      failed.set(Number(m[1]), msg.join(' ').trim());
      msg = [];
    } else if (l.trim() !== '') msg.push(l.trim());
  }
  return { stdout: r.stdout ?? '', failed };
}

export function addNetns(...names: string[]): void {
  for (const n of names) execFileSync('ip', ['netns', 'add', n]);
}

/**
 * A namespace node with a large IPv4 main table for the live-trace tests: lo and a veth pair d0/p0 up, d0 at
 * 198.51.100.1/24 with a default route, a rule sending 10.1.0.0/16 to table 100 (default via .9), and `mainRoutes`
 * /32 routes 10.x.y.z via 198.51.100.2 in main. `extra` lines go in the same IPv4 batch. Throws if any line fails.
 */
export function largeMainNode4(ns: string, mainRoutes: number, extra: string[] = []): void {
  ipIn(ns, ['link', 'set', 'lo', 'up']);
  ipIn(ns, ['link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'p0']);
  ipIn(ns, ['link', 'set', 'd0', 'up']);
  ipIn(ns, ['link', 'set', 'p0', 'up']);
  const l4 = [
    'addr add 198.51.100.1/24 dev d0',
    'route add default via 198.51.100.254 dev d0',
    'rule add pref 100 from 10.1.0.0/16 lookup 100',
    'route add table 100 default via 198.51.100.9 dev d0',
  ];
  for (let i = 0; i < mainRoutes; i++)
    l4.push(`route add 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32 via 198.51.100.2`);
  const { failed } = ipBatch(ns, [...l4, ...extra], false, 4);
  if (failed.size > 0)
    throw new Error(`${ns}: ${failed.size} IPv4 batch lines failed, e.g. ${[...failed.values()][0]}`);
}

export function sysctlIn(ns: string, settings: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', ...settings]);
}

/** Forwarding on and rp_filter off, so input lookups (`iif d0`) answer like a router's. */
export const ROUTER_SYSCTLS = [
  'net.ipv4.ip_forward=1',
  'net.ipv6.conf.all.forwarding=1',
  'net.ipv4.conf.all.rp_filter=0',
  'net.ipv4.conf.default.rp_filter=0',
];

/**
 * The route tests' node: lo up, `sysctls` set, then each of `devs` a veth whose peer p0, p1, … lives in `peer`,
 * both ends up (the peers only give the devices a carrier).
 */
export function vethNode(ns: string, peer: string, devs: string[], sysctls: string[]): void {
  ipIn(ns, ['link', 'set', 'lo', 'up']);
  sysctlIn(ns, sysctls);
  for (const [i, d] of devs.entries()) {
    ipIn(ns, ['link', 'add', d, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', peer]);
    ipIn(ns, ['link', 'set', d, 'up']);
    ipIn(peer, ['link', 'set', `p${i}`, 'up']);
  }
}

export function delNetns(...names: string[]): void {
  for (const n of names) spawnSync('ip', ['netns', 'del', n]);
}

/**
 * Tests that load BPF programs or links change machine-wide state that `bpftool prog|link show` report in
 * every namespace; tests that compare two captures of that state take this lock so they never interleave.
 */
const LOCK = '/tmp/netpath-test-global-bpf.lock';
export async function acquireBpfLock(timeoutMs = 180_000): Promise<void> {
  const { mkdirSync, writeFileSync, readFileSync, rmSync } = await import('node:fs');
  const start = Date.now();
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(`${LOCK}/pid`, String(process.pid));
      return;
    } catch {
      let holder = NaN;
      try {
        holder = Number(readFileSync(`${LOCK}/pid`, 'utf8'));
      } catch {
        /* being created */
      }
      let alive = true;
      if (Number.isInteger(holder)) {
        try {
          process.kill(holder, 0);
        } catch {
          alive = false;
        }
      }
      if (!alive) rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${LOCK}`);
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
}
export function releaseBpfLock(): void {
  spawnSync('rm', ['-rf', LOCK]);
}
