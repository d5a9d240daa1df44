import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { runDiff } from '../../src/commands/diff.js';
import { diffJsonSchema } from '../../src/render/json.js';
import type { Diff } from '../../src/model/diff.js';

// `netpath diff` on the bundled migration pairs (scripts/lab/migrate.sh). Expectations come from each pair's
// TOPOLOGY.md services table (which layers serve each frontend in each snapshot), plus what its text says the
// diff must report.

const dir = (pair: string, snap = '') => fileURLToPath(new URL(`../../fixtures/snapshots/${pair}/${snap}`, import.meta.url));
const PAIRS = readdirSync(dir('')).filter((d) => d.startsWith('migrate-') && existsSync(`${dir(d)}/TOPOLOGY.md`));

function table(pair: string): { snaps: string[]; rows: { frontend: string; sources: Record<string, string[]> }[] } {
  const md = readFileSync(`${dir(pair)}/TOPOLOGY.md`, 'utf8');
  const body = /<!-- services-table -->\n([\s\S]*?)<!-- \/services-table -->/.exec(md)![1]!;
  const cells = (l: string) => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
  const [head, , ...lines] = body.trim().split('\n');
  const cols = cells(head!);
  const snaps = cols.slice(cols.indexOf('backends') + 1);
  const list = (c: string) => (c === '—' || c === '' ? [] : c.split(',').map((x) => x.trim()));
  return { snaps, rows: lines.map((l) => ({ frontend: cells(l)[cols.indexOf('frontend')]!.replace(/`/g, ''), sources: Object.fromEntries(snaps.map((s) => [s, list(cells(l)[cols.indexOf(s)]!)])) })) };
}

const cache = new Map<string, Promise<{ diff: Diff; exitCode: number }>>();
const diff = (pair: string, after: string) => {
  const k = `${pair}/${after}`;
  if (!cache.has(k)) cache.set(k, runDiff(dirSource(dir(pair, 'before')), dirSource(dir(pair, after))));
  return cache.get(k)!;
};

describe.each(PAIRS)('netpath diff on %s', (pair) => {
  const { snaps, rows } = table(pair);
  const afters = snaps.filter((s) => s !== 'before');
  // rows kube-proxy or Cilium served before, in the external scope (the diff compares /i through the ClusterIP)
  const served = rows.filter((r) => r.sources.before!.length > 0 && !r.frontend.endsWith('/i'));

  describe.each(afters)('before → %s', (after) => {
    const broken = after.includes('broken');

    it(`exits ${broken ? 1 : 0} and its diff is the JSON contract`, async () => {
      const { diff: d, exitCode } = await diff(pair, after);
      expect(diffJsonSchema.parse(JSON.parse(JSON.stringify(d)))).toBeTruthy();
      expect(exitCode).toBe(broken ? 1 : 0);
      expect(d.summary.verdict).toBe(broken ? 'regressions' : 'clean');
      expect(d.summary.regressions > 0).toBe(broken);
    });

    it('reports removed exactly the frontends the table says no layer serves after', async () => {
      const { diff: d } = await diff(pair, after);
      const gone = served.filter((r) => r.sources[after]!.length === 0).map((r) => r.frontend).sort();
      const removed = d.services.filter((s) => s.status === 'removed').map((s) => s.frontend).sort();
      expect(removed).toEqual(gone);
      for (const r of served) expect(d.services.some((s) => s.frontend === r.frontend), r.frontend).toBe(true);
      for (const s of d.services.filter((x) => x.status === 'removed')) expect(s.regression).toBe(true);
    });

    it('moves every frontend that stays to Cilium', async () => {
      const { diff: d } = await diff(pair, after);
      for (const s of d.services.filter((x) => x.after)) expect(s.after!.layers, s.frontend).toContain('cilium-bpf');
    });

    if (!broken) {
      it('finds no kube-proxy leftover that acts on packets (kubelet\'s own chains are not leftovers)', async () => {
        const { diff: d } = await diff(pair, after);
        expect(d.leftovers.filter((l) => l.actsOnPackets)).toEqual([]);
        expect(d.paths.flows.filter((f) => f.regression)).toEqual([]);
      });
    } else {
      it('catches what the broken migration left: leftovers that act, and every path to a lost frontend', async () => {
        const { diff: d } = await diff(pair, after);
        expect(d.leftovers.filter((l) => l.actsOnPackets).length).toBeGreaterThan(0);
        for (const l of d.leftovers.filter((x) => x.actsOnPackets)) {
          expect(l.regression).toBe(true);
          expect(l.command.length).toBeGreaterThan(0);
          expect(l.evidence.length).toBeGreaterThan(0);
        }
        const lost = new Set(d.services.filter((s) => s.status === 'removed').map((s) => s.frontend));
        for (const f of d.paths.flows.filter((x) => x.frontend && lost.has(x.frontend))) expect(f.regression, f.label).toBe(true);
      });
    }
  });
});

describe('netpath diff on migrate-iptables, as its TOPOLOGY.md describes it', () => {
  const pair = 'migrate-iptables';
  const run = PAIRS.includes(pair) ? it : it.skip;

  run('before → after: owners move to Cilium, sticky gets affinity for all traffic, socket-LB, BPF host routing and masquerade', async () => {
    const { diff: d } = await diff(pair, 'after');
    const sticky = d.services.find((s) => s.frontend === '10.96.88.30:8443/TCP')!;
    expect(sticky.changes).toEqual([expect.objectContaining({ field: 'affinity', before: 'None', after: 'ClientIP 10800s', regression: false })]);
    expect(d.services.find((s) => s.frontend === '0.0.0.0:31940/TCP')).toMatchObject({ status: 'unchanged', owner: { before: 'kube-proxy-iptables', after: 'cilium-bpf' } });
    expect(d.services.find((s) => s.frontend === '172.18.0.2:30417/TCP')!.after!.trafficPolicy).toBe('Local');
    expect(d.behaviour.map((b) => b.code).sort()).toEqual(['client-source-address', 'external-clusterip', 'host-routing', 'masquerade', 'socket-lb']);
    expect(d.leftovers).toEqual([]);
    const np = d.paths.flows.find((f) => f.category === 'nodeport-from-outside' && f.frontend === '172.18.0.2:31940/TCP')!;
    expect(np.steps.find((s) => s.change === 'replaced' && s.before?.kind === 'kube-proxy')?.after?.kind).toBe('tc-lb');
  });

  run('before → after-broken: the missing Service, the live filter chains, the dead nat chains and the stale conntrack flows', async () => {
    const { diff: d } = await diff(pair, 'after-broken');
    expect(d.services.filter((s) => s.regression).map((s) => [s.frontend, s.name])).toEqual([['10.96.88.30:8443/TCP', 'default/sticky:https']]);
    const filter = d.leftovers.find((l) => l.name === 'filter KUBE-* chains (IPv4)')!;
    expect(filter).toMatchObject({ actsOnPackets: true, frontends: ['10.96.99.40:80/TCP'] });
    const nat = d.leftovers.find((l) => l.name === 'nat KUBE-* chains (IPv4)')!;
    expect(nat.actsOnPackets).toBe(false);
    expect(nat.breaks).toMatch(/KUBE-SERVICES, KUBE-NODEPORTS are still hooked from PREROUTING, OUTPUT but empty|KUBE-SERVICES is still hooked from PREROUTING, OUTPUT but empty/);
    expect(nat.breaks).toMatch(/KUBE-POSTROUTING, hooked from POSTROUTING, still masquerades/);
    const ct = d.leftovers.find((l) => l.kind === 'conntrack')!;
    expect(ct.frontends!.sort()).toEqual(['10.96.0.1:443/TCP', '10.96.0.10:53/TCP', '10.96.0.10:53/UDP', '10.96.88.30:8443/TCP', '172.18.0.2:30417/TCP', '172.18.0.2:31940/TCP'].sort());
    expect(ct.count).toBe(6);
    // the two connections made after the switch carry no NAT and are not counted
    expect(ct.evidence.some((e) => /dst=10\.244\.1\.57 sport=\d+ dport=53 src=10\.244\.1\.57/.test(e.text))).toBe(false);
    expect(ct.breaks).toMatch(/1 of these frontends Cilium does not program/);
  });
});
