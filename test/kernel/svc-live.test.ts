import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, mkdirSync, existsSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';
import { createLiveRunner } from '../../src/exec/live.js';
import { acquireBpfLock, canUseNetns, delNetns, addNetns, releaseBpfLock, uniqueName } from '../helpers/netns.js';

// a loaded machine (npm run test:stress, a busy CI runner) runs these far slower than an idle one
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// Cilium's LB maps pinned where the agent pins them (/sys/fs/bpf/tc/globals) and socket-LB programs named like
// Cilium's on /run/cilium/cgroupv2 — both inside a private mount namespace, so this machine's real bpffs and
// cgroup root are never touched — then read back by `netpath svc lookup` and `trace` through `--exec nsenter …`.
// And a kube-proxy ruleset loaded with iptables-restore in a network namespace, read back through the live probes.
const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'np-svc-live-'));
const NS = uniqueName('np-kp');
const NFT = uniqueName('np-kpn');
let holder: ChildProcess | undefined;
let cgroupDir = '';

const canRun = (() => {
  if (!canUseNetns()) return false;
  try {
    for (const t of ['bpftool', 'clang', 'nsenter', 'unshare', 'iptables-restore'])
      execFileSync('which', [t], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const inMnt = (argv: string[]) =>
  execFileSync('nsenter', ['-t', String(holder!.pid), '-m', ...argv], { encoding: 'utf8' });

async function cli(argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    isTTY: false,
    env: {},
    liveRunner: (p) => createLiveRunner({ prefix: p }),
  });
  return { code, out, err };
}

const MAPS: [string, number, number, [string, string][]][] = [
  // 10.96.0.10:53/UDP, v1.17+ layout (docs/cilium-datapath.md §1.2): two backends, rev-NAT 5
  [
    'cilium_lb4_services_v2',
    12,
    12,
    [
      ['0a 60 00 0a 00 35 00 00 11 00 00 00', '00 00 00 00 02 00 00 05 00 00 00 00'],
      ['0a 60 00 0a 00 35 01 00 11 00 00 00', '07 00 00 00 00 00 00 05 00 00 00 00'],
      ['0a 60 00 0a 00 35 02 00 11 00 00 00', '08 00 00 00 00 00 00 05 00 00 00 00'],
    ],
  ],
  [
    'cilium_lb4_backends_v3',
    4,
    12,
    [
      ['07 00 00 00', '0a f4 01 ab 00 35 11 00 00 00 00 00'],
      ['08 00 00 00', '0a f4 02 ce 00 35 11 01 00 00 00 00'],
    ],
  ],
  ['cilium_lb4_reverse_nat', 2, 6, [['00 05', '0a 60 00 0a 00 35']]],
];

describe.skipIf(!canRun)('Service sources read live: pinned LB maps, socket-LB hooks, kube-proxy rules', () => {
  beforeAll(async () => {
    await acquireBpfLock();
    holder = spawn('unshare', ['-m', '--propagation', 'private', 'sleep', '600'], { stdio: 'ignore' });
    // unshare has made its mount namespace once its pid shows one other than ours (a loaded machine takes a while)
    const mine = readlinkSync('/proc/self/ns/mnt');
    const own = () => {
      try {
        return readlinkSync(`/proc/${holder!.pid}/ns/mnt`) !== mine;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 200 && !own(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!own()) throw new Error('unshare -m did not create its mount namespace within 10 s');
    inMnt(['mount', '-t', 'bpf', 'bpf', '/sys/fs/bpf']);
    inMnt(['mkdir', '-p', '/sys/fs/bpf/tc/globals', '/sys/fs/bpf/np-sock', '/run/cilium/cgroupv2']);
    for (const [name, k, v, entries] of MAPS) {
      const path = `/sys/fs/bpf/tc/globals/${name}`;
      inMnt([
        'bpftool',
        'map',
        'create',
        path,
        'type',
        'hash',
        'key',
        String(k),
        'value',
        String(v),
        'entries',
        '64',
        'name',
        name.slice(0, 15),
      ]);
      for (const [key, val] of entries)
        inMnt([
          'bpftool',
          'map',
          'update',
          'pinned',
          path,
          'key',
          'hex',
          ...key.split(' '),
          'value',
          'hex',
          ...val.split(' '),
        ]);
    }
    // socket-LB programs on a cgroup of our own, bind-mounted (privately) where Cilium keeps its cgroup root
    // clang -target bpf does not search the multiarch include dir where Debian keeps <asm/types.h>
    const multiarch = execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim();
    execFileSync('clang', [
      '-O2',
      '-g',
      '-target',
      'bpf',
      `-I/usr/include/${multiarch}`,
      '-c',
      join(root, 'scripts/lab/bpf/sock_prog.c'),
      '-o',
      join(work, 'sock4.o'),
    ]);
    const cg2 = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[2] === 'cgroup2')?.[1];
    cgroupDir = `${cg2}/${uniqueName('np-svc')}`;
    mkdirSync(cgroupDir);
    inMnt(['mount', '--bind', cgroupDir, '/run/cilium/cgroupv2']);
    inMnt(['bpftool', 'prog', 'loadall', join(work, 'sock4.o'), '/sys/fs/bpf/np-sock']);
    for (const t of ['connect', 'sendmsg'])
      inMnt([
        'bpftool',
        'cgroup',
        'attach',
        '/run/cilium/cgroupv2',
        `${t}4`,
        'pinned',
        `/sys/fs/bpf/np-sock/cil_sock4_${t}`,
      ]);
    // kube-proxy's own expected ruleset, loaded into a namespace of ours
    addNetns(NS);
    // without the `-m nfacct` counters (accounting only): this kernel has no nfacct objects
    const rules = readFileSync(
      join(root, 'fixtures/tools/kube-proxy/upstream/iptables__TestOverallIPTablesRules.expected.iptables-restore.txt'),
      'utf8',
    ).replace(/ -m nfacct --nfacct-name \S+/g, '');
    execFileSync('ip', ['netns', 'exec', NS, 'iptables-restore'], { input: rules });
    // kube-proxy's nftables-mode transaction, in dependency order (the expected dump is sorted by text,
    // so rules name chains that are added after them): tables, chains, sets and maps, rules, elements
    addNetns(NFT);
    const rank = (l: string) =>
      ['add table', 'add chain', 'add set', 'add map', 'add rule', 'add element'].findIndex((p) => l.startsWith(p));
    const nft = readFileSync(
      join(root, 'fixtures/tools/kube-proxy/upstream/nftables__TestOverallNFTablesRules.expected.nft-transaction.txt'),
      'utf8',
    )
      .split('\n')
      .filter((l) => rank(l) >= 0)
      .sort((a, b) => rank(a) - rank(b));
    execFileSync('ip', ['netns', 'exec', NFT, 'nft', '-f', '-'], { input: nft.join('\n') + '\n' });
  }, 60_000);

  afterAll(() => {
    releaseBpfLock();
    holder?.kill('SIGKILL');
    delNetns(NS, NFT);
    if (cgroupDir && existsSync(cgroupDir)) rmdirSync(cgroupDir);
    rmSync(work, { recursive: true, force: true });
  });

  it('svc lookup decodes the pinned maps exactly', async () => {
    const r = await cli(['svc', 'lookup', '10.96.0.10:53/udp', '--exec', `nsenter -t ${holder!.pid} -m`, '--json']);
    expect(r.code).toBe(0);
    const f = JSON.parse(r.out).frontends[0];
    expect(f).toMatchObject({ frontend: '10.96.0.10:53/UDP', type: 'ClusterIP', sources: ['cilium-bpf'] });
    expect(f.backends).toEqual([
      { address: '10.244.1.171', port: 53, state: 'active' },
      { address: '10.244.2.206', port: 53, state: 'terminating' },
    ]);
  });

  it('trace from the host goes through the attached socket-LB hook to the active backend', async () => {
    const addr = (
      JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show'], { encoding: 'utf8' })) as {
        addr_info: { local: string; scope: string }[];
      }[]
    )
      .flatMap((i) => i.addr_info)
      .find((a) => a.scope === 'global')?.local;
    if (!addr) return; // a machine without a global IPv4 address has no host source to trace from
    const r = await cli([
      'trace',
      addr,
      '10.96.0.10',
      '--proto',
      'udp',
      '--port',
      '53',
      '--exec',
      `nsenter -t ${holder!.pid} -m`,
      '--json',
    ]);
    const t = JSON.parse(r.out);
    expect(t.dst).toMatchObject({ kind: 'service', port: 53 });
    expect(t.hops[0]).toMatchObject({
      kind: 'socket-lb',
      program: 'cil_sock4_connect',
      backend: '10.244.1.171:53',
      inferred: true,
    });
    expect(t.hops[0].evidence[0]).toMatchObject({ probe: 'bpftool-cgroup' });
  });

  it('svc lookup reads a kube-proxy ruleset back through iptables-save in the namespace', async () => {
    const r = await cli(['svc', 'lookup', 'ns1/svc1', '--exec', `ip netns exec ${NS}`, '--json']);
    expect(r.code).toBe(0);
    const f = JSON.parse(r.out).frontends.find((x: { frontend: string }) => x.frontend === '172.30.0.41:80/TCP');
    expect(f.sources).toEqual(['kube-proxy-iptables']);
    expect(f.backends).toEqual([{ address: '10.180.0.1', port: 80, state: 'active', probability: 1 }]);
  });

  it('svc lookup reads the kube-proxy nftables table back through nft -j list ruleset', async () => {
    const r = await cli(['svc', 'lookup', 'ns4/svc4', '--exec', `ip netns exec ${NFT}`, '--json']);
    expect(r.code).toBe(0);
    const f = JSON.parse(r.out).frontends[0];
    expect(f.sources).toEqual(['kube-proxy-nftables']);
    expect(f.backends.map((b: { address: string }) => b.address).sort()).toEqual(['10.180.0.4', '10.180.0.5']);
  });
});
