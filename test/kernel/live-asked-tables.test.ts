import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addNetns, canUseNetns, delNetns, largeMainNode4, sysctlIn, uniqueName } from '../helpers/netns.js';
import { DUMP_MAX, LARGE_TABLE, startKernelRoutes } from '../../src/collect/kernel-routes.js';
import { traceDefers } from '../../src/collect/flow-plan.js';
import { liveSource } from '../../src/collect/live-source.js';
import { createLiveRunner } from '../../src/exec/live.js';
import type { Runner } from '../../src/exec/runner.js';
import { runTrace } from '../../src/commands/trace.js';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

// Once the kernel answers a large main table, a table over DUMP_MAX prefixes is asked too instead of dumped, and
// the two ends' lookups are asked while the node probes run (collect/kernel-routes.ts). Both must leave every
// trace as it was: the same JSON as the trace that dumps every table below LARGE_TABLE and asks nothing early.
// Table 300 (over DUMP_MAX) holds unicast routes and a blackhole, unreachable and throw route; a rule sends
// 10.2.0.0/16 to it.

const NS = uniqueName('npE-at');

describe.skipIf(!canUseNetns())('a live trace asking its mid-sized tables equals the one that dumps them', () => {
  beforeAll(() => {
    delNetns(NS);
    addNetns(NS);
    const t300 = [
      'rule add pref 90 from 10.2.0.0/16 lookup 300',
      'route add table 300 blackhole 172.21.0.0/16',
      'route add table 300 unreachable 172.22.0.0/16',
      'route add table 300 throw 172.23.0.0/16',
    ];
    for (let i = 0; i < DUMP_MAX + 2_000; i++)
      t300.push(`route add table 300 172.20.${(i >> 8) & 255}.${i & 255}/32 via 198.51.100.3 metric ${i & 7}`);
    largeMainNode4(NS, LARGE_TABLE + 5_000, t300);
    // a router: the forwarded lookups (from 10.2.0.0/16, arriving on d0) are answered, not refused
    sysctlIn(NS, ['net.ipv4.ip_forward=1']);
  }, 300_000);

  afterAll(() => delNetns(NS));

  const trace = async (src: string, dst: string, now: boolean) => {
    const ran: string[] = [];
    const live = createLiveRunner({ prefix: ['ip', 'netns', 'exec', NS] });
    const run: Runner = (a, o) => {
      ran.push(a.join(' '));
      return live(a, o);
    };
    const source = await liveSource(run, {
      defer: traceDefers(src, dst, true),
      ...(now ? { early: (r: Runner) => startKernelRoutes(r, 4, { src, dst }) } : {}),
    });
    const out = await runTrace(source, { src, dst }, now ? {} : { dumpMax: Number.POSITIVE_INFINITY });
    return { json: JSON.stringify(out.trace), code: out.exitCode, ran };
  };

  for (const [src, dst] of [
    ['10.2.0.5', '172.20.1.7'],
    ['10.2.0.5', '10.0.1.7'],
    ['10.2.0.5', '172.23.1.1'],
    ['10.2.0.5', '172.21.1.1'],
    ['10.2.0.5', '172.22.1.1'],
    ['198.51.100.1', '172.20.0.9'],
    ['10.1.2.3', '10.0.2.9'],
  ] as const) {
    it(`${src} → ${dst}`, async () => {
      const a = await trace(src, dst, true);
      const b = await trace(src, dst, false);
      // a route of the asked table is the kernel's answer, and says so; everything else is the same
      const fromKernel = /"probe":"ip-route-get","text":"([^"]* table 300\b[^"]*)"/g;
      expect(a.json.replace(fromKernel, '"probe":"ip-route4","text":"$1"')).toBe(b.json);
      if (src === '10.2.0.5' && dst.startsWith('172.20.')) expect(a.json).toMatch(fromKernel);
      expect(a.json).not.toContain('kernel-routes-fallback');
      expect(a.code).toBe(b.code);
      // the new plan asks table 300 and the old one dumps it; a refused answer that may come from it (blackhole,
      // unreachable) has the new plan dump it after all, and not read every table
      const refused = dst.startsWith('172.21.') || dst.startsWith('172.22.');
      expect(a.ran.filter((c) => c.includes('route show table 300'))).toHaveLength(refused ? 1 : 0);
      expect(b.ran.filter((c) => c.includes('route show table 300'))).toHaveLength(1);
      expect(a.ran.filter((c) => c.includes('route show table all'))).toEqual([]);
    });
  }
});
