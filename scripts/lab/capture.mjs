// Captures one lab node into a snapshot directory with netpath's own probes, run through
// `ip netns exec <node>` (the same allow-list applies to every probe).
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createLiveRunner } from '../../dist/exec/live.js';
import { collectProbes } from '../../dist/collect/live-source.js';
import { redactWgDump } from '../../dist/tools/wg/redact.js';

const [node, out, name] = process.argv.slice(2);
if (!node || !out) {
  console.error('usage: node scripts/lab/capture.mjs <netns> <out-dir> [node-name]');
  process.exit(2);
}
const prefix = process.env.NETPATH_PREFIX ? process.env.NETPATH_PREFIX.split(' ') : ['ip', 'netns', 'exec', node];
const runner = createLiveRunner({ prefix });
const { files, runs } = await collectProbes(runner, { transform: (id, s) => (id === 'wg' ? redactWgDump(s) : s) });
rmSync(out, { recursive: true, force: true });
for (const [file, text] of files) {
  mkdirSync(dirname(join(out, file)), { recursive: true });
  writeFileSync(join(out, file), text);
}
const kernel = (files.get('uname.txt') ?? '').trim() || null;
const manifest = {
  schemaVersion: 1,
  node: name ?? node,
  kernel,
  capturedAt: new Date().toISOString(),
  capturedWith: `netpath probes via ${prefix.join(' ')}`,
  probes: runs.map(({ id, argv, exitCode, durationMs, stderr, failed, file }) => ({ id, argv, exitCode, durationMs, stderr, ...(failed ? { failed } : {}), ...(file ? { file } : {}) })),
};
writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(`${node}: ${files.size} files → ${out}`);
