import { describe, expect, it } from 'vitest';
import { isAllowed, describeAllowList } from '../../src/exec/allowlist.js';
import { NODE_PROBES, netnsProbes, tcFilterProbes } from '../../src/collect/probes.js';

describe('read-only allow-list', () => {
  it('allows every probe netpath defines', () => {
    const all = [
      ...NODE_PROBES,
      ...netnsProbes('cni-1a2b'),
      ...tcFilterProbes('lxc0123456789ab'),
      ...tcFilterProbes('eth0'),
    ];
    for (const p of all) {
      expect(isAllowed(p.argv), p.argv.join(' ')).toBe(true);
      if (p.fallbackArgv) expect(isAllowed(p.fallbackArgv), p.fallbackArgv.join(' ')).toBe(true);
    }
    expect(isAllowed(['bpftool', '-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/tc/globals/cilium_lb4_services_v2'])).toBe(
      true,
    );
    for (const argv of [
      ['ip', 'xfrm', 'state'],
      ['ip', 'xfrm', 'policy'],
      ['cilium-dbg', 'bpf', 'ipcache', 'list'],
      ['cilium', 'bpf', 'ipcache', 'list'],
      ['cilium-dbg', 'encrypt', 'status'],
      ['cilium-dbg', 'bpf', 'egress', 'list'],
      ['bpftool', '-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/tc/globals/cilium_ipcache_v2'],
      ['bpftool', '-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/tc/globals/cilium_ipcache'],
    ])
      expect(isAllowed(argv), argv.join(' ')).toBe(true);
  });

  it('takes stdin only for ip -batch -, and only route get lines', () => {
    const argv = ['ip', '-d', '-j', '-force', '-batch', '-'];
    const ns = ['ip', '-n', 'node1', '-d', '-j', '-force', '-batch', '-'];
    const ok =
      'route get 10.0.0.1\nroute get fibmatch 10.0.0.1 from 10.0.0.2 iif eth0 mark 16 ipproto tcp sport 1 dport 2\n';
    expect(isAllowed(argv, ok)).toBe(true);
    expect(isAllowed(ns, ok)).toBe(true);
    expect(isAllowed(argv)).toBe(false);
    expect(isAllowed(argv, '')).toBe(false);
    expect(isAllowed(argv, 'route get 10.0.0.1')).toBe(false); // no final newline: a line could be cut
    expect(isAllowed(argv, 'route get 10.0.0.1\n\n')).toBe(false);
    expect(isAllowed(argv, 'route add 10.0.0.0/8 dev lo\n')).toBe(false);
    expect(isAllowed(argv, 'route get 10.0.0.1\nlink set lo down\n')).toBe(false);
    expect(isAllowed(argv, 'route get 10.0.0.1\r\n')).toBe(false);
    expect(isAllowed(argv, 'route get 10.0.0.1\n'.repeat(20_001))).toBe(false);
    expect(isAllowed(['ip', '-n', '-x', '-d', '-j', '-force', '-batch', '-'], ok)).toBe(false);
    expect(isAllowed(['ip', '-d', '-j', '-force', '-batch', '/etc/passwd'], ok)).toBe(false);
    expect(isAllowed(['ip', '-d', '-j', '-batch', '-'], ok)).toBe(false);
    expect(isAllowed(['uname', '-r'], ok)).toBe(false);
    expect(isAllowed(['cat', '/proc/net/fib_triestat'])).toBe(true);
    expect(isAllowed(['cat', '/proc/net/rt6_stats'])).toBe(true);
    expect(isAllowed(['cat', '/proc/net/ip_vs'])).toBe(true);
    expect(isAllowed(['cat', '/proc/net/ip_vs_conn'])).toBe(false);
    expect(isAllowed(['cat', '/etc/shadow'])).toBe(false);
    for (const t of ['local', 'main', 'default', '100', '4294967295'])
      expect(isAllowed(['ip', '-4', '-j', '-d', 'route', 'show', 'table', t]), t).toBe(true);
    for (const t of ['0', '4294967296', '-1', '007', 'main2', 'x'])
      expect(isAllowed(['ip', '-6', '-j', '-d', 'route', 'show', 'table', t]), t).toBe(false);
    expect(isAllowed(['ip', '-n', 'node1', '-6', '-j', '-d', 'route', 'show', 'table', '100'])).toBe(true);
  });

  it('refuses anything that writes or is not on the list', () => {
    const bad: string[][] = [
      ['ip', 'route', 'add', '10.0.0.0/8', 'dev', 'eth0'],
      ['ip', 'link', 'set', 'eth0', 'down'],
      ['ip', '-n', 'x', 'link', 'del', 'eth0'],
      ['tc', 'filter', 'del', 'dev', 'eth0', 'ingress'],
      ['tc', '-j', 'filter', 'show', 'dev', '-bad', 'ingress'],
      ['tc', '-j', 'filter', 'show', 'dev', 'a'.repeat(16), 'ingress'],
      ['tc', '-j', 'filter', 'show', 'dev', 'eth0;rm -rf /', 'ingress'],
      ['nft', 'flush', 'ruleset'],
      ['nft', '-f', '/tmp/x'],
      ['iptables', '-F'],
      ['iptables-restore'],
      ['conntrack', '-F'],
      ['ipset', 'flush'],
      ['ipset', 'destroy', 'KUBE-CLUSTER-IP'],
      ['ipset', 'restore'],
      ['ipset', 'save', 'KUBE-CLUSTER-IP'],
      ['ipset', 'save', '-file', '/tmp/x'],
      ['conntrack', '-D', '-s', '10.0.0.1'],
      ['wg', 'set', 'wg0', 'peer', 'x', 'remove'],
      ['wg', 'show', 'wg0', 'private-key'],
      ['bpftool', 'prog', 'load', 'x.o', '/sys/fs/bpf/x'],
      ['bpftool', '-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/tc/globals/../../x'],
      ['bpftool', '-j', 'map', 'update', 'pinned', '/sys/fs/bpf/tc/globals/cilium_lb4_services_v2'],
      ['bpftool', 'cgroup', 'detach', '/run/cilium/cgroupv2', 'connect4', 'id', '1'],
      ['sysctl', '-w', 'net.ipv4.ip_forward=0'],
      ['sysctl', 'net.ipv4.ip_forward=0'],
      ['sysctl', 'kernel.core_pattern'],
      ['cilium-dbg', 'service', 'delete', '1'],
      // the new probes take no parameter; their writing siblings are refused
      ['ip', 'xfrm', 'state', 'flush'],
      ['ip', 'xfrm', 'state', 'deleteall'],
      ['ip', 'xfrm', 'policy', 'flush'],
      ['ip', 'xfrm', 'state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', '1'],
      ['ip', '-n', 'cni-1', 'xfrm', 'state'],
      ['ip', '-j', 'xfrm', 'state'],
      ['ip', 'xfrm', 'state', 'list'],
      ['cilium-dbg', 'bpf', 'ipcache', 'delete', '10.0.0.0/24'],
      ['cilium-dbg', 'bpf', 'ipcache', 'update', '--ip', '10.0.0.1/32', '--identity', '2'],
      ['cilium-dbg', 'bpf', 'ipcache', 'list', '-o', 'yaml'],
      ['cilium-dbg', 'encrypt', 'flush', '-f'],
      ['cilium', 'encrypt', 'flush'],
      ['cilium-dbg', 'bpf', 'egress', 'list', '-o', 'json', 'x'],
      ['bpftool', '-j', 'map', 'update', 'pinned', '/sys/fs/bpf/tc/globals/cilium_ipcache_v2'],
      ['bpftool', '-j', 'map', 'dump', 'pinned', '/sys/fs/bpf/tc/globals/cilium_ipcache_v2/../x'],
      ['sh', '-c', 'ip route'],
      ['ip'],
      [],
    ];
    for (const argv of bad) expect(isAllowed(argv), JSON.stringify(argv)).toBe(false);
  });

  it('documents the list in human form', () => {
    const lines = describeAllowList();
    expect(lines).toContain('ip -j -d link show');
    expect(lines).toContain('tc -j filter show dev <dev> ingress');
    expect(lines.some((l) => l.startsWith('sysctl'))).toBe(true);
  });
});

describe('kubectl name lookups on the allow-list', () => {
  it('allows get pod / service / endpointslices with only the names varying', () => {
    for (const argv of [
      ['kubectl', 'get', 'pod', 'web-0', '-o', 'json'],
      ['kubectl', '-n', 'default', 'get', 'pod', 'nginx-deployment-67d4bdd6f5-w6kd7', '-o', 'json'],
      ['kubectl', '--context=kind-kind', '-n', 'kube-system', 'get', 'service', 'kube-dns', '-o', 'json'],
      [
        'kubectl',
        '--context=arn:aws:eks:eu-west-1:123456789012:cluster/prod',
        'get',
        'service',
        'my-service',
        '-o',
        'json',
      ],
      [
        'kubectl',
        '-n',
        'default',
        'get',
        'endpointslices',
        '--selector=kubernetes.io/service-name=my-service',
        '-o',
        'json',
      ],
    ])
      expect(isAllowed(argv), argv.join(' ')).toBe(true);
  });

  it('refuses flags smuggled in as names, other verbs, other resources and other shapes', () => {
    for (const argv of [
      ['kubectl', '-n', '--kubeconfig=/tmp/evil', 'get', 'pod', 'x', '-o', 'json'],
      ['kubectl', '-n', 'default', 'get', 'pod', '--raw=/api', '-o', 'json'],
      ['kubectl', '-n', 'default', 'get', 'pod', '-x', '-o', 'json'],
      ['kubectl', '--context=-x', 'get', 'pod', 'x', '-o', 'json'],
      ['kubectl', '--context', 'kind', 'get', 'pod', 'x', '-o', 'json'],
      ['kubectl', '-n', 'Default', 'get', 'pod', 'x', '-o', 'json'],
      ['kubectl', 'get', 'pod', 'Web', '-o', 'json'],
      ['kubectl', 'get', 'service', '1abc', '-o', 'json'],
      ['kubectl', 'get', 'service', 'a.b', '-o', 'json'],
      ['kubectl', 'get', 'pod', 'a'.repeat(254), '-o', 'json'],
      ['kubectl', 'get', 'secret', 'x', '-o', 'json'],
      ['kubectl', 'get', 'pod', 'x', '-o', 'yaml'],
      ['kubectl', 'get', 'pod', 'x', '-o', 'json', '--watch'],
      ['kubectl', 'delete', 'pod', 'x', '-o', 'json'],
      ['kubectl', '-n', 'default', 'exec', 'x', '--', 'sh'],
      ['kubectl', 'get', 'endpointslices', '--selector=kubernetes.io/service-name=x', '-o', 'json'],
      ['kubectl', '-n', 'default', 'get', 'endpointslices', '--selector=app=x', '-o', 'json'],
      [
        'kubectl',
        '-n',
        'default',
        'get',
        'endpointslices',
        '--selector=kubernetes.io/service-name=x,y=z',
        '-o',
        'json',
      ],
    ])
      expect(isAllowed(argv), argv.join(' ')).toBe(false);
  });
});
