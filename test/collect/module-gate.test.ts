import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { collectProbes } from '../../src/collect/live-source.js';
import { failuresIn } from '../../src/collect/load-state.js';
import { builtinModules, iptablesNeedsNft, loadedModules } from '../../src/collect/module-gate.js';
import { isAllowed } from '../../src/exec/allowlist.js';
import type { RawOutput, RunOptions } from '../../src/exec/runner.js';
import { runCli } from '../helpers/cli.js';
import { replayRunner } from '../helpers/replay.js';

// A fake node: the probes answer from a bundled capture, the module reads as the case says. The /proc/modules
// lines follow the kernel's format (kernel/module/procfs.c m_show: name size refs deps state address); this
// machine has no CONFIG_MODULES, so none could be captured here.
const snap = fileURLToPath(new URL('../../fixtures/snapshots/kind-v4/k1', import.meta.url));
const tool = (f: string) =>
  readFileSync(fileURLToPath(new URL(`../../fixtures/tools/iptables-save/${f}`, import.meta.url)), 'utf8');
const RELEASE = '6.1.0-13-amd64';
const line = (name: string) => `${name} 16384 0 - Live 0x0000000000000000`;
const ALL = ['nfnetlink', 'nf_tables', 'nft_compat', 'nf_conntrack_netlink', 'nf_conntrack', 'ip_set', 'xfrm_user'];

type Answer = string | null | 'unreadable';
interface Node {
  modules?: Answer;
  disabled?: Answer;
  builtin?: Answer;
  iptablesV?: string;
}

function fakeNode(n: Node) {
  const replay = replayRunner(snap);
  const calls: string[][] = [];
  const file = (argv: readonly string[], a: Answer | undefined): RawOutput => {
    const base = { argv, durationMs: 1, stdout: '', stderr: '' };
    if (a === null || a === undefined)
      return { ...base, exitCode: 1, stderr: `cat: ${argv[1]}: No such file or directory\n` };
    if (a === 'unreadable') return { ...base, exitCode: 1, stderr: `cat: ${argv[1]}: Permission denied\n` };
    return { ...base, exitCode: 0, stdout: a };
  };
  const run = async (argv: readonly string[], opts?: RunOptions): Promise<RawOutput> => {
    calls.push([...argv]);
    // every read the gate makes must be on the allow-list
    expect(isAllowed(argv, opts?.input), argv.join(' ')).toBe(true);
    const a = argv.join(' ');
    if (a === 'cat /proc/modules') return file(argv, n.modules);
    if (a === 'cat /proc/sys/kernel/modules_disabled') return file(argv, n.disabled ?? '0\n');
    if (a === 'cat /proc/sys/kernel/osrelease') return file(argv, `${RELEASE}\n`);
    if (a === `cat /lib/modules/${RELEASE}/modules.builtin`) return file(argv, n.builtin);
    if (a === 'iptables-save -V' || a === 'ip6tables-save -V')
      return { argv, durationMs: 1, exitCode: 0, stdout: n.iptablesV ?? tool('V.nf_tables.txt'), stderr: '' };
    return replay(argv, opts);
  };
  return { run, calls };
}

const GATED = ['nft', 'iptables-save', 'ip6tables-save', 'conntrack', 'ipset', 'ip xfrm'];
const ran = (calls: string[][], t: string) =>
  calls.some((c) => c.join(' ').startsWith(`${t} `) && !c.includes('-V')) || calls.some((c) => c.join(' ') === t);

// the positive cases also check the gate asked the node: without the gate they would pass by running everything
const asked = (calls: string[][], path: string) => calls.some((c) => c[0] === 'cat' && c[1] === path);

async function collect(n: Node) {
  const node = fakeNode(n);
  const { runs } = await collectProbes(node.run, { concurrency: 4 });
  return { runs, calls: node.calls, byId: (id: string) => runs.find((r) => r.id === id)! };
}

describe('probes whose netlink requests would make the kernel load a module', () => {
  it('run when /proc/modules lists every module they need', async () => {
    const { calls, byId } = await collect({ modules: `${ALL.map(line).join('\n')}\n` });
    for (const t of GATED) expect(ran(calls, t), t).toBe(true);
    expect(byId('nft-ruleset').failed).toBeUndefined();
    expect(asked(calls, '/proc/modules')).toBe(true);
    // nothing else was asked: the loaded list decided
    expect(calls.some((c) => c[1] === '/proc/sys/kernel/modules_disabled')).toBe(false);
  });

  it('run when the kernel has no CONFIG_MODULES (no /proc/modules): nothing can be loaded', async () => {
    const { calls } = await collect({ modules: null });
    for (const t of GATED) expect(ran(calls, t), t).toBe(true);
    expect(asked(calls, '/proc/modules')).toBe(true);
    expect(asked(calls, '/proc/sys/kernel/modules_disabled')).toBe(false);
  });

  it('run when modules_disabled is 1', async () => {
    const { calls } = await collect({ modules: `${line('ext4')}\n`, disabled: '1\n' });
    for (const t of GATED) expect(ran(calls, t), t).toBe(true);
    expect(asked(calls, '/proc/sys/kernel/modules_disabled')).toBe(true);
    expect(asked(calls, '/proc/sys/kernel/osrelease')).toBe(false);
  });

  it('run when the missing modules are built in (modules.builtin of the running release)', async () => {
    const builtin = `${ALL.map((m) => `kernel/net/netfilter/${m}.ko`).join('\n')}\n`;
    const { calls } = await collect({ modules: `${line('ext4')}\n`, builtin });
    for (const t of GATED) expect(ran(calls, t), t).toBe(true);
    expect(calls.some((c) => c[1] === `/lib/modules/${RELEASE}/modules.builtin`)).toBe(true);
  });

  it('do not run when a module is neither loaded nor built in, and say which and what to run; the layer is unknown', async () => {
    const { runs, calls, byId } = await collect({
      modules: `${['nfnetlink', 'nf_conntrack_netlink', 'nf_conntrack', 'xfrm_user'].map(line).join('\n')}\n`,
      builtin: 'kernel/fs/ext4/ext4.ko\n',
    });
    expect(ran(calls, 'nft')).toBe(false);
    expect(ran(calls, 'ipset')).toBe(false);
    expect(ran(calls, 'iptables-save')).toBe(false);
    // their modules are loaded
    expect(ran(calls, 'conntrack')).toBe(true);
    expect(ran(calls, 'ip xfrm')).toBe(true);
    expect(byId('nft-ruleset')).toMatchObject({
      failed: 'error',
      message: `nft: not run: nf_tables is neither loaded nor built in (/proc/modules, /lib/modules/${RELEASE}/modules.builtin), and its netlink requests would make the kernel load what is missing; run \`nft -j list ruleset\` on the node yourself if loading nf_tables is acceptable`,
    });
    expect(byId('iptables-save').message).toContain('nf_tables and nft_compat are neither loaded nor built in');
    expect(byId('ipset').message).toContain('ip_set is neither loaded nor built in');
    const failures = failuresIn(JSON.stringify({ probes: runs }));
    for (const id of ['nft-ruleset', 'ipset', 'iptables-save', 'ip6tables-save'])
      expect(failures.get(id), id).toMatchObject({ absent: false });
  });

  it('run the legacy iptables-save without the nftables modules (-V says which build runs)', async () => {
    const { calls, byId } = await collect({
      modules: `${line('ext4')}\n`,
      builtin: 'kernel/fs/ext4/ext4.ko\n',
      iptablesV: tool('V.legacy.txt'),
    });
    expect(calls.some((c) => c.join(' ') === 'iptables-save -V')).toBe(true);
    expect(calls.some((c) => c.join(' ') === 'iptables-save')).toBe(true);
    // this capture holds no iptables-save output: what stands is the tool's own answer, not the gate's
    expect(byId('iptables-save').message ?? '').not.toContain('not run');
    expect(ran(calls, 'nft')).toBe(false);
  });

  it('do not run when the node does not tell (unreadable /proc/modules, no modules.builtin), and say so', async () => {
    const a = await collect({ modules: 'unreadable' });
    for (const t of ['nft', 'conntrack', 'ipset', 'ip xfrm', 'iptables-save']) expect(ran(a.calls, t), t).toBe(false);
    expect(a.byId('conntrack4').message).toBe(
      'conntrack: not run: could not tell whether nfnetlink and nf_conntrack_netlink are loaded (cat: /proc/modules: Permission denied), and its netlink requests would make the kernel load what is missing; run `conntrack -L -f ipv4 -o extended` on the node yourself if loading nfnetlink and nf_conntrack_netlink is acceptable',
    );
    const b = await collect({ modules: `${line('ext4')}\n`, builtin: null });
    expect(ran(b.calls, 'nft')).toBe(false);
    expect(b.byId('nft-ruleset').message).toContain(
      `could not tell whether nfnetlink and nf_tables are built in (/lib/modules/${RELEASE}/modules.builtin does not exist)`,
    );
    expect(failuresIn(JSON.stringify({ probes: b.runs })).get('nft-ruleset')).toMatchObject({ absent: false });
  });

  it('reads module names as the kernel and kbuild write them', () => {
    expect([...loadedModules(`${line('nf_tables')}\n${line('xt_MASQUERADE')}\n`)]).toEqual([
      'nf_tables',
      'xt_MASQUERADE',
    ]);
    expect([...builtinModules('kernel/net/netfilter/nf-tables.ko\nkernel/net/xfrm/xfrm_user.ko\n')]).toEqual([
      'nf_tables',
      'xfrm_user',
    ]);
    expect(iptablesNeedsNft(tool('V.nf_tables.txt'))).toBe(true);
    expect(iptablesNeedsNft(tool('V6.nf_tables.txt'))).toBe(true);
    expect(iptablesNeedsNft(tool('V.legacy.txt'))).toBe(false);
    expect(iptablesNeedsNft('iptables-save v1.4.21\n')).toBeUndefined();
  });

  it('the allow-list takes the release-dependent path only for a release-shaped name', () => {
    expect(isAllowed(['cat', `/lib/modules/${RELEASE}/modules.builtin`])).toBe(true);
    for (const bad of [
      '/lib/modules/../modules.builtin',
      '/lib/modules/6.1/../../etc/shadow/modules.builtin',
      '/lib/modules/-x/modules.builtin',
      '/lib/modules/6.1.0/modules.dep',
      '/lib/modules//modules.builtin',
      '/etc/shadow',
    ])
      expect(isAllowed(['cat', bad]), bad).toBe(false);
    expect(isAllowed(['iptables-save', '-V'])).toBe(true);
    expect(isAllowed(['iptables-save', '-M', '/bin/sh'])).toBe(false);
  });

  it('snapshot --exec records the reason in the probe record, and a trace of that snapshot gives it', async () => {
    const node = fakeNode({ modules: `${line('nfnetlink')}\n`, builtin: 'kernel/fs/ext4/ext4.ko\n' });
    const dir = mkdtempSync(join(tmpdir(), 'npM-gate-'));
    try {
      const out = join(dir, 'snap');
      const r = await runCli(['snapshot', '-o', out, '-q', '--exec', 'ssh node1'], { liveRunner: () => node.run });
      expect(r.code).toBe(0);
      expect(ran(node.calls, 'nft')).toBe(false);
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
        probes: { id: string; failed?: string; message?: string }[];
      };
      const nft = manifest.probes.find((p) => p.id === 'nft-ruleset');
      expect(nft).toMatchObject({ failed: 'error' });
      expect(nft?.message).toMatch(
        /^nft: not run: nf_tables is neither loaded nor built in .*run `nft -j list ruleset` on the node yourself if loading nf_tables is acceptable$/,
      );
      const t = await runCli(['trace', '10.244.1.12', '8.8.8.8', '--snapshot', out, '--json']);
      expect(t.out).toContain('nft: not run: nf_tables is neither loaded nor built in');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
