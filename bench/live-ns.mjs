#!/usr/bin/env node
// Builds a network namespace holding a bench snapshot's routes and rules, as bench/run.js's kernel part does, and
// leaves it for timing live traces in it (`ip netns exec NS netpath trace …`); `--del` removes it.
//   node bench/live-ns.mjs NS SNAPSHOT_DIR [--routes N]   |   node bench/live-ns.mjs NS --del
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routeArgs, ruleArgs } from './ns-routes.mjs';

const [ns, snap] = process.argv.slice(2);
if (!ns || !snap) throw new Error('usage: live-ns.mjs NS SNAPSHOT_DIR | NS --del');
const ip = (...a) => spawnSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] });
if (snap === '--del') {
  ip('netns', 'del', ns);
  process.exit(0);
}
const limit = process.argv.includes('--routes') ? Number(process.argv[process.argv.indexOf('--routes') + 1]) : Infinity;
const tmp = mkdtempSync(join(tmpdir(), 'np-lv-ns-'));
const batch = (name, lines, fam = []) => {
  const f = join(tmp, name);
  writeFileSync(f, lines.join('\n') + '\n');
  const r = spawnSync('ip', [...fam, '-n', ns, '-force', '-batch', f], { stdio: ['ignore', 'ignore', 'pipe'] });
  return r.stderr
    .toString()
    .split('\n')
    .filter((l) => l.startsWith('RTNETLINK') || l.startsWith('Error')).length;
};
try {
  if (ip('netns', 'add', ns).status !== 0) throw new Error(`ip netns add ${ns} failed`);
  const rules = (f) =>
    JSON.parse(readFileSync(join(snap, f), 'utf8'))
      .filter((r) => r.priority !== 0 && r.priority < 32766)
      .map((r) => `rule add ${ruleArgs(r)}`);
  batch('setup', [
    // veth, not dummy: the dummy module is often not loadable in containers
    'link add eth0 type veth peer name eth0-peer',
    'link set eth0-peer up',
    'link set eth0 up',
    'addr add 172.18.0.2/16 dev eth0',
    'link add cilium_host type veth peer name cilium_net',
    'link set cilium_net up',
    'link set cilium_host up',
    'addr add 10.244.1.1/32 dev cilium_host',
    'link set lo up',
    ...rules('ip-rule4.json'),
  ]);
  batch('rules6', rules('ip-rule6.json'), ['-6']);
  const routes = [];
  for (const f of ['ip-route4.json', 'ip-route6.json'])
    for (const r of JSON.parse(readFileSync(join(snap, f), 'utf8'))) {
      const l = routeArgs(r);
      if (l && routes.length < limit) routes.push(l);
    }
  const refused = batch('routes', routes);
  console.log(`${ns}: ${routes.length} route adds, ${refused} refused`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
