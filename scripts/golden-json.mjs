#!/usr/bin/env node
// Golden outputs of the built CLI over every bundled snapshot: the traces each TOPOLOGY.md lists (plus the
// snapshots without one: kind-v4-svc, conntrack), `svc lookup` of every Service frontend, the cluster traces
// and `diff` of every migrate-* pair. test/render/golden-json.test.ts reruns the same argv in-process and
// requires every key/value written here to be present and equal, so a refactor of the hop model that
// changes or drops anything in the JSON (or the diagrams built from it) fails.
//
//   npm run build && node scripts/golden-json.mjs          # writes test/golden/*.json
//
// Paths are relative to the repository root (the test runs from there too).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const { main } = await import(join(root, 'dist/cli.js'));
const { BUILD_INFO } = await import(join(root, 'dist/build-info.js'));

const S = 'fixtures/snapshots';
// Each trace runs three ways: the JSON, the JSON with --explain (its text is built from the hops) and the
// mermaid diagram (its boxes are built from the hops).
const trace = (...argv) => [
  ['trace', ...argv, '--json'],
  ['trace', ...argv, '--json', '--explain'],
  ['trace', ...argv, '-o', 'mermaid'],
];
const lookup = (snap, frontends) => frontends.map((f) => ['svc', 'lookup', f, '-s', snap, '--json']);

/** Service frontends of a migrate-* TOPOLOGY.md services table (the first column, without the /i scope). */
function topologyFrontends(topology) {
  const md = readFileSync(join(root, S, topology, 'TOPOLOGY.md'), 'utf8');
  const table = md.split('<!-- services-table -->')[1].split('<!-- /services-table -->')[0];
  const out = [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1].replace(/\/i$/, ''));
  return [...new Set(out)];
}

const K = (n) => `${S}/kind-v4/${n}`;
const V6 = (n) => `${S}/v6-wg/${n}`;
const SVC = `${S}/kind-v4-svc/k1`;
const CT = `${S}/conntrack/np-ct-node`;
const E = (n) => `${S}/encap/${n}`;
const GOLDEN_GROUPS = {
  // kind-v4/TOPOLOGY.md "Expected paths (on k1)", and the same shapes seen from k2
  'kind-v4': [
    ...trace('10.244.1.12', '10.244.1.57', '-s', K('k1')),
    ...trace('10.244.1.12', '10.244.2.7', '--port', '8080', '-s', K('k1')),
    ...trace('172.18.0.2', '10.244.1.57', '-s', K('k1')),
    ...trace('10.244.1.12', '203.0.113.9', '-s', K('k1')),
    ...trace('10.244.2.7', '10.244.1.12', '-s', K('k1')),
    ...trace('10.244.1.12', '172.18.0.2', '-s', K('k1')),
    ...trace('172.18.0.1', '172.18.0.2', '--port', '22', '-s', K('k1')),
    ...trace('10.244.2.7', '10.244.2.33', '-s', K('k2')),
    ...trace('10.244.1.12', '10.244.2.7', '--port', '8080', '-s', K('k2')),
    ...trace('10.244.1.12', '10.244.2.7', '--port', '8080', '--cluster', `${S}/kind-v4`),
    ...trace('10.244.2.7', '203.0.113.9', '--cluster', `${S}/kind-v4`),
  ],
  // v6-wg/TOPOLOGY.md "Expected paths", the README's no-route example and the cluster traces
  'v6-wg': [
    ...trace('2001:db8:42::a:5', '2001:db8:42::a:6', '-s', V6('node-a')),
    ...trace('2001:db8:42::a:5', '2001:db8:42::b:7', '-s', V6('node-a')),
    ...trace('2001:db8:42::a:5', '2001:db8:42::c:9', '--port', '443', '-s', V6('node-a')),
    ...trace('2001:db8:42::a:5', '2001:db8:42::c:9', '-s', V6('gateway')),
    ...trace('2001:db8:42::a:5', '2001:db8:42::c:9', '-s', V6('node-c')),
    ...trace('2001:db8:1::10', '2001:db8:42::a:6', '-s', V6('node-a')),
    ...trace('2001:db8:42::a:5', '2001:db8:ffff::1', '-s', V6('node-a')),
    ...trace('2001:db8:42::b:7', '2001:db8:ffff::1', '-s', V6('node-b')),
    ...trace('2001:db8:42::c:9', '2001:db8:ffff::1', '-s', V6('node-c')),
    ...trace('2001:db8:42::b:7', '2001:db8:42::c:9', '-s', V6('node-b')),
    ...trace('2001:db8:1::10', '2001:db8:77::1', '-s', V6('gateway')),
    ...trace('2001:db8:42::a:5', '2001:db8:42::c:9', '--port', '443', '--cluster', `${S}/v6-wg`),
    ...trace('2001:db8:42::b:7', '2001:db8:42::c:9', '--cluster', `${S}/v6-wg`),
    ...trace('2001:db8:42::c:9', '2001:db8:42::a:5', '--cluster', `${S}/v6-wg`),
  ],
  // encap/TOPOLOGY.md "Expected traces" (issue 15: tunnel mode, Cilium's WireGuard, masquerade by the ipcache)
  encap: [
    ...trace('10.77.1.10', '10.77.2.20', '--proto', 'icmp', '-s', E('tunnel-node')),
    ...trace('10.77.3.10', '10.77.2.20', '--proto', 'icmp', '-s', E('wg-node')),
    ...trace('10.77.3.10', '203.0.113.9', '--proto', 'icmp', '-s', E('wg-node')),
    ...trace('10.77.3.10', '192.168.77.3', '--proto', 'icmp', '-s', E('wg-node')),
  ],
  // no TOPOLOGY.md: the Services its tests and the README use
  'kind-v4-svc': [
    ...lookup(SVC, ['10.96.0.10', '10.96.0.10:53/udp', '172.18.0.2:31940']),
    ...trace('10.244.1.12', '10.96.0.10', '--proto', 'udp', '--port', '53', '-s', SVC),
    ...trace('10.244.1.12', '10.96.0.10', '--proto', 'udp', '--port', '53', '--backend', '10.244.2.7', '-s', SVC),
    ...trace('172.18.0.2', '10.96.0.10', '--proto', 'udp', '--port', '53', '-s', SVC),
    ...trace('203.0.113.50', '172.18.0.2', '--port', '31940', '-s', SVC),
  ],
  // socket-lb/README.md: the connect() calls the kernel judged (results.json), traced from k1's host
  'socket-lb': [
    ...lookup(`${S}/socket-lb/k1`, ['0.0.0.0:31940', '10.96.0.20:80']),
    ...['127.0.0.1:31940', '172.18.0.3:31940', '172.18.0.2:31940', '10.96.0.20:80', '198.51.100.1:31940'].flatMap((d) =>
      trace('172.18.0.2', d.split(':')[0], '--port', d.split(':')[1], '-s', `${S}/socket-lb/k1`),
    ),
  ],
  // paste-k1/README.md: node k1 as netpath's capture, as a person's paste, and pasted with endpoint routes
  'paste-k1': ['json', 'text', 'endpoint-routes'].flatMap((side) => {
    const P = `${S}/paste-k1/${side}`;
    return [
      ...trace('10.244.1.12', '10.244.1.57', '-s', P),
      ...trace('10.244.1.12', '10.244.2.7', '--port', '8080', '-s', P),
      ...trace('172.18.0.2', '10.244.1.57', '-s', P),
      ...trace('10.244.1.12', '203.0.113.9', '-s', P),
    ];
  }),
  // no TOPOLOGY.md: fixtures/tools/conntrack/README.md's lab (kube-proxy-style iptables Services, no Cilium)
  conntrack: [
    ...lookup(CT, ['192.0.2.100', '2001:db8:100::10']),
    ...trace('192.0.2.2', '192.0.2.100', '--port', '80', '-s', CT),
    ...trace('192.0.2.2', '192.0.2.100', '--port', '80', '--sport', '40001', '-s', CT),
    ...trace('192.0.2.2', '192.0.2.100', '--proto', 'udp', '--port', '53', '--sport', '40053', '-s', CT),
    ...trace('2001:db8:1::2', '2001:db8:100::10', '--port', '80', '--sport', '40080', '-s', CT),
    ...trace('198.51.100.2', '192.0.2.2', '--port', '40001', '--sport', '8080', '-s', CT),
    ...trace('192.0.2.2', '198.51.100.3', '--proto', 'udp', '--port', '5999', '--sport', '40054', '-s', CT),
  ],
};
for (const m of ['migrate-iptables', 'migrate-ipvs', 'migrate-nft']) {
  const fes = topologyFrontends(m);
  const cmds = [];
  for (const stage of ['before', 'after-broken', 'after']) {
    const snap = `${S}/${m}/${stage}`;
    cmds.push(...lookup(snap, fes));
    // a pod, the host and an outside client to the Services (ClusterIP, no endpoints, affinity, NodePorts)
    cmds.push(
      ...trace('10.244.1.12', '10.96.45.10', '--port', '80', '-s', snap),
      ...trace('10.244.1.12', '10.96.0.10', '--proto', 'udp', '--port', '53', '-s', snap),
      ...trace('172.18.0.2', '10.96.88.30', '--port', '8443', '-s', snap),
      ...trace('10.244.1.57', '10.96.99.40', '--port', '80', '-s', snap),
      ...trace('172.18.0.1', '172.18.0.2', '--port', '31940', '-s', snap),
      ...trace('172.18.0.1', '172.18.0.2', '--port', '30417', '-s', snap),
      ...trace('172.18.0.1', '10.244.1.1', '--port', '31940', '-s', snap),
      ...trace('172.18.0.2', '10.96.0.1', '--port', '443', '-s', snap),
    );
  }
  for (const [a, b] of [
    ['before', 'after'],
    ['before', 'after-broken'],
    ['after-broken', 'after'],
  ]) {
    cmds.push(['diff', `${S}/${m}/${a}`, `${S}/${m}/${b}`, '--json', '--all']);
    cmds.push(['diff', `${S}/${m}/${a}`, `${S}/${m}/${b}`, '-o', 'mermaid']);
  }
  GOLDEN_GROUPS[m] = cmds;
}

async function run(argv) {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    isTTY: false,
    env: {},
  });
  if (code === 2 || out === '') throw new Error(`${argv.join(' ')}: exit ${code}: ${err.trim()}`);
  return { code, out };
}

const dir = join(root, 'test/golden');
mkdirSync(dir, { recursive: true });
for (const [group, commands] of Object.entries(GOLDEN_GROUPS)) {
  const entries = [];
  for (const argv of commands) {
    const r = await run(argv);
    const json = argv.includes('--json');
    entries.push({ argv, exitCode: r.code, output: json ? JSON.parse(r.out) : r.out });
  }
  writeFileSync(join(dir, `${group}.json`), `${JSON.stringify(entries, null, 1)}\n`);
  console.log(`${group}: ${entries.length} commands`);
}
console.log(`built from ${BUILD_INFO.commit}`);
