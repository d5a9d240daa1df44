// Writes <snapshot>/cilium-endpoints.json for a lab node, in the shape of `cilium-dbg endpoint list
// -o json`, from what the capture recorded: each pod namespace's eth0 address and MAC, and the
// host-side veth (name, ifindex, MAC) its link_index points at. Cilium does not run in the lab, so
// the endpoint ids, identities and labels are made up; every address and device is the captured one.
//   node scripts/lab/cilium/endpoints.mjs SNAPSHOT_DIR FIRST_ENDPOINT_ID
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, firstId] = process.argv.slice(2);
if (!dir || !firstId) {
  console.error('usage: endpoints.mjs SNAPSHOT_DIR FIRST_ENDPOINT_ID');
  process.exit(2);
}
const read = (f) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
const hostLinks = read('ip-link.json');
const pods = existsSync(join(dir, 'netns'))
  ? readdirSync(join(dir, 'netns'))
      .filter((n) => n.startsWith('cni-'))
      .sort()
  : [];

const endpoints = [];
let id = Number(firstId);
for (const ns of pods) {
  const link = read(`netns/${ns}/ip-link.json`).find((l) => l.ifname === 'eth0');
  const addr = read(`netns/${ns}/ip-addr.json`).find((l) => l.ifname === 'eth0');
  const host = hostLinks.find((l) => l.ifindex === link?.link_index);
  if (!link || !addr || !host) throw new Error(`${ns}: no eth0 or no host-side veth in the capture`);
  const addressing = {};
  for (const a of addr.addr_info ?? []) {
    if (a.scope !== 'global') continue;
    if (a.family === 'inet') addressing.ipv4 = a.local;
    if (a.family === 'inet6') addressing.ipv6 = a.local;
  }
  const pod = `web-${ns.split('-').at(-1)}`;
  const labels = ['k8s:app=web', 'k8s:io.cilium.k8s.policy.cluster=default', 'k8s:io.kubernetes.pod.namespace=default'];
  endpoints.push({
    id: id++,
    status: {
      'external-identifiers': { 'k8s-namespace': 'default', 'k8s-pod-name': pod, 'pod-name': `default/${pod}` },
      identity: { id: 21050, labels },
      labels: { 'security-relevant': labels },
      networking: {
        addressing: [addressing],
        'host-mac': host.address,
        'interface-index': host.ifindex,
        'interface-name': host.ifname,
        mac: link.address,
      },
      state: 'ready',
    },
  });
}
endpoints.push({
  id: id++,
  status: {
    'external-identifiers': {},
    identity: { id: 1, labels: ['reserved:host'] },
    labels: { 'security-relevant': ['reserved:host'] },
    networking: { addressing: [{}] },
    state: 'ready',
  },
});
writeFileSync(join(dir, 'cilium-endpoints.json'), JSON.stringify(endpoints, null, 2) + '\n');
console.log(`${dir}: ${endpoints.length} endpoints`);
