import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dumpTables, planKernelRoutes, startKernelRoutes } from '../../src/collect/kernel-routes.js';
import { isAllowed } from '../../src/exec/allowlist.js';
import type { Runner } from '../../src/exec/runner.js';

// fixtures/tools/ip/table-dumps: one run of fixtures/tools/ip/lab/capture-table-dumps.sh: the node's counters
// (main holds 50,013 prefixes: the kernel answers it) and its small tables dumped one by one
const fx = (f: string) => readFileSync(new URL(`../../fixtures/tools/ip/table-dumps/${f}`, import.meta.url), 'utf8');

/** Answers each allow-listed command with what it printed on the captured node; records every argv. */
function replay(): Runner & { calls: string[] } {
  const calls: string[] = [];
  const run = async (argv: readonly string[]) => {
    if (!isAllowed(argv)) throw new Error(`not allowed: ${argv.join(' ')}`);
    calls.push(argv.join(' '));
    const file =
      argv[0] === 'cat' ? argv[1]!.slice('/proc/net/'.length) + '.txt' : `ip-route${argv[1]![1]}.table-${argv[7]}.json`;
    return { argv, exitCode: 0, stdout: fx(file), stderr: '', durationMs: 0 };
  };
  return Object.assign(run, { calls });
}

describe('a live trace starts its kernel-route reads with the node probes', () => {
  it('IPv4: the counters and the small tables are read once, early, and the trace takes them as it would read them', async () => {
    const run = replay();
    startKernelRoutes(run, 4);
    // before the trace asks (the node probes are still running), everything it will read has started
    await new Promise((r) => setTimeout(r, 20));
    const started = [...run.calls].sort();
    const plan = await planKernelRoutes(run, []);
    expect([...plan!.askedTables[4]]).toEqual([254]);
    expect(plan!.dumped[4]).toEqual([100, 200, 255]);
    const text = await dumpTables(run, 4, plan!.dumped[4]);
    expect(run.calls.sort()).toEqual(started);
    expect(started).toEqual([
      'cat /proc/net/fib_triestat',
      'cat /proc/net/rt6_stats',
      'ip -4 -j -d route show table 100',
      'ip -4 -j -d route show table 200',
      'ip -4 -j -d route show table local',
    ]);
    // the same as a trace that started nothing early
    const cold = replay();
    expect(await planKernelRoutes(cold, [])).toEqual(plan);
    expect(await dumpTables(cold, 4, plan!.dumped[4])).toBe(text);
    expect(typeof text === 'string' && JSON.parse(text).length).toBeGreaterThan(10);
    // taken once: a later trace with the same runner reads again
    await planKernelRoutes(run, []);
    await dumpTables(run, 4, plan!.dumped[4]);
    expect(run.calls).toHaveLength(10);
  });

  it('IPv6 starts the counters only (its plan needs the rules); other tables than the early ones are read', async () => {
    const run = replay();
    startKernelRoutes(run, 6);
    const plan = await planKernelRoutes(run, []);
    expect(run.calls.sort()).toEqual(['cat /proc/net/fib_triestat', 'cat /proc/net/rt6_stats']);
    expect(plan!.asked.has(6)).toBe(false);
    const four = replay();
    startKernelRoutes(four, 4);
    await dumpTables(four, 4, [255]);
    await new Promise((r) => setTimeout(r, 10));
    expect(four.calls.filter((c) => c.startsWith('ip ')).sort()).toEqual([
      'ip -4 -j -d route show table 100',
      'ip -4 -j -d route show table 200',
      'ip -4 -j -d route show table local',
      'ip -4 -j -d route show table local',
    ]);
  });
});
