#!/usr/bin/env node
// Builds a network namespace shaped like a 110-pod Cilium node's tc side for timing the per-device `tc filter
// show` probes (two per clsact device): eth0 and lxc1..lxcN (veth pairs), each with a clsact qdisc and u32 keys
// (no BPF program, so nothing outside the namespace changes); `--del` removes it.
//   node bench/tc-ns.mjs NS [--pods N]   |   node bench/tc-ns.mjs NS --del
import { spawnSync } from 'node:child_process';

const [ns, arg] = process.argv.slice(2);
if (!ns) throw new Error('usage: tc-ns.mjs NS [--pods N] | NS --del');
if (arg === '--del') {
  spawnSync('ip', ['netns', 'del', ns]);
  process.exit(0);
}
const pods = arg === '--pods' ? Number(process.argv[4]) : 110;
const batch = (argv, lines) => {
  const r = spawnSync(argv[0], [...argv.slice(1), '-force', '-batch', '-'], { input: `${lines.join('\n')}\n` });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} -batch: ${r.stderr}`);
};
if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) throw new Error(`ip netns add ${ns} failed`);
const ip = ['link set lo up', 'link add eth0 type veth peer name eth0-p', 'link set eth0 up'];
ip.push('addr add 172.18.0.2/16 dev eth0');
const tc = [
  'qdisc add dev eth0 clsact',
  'filter add dev eth0 ingress prio 1 protocol ip u32 match ip dst 172.18.0.2/32',
];
for (let i = 1; i <= pods; i++) {
  ip.push(`link add lxc${i} type veth peer name lxc${i}p`, `link set lxc${i} up`, `link set lxc${i}p up`);
  tc.push(`qdisc add dev lxc${i} clsact`);
  tc.push(`filter add dev lxc${i} ingress prio 1 protocol ip u32 match ip src 10.244.1.${i % 256}/32`);
  tc.push(`filter add dev lxc${i} egress prio 1 protocol ip u32 match ip dst 10.244.1.${i % 256}/32`);
}
batch(['ip', '-n', ns], ip);
batch(['ip', 'netns', 'exec', ns, 'tc'], tc);
console.log(`${ns}: ${pods + 1} clsact devices`);
