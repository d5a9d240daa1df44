import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeAllowList } from '../../src/exec/allowlist.js';
import { describeNeed, missingCaps, needOf, ownCapabilities, parseCapEff } from '../../src/exec/privilege.js';

// the privilege table of docs/safety.md, the page that documents what each probe needs
const safety = readFileSync(fileURLToPath(new URL('../../docs/safety.md', import.meta.url)), 'utf8');

describe('capabilities', () => {
  it('reads CapEff from /proc/<pid>/status', () => {
    expect(parseCapEff('Name:\tx\nCapEff:\t0000000000000000\n')).toEqual(new Set());
    expect(parseCapEff('CapEff:\t0000000000001000\n')).toEqual(new Set(['CAP_NET_ADMIN']));
    expect(parseCapEff('CapEff:\t0000000000201000\n')).toEqual(new Set(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN']));
    expect([...parseCapEff('CapEff:\t000001ffffffffff\n')!]).toContain('CAP_CHECKPOINT_RESTORE');
    expect(parseCapEff('CapEff: zz\n')).toBeNull();
    expect(parseCapEff('')).toBeNull();
    // this process: the test suite runs as root in CI, or as a user without them
    const own = ownCapabilities();
    expect(own).not.toBeNull();
    if (process.getuid?.() === 0) expect(own!.has('CAP_NET_ADMIN')).toBe(true);
  });

  it('knows what each probe needs, as measured (test/kernel/privilege.test.ts runs them)', () => {
    const caps = (argv: string) => needOf(argv.split(' ')).caps;
    expect(caps('ip -j -d link show')).toEqual([]);
    expect(caps('ip -n cni-1 -j addr show')).toEqual(['CAP_SYS_ADMIN', 'CAP_NET_ADMIN']);
    expect(caps('tc -j filter show dev eth0 ingress')).toEqual([]);
    expect(caps('bpftool -j prog show')).toEqual(['CAP_SYS_ADMIN']);
    expect(caps('bpftool -j net show')).toEqual(['CAP_NET_ADMIN']);
    expect(caps('bpftool -j cgroup tree /run/cilium/cgroupv2')).toEqual(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN']);
    expect(needOf(['bpftool', '-j', 'cgroup', 'tree', '/x']).silentWithout).toBe('CAP_SYS_ADMIN');
    expect(caps('nft -j list ruleset')).toEqual(['CAP_NET_ADMIN']);
    expect(caps('nft -v')).toEqual([]);
    expect(caps('ipvsadm -Sn')).toEqual(['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    expect(caps('sysctl -e net.ipv4.ip_forward')).toEqual([]);
    expect(describeNeed(needOf(['wg', 'show', 'all', 'dump']))).toMatch(
      /CAP_NET_ADMIN for kernel WireGuard, or root\/CAP_DAC_OVERRIDE/,
    );
    expect(missingCaps(needOf(['bpftool', '-j', 'cgroup', 'tree', '/x']), new Set(['CAP_NET_ADMIN']))).toEqual([
      'CAP_SYS_ADMIN',
    ]);
    expect(missingCaps(needOf(['bpftool', '-j', 'prog', 'show']), null)).toEqual([]);
  });

  it('the privilege table of docs/safety.md says, for every allow-listed command, what needOf says', () => {
    const table = /\| command \| needs \|[^\n]*\n\|[-| ]+\|\n((?:\|[^\n]*\n)+)/.exec(safety);
    expect(table, 'privilege table in docs/safety.md').not.toBeNull();
    const rows = table![1]!
      .trim()
      .split('\n')
      .map((r) => r.split('|').map((c) => c.trim()));
    for (const cmd of describeAllowList()) {
      const argv = cmd
        .replace('<netns>', 'ns1')
        .replace('<dev>', 'eth0')
        .replace('<map>', '/sys/fs/bpf/tc/globals/cilium_x')
        .replace('<cgroup>', '/run/x')
        .replace('[-e] <net.* key>...', '-e net.x')
        .split(' ');
      // the most specific pattern wins (`ip -n <netns> …` over `ip … show`); `…` stands for anything
      let row: string[] | undefined;
      let best = -1;
      for (const r of rows) {
        for (const m of r[1]!.matchAll(/`([^`]+)`/g)) {
          const re = new RegExp(
            `^${m[1]!
              .split('…')
              .map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
              .join('.*')}`,
          );
          if (re.test(cmd) && m[1]!.length > best) [row, best] = [r, m[1]!.length];
        }
      }
      expect(row, `a docs/safety.md row for ${cmd}`).toBeDefined();
      const listed = [...new Set([...row![2]!.matchAll(/CAP_[A-Z_]+/g)].map((m) => m[0]))];
      for (const c of needOf(argv).caps) expect(listed, `${cmd}: ${c}`).toContain(c);
      if (needOf(argv).caps.length === 0 && !needOf(argv).note) expect(row![2], cmd).toMatch(/^nothing/);
    }
  });
});
