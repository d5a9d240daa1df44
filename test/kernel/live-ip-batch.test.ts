import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { addNetns, canUseNetns, delNetns, ipIn, uniqueName } from '../helpers/netns.js';
import { collectProbes } from '../../src/collect/live-source.js';
import { createLiveRunner } from '../../src/exec/live.js';
import type { Runner } from '../../src/exec/runner.js';
import { IP_PROBE_BATCH, IP_PROBE_BATCH_ARGV } from '../../src/exec/ip-batch-input.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

// ip-addr, ip-rule4, ip-neigh and ip-netns run as one `ip -j -force -batch -` (collect/live-source.ts
// runIpProbeBatch): every probe's file and record must be what the probe run alone gives. A namespace with
// addresses, neighbours and policy rules of both families (the batch's `rule show` takes no -4).

const NS = uniqueName('npL-ib');
const IDS = IP_PROBE_BATCH.map((b) => b.id);

describe.skipIf(!canUseNetns())('four ip probes in one batch', () => {
  beforeAll(() => {
    delNetns(NS);
    addNetns(NS);
    ipIn(
      NS,
      ['-force', '-batch', '-'],
      [
        'link set lo up',
        'link add eth0 type veth peer name eth0-p',
        // no link-local address: its DAD (tentative, then not) would differ between the two reads
        'link set eth0 addrgenmode none',
        'link set eth0-p addrgenmode none',
        'link set eth0 up',
        'link set eth0-p up',
        'addr add 192.0.2.1/24 dev eth0',
        'neigh add 192.0.2.7 lladdr 02:00:00:00:00:07 dev eth0 nud permanent',
        'rule add pref 100 from 10.1.0.0/16 lookup 100',
        'rule add pref 9 fwmark 0x200/0xf00 lookup 2004',
      ].join('\n') + '\n',
    );
    ipIn(
      NS,
      ['-6', '-force', '-batch', '-'],
      [
        'addr add 2001:db8:1::1/64 dev eth0 nodad',
        'neigh add 2001:db8:1::7 lladdr 02:00:00:00:00:17 dev eth0 nud stale',
        'rule add pref 100 from 2001:db8:77::/48 lookup 100',
      ].join('\n') + '\n',
    );
  });

  afterAll(() => delNetns(NS));

  it('writes the same files and records as the probes run one by one, with one process', async () => {
    const calls: string[] = [];
    const live = createLiveRunner({ prefix: ['ip', 'netns', 'exec', NS] });
    const batched: Runner = (a, o) => {
      calls.push(a.join(' '));
      return live(a, o);
    };
    // the same runner, but this batch is refused (as the allow-list refuses stdin it cannot vouch for)
    const alone: Runner = (a, o) =>
      a.join(' ') === IP_PROBE_BATCH_ARGV.join(' ')
        ? Promise.resolve({ argv: a, exitCode: -1, stdout: '', stderr: '', durationMs: 0, failed: 'not-allowed' })
        : live(a, o);
    const b = await collectProbes(batched);
    const a = await collectProbes(alone);
    const mine = (m: Map<string, string>) => [...m].filter(([k]) => IDS.some((id) => k.startsWith(`${id}.`))).sort();
    // ip netns list names every namespace of the machine (other tests' come and go): compared apart
    const stable = (m: Map<string, string>) => mine(m).filter(([k]) => !k.startsWith('ip-netns.'));
    expect(stable(b.files)).toEqual(stable(a.files));
    expect(stable(b.files).map(([k]) => k)).toEqual(['ip-addr.json', 'ip-neigh.json', 'ip-rule4.json']);
    expect(b.files.get('ip-netns.json') ?? '').toContain(`"name":"${NS}"`);
    expect(b.files.get('ip-rule4.json')).toContain('"src":"10.1.0.0"');
    expect(b.files.get('ip-rule4.json')).not.toContain('2001:db8:77::');
    expect(b.files.get('ip-neigh.json')).toContain('2001:db8:1::7');
    const rec = (runs: typeof a.runs) =>
      runs
        .filter((r) => IDS.includes(r.id))
        .map(({ id, exitCode, stderr, file, failed }) => ({ id, exitCode, stderr, file, failed }));
    expect(rec(b.runs)).toEqual(rec(a.runs));
    // what ran is recorded: the batch, for each of its probes
    for (const r of b.runs.filter((x) => IDS.includes(x.id))) expect(r.argv).toEqual(IP_PROBE_BATCH_ARGV);
    for (const r of a.runs.filter((x) => IDS.includes(x.id)))
      expect(r.argv).toEqual(IP_PROBE_BATCH.find((p) => p.id === r.id)!.argv);
    expect(calls.filter((c) => IP_PROBE_BATCH.some((p) => p.argv.join(' ') === c))).toEqual([]);
    expect(calls.filter((c) => c === IP_PROBE_BATCH_ARGV.join(' '))).toHaveLength(1);
  });
});
