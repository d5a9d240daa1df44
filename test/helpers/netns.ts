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

export function sysctlIn(ns: string, settings: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', ...settings]);
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
