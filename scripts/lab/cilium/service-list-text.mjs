// Prints the Services held in a snapshot's Cilium LB maps (bpf-map/*.json) as `cilium-dbg service list` prints
// them: a Go tabwriter (minwidth 5, padding 3, space) over `ID\tFrontend\tService Type\tBackend\t` rows sorted by
// id, one row per further backend (`\t\t\t<backend>\t`), `N => <addr> (<state>)` per backend. Addresses are
// `IP:port` up to v1.16 and `IP:port/PROTO` from v1.17, with `/i` for the internal scope. Needs `npm run build`.
//   node scripts/lab/cilium/service-list-text.mjs <snapshot-dir> <1.13|1.17>
import { dirSource } from '../../../dist/collect/source.js';
import { loadNodeState } from '../../../dist/collect/load-state.js';
import { loadServices } from '../../../dist/collect/load-services.js';

const [dir, version] = process.argv.slice(2);
if (!dir || !['1.13', '1.17'].includes(version ?? '')) {
  console.error('usage: node scripts/lab/cilium/service-list-text.mjs <snapshot-dir> <1.13|1.17>');
  process.exit(2);
}
const withProto = version === '1.17';
const src = dirSource(dir);
const state = await loadNodeState(src);
const { entries } = await loadServices(src, state.addrs);
const host = (ip) => (ip.includes(':') ? `[${ip}]` : ip);
const addr = (ip, port, proto, internal) =>
  `${host(ip)}:${port}${withProto && proto && proto !== 'ANY' ? `/${proto}` : ''}${internal ? '/i' : ''}`;
const rows = [['ID', 'Frontend', 'Service Type', 'Backend']];
const svcs = entries
  .filter((e) => e.source === 'cilium-bpf' && e.id !== undefined)
  .sort((a, b) => a.id - b.id || (a.frontend.scope === 'internal') - (b.frontend.scope === 'internal'));
for (const e of svcs) {
  const fe = addr(e.frontend.address, e.frontend.port, e.frontend.proto, e.frontend.scope === 'internal');
  const bes = e.backends.map(
    (b, i) => `${i + 1} => ${addr(b.address, b.port, b.proto ?? e.frontend.proto)} (${b.state})`,
  );
  rows.push([String(e.id), fe, e.type, bes[0] ?? '']);
  for (const b of bes.slice(1)) rows.push(['', '', '', b]);
}
const width = rows[0].map((_, c) => Math.max(5, ...rows.map((r) => r[c].length + 3)));
process.stdout.write(rows.map((r) => `${r.map((cell, c) => cell.padEnd(width[c])).join('')}\n`).join(''));
