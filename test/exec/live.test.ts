import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { absentFromPath, CEILING_FACTOR, createLiveRunner, readProcFile } from '../../src/exec/live.js';
import { SYSCTL_KEYS } from '../../src/collect/probes.js';

const isRoot = process.getuid?.() === 0;
const has = (bin: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

let dir = '';
let log = '';
const saved = process.env.NETPATH_AUDIT_LOG;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'np-live-'));
  log = join(dir, 'audit.jsonl');
  process.env.NETPATH_AUDIT_LOG = log;
});
afterEach(() => {
  if (saved === undefined) delete process.env.NETPATH_AUDIT_LOG;
  else process.env.NETPATH_AUDIT_LOG = saved;
  rmSync(dir, { recursive: true, force: true });
});
const audited = (): { argv: string[]; prefix: string[] }[] =>
  existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { argv: string[]; prefix: string[] })
    : [];

describe('createLiveRunner', () => {
  it('runs an allow-listed argv and returns its output untouched', async () => {
    const r = await createLiveRunner()(['ip', '-V']);
    expect(r.failed).toBeUndefined();
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(execFileSync('ip', ['-V'], { encoding: 'utf8' }));
    expect(r.argv).toEqual(['ip', '-V']);
    expect(audited()).toEqual([{ argv: ['ip', '-V'], prefix: [] }]);
  });

  it('answers uname and the /proc/net counters on this node without a process: the bytes the command prints', async () => {
    const run = createLiveRunner();
    for (const argv of [
      ['uname', '-r'],
      ['uname', '-n'],
      ['cat', '/proc/net/fib_triestat'],
      ['cat', '/proc/net/rt6_stats'],
      // the trace's keys (one with a tab in its value; net.bridge.* and net.core.bpf_jit_enable may be absent)
      ['sysctl', '-e', ...SYSCTL_KEYS],
      ['sysctl', '-e', 'net.ipv4.ip_local_port_range', 'net.npL.absent', 'net.ipv4.ip_forward'],
    ]) {
      const r = await run(argv);
      expect(r.failed, argv.join(' ')).toBeUndefined();
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toBe('');
      // the counters move with other processes' routes: compared again until two reads meet
      let same = false;
      for (let i = 0; i < 5 && !same; i++) {
        const [a, b] = [await run(argv), execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' })];
        same = a.stdout === b;
      }
      expect(same, argv.join(' ')).toBe(true);
    }
    expect(audited()).toEqual([]);
    expect((await run(['uname', '-r'])).stdout).toBe(`${release()}\n`);
    // behind a prefix the node's command runs
    const p = await createLiveRunner({ prefix: ['env'] })(['uname', '-r']);
    expect(p.stdout).toBe(`${release()}\n`);
    expect(audited()).toEqual([{ argv: ['uname', '-r'], prefix: ['env'] }]);
  });

  it('tells whether /proc/net/ip_vs exists as cat does, without starting cat', async () => {
    const argv = ['cat', '/proc/net/ip_vs'];
    const r = await createLiveRunner()(argv);
    const real = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    expect(r.exitCode).toBe(real.status);
    expect(r.stderr).toBe(real.stderr);
    // its table moves with IPVS services only; the kernel of a test node has none or no IPVS at all
    expect(r.stdout).toBe(real.stdout);
    expect(audited()).toEqual([]);
  });

  it('answers the module reads of collect/module-gate.ts as cat does, without starting cat', async () => {
    const rel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
    for (const path of [
      '/proc/modules',
      '/proc/sys/kernel/modules_disabled',
      '/proc/sys/kernel/osrelease',
      `/lib/modules/${rel}/modules.builtin`,
    ]) {
      const argv = ['cat', path];
      const r = await createLiveRunner()(argv);
      const real = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      expect(r.exitCode, path).toBe(real.status);
      expect(r.stderr, path).toBe(real.stderr);
      expect(r.stdout, path).toBe(real.stdout);
    }
    expect(audited()).toEqual([]);
  });

  it('reads a file whole past its first read, as readFileSync does, and fails as it does', async () => {
    // 600 KiB: the first read (256 KiB) and two more; /proc files of every size the kernel writes at once
    const big = join(dir, 'big.txt');
    writeFileSync(big, Array.from({ length: 60_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 7)}`).join('\n'));
    expect(readFileSync(big).length).toBeGreaterThan(2 * 256 * 1024);
    expect(await readProcFile(big)).toBe(readFileSync(big, 'utf8'));
    writeFileSync(big, '');
    expect(await readProcFile(big)).toBe('');
    for (const f of ['/proc/self/status', '/proc/net/dev'])
      expect((await readProcFile(f)).split('\n')[0]).toBe(readFileSync(f, 'utf8').split('\n')[0]);
    await expect(readProcFile(join(dir, 'absent'))).rejects.toThrow(/ENOENT/);
  });

  it('runs sysctl for what it does not answer in place: a directory key', async () => {
    const run = createLiveRunner();
    for (const argv of [
      ['sysctl', '-e', 'net.ipv4.conf.lo'],
      ['sysctl', '-e', 'net.ipv4.ip_forward', 'net.ipv4.conf'],
    ]) {
      const r = await run(argv);
      expect(r.stdout).toBe(execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }));
    }
    expect(audited().map((a) => a.argv.join(' '))).toEqual([
      'sysctl -e net.ipv4.conf.lo',
      'sysctl -e net.ipv4.ip_forward net.ipv4.conf',
    ]);
  });

  it('answers a dump of a Cilium map that is not pinned as bpftool does, without starting bpftool', async () => {
    const argv = ['bpftool', '-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/tc/globals/cilium_npE_absent'];
    const r = await createLiveRunner()(argv);
    expect(r).toMatchObject({ failed: 'ENOENT', message: 'bpftool: no such pinned map on this node', stdout: '' });
    expect(audited()).toEqual([]);
    // behind a prefix the node's bpftool answers (here: the prefix prints what it was handed)
    const p = await createLiveRunner({ prefix: ['sh', '-c', 'printf "%s|" "$@"', 'sh'] })(argv);
    expect(p.stdout).toBe(`${argv.join('|')}|`);
    expect(audited()).toHaveLength(1);
  });

  it.each([
    [['ip', 'link', 'set', 'eth0', 'down']],
    [['sh', '-c', 'uname -r']],
    [['tc', '-j', 'filter', 'show', 'dev', '-force', 'ingress']],
    [['sysctl', '-w', 'net.ipv4.ip_forward=1']],
    [['uname', '-r', ';', 'reboot']],
    [[]],
  ])('refuses %j without spawning anything', async (argv) => {
    const r = await createLiveRunner({ prefix: ['ip', 'netns', 'exec', 'nowhere'] })(argv);
    expect(r.failed).toBe('not-allowed');
    expect(r.exitCode).toBe(-1);
    expect(r.stdout).toBe('');
    expect(existsSync(log)).toBe(false);
  });

  it('checks the inner argv, runs it after the prefix, and audits both before spawning', async () => {
    // the prefix prints what it was handed, so the run proves the argv order and the environment
    const prefix = ['sh', '-c', 'printf "%s|" "$LC_ALL" "$LANG" "$NO_COLOR" "$@"', 'sh'];
    const r = await createLiveRunner({ prefix })(['ip', '-j', 'neigh', 'show']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('C|C|1|ip|-j|neigh|show|');
    expect(r.argv).toEqual(['ip', '-j', 'neigh', 'show']);
    expect(audited()).toEqual([{ argv: ['ip', '-j', 'neigh', 'show'], prefix }]);
  });

  it('feeds validated route get lines to ip -batch on stdin, audits them, and refuses any other stdin', async () => {
    // the prefix echoes its stdin, so the run proves what reached the process
    const prefix = ['sh', '-c', 'cat; printf "%s|" "$@"', 'sh'];
    const run = createLiveRunner({ prefix });
    const argv = ['ip', '-d', '-j', '-force', '-batch', '-'];
    const input = 'route get 10.0.0.1\nroute get fibmatch 2001:db8::1 mark 16\n';
    const r = await run(argv, { input });
    expect(r.stdout).toBe(`${input}ip|-d|-j|-force|-batch|-|`);
    expect(audited()).toEqual([{ argv, prefix, input }]);
    for (const [a, i] of [
      [argv, 'route add 10.0.0.0/8 dev lo\n'],
      [argv, 'route get 10.0.0.1\nroute flush table main\n'],
      [argv, undefined],
      [['uname', '-r'], 'route get 10.0.0.1\n'],
      [['ip', '-d', '-j', '-batch', '-'], 'route get 10.0.0.1\n'],
    ] as [string[], string | undefined][]) {
      const bad = await run(a, i === undefined ? {} : { input: i });
      expect(bad.failed, JSON.stringify([a, i])).toBe('not-allowed');
    }
    expect(audited()).toHaveLength(1);
  });

  it('reports a binary missing on the host as ENOENT, "<tool>: not installed", audited all the same', async () => {
    const r = await createLiveRunner({ lookPath: false })(['cilium-dbg', 'status', '--verbose']);
    expect(r).toMatchObject({ failed: 'ENOENT', message: 'cilium-dbg: not installed' });
    expect(audited().map((a) => a.argv[0])).toEqual(['cilium-dbg']);
  });

  it('answers a binary on no PATH directory as its start would, without a process', async () => {
    const argv = ['cilium-dbg', 'status', '--verbose'];
    const started = await createLiveRunner({ lookPath: false })(argv);
    const looked = await createLiveRunner()(argv);
    expect(started.failed).toBe('ENOENT');
    expect({ ...looked, durationMs: 0 }).toEqual({ ...started, durationMs: 0 });
    // only the start that was asked for ran
    expect(audited()).toHaveLength(1);
  });

  it('absentFromPath says missing exactly when a start fails with ENOENT', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    // a program, a file that cannot run, a dangling symlink, a directory of the name, a file used as a directory
    writeFileSync(join(bin, 'np-run'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    writeFileSync(join(bin, 'np-plain'), 'x', { mode: 0o644 });
    symlinkSync(join(dir, 'nowhere'), join(bin, 'np-dangling'));
    mkdirSync(join(bin, 'np-dir'));
    const file = join(dir, 'file');
    writeFileSync(file, '');
    const paths = [bin, `${file}:${bin}`, `/nonexistent:${bin}`, '/nonexistent', `${bin}:`, `:${bin}`, file];
    const tools = ['np-run', 'np-plain', 'np-dangling', 'np-dir', 'np-none', 'sh'];
    let absent = 0;
    for (const PATH of paths)
      for (const tool of tools) {
        const started = spawnSync(tool, [], { env: { PATH }, cwd: dir });
        const enoent = (started.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
        const said = absentFromPath(tool, { PATH });
        // saying missing is exact; a tool not said missing is started (and may still turn out missing)
        if (said) expect(enoent, `${tool} on ${PATH}`).toBe(true);
        if (said) absent++;
        if (!enoent) expect(said, `${tool} on ${PATH}`).toBe(false);
      }
    expect(absent).toBeGreaterThan(10);
    // no PATH at all: libc's default search decides, so the start is made
    expect(absentFromPath('np-none', {})).toBe(false);
    expect(absentFromPath('np-none', { PATH: '' })).toBe(false);
  });

  it('starts a program found missing only once per run: later probes of it answer ENOENT without a process', async () => {
    const run = createLiveRunner({ lookPath: false });
    const all = await Promise.all([
      run(['cilium-dbg', 'status', '--verbose']),
      run(['cilium-dbg', 'endpoint', 'list', '-o', 'json']),
    ]);
    const later = await run(['cilium-dbg', 'bpf', 'lb', 'list']);
    for (const r of [...all, later])
      expect(r).toMatchObject({ failed: 'ENOENT', message: 'cilium-dbg: not installed' });
    expect(audited().map((a) => a.argv.join(' '))).toEqual(['cilium-dbg status --verbose']);
    // an installed program is started every time
    await run(['ip', '-V']);
    await run(['ip', '-V']);
    expect(audited().filter((a) => a.argv[0] === 'ip')).toHaveLength(2);
  });

  it('reports a binary missing behind a prefix (PATH pointing nowhere) as ENOENT', async () => {
    const r = await createLiveRunner({ prefix: ['env', 'PATH=/nonexistent'] })(['uname', '-r']);
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain('No such file or directory');
    expect(r).toMatchObject({ failed: 'ENOENT', message: 'uname: not installed' });
  });

  it.runIf(isRoot && !has('cilium-dbg'))('reports a tool missing inside a network namespace as ENOENT', async () => {
    const ns = `np-lab-live-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const r = await createLiveRunner({ prefix: ['ip', 'netns', 'exec', ns] })(['cilium-dbg', 'status', '--verbose']);
      expect(r.stderr).toContain('exec of "cilium-dbg" failed: No such file or directory');
      expect(r).toMatchObject({ failed: 'ENOENT', message: 'cilium-dbg: not installed' });
      const ok = await createLiveRunner({ prefix: ['ip', 'netns', 'exec', ns] })(['ip', '-j', 'addr', 'show']);
      expect(ok.failed).toBeUndefined();
      expect(JSON.parse(ok.stdout)).toMatchObject([{ ifname: 'lo' }]);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });

  it.runIf(isRoot && has('setpriv') && has('bpftool'))(
    'reports EPERM as EACCES, also when bpftool -j puts the error on stdout',
    async () => {
      const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
      const r = await createLiveRunner({ prefix: nobody })(['bpftool', '-j', 'prog', 'show']);
      expect(r.stdout).toContain('Operation not permitted');
      expect(r.failed).toBe('EACCES');
      // through a prefix the probe has the node's privileges: the message says what it needs there
      expect(r.message).toBe('bpftool: permission denied: needs CAP_SYS_ADMIN on the node');
      const t = await createLiveRunner({ prefix: nobody })(['bpftool', 'version']);
      expect(t.failed).toBeUndefined();
    },
  );

  it('does not run bpftool cgroup tree without CAP_SYS_ADMIN (it would list no programs and exit 0), and says so', async () => {
    const r = await createLiveRunner({ capabilities: new Set(['CAP_NET_ADMIN']) })([
      'bpftool',
      '-j',
      'cgroup',
      'tree',
      '/run/cilium/cgroupv2',
    ]);
    expect(r.failed).toBe('EACCES');
    expect(r.message).toBe(
      'bpftool: not run: needs CAP_NET_ADMIN and CAP_SYS_ADMIN (netpath lacks CAP_SYS_ADMIN); without CAP_SYS_ADMIN it exits 0 and lists no programs',
    );
    expect(audited()).toEqual([]);
  });

  it('kills a command that outlives its timeout and reports timeout', async () => {
    // a real slow process: the prefix replaces itself with sleep, the allowed argv is never reached
    const run = createLiveRunner({ prefix: ['sh', '-c', 'exec sleep 30', 'sh'], defaultTimeoutMs: 30_000 });
    const r = await run(['uname', '-r'], { timeoutMs: 300 });
    expect(r.failed).toBe('timeout');
    expect(r.message).toBe('uname: no answer within 300 ms (killed)');
  });

  // the timeout is a silence (exec/live.ts watchSilence): a probe that keeps writing is answering
  it('lets a probe that keeps writing run past its timeout, and returns all it wrote', async () => {
    // 2 s of writing every 0.1 s, against a timeout of 1 s
    const run = createLiveRunner({ prefix: ['sh', '-c', 'for i in $(seq 20); do echo $i; sleep 0.1; done', 'sh'] });
    const r = await run(['uname', '-r'], { timeoutMs: 1000 });
    expect(r.failed).toBeUndefined();
    expect(r.stdout).toBe(Array.from({ length: 20 }, (_, i) => `${i + 1}\n`).join(''));
  });

  it('kills a probe that stops writing, and says it stopped', async () => {
    const run = createLiveRunner({ prefix: ['sh', '-c', 'echo begun; exec sleep 30', 'sh'] });
    const r = await run(['uname', '-r'], { timeoutMs: 300 });
    expect(r).toMatchObject({
      failed: 'timeout',
      stdout: 'begun\n',
      message: 'uname: wrote nothing more for 300 ms (killed)',
    });
  });

  it('kills a probe still writing at CEILING_FACTOR times its timeout', async () => {
    const run = createLiveRunner({ prefix: ['sh', '-c', 'while :; do echo x; sleep 0.05; done', 'sh'] });
    const t0 = Date.now();
    const r = await run(['uname', '-r'], { timeoutMs: 400 });
    expect(r.failed).toBe('timeout');
    expect(r.message).toBe(`uname: still writing after ${400 * CEILING_FACTOR} ms (killed)`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400 * CEILING_FACTOR);
  });

  it('does not take a busy main thread for a silent probe: what waits in the pipe is read first', async () => {
    // 3 s of writing every 0.05 s, against a timeout of 1.5 s
    const run = createLiveRunner({ prefix: ['sh', '-c', 'for i in $(seq 60); do echo $i; sleep 0.05; done', 'sh'] });
    // execa is imported on the first process: that one is not timed
    await createLiveRunner({ prefix: ['sh', '-c', 'true', 'sh'] })(['uname', '-r']);
    const pending = run(['uname', '-r'], { timeoutMs: 1500 });
    await new Promise((ok) => setTimeout(ok, 100));
    // busy for twice the timeout after the event loop's poll phase (in setImmediate), while the probe writes: the
    // loop's next turn runs the expired timer before it reads the pipe
    await new Promise((ok) => setImmediate(ok));
    const until = Date.now() + 3000;
    while (Date.now() < until);
    const r = await pending;
    expect(r.failed).toBeUndefined();
    expect(r.stdout.split('\n')).toHaveLength(61);
  });

  it('reports output over maxBytes as too-large', async () => {
    const r = await createLiveRunner()(['ip', '-j', 'addr', 'show'], { maxBytes: 8 });
    expect(r.failed).toBe('too-large');
    // what fit is kept: the conntrack probe keeps it up to its last whole line
    const full = await createLiveRunner()(['ip', '-j', 'addr', 'show']);
    expect(r.stdout).toBe(full.stdout.slice(0, 8));
  });

  it('kills a command whose run is canceled and reports it as an error, not as its exit code', async () => {
    const run = createLiveRunner({ prefix: ['sh', '-c', 'exec sleep 30', 'sh'] });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await run(['uname', '-r'], { signal: ac.signal });
    expect(r).toMatchObject({ failed: 'error', exitCode: -1, message: 'uname: canceled' });
  });

  it('reports a failing tool by its exit code, not as a failure to run', async () => {
    const r = await createLiveRunner({ prefix: ['sh', '-c', 'echo "Error: oops" >&2; exit 2', 'sh'] })([
      'tc',
      '-j',
      'qdisc',
      'show',
    ]);
    expect(r).toMatchObject({ exitCode: 2, stderr: 'Error: oops\n' });
    expect(r.failed).toBeUndefined();
  });
});
