import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { runDiff } from '../../src/commands/diff.js';
import { loadNodeState } from '../../src/collect/load-state.js';
import { nodeAddresses } from '../../src/analysis/diff-services.js';
import { diffJsonSchema } from '../../src/render/json.js';
import type { Diff } from '../../src/model/diff.js';

// `netpath diff` on the bundled migration pairs (scripts/lab/migrate.sh). Expectations come from each pair's
// TOPOLOGY.md services table (which layers serve each frontend in each snapshot), plus what its text says the
// diff must report.

const dir = (pair: string, snap = '') =>
  fileURLToPath(new URL(`../../fixtures/snapshots/${pair}/${snap}`, import.meta.url));
const PAIRS = readdirSync(dir('')).filter((d) => d.startsWith('migrate-') && existsSync(`${dir(d)}/TOPOLOGY.md`));

function table(pair: string): {
  snaps: string[];
  rows: { frontend: string; type: string; sources: Record<string, string[]> }[];
} {
  const md = readFileSync(`${dir(pair)}/TOPOLOGY.md`, 'utf8');
  const body = /<!-- services-table -->\n([\s\S]*?)<!-- \/services-table -->/.exec(md)![1]!;
  const cells = (l: string) =>
    l
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  const [head, , ...lines] = body.trim().split('\n');
  const cols = cells(head!);
  const snaps = cols.slice(cols.indexOf('backends') + 1);
  const list = (c: string) => (c === '—' || c === '' ? [] : c.split(',').map((x) => x.trim()));
  return {
    snaps,
    rows: lines.map((l) => ({
      frontend: cells(l)[cols.indexOf('frontend')]!.replace(/`/g, ''),
      type: cells(l)[cols.indexOf('type')]!,
      sources: Object.fromEntries(snaps.map((s) => [s, list(cells(l)[cols.indexOf(s)]!)])),
    })),
  };
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
      const nodeAddrs = new Set(nodeAddresses(await loadNodeState(dirSource(dir(pair, 'before')))).map((a) => a.local));
      // a NodePort on an address clients outside do not use (IPVS on cilium_host) is compared as `0.0.0.0:PORT`,
      // whose `reach` change names that address
      const folded = (r: { frontend: string; type: string }) =>
        r.type === 'NodePort' && !r.frontend.startsWith('0.0.0.0:') && !nodeAddrs.has(r.frontend.split(':')[0]!);
      const gone = served
        .filter((r) => r.sources[after]!.length === 0 && !folded(r))
        .map((r) => r.frontend)
        .sort();
      const removed = d.services
        .filter((s) => s.status === 'removed')
        .map((s) => s.frontend)
        .sort();
      expect(removed).toEqual(gone);
      for (const r of served) {
        if (!folded(r)) {
          expect(
            d.services.some((s) => s.frontend === r.frontend),
            r.frontend,
          ).toBe(true);
          continue;
        }
        const [addr, rest] = [r.frontend.split(':')[0]!, r.frontend.slice(r.frontend.indexOf(':') + 1)];
        const any = d.services.find((s) => s.frontend === `0.0.0.0:${rest}`)!;
        expect(any.changes.find((c) => c.field === 'reach')?.before, r.frontend).toContain(addr);
      }
      for (const s of d.services.filter((x) => x.status === 'removed')) expect(s.regression).toBe(true);
    });

    it('moves every frontend that stays to Cilium', async () => {
      const { diff: d } = await diff(pair, after);
      for (const s of d.services.filter((x) => x.after)) expect(s.after!.layers, s.frontend).toContain('cilium-bpf');
    });

    if (!broken) {
      it("finds no kube-proxy leftover that acts on packets (kubelet's own chains are not leftovers)", async () => {
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
        for (const f of d.paths.flows.filter((x) => x.frontend && lost.has(x.frontend)))
          expect(f.regression, f.label).toBe(true);
      });
    }
  });
});

describe('netpath diff on migrate-iptables, as its TOPOLOGY.md describes it', () => {
  const pair = 'migrate-iptables';
  const run = PAIRS.includes(pair) ? it : it.skip;

  run(
    'before → after: owners move to Cilium, sticky gets affinity for all traffic, socket-LB, BPF host routing and masquerade',
    async () => {
      const { diff: d } = await diff(pair, 'after');
      const sticky = d.services.find((s) => s.frontend === '10.96.88.30:8443/TCP')!;
      expect(sticky.changes).toEqual([
        expect.objectContaining({ field: 'affinity', before: 'None', after: 'ClientIP 10800s', regression: false }),
      ]);
      const any = d.services.find((s) => s.frontend === '0.0.0.0:31940/TCP')!;
      expect(any).toMatchObject({
        status: 'changed',
        regression: false,
        owner: { before: 'kube-proxy-iptables', after: 'cilium-bpf' },
      });
      expect(any.changes).toEqual([
        expect.objectContaining({ field: 'reach', before: 'every local address, from anywhere', regression: false }),
      ]);
      expect(any.changes[0]!.after).toMatch(/^from outside on 172\.18\.0\.2 only/);
      expect(d.services.find((s) => s.frontend === '172.18.0.2:31940/TCP')).toMatchObject({
        status: 'unchanged',
        owner: { before: 'kube-proxy-iptables', after: 'cilium-bpf' },
      });
      expect(d.services.find((s) => s.frontend === '172.18.0.2:30417/TCP')!.after!.trafficPolicy).toBe('Local');
      expect(d.behaviour.map((b) => b.code).sort()).toEqual([
        'client-source-address',
        'external-clusterip',
        'host-routing',
        'masquerade',
        'socket-lb',
      ]);
      expect(d.leftovers).toEqual([]);
      const np = d.paths.flows.find(
        (f) => f.category === 'nodeport-from-outside' && f.frontend === '172.18.0.2:31940/TCP',
      )!;
      expect(np.steps.find((s) => s.change === 'replaced' && s.before?.kind === 'kube-proxy')?.after?.kind).toBe(
        'tc-lb',
      );
    },
  );

  run(
    'before → after-broken: the missing Service, the live filter chains, the dead nat chains and the stale conntrack flows',
    async () => {
      const { diff: d } = await diff(pair, 'after-broken');
      expect(d.services.filter((s) => s.regression).map((s) => [s.frontend, s.name])).toEqual([
        ['10.96.88.30:8443/TCP', 'default/sticky:https'],
      ]);
      const filter = d.leftovers.find((l) => l.name === 'filter KUBE-* chains (IPv4)')!;
      expect(filter).toMatchObject({ actsOnPackets: true, frontends: ['10.96.99.40:80/TCP'] });
      const nat = d.leftovers.find((l) => l.name === 'nat KUBE-* chains (IPv4)')!;
      expect(nat.actsOnPackets).toBe(false);
      expect(nat.breaks).toMatch(
        /KUBE-SERVICES, KUBE-NODEPORTS are still hooked from PREROUTING, OUTPUT but empty|KUBE-SERVICES is still hooked from PREROUTING, OUTPUT but empty/,
      );
      expect(nat.breaks).toMatch(/KUBE-POSTROUTING, hooked from POSTROUTING, still masquerades/);
      const ct = d.leftovers.find((l) => l.kind === 'conntrack')!;
      expect(ct.frontends!.sort()).toEqual(
        [
          '10.96.0.1:443/TCP',
          '10.96.0.10:53/TCP',
          '10.96.0.10:53/UDP',
          '10.96.88.30:8443/TCP',
          '172.18.0.2:30417/TCP',
          '172.18.0.2:31940/TCP',
        ].sort(),
      );
      expect(ct.count).toBe(6);
      // the two connections made after the switch carry no NAT and are not counted
      expect(ct.evidence.some((e) => /dst=10\.244\.1\.57 sport=\d+ dport=53 src=10\.244\.1\.57/.test(e.text))).toBe(
        false,
      );
      expect(ct.breaks).toMatch(/1 of these frontends Cilium does not program/);
    },
  );
});

describe('netpath diff on migrate-nft and migrate-ipvs, as their TOPOLOGY.md describe them', () => {
  const nft = PAIRS.includes('migrate-nft') ? it : it.skip;
  const ipvs = PAIRS.includes('migrate-ipvs') ? it : it.skip;

  nft(
    'nft before → after-broken: both kube-proxy tables live, stale conntrack; kubelet chains in the iptables-nft tables are not leftovers',
    async () => {
      const { diff: d } = await diff('migrate-nft', 'after-broken');
      expect(
        d.leftovers
          .filter((l) => l.actsOnPackets)
          .map((l) => l.name)
          .sort(),
      ).toEqual(['connections still NATed by kube-proxy', 'table ip kube-proxy', 'table ip6 kube-proxy']);
      expect(d.leftovers.find((l) => l.name === 'table ip kube-proxy')!.command).toBe('nft list table ip kube-proxy');
      expect(d.services.filter((s) => s.regression)).toEqual([]);
      // the table still answers a ping to a ClusterIP with its reject: no ICMP change to report yet
      expect(d.behaviour.map((b) => b.code)).not.toContain('icmp-echo');
      const clean = (await diff('migrate-nft', 'after')).diff;
      expect(clean.behaviour.find((b) => b.code === 'icmp-echo')!.title).toBe(
        'ping to a ClusterIP no longer gets "port unreachable"',
      );
    },
  );

  ipvs(
    'ipvs before → after-broken: kube-ipvs0 with its six VIPs and local routes, the IPVS table, inert ipsets; pings still answered',
    async () => {
      const { diff: d } = await diff('migrate-ipvs', 'after-broken');
      const dev = d.leftovers.find((l) => l.kind === 'kube-ipvs0')!;
      expect(dev).toMatchObject({ actsOnPackets: true, regression: true, count: 6 });
      expect(dev.breaks).toMatch(/6 `local` routes in table local/);
      expect(dev.breaks).toMatch(/KUBE-IPVS-FILTER, which rejected new connections to their other ports, is gone/);
      expect(dev.evidence.some((e) => e.probe === 'ip-route4' && /^local 10\.96\./.test(e.text))).toBe(true);
      expect(d.leftovers.find((l) => l.kind === 'ipvs')).toMatchObject({ actsOnPackets: true, count: 11 });
      expect(d.leftovers.find((l) => l.kind === 'ipset')).toMatchObject({ actsOnPackets: false, regression: false });
      expect(d.leftovers.filter((l) => l.kind === 'iptables-chains' && l.actsOnPackets)).toEqual([]);
      expect(d.behaviour.map((b) => b.code)).not.toContain('icmp-echo');
      const clean = (await diff('migrate-ipvs', 'after')).diff;
      expect(clean.behaviour.find((b) => b.code === 'icmp-echo')!.frontends).toHaveLength(6);
      // IPVS persistence before, Cilium's affinity after: the same ClientIP 10800 s
      const sticky = clean.services.find((s) => s.frontend === '10.96.88.30:8443/TCP')!;
      expect(sticky.after!.affinity).toEqual({ enabled: true, timeoutSeconds: 10800 });
      expect(sticky.changes.filter((c) => c.regression)).toEqual([]);
    },
  );
});
