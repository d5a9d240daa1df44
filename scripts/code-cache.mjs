#!/usr/bin/env node
// The build's code-cache warm-up (scripts/build-bundle.mjs): runs the CLI in dist/bundle/main.cjs once, compiled
// exactly as dist/cli-loader.js compiles it, and writes V8's code cache for it at exit.
// usage: node scripts/code-cache.mjs OUT -- netpath arguments…   (OUT: dist/bundle/main.cjs.cache)
import { writeFileSync } from 'node:fs';
import { loadCli } from '../dist/cli-loader.js';

const [out, ...args] = process.argv.slice(2);
const { cli, script } = loadCli(undefined, { cache: false });
process.on('exit', (code) => {
  if (code === 0) writeFileSync(out, script.createCachedData());
});
process.argv = [process.argv[0], 'netpath', ...args];
cli.run();
