import { describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeTarGz } from '../../src/collect/tar-write.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../../src/exec/runner.js';
import { NODE_PROBES, netnsProbes, tcFilterProbes } from '../../src/collect/probes.js';
import { diffJsonSchema } from '../../src/render/json.js';
import { runCli } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
const K1SVC = join(root, 'fixtures/snapshots/kind-v4-svc/k1');
const IPTABLES = join(
  root,
  'fixtures/tools/kube-proxy/iptables-save/iptables-save.kubeproxy-iptables-mode+cilium-like.nft-backend.txt',
);

const run = runCli;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'np-diff-cli-'));
}

/** A live runner that answers every probe of the snapshot layout from a snapshot directory, as the node would. */
function replaySnapshot(dir: string, calls: string[][] = []): Runner {
  const byArgv = new Map<string, string>();
  const add = (specs: { id: string; argv: string[]; ext: string }[]) => {
    for (const p of specs)
      for (const ext of ['json', 'txt'])
        if (existsSync(join(dir, `${p.id}.${ext}`))) byArgv.set(p.argv.join(' '), join(dir, `${p.id}.${ext}`));
  };
  add(NODE_PROBES);
  for (const ns of ['cni-5f0c1d2e-k1a', 'cni-7a9b3c4d-k1b']) add(netnsProbes(ns));
  for (const dev of ['eth0', 'lxc6d1e0f2a3b4c', 'lxc0a1b2c3d4e5f', 'cilium_host', 'cilium_net'])
    add(tcFilterProbes(dev));
  return async (argv) => {
    calls.push([...argv]);
    // asked before ipvsadm (collect/probes.ts onlyIfPresent): this node's capture has no ipvsadm output, no IPVS;
    // and before nft, iptables-save and conntrack (collect/module-gate.ts): its kernel has no CONFIG_MODULES
    if (argv.join(' ') === 'cat /proc/net/ip_vs' || argv.join(' ') === 'cat /proc/modules')
      return {
        argv,
        exitCode: 1,
        stdout: '',
        stderr: `cat: ${argv[1]}: No such file or directory\n`,
        durationMs: 0,
      };
    const f = byArgv.get(argv.join(' '));
    if (!f)
      return {
        argv,
        exitCode: -1,
        stdout: '',
        stderr: '',
        durationMs: 0,
        failed: 'ENOENT',
        message: `${argv[0]}: not installed`,
      };
    return { argv, exitCode: 0, stdout: readFileSync(f, 'utf8'), stderr: '', durationMs: 1 };
  };
}

describe('netpath diff (CLI)', () => {
  it('a node compared with itself is a clean migration: exit 0, the summary first, then the tables', async () => {
    const r = await run(['diff', K1SVC, K1SVC, '--no-color']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('netpath diff');
    expect(lines[4]).toBe('CLEAN — clean migration: no regression');
    expect(r.out).toMatch(/Services: 2 frontends before \(cilium-bpf\), 2 after \(cilium-bpf\): 2 unchanged/);
    expect(r.out.indexOf('Leftovers of kube-proxy')).toBeGreaterThan(r.out.indexOf('Services ('));
    expect(r.out).toMatch(/none: no KUBE-\* chains/);
  });

  it('kube-proxy iptables before, Cilium LB maps after: --json is the contract, exit 1 for the frontends Cilium does not serve', async () => {
    const before = tmp();
    try {
      cpSync(K1, before, { recursive: true });
      cpSync(IPTABLES, join(before, 'iptables-save.txt'));
      const r = await run(['diff', before, K1SVC, '--json']);
      expect(r.code).toBe(1);
      const j = diffJsonSchema.parse(JSON.parse(r.out));
      expect(j.summary.verdict).toBe('regressions');
      expect(j.before.layers).toEqual(['kube-proxy-iptables']);
      expect(j.after.layers).toEqual(['cilium-bpf']);
      const removed = j.services.filter((s) => s.status === 'removed');
      expect(removed.length).toBe(j.summary.services.removed);
      expect(removed.map((s) => s.frontend)).toContain('172.30.0.41:80/TCP');
      expect(
        removed.every((s) => s.regression && s.owner.before === 'kube-proxy-iptables' && s.owner.after === null),
      ).toBe(true);
      const flow = j.paths.flows.find((f) => f.category === 'service-from-pod' && f.frontend === '172.30.0.41:80/TCP')!;
      expect(flow.before.hops.map((h) => h.kind)).toContain('kube-proxy');
      expect(flow.regression).toBe(true);
      // yaml is the same contract
      const y = await run(['diff', before, K1SVC, '-o', 'yaml']);
      expect(y.code).toBe(1);
      expect(y.out).toMatch(/^schemaVersion: 1$/m);
    } finally {
      rmSync(before, { recursive: true, force: true });
    }
  });

  it('a side may be a .tar.gz snapshot (as netpath snapshot writes it)', async () => {
    const d = tmp();
    try {
      const files = new Map<string, Buffer>();
      const base = join(root, 'fixtures/snapshots/migrate-iptables/before');
      const walk = (rel: string) => {
        for (const n of readdirSync(join(base, rel))) {
          const r = rel ? `${rel}/${n}` : n;
          if (statSync(join(base, r)).isDirectory()) walk(r);
          else files.set(r, readFileSync(join(base, r)));
        }
      };
      walk('');
      const tgz = join(d, 'before.tar.gz');
      writeFileSync(tgz, writeTarGz(files, 'before'));
      const r = await run(['diff', tgz, join(root, 'fixtures/snapshots/migrate-iptables/after'), '-q']);
      expect(r).toEqual({ code: 0, out: 'CLEAN — clean migration: no regression\n', err: '' });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('-q prints the verdict line only, with the same exit code; --all lists the unchanged frontends too', async () => {
    const q = await run(['diff', K1SVC, K1SVC, '-q']);
    expect(q).toEqual({ code: 0, out: 'CLEAN — clean migration: no regression\n', err: '' });
    const all = await run(['diff', K1SVC, K1SVC, '--all', '--no-color']);
    expect(all.out).toMatch(/│ 10\.96\.0\.10:53\/ANY\s+│ ClusterIP/);
    expect((await run(['diff', K1SVC, K1SVC, '--no-color'])).out).not.toMatch(/│ 10\.96\.0\.10:53\/ANY/);
  });

  it('an after snapshot with kube-proxy rules left is caught: leftovers that act on packets, exit 1', async () => {
    const after = tmp();
    try {
      cpSync(K1SVC, after, { recursive: true });
      cpSync(IPTABLES, join(after, 'iptables-save.txt'));
      const r = await run(['diff', K1SVC, after, '--no-color']);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(
        /✗ leftover nat KUBE-\* chains \(IPv4\) — KUBE-SERVICES is still hooked from PREROUTING, OUTPUT/,
      );
      expect(r.out).toMatch(/iptables-save -t nat \| grep -- KUBE-/);
    } finally {
      rmSync(after, { recursive: true, force: true });
    }
  });

  it('a live side goes through the injected runner (only allow-listed probes) and answers as its snapshot does', async () => {
    const calls: string[][] = [];
    const live = await run(['diff', K1SVC, 'live', '--json'], { runner: async () => replaySnapshot(K1SVC, calls) });
    const snap = await run(['diff', K1SVC, K1SVC, '--json']);
    expect(live.code).toBe(0);
    const lj = diffJsonSchema.parse(JSON.parse(live.out));
    const sj = diffJsonSchema.parse(JSON.parse(snap.out));
    expect(lj.after.source).toBe('live node');
    expect(lj.services).toEqual(sj.services);
    expect(lj.paths.flows.map((f) => [f.label, f.after.disposition])).toEqual(
      sj.paths.flows.map((f) => [f.label, f.after.disposition]),
    );
    expect(calls.some((a) => a.join(' ') === 'ipset save')).toBe(true);
    expect(calls.some((a) => a[0] === 'bpftool' && a.includes('pinned'))).toBe(true);
  });

  it('exit 3 naming the side that cannot be read; exit 2 for usage errors', async () => {
    const missing = await run(['diff', '/nonexistent/before', K1SVC]);
    expect(missing.code).toBe(3);
    expect(missing.err).toBe('netpath: before: /nonexistent/before: no such snapshot directory or file\n');
    const empty = tmp();
    try {
      for (const f of ['ip-link.json', 'ip-addr.json', 'ip-route4.json']) cpSync(join(K1, f), join(empty, f));
      const r = await run(['diff', K1SVC, empty]);
      expect(r.code).toBe(3);
      expect(r.err).toMatch(/^netpath: after: .*: no Service source/);
      writeFileSync(join(empty, 'iptables-save.txt'), '\u0000\u0001binary');
      const bad = await run(['diff', K1SVC, empty]);
      expect(bad.code).toBe(3);
      expect(bad.err).toMatch(/^netpath: after: .*no readable Service source \(iptables-save: /);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    for (const argv of [
      ['diff', 'live', 'live'],
      ['diff', K1SVC, K1SVC, '--max-flows', 'lots'],
      ['diff', K1SVC, K1SVC, '-o', 'table'],
      ['diff', K1SVC, K1SVC, '--exec', 'ssh node1'],
      ['diff', K1SVC],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });
});
