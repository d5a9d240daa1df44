import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { liveSource } from '../../src/collect/live-source.js';
import { runTrace } from '../../src/commands/trace.js';
import type { Manifest } from '../../src/collect/capture.js';
import type { RawOutput, Runner } from '../../src/exec/runner.js';

// A live trace between two addresses holds back the probes its path may not need (the other
// family's routes, pod namespaces' links and routes) and runs them when first read: the trace must
// be the one of the fully probed node, and a held-back probe must not run unless read.

const SNAPSHOTS = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));

/** Replays what the lab node answered to each argv, as its manifest recorded it. */
function replay(node: string, calls: string[]): Runner {
  const dir = join(SNAPSHOTS, node);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const byArgv = new Map(manifest.probes.map((p) => [p.argv.join(' '), p]));
  return async (argv) => {
    calls.push(argv.join(' '));
    const p = byArgv.get(argv.join(' '));
    if (!p)
      return {
        argv,
        exitCode: -1,
        stdout: '',
        stderr: '',
        durationMs: 0,
        failed: 'ENOENT',
        message: `${argv[0]}: not installed`,
      };
    const out: RawOutput = {
      argv,
      exitCode: p.exitCode,
      stdout: p.file ? readFileSync(join(dir, p.file), 'utf8') : '',
      stderr: p.stderr,
      durationMs: p.durationMs,
    };
    if (p.failed) out.failed = p.failed;
    return out;
  };
}

const defer = (id: string) => id === 'ip-route6' || /^netns\/[^/]+\/(ip-link|ip-route4|ip-route6)$/.test(id);

describe('live trace with probes held back until read', () => {
  const flows: [string, string][] = [
    ['10.244.1.12', '10.244.1.57'],
    ['10.244.1.12', '10.244.2.7'],
    ['10.244.1.12', '8.8.8.8'],
    ['172.18.0.2', '10.244.1.12'],
  ];
  for (const [src, dst] of flows) {
    it(`${src} → ${dst}: the trace of the fully probed node, without the IPv6 routes or other pods' namespaces`, async () => {
      const calls: string[] = [];
      const live = await liveSource(replay('kind-v4/k1', calls), { defer });
      const up = calls.length;
      const a = await runTrace(live, { src, dst, proto: 'tcp', port: 8080 });
      // the same node probed with nothing held back
      const b = await runTrace(await liveSource(replay('kind-v4/k1', [])), { src, dst, proto: 'tcp', port: 8080 });
      expect(a.trace).toEqual(b.trace);
      // nothing held back ran up front; what ran later is what the path read
      const later = calls.slice(up);
      expect(calls.slice(0, up).some((c) => c.includes('-6 -j -d route') && !c.includes(' -n '))).toBe(false);
      expect(calls.slice(0, up).some((c) => / -n \S+ -j -d link show/.test(c))).toBe(false);
      expect(later.some((c) => c.includes('-6 -j -d route') && !c.includes(' -n '))).toBe(false);
      const namespaces = new Set(later.map((c) => / -n (\S+) /.exec(c)?.[1]).filter(Boolean));
      expect(namespaces.size).toBeLessThanOrEqual(2);
    });
  }

  it('a held-back probe runs once, when read', async () => {
    const calls: string[] = [];
    const live = await liveSource(replay('kind-v4/k1', calls), { defer });
    const n = calls.filter((c) => c.includes('-6 -j -d route show table all') && !c.includes(' -n ')).length;
    expect(n).toBe(0);
    const r1 = await live.read('ip-route6');
    const r2 = await live.readBytes!('ip-route6');
    expect(r1?.text.length).toBeGreaterThan(10);
    expect(r2?.bytes.toString()).toBe(r1?.text);
    expect(calls.filter((c) => c.includes('-6 -j -d route show table all') && !c.includes(' -n ')).length).toBe(1);
  });
});
