import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { classifyChains, findLeftovers, reachable } from '../../src/analysis/diff-leftovers.js';
import { loadDiffSide } from '../../src/commands/diff.js';
import { dirSource } from '../../src/collect/source.js';
import { parseIptablesSave } from '../../src/tools/iptables/index.js';
import type { IptablesChain, IptablesTable } from '../../src/model/iptables.js';
import type { Evidence } from '../../src/model/types.js';

// findLeftovers sorts kube-proxy's chains in one pass (classifyChains) where it used five filters over
// them; here the one pass is compared with those filters, written out as they were, on every bundled
// iptables-save and on random chain graphs. And `check`'s call with one node as both sides reads its
// Services once: same leftovers as two distinct (equal) sides.

const PER_SERVICE = /^KUBE-(SVC|SVL|EXT|FW|XLB|SEP)-/;
function byFilters(own: IptablesChain[], live: Set<string>, hooks: Map<string, Evidence[]>) {
  const unreachable = own.filter((c) => !live.has(c.name));
  return {
    acting: own.filter((c) => live.has(c.name) && c.rules.length > 0),
    emptyHooked: own.filter((c) => live.has(c.name) && c.rules.length === 0 && hooks.has(c.name)),
    dnat: own
      .flatMap((c) =>
        live.has(c.name)
          ? c.rules.filter((r) => r.target?.name === 'DNAT' || r.target?.name === 'REJECT' || r.target?.name === 'DROP')
          : [],
      )
      .slice(0, 2),
    svcChains: own.filter((c) => PER_SERVICE.test(c.name)).length,
    deadSvc: unreachable.filter((c) => PER_SERVICE.test(c.name)).length,
  };
}

const own = (t: IptablesTable) =>
  t.chains.filter((c) => c.name.startsWith('KUBE-') && c.name !== 'KUBE-MARK-MASQ' && c.name !== 'KUBE-POSTROUTING');

function expectSame(t: IptablesTable): void {
  const { chains: live, hooks } = reachable(t);
  const o = own(t);
  expect(classifyChains(o, live, hooks)).toEqual(byFilters(o, live, hooks));
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** a random nat table in iptables-save syntax: built-in chains, KUBE-* chains, jumps, gotos, terminal targets */
function randomSave(rnd: () => number): string {
  const int = (n: number) => Math.floor(rnd() * n);
  const kinds = ['SVC', 'SEP', 'EXT', 'SVL', 'FW', 'XLB', 'MARK-MASQ', 'SERVICES', 'NODEPORTS', 'FORWARD', 'X'];
  const user = Array.from({ length: 1 + int(30) }, (_, i) => `KUBE-${kinds[int(kinds.length)]}-${i}ABC`);
  const builtin = ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'];
  const lines = ['*nat', ...builtin.map((b) => `:${b} ACCEPT [0:0]`), ...user.map((u) => `:${u} - [0:0]`)];
  const targets = ['DNAT --to-destination 10.244.1.12:80', 'REJECT', 'DROP', 'ACCEPT', 'RETURN', 'MASQUERADE'];
  for (const c of [...builtin, ...user]) {
    const n = int(5);
    for (let i = 0; i < n; i++) {
      const jump = rnd() < 0.6;
      const tgt = jump ? user[int(user.length)]! : targets[int(targets.length)]!;
      lines.push(`-A ${c} -p tcp -m tcp --dport ${1 + int(65535)} ${jump && rnd() < 0.2 ? '-g' : '-j'} ${tgt}`);
    }
  }
  lines.push('COMMIT');
  return `${lines.join('\n')}\n`;
}

const snaps = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));

describe('findLeftovers: chains sorted in one pass = the five filters', () => {
  it('on every bundled iptables-save', () => {
    let n = 0;
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name === 'iptables-save.txt' || e.name === 'ip6tables-save.txt') {
          for (const t of parseIptablesSave(readFileSync(p, 'utf8'), 'iptables-save').value.tables) expectSame(t);
          n++;
        }
      }
    };
    walk(snaps);
    expect(n).toBeGreaterThan(5);
  });

  it('on random chain graphs', () => {
    const rnd = mulberry32(0x1ef7);
    let acting = 0;
    let dead = 0;
    for (let i = 0; i < 400; i++) {
      const t = parseIptablesSave(randomSave(rnd), 'iptables-save').value.tables[0]!;
      expectSame(t);
      const { chains: live, hooks } = reachable(t);
      const r = classifyChains(own(t), live, hooks);
      acting += r.acting.length;
      dead += r.deadSvc;
    }
    // the graphs reach both kinds
    expect(acting).toBeGreaterThan(0);
    expect(dead).toBeGreaterThan(0);
  });
});

describe('findLeftovers with one node as both sides (check)', () => {
  it('gives what two equal, distinct sides give', async () => {
    let conntrack = 0;
    for (const pair of readdirSync(snaps).filter((d) => d.startsWith('migrate-')))
      for (const s of ['before', 'after-broken'].filter((x) => existsSync(join(snaps, pair, x)))) {
        const side = await loadDiffSide(dirSource(join(snaps, pair, s)), 'after', false, { requireServices: false });
        const same = JSON.stringify(findLeftovers(side, side));
        expect(same).toBe(JSON.stringify(findLeftovers({ ...side }, side)));
        if (same.includes('NATed by kube-proxy')) conntrack++;
      }
    // the conntrack leftover, the part that reads the Services, is among them
    expect(conntrack).toBeGreaterThan(0);
  }, 60_000);
});
