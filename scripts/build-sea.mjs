#!/usr/bin/env node
// Builds netpath as one executable for nodes without Node.js: dist/ (tsc output, with build-info baked in)
// is bundled by esbuild into a single CommonJS file, turned into a Node single-executable-application blob
// (node --experimental-sea-config), and injected with postject into a copy of the node binary running this
// script. Nothing is downloaded: esbuild and postject come from npm install, node is this one.
// usage: node scripts/build-sea.mjs [--out FILE]      (default dist/netpath-<platform>-<arch>)
import { copyFileSync, chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--out');
const out = resolve(i > 0 ? process.argv[i + 1] : join(root, 'dist', `netpath-${process.platform}-${process.arch}`));
const work = join(dirname(out), '.sea-build');
// The fuse string postject flips so that node looks for the injected blob (Node's SEA documentation).
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

if (!existsSync(join(root, 'dist/main.js'))) {
  console.error('build-sea: dist/main.js is missing: run npm run build first');
  process.exit(1);
}
const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  console.error(`build-sea: node ${process.versions.node} has no usable single-executable support (needs 20+)`);
  process.exit(1);
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const bundle = join(work, 'netpath.cjs');

// SEA runs one CommonJS script whose require() only sees Node's built-in modules: everything else is bundled.
await build({
  stdin: { contents: "import { run } from './dist/main.js';\nrun();\n", resolveDir: root, sourcefile: 'sea-entry.js' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${major}`,
  outfile: bundle,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [
    {
      // dist/tools/cilium/yaml-lazy.js requires yaml from disk on first use; here it must be in the bundle
      name: 'yaml-static',
      setup(b) {
        b.onResolve({ filter: /\/yaml-lazy\.js$/ }, () => ({ path: 'yaml-lazy', namespace: 'yaml-static' }));
        b.onLoad({ filter: /.*/, namespace: 'yaml-static' }, () => ({
          contents: "import * as Y from 'yaml';\nexport const yaml = () => Y;\n",
          resolveDir: root,
          loader: 'js',
        }));
      },
    },
  ],
});

const config = join(work, 'sea-config.json');
const blob = join(work, 'sea-prep.blob');
writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true }, null, 2));
const gen = spawnSync(process.execPath, ['--experimental-sea-config', config], { encoding: 'utf8' });
if (gen.status !== 0) {
  console.error(
    `build-sea: node --experimental-sea-config failed: ${(gen.stderr || gen.stdout).trim().split('\n')[0]}`,
  );
  process.exit(1);
}

mkdirSync(dirname(out), { recursive: true });
rmSync(out, { force: true });
copyFileSync(process.execPath, out);
chmodSync(out, 0o755);
// the debug symbols of the node binary are most of its size and no use on a node being debugged for its network
const strip = spawnSync('strip', [out], { encoding: 'utf8' });
const stripped = strip.status === 0;
// postject's ELF library warns once per note section it does not know (hundreds of lines of noise):
// its output is shown only when the injection fails
const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
const inj = spawnSync(process.execPath, [postject, out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE], {
  encoding: 'utf8',
});
if (inj.status !== 0) {
  const noise = /^warning: Can't find string offset for section name/;
  for (const l of `${inj.stdout}\n${inj.stderr}`.split('\n'))
    if (l.trim() && !noise.test(l)) console.error(`postject: ${l}`);
  console.error('build-sea: postject failed');
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
console.log(
  `build-sea: ${out} (${(statSync(out).size / 1048576).toFixed(1)} MiB, node ${process.versions.node}${stripped ? ', symbols stripped' : ''}, ${process.platform}-${process.arch})`,
);
