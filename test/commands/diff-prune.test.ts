import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dirSource } from '../../src/collect/source.js';
import { loadDiffSide, runDiff } from '../../src/commands/diff.js';
import { diffNodes, readOfBeforeIptables } from '../../src/analysis/diff.js';

// `diff` keeps only the chains of the before side's iptables that diffNodes reads (readOfBeforeIptables):
// the answer must be the one of the whole rulesets, on every bundled migration pair (each way, and each
// after against each before) and on perturbed copies whose before side carries portmap chains and
// kube-proxy's IPVS filter in varying shapes.

const snaps = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const PAIRS = readdirSync(snaps).filter((d) => d.startsWith('migrate-'));
const SIDES = PAIRS.flatMap((p) =>
  ['before', 'after', 'after-broken'].filter((s) => existsSync(join(snaps, p, s))).map((s) => join(snaps, p, s)),
);

/** diffNodes over the whole rulesets (no pruning) against runDiff (pruned before side): same JSON */
async function expectSame(before: string, after: string): Promise<string> {
  const b = await loadDiffSide(dirSource(before), 'before', false);
  const a = await loadDiffSide(dirSource(after), 'after', false);
  const whole = diffNodes(b, a);
  const pruned = await runDiff(dirSource(before), dirSource(after), { offload: false });
  expect(JSON.stringify(pruned.diff)).toBe(JSON.stringify(whole));
  return JSON.stringify(whole);
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

/**
 * Adds to a snapshot's iptables-save what the before side's kept chains are: portmap's CNI-DN- chains
 * (with and without DNAT, in nat and, as a decoy, in filter) and KUBE-IPVS-FILTER (with or without rules,
 * in filter and, as a decoy, in nat), each line in iptables-save's syntax.
 */
function perturb(text: string, rnd: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const add: Record<string, { chains: string[]; rules: string[] }> = {
    nat: { chains: [], rules: [] },
    filter: { chains: [], rules: [] },
  };
  const n = Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const table = rnd() < 0.8 ? 'nat' : 'filter';
    const name = `CNI-DN-${Math.floor(rnd() * 0xffffff)
      .toString(16)
      .padStart(6, '0')}fuzz`;
    add[table]!.chains.push(`:${name} - [0:0]`);
    const port = 1000 + Math.floor(rnd() * 9000);
    const m = Math.floor(rnd() * 3);
    for (let j = 0; j < m; j++)
      add[table]!.rules.push(
        rnd() < 0.7
          ? `-A ${name} -p tcp -m tcp --dport ${port + j} -j DNAT --to-destination 10.244.1.${12 + j}:${80 + j}`
          : `-A ${name} -s 10.244.1.0/24 -p tcp -m tcp --dport ${port + j} -j MARK --set-xmark 0x2000/0x2000`,
      );
  }
  if (rnd() < 0.6) {
    const table = rnd() < 0.8 ? 'filter' : 'nat';
    add[table]!.chains.push(':KUBE-IPVS-FILTER - [0:0]');
    if (rnd() < 0.7)
      add[table]!.rules.push(
        `-A KUBE-IPVS-FILTER -m set --match-set ${pick(['KUBE-CLUSTER-IP', 'KUBE-LOAD-BALANCER'])} dst,dst -j RETURN`,
        '-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT --reject-with icmp-port-unreachable',
      );
  }
  const out: string[] = [];
  let table = '';
  const lines = text.split('\n');
  const tables = new Set(lines.filter((l) => l.startsWith('*')).map((l) => l.slice(1)));
  for (const l of lines) {
    if (l.startsWith('*')) table = l.slice(1);
    if (l === 'COMMIT' && add[table]) out.push(...add[table]!.chains, ...add[table]!.rules);
    out.push(l);
  }
  for (const t of ['nat', 'filter'])
    if (!tables.has(t) && (add[t]!.chains.length || add[t]!.rules.length))
      out.push(`*${t}`, ...add[t]!.chains, ...add[t]!.rules, 'COMMIT');
  return out.join('\n');
}

describe('diff: the before side pruned to the chains diffNodes reads', () => {
  it('keeps portmap chains of nat and the IPVS filter of filter, nothing else', () => {
    expect(readOfBeforeIptables('nat', 'CNI-DN-0a1b2c')).toBe(true);
    expect(readOfBeforeIptables('filter', 'KUBE-IPVS-FILTER')).toBe(true);
    expect(readOfBeforeIptables('filter', 'CNI-DN-0a1b2c')).toBe(false);
    expect(readOfBeforeIptables('nat', 'KUBE-SERVICES')).toBe(false);
  });

  it('gives the whole rulesets’ answer on every bundled before/after combination', async () => {
    const seen = new Set<string>();
    for (const before of SIDES)
      for (const after of SIDES) {
        if (before === after) continue;
        seen.add(await expectSame(before, after));
      }
    // the combinations are not all alike: regressions, hostPort and IPVS cases among them
    expect(seen.size).toBeGreaterThan(20);
  }, 120_000);

  it('gives the whole rulesets’ answer on perturbed before sides (portmap chains, IPVS filter)', async () => {
    const rnd = mulberry32(0x9e11);
    const tmp = mkdtempSync(join(tmpdir(), 'np-df-prune-'));
    try {
      let hostport = 0;
      let ipvs = 0;
      for (let i = 0; i < 24; i++) {
        const before = SIDES[Math.floor(rnd() * SIDES.length)]!;
        const after = SIDES[Math.floor(rnd() * SIDES.length)]!;
        const dir = join(tmp, `b${i}`);
        cpSync(before, dir, { recursive: true });
        const f = join(dir, 'iptables-save.txt');
        writeFileSync(f, perturb(existsSync(f) ? readFileSync(f, 'utf8') : '', rnd));
        const json = await expectSame(dir, after);
        if (json.includes('"code":"hostport"')) hostport++;
        if (json.includes('KUBE-IPVS-FILTER')) ipvs++;
        rmSync(dir, { recursive: true, force: true });
      }
      // the perturbations reach both readers
      expect(hostport).toBeGreaterThan(0);
      expect(ipvs).toBeGreaterThan(0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});
