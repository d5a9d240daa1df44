import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addNetns, canUseNetns, delNetns, ipBatch, largeMainNode4, uniqueName } from '../helpers/netns.js';
import { LARGE_TABLE } from '../../src/collect/kernel-routes.js';
import { createLiveRunner } from '../../src/exec/live.js';
import type { Runner } from '../../src/exec/runner.js';
import { runCli } from '../helpers/cli.js';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

// A node whose IPv4 and IPv6 main tables are both large (the kernel answers both families' lookups) and which has
// a small table 100 in each family. A live IPv4 trace reads no IPv6 route: it must not dump IPv6's small tables
// (a 9 MiB dump on the bench node), while an IPv6 trace does; both answer as the trace that reads every table.

const NS = uniqueName('np-lv');
const N = LARGE_TABLE + 5_000;

describe.skipIf(!canUseNetns())('a live trace runs only the route dumps its path reads', () => {
  beforeAll(() => {
    delNetns(NS);
    addNetns(NS);
    largeMainNode4(NS, N);
    const l6 = [
      'addr add 2001:db8:a::1/64 dev d0 nodad',
      'route add default via 2001:db8:a::fe dev d0',
      'rule add pref 100 from 2001:db8:77::/48 lookup 100',
      'route add table 100 default via 2001:db8:a::9 dev d0',
    ];
    for (let i = 0; i < N; i++)
      l6.push(`route add 2001:db8:f${(i >> 16) & 15}:${(i & 65535).toString(16)}::/64 via 2001:db8:a::2`);
    expect(ipBatch(NS, l6, false, 6).failed.size).toBe(0);
  }, 300_000);

  afterAll(() => delNetns(NS));

  const trace = async (argv: string[]) => {
    const ran: string[] = [];
    const r = await runCli(argv, {
      liveRunner: (prefix): Runner => {
        const run = createLiveRunner({ prefix });
        return (a, o) => {
          ran.push(a.join(' '));
          return run(a, o);
        };
      },
    });
    return { ...r, ran };
  };

  for (const [src, dst, other] of [
    ['198.51.100.1', '10.0.1.7', '-6'],
    ['2001:db8:a::1', '2001:db8:f0:107::1', '-4'],
  ] as const) {
    it(`${src} → ${dst}: the kernel answers, no ${other} route dump runs, same trace as reading every table`, async () => {
      const base = ['trace', src, dst, '--exec', `ip netns exec ${NS}`, '--json'];
      const a = await trace(base);
      const b = await trace([...base, '--no-kernel-routes']);
      expect(a.code, a.err).toBe(b.code);
      expect(a.out).toContain('ip route get fibmatch');
      const ta = JSON.parse(a.out);
      const tb = JSON.parse(b.out);
      expect(ta.warnings.map((w: { code: string }) => w.code)).not.toContain('kernel-routes-fallback');
      expect(ta.disposition).toBe(tb.disposition);
      expect(ta.hops.length).toBe(tb.hops.length);
      const own = other === '-6' ? '-4' : '-6';
      // the flow's family: its small tables dumped, the large one asked
      expect(a.ran.some((c) => c.startsWith(`ip ${own} -j -d route show table 100`))).toBe(true);
      expect(a.ran.filter((c) => c.startsWith(`ip ${other} -j -d route show`))).toEqual([]);
    });
  }
});
