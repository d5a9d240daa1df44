import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLab } from '../helpers/lab.js';
import { addNetns, canUseNetns, delNetns, ipBatch, sysctlIn, uniqueName } from '../helpers/netns.js';

// a loaded machine (npm run test:stress, a busy CI runner) runs these far slower than an idle one
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

// Least privilege, for real: the built CLI runs inside a namespace of this test as uid 65534 under setpriv,
// with no capability, with CAP_NET_ADMIN only, and with CAP_NET_ADMIN + CAP_SYS_ADMIN (ambient). Each probe that
// its privileges do not allow must be named with the capability it needs, never turned into an empty answer.
const root = fileURLToPath(new URL('../..', import.meta.url));
const NODE = uniqueName('np-priv');
const POD = uniqueName('np-privpod');
const work = mkdtempSync(join(tmpdir(), 'np-priv-'));
// uid 65534 writes its snapshots and its spawn log here; the log is merged into the suite's audit afterwards
const audit = join(work, 'audit.jsonl');
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const canRun = canUseNetns() && spawnSync('which', ['setpriv']).status === 0 && existsSync(join(root, 'dist/main.js'));

/** Runs without blocking this worker (a blocked worker misses vitest's RPC deadline on a loaded machine). */
async function netpath(caps: string[], argv: string[]) {
  const c = caps.map((x) => `+${x}`).join(',');
  const set = caps.length
    ? [`--inh-caps=-all,${c}`, `--ambient-caps=-all,${c}`, `--bounding-set=-all,${c}`]
    : ['--inh-caps=-all', '--bounding-set=-all'];
  const r = await runLab(
    [
      'ip',
      'netns',
      'exec',
      NODE,
      'env',
      '-i',
      `PATH=${PATH}`,
      `NETPATH_AUDIT_LOG=${audit}`,
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      ...set,
      process.execPath,
      join(root, 'bin/netpath.js'),
      ...argv,
    ],
    { timeoutMs: 120_000 },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(!canRun)('netpath as an unprivileged user, live in a namespace', () => {
  beforeAll(() => {
    chmodSync(work, 0o777);
    writeFileSync(audit, '');
    chmodSync(audit, 0o666);
    addNetns(NODE, POD);
    ipBatch(NODE, [
      'link set lo up',
      `link add lxc0aa11bb22cc type veth peer name eth0 netns ${POD}`,
      'link set lxc0aa11bb22cc up',
      'link add eth1 type veth peer name peer1',
      'link set eth1 up',
      'link set peer1 up',
      'addr add 198.51.100.10/24 dev eth1',
      'route add default via 198.51.100.1 dev eth1',
      'route add 203.0.113.5/32 dev lxc0aa11bb22cc',
    ]);
    ipBatch(POD, [
      'link set lo up',
      'addr add 203.0.113.5/32 dev eth0',
      'link set eth0 up',
      'route add 169.254.1.1 dev eth0 scope link',
      'route add default via 169.254.1.1 dev eth0',
    ]);
    sysctlIn(NODE, ['net.ipv4.ip_forward=1']);
  });
  afterAll(() => {
    delNetns(POD, NODE);
    if (process.env.NETPATH_AUDIT_LOG && existsSync(audit))
      appendFileSync(process.env.NETPATH_AUDIT_LOG, readFileSync(audit, 'utf8'));
    rmSync(work, { recursive: true, force: true });
  });

  it('without any capability: snapshot names what each failing probe needs; ip and tc still answer', async () => {
    const r = await netpath([], ['snapshot', '-o', join(work, 'none')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const line = (id: string) => r.out.split('\n').find((l) => l.startsWith(`  ${id}: `)) ?? `(no line for ${id})`;
    expect(line('bpftool-prog')).toBe(
      '  bpftool-prog: bpftool: permission denied: needs CAP_SYS_ADMIN (netpath lacks CAP_SYS_ADMIN)',
    );
    expect(line('bpftool-link')).toBe(
      '  bpftool-link: bpftool: permission denied: needs CAP_SYS_ADMIN (netpath lacks CAP_SYS_ADMIN)',
    );
    expect(line('bpftool-net')).toBe(
      '  bpftool-net: bpftool: permission denied: needs CAP_NET_ADMIN (netpath lacks CAP_NET_ADMIN)',
    );
    expect(line('bpftool-cgroup')).toBe(
      '  bpftool-cgroup: bpftool: not run: needs CAP_NET_ADMIN and CAP_SYS_ADMIN (netpath has neither); without CAP_SYS_ADMIN it exits 0 and lists no programs',
    );
    expect(line('nft-ruleset')).toBe(
      '  nft-ruleset: nft: permission denied: needs CAP_NET_ADMIN (netpath lacks CAP_NET_ADMIN)',
    );
    expect(line('iptables-save')).toBe(
      '  iptables-save: iptables-save: permission denied: needs CAP_NET_ADMIN (netpath lacks CAP_NET_ADMIN)',
    );
    expect(line(`netns/${POD}/ip-route4`)).toBe(
      `  netns/${POD}/ip-route4: ip: permission denied: needs CAP_SYS_ADMIN and CAP_NET_ADMIN (netpath has neither)`,
    );
    for (const f of ['ip-link.json', 'ip-addr.json', 'ip-route4.json', 'ip-rule4.json', 'tc-qdisc.json'])
      expect(existsSync(join(work, 'none', f)), f).toBe(true);
    // the snapshot keeps the reasons: traced offline later, it says the same
    const m = JSON.parse(readFileSync(join(work, 'none', 'manifest.json'), 'utf8'));
    expect(m.probes.find((p: { id: string }) => p.id === 'bpftool-net')).toMatchObject({
      failed: 'EACCES',
      message: 'bpftool: permission denied: needs CAP_NET_ADMIN (netpath lacks CAP_NET_ADMIN)',
    });
  });

  it('without any capability: a live trace is unknown and says which capability would decide it (exit 3)', async () => {
    const r = await netpath([], ['trace', '203.0.113.5', '198.51.100.77', '--json']);
    // one line on stderr: the answer is partial, the first unreadable source and how many more
    expect(r.err).toMatch(
      /^netpath: warning: bpftool-cgroup: bpftool: not run: needs CAP_NET_ADMIN and CAP_SYS_ADMIN \(netpath has neither\); without CAP_SYS_ADMIN it exits 0 and lists no programs \(and \d+ more unreadable sources, listed in the warnings\)\n$/,
    );
    expect(r.code).toBe(3);
    const j = JSON.parse(r.out);
    expect(j.disposition).toBe('unknown');
    const w = j.warnings.find((x: { code: string }) => x.code === 'programs-unknown');
    expect(w.message).toBe(
      // 203.0.113.5 is the pod behind lxc0aa11bb22cc (its per-endpoint route says so even when the pod's namespace
      // cannot be read), so the program in question is the pod device's cil_from_container
      'the programs on lxc0aa11bb22cc ingress are unknown (bpftool-net: bpftool: permission denied: needs CAP_NET_ADMIN (netpath lacks CAP_NET_ADMIN)): whether cil_from_container takes the packet cannot be decided',
    );
    // offline, the snapshot taken as the same user gives the same answer and the same reason
    const o = await netpath([], ['trace', '203.0.113.5', '198.51.100.77', '--json', '-s', join(work, 'none')]);
    expect(o.code).toBe(3);
    expect(JSON.parse(o.out).warnings.find((x: { code: string }) => x.code === 'programs-unknown').message).toBe(
      w.message,
    );
  });

  it('without any capability: svc lookup cannot answer and says why in one line (exit 3)', async () => {
    const r = await netpath([], ['svc', 'lookup', '10.96.0.10']);
    expect(r.code).toBe(3);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(
      /^netpath: live node: no readable Service source \(.*iptables-save, ip6tables-save, nft-ruleset: permission denied: needs CAP_NET_ADMIN \(netpath lacks CAP_NET_ADMIN\)/,
    );
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('without any capability: analysing a snapshot needs no privilege at all', async () => {
    const argv = [
      'trace',
      '10.244.1.12',
      '10.244.2.7',
      '--port',
      '8080',
      '-s',
      join(root, 'fixtures/snapshots/kind-v4/k1'),
      '--json',
    ];
    const r = await netpath([], argv);
    expect(r.code).toBe(0);
    const asRoot = spawnSync(process.execPath, [join(root, 'bin/netpath.js'), ...argv], { encoding: 'utf8' });
    expect(r.out).toBe(asRoot.stdout);
  });

  it('with CAP_NET_ADMIN: nft, iptables-save and bpftool net answer; bpftool prog/link still name CAP_SYS_ADMIN and cgroup tree is not trusted', async () => {
    const r = await netpath(['net_admin'], ['snapshot', '-o', join(work, 'netadmin')]);
    expect(r.code).toBe(0);
    for (const f of ['nft-ruleset.json', 'bpftool-net.json'])
      expect(existsSync(join(work, 'netadmin', f)), f).toBe(true);
    expect(r.out).toMatch(
      /^ {2}bpftool-prog: bpftool: permission denied: needs CAP_SYS_ADMIN \(netpath lacks CAP_SYS_ADMIN\)$/m,
    );
    expect(r.out).toMatch(
      /^ {2}bpftool-cgroup: bpftool: not run: needs CAP_NET_ADMIN and CAP_SYS_ADMIN \(netpath lacks CAP_SYS_ADMIN\); without CAP_SYS_ADMIN it exits 0 and lists no programs$/m,
    );
    expect(r.out).not.toMatch(/nft-ruleset:/);
    // with bpftool net readable, "no program on this device" is known: the trace answers
    const t = await netpath(['net_admin'], ['trace', '203.0.113.5', '198.51.100.77', '--json']);
    expect(t.code).toBe(0);
    expect(JSON.parse(t.out).disposition).toBe('forwarded');
  });

  it('with CAP_NET_ADMIN and CAP_SYS_ADMIN: the pod namespace and every BPF listing are read; ipvsadm also needs CAP_NET_RAW', async () => {
    const r = await netpath(['net_admin', 'sys_admin'], ['snapshot', '-o', join(work, 'both')]);
    expect(r.code).toBe(0);
    // ipvsadm runs only on a kernel with IPVS (collect/probes.ts onlyIfPresent); this test's kernel may have none
    expect(r.out.split('\n').filter((l) => /permission denied|not run/.test(l))).toEqual([
      existsSync('/proc/net/ip_vs')
        ? '  ipvsadm: ipvsadm: permission denied: needs CAP_NET_ADMIN and CAP_NET_RAW (netpath lacks CAP_NET_RAW)'
        : '  ipvsadm: ipvsadm: not run: /proc/net/ip_vs does not exist, so IPVS is not in this kernel (ipvsadm would load the ip_vs module to look)',
    ]);
    expect(existsSync(join(work, 'both', `netns/${POD}/ip-addr.json`))).toBe(true);
    expect(existsSync(join(work, 'both', 'bpftool-cgroup.json')) || /bpftool-cgroup: /.test(r.out)).toBe(true);
    const t = await netpath(['net_admin', 'sys_admin'], ['trace', '203.0.113.5', '198.51.100.77', '--json']);
    expect(t.code).toBe(0);
    expect(JSON.parse(t.out).src.kind).toBe('local-pod');
    // everything the probes need (wireguard-go's socket needs CAP_DAC_OVERRIDE): nothing is refused
    const all = await netpath(
      ['net_admin', 'net_raw', 'sys_admin', 'dac_override'],
      ['snapshot', '-o', join(work, 'all')],
    );
    // but ipvsadm on a kernel without IPVS, which no capability changes (collect/probes.ts onlyIfPresent)
    const ipvs = existsSync('/proc/net/ip_vs')
      ? []
      : [/^ {2}ipvsadm: ipvsadm: not run: \/proc\/net\/ip_vs does not exist/];
    const said = all.out.split('\n').filter((l) => /permission denied|not run/.test(l));
    expect(said.filter((l) => !ipvs.some((re) => re.test(l)))).toEqual([]);
    expect(said).toHaveLength(ipvs.length);
  });
});
