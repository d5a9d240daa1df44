// Captures one lab node into a snapshot directory with netpath's own captureSnapshot, every probe
// run through a prefix (`ip netns exec <node>` by default; NETPATH_PREFIX overrides it, e.g.
// `nsenter -t PID -m -n` for a node whose wireguard-go socket lives in a private mount namespace).
// The allow-list applies to each probe's own argv. Needs `npm run build` first.
import { rmSync } from 'node:fs';
import { createLiveRunner } from '../../dist/exec/live.js';
import { captureSnapshot } from '../../dist/collect/capture.js';

const [node, out, name] = process.argv.slice(2);
if (!node || !out) {
  console.error('usage: node scripts/lab/capture.mjs <netns> <out-dir> [node-name]');
  process.exit(2);
}
const prefix = process.env.NETPATH_PREFIX ? process.env.NETPATH_PREFIX.split(' ') : ['ip', 'netns', 'exec', node];
rmSync(out, { recursive: true, force: true });
const manifest = await captureSnapshot(createLiveRunner({ prefix }), {
  outDir: out,
  node: name ?? node,
  concurrency: 4,
  capturedWith: prefix.join(' '),
});
const files = manifest.probes.filter((p) => p.file).length;
const failed = manifest.probes.filter((p) => p.failed).map((p) => `${p.id}: ${p.failed}`);
console.log(`${node}: ${files} files -> ${out}${failed.length ? ` (not captured: ${failed.join(', ')})` : ''}`);
