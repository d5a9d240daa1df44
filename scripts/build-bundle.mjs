#!/usr/bin/env node
// Bundles the npm CLI: dist/ (tsc output, with build-info baked in) into a few ESM files under dist/bundle/,
// which bin/netpath.js and bin/kubectl-netpath run. Node's ESM loader resolves, reads and compiles each
// module file on its own (~0.2 s for netpath's ~200 modules, in the main thread and again in every worker
// thread); a bundle is a handful of files.
//   - every worker script is an entry point of its own, written next to the chunk that starts it: offload.ts,
//     svc-offload.ts and diff-iptables-offload.ts look for `./scan-worker.js` / `./svc-worker.js` /
//     `./diff-iptables-worker.js` beside their own import.meta.url;
//   - code splitting: modules shared by the CLI and a worker go to shared chunks, and each `await import()`
//     of the CLI (a command, execa, the diagram renderer) stays a chunk loaded only when it is used;
//   - yaml is bundled on its own, as dist/bundle/yaml.cjs, which yaml-lazy.js require()s when a ConfigMap is
//     read (one file: ~30 ms instead of ~100 ms for the package's CommonJS files); `await import('yaml')`
//     (sysdumps, -o yaml) still loads the package from node_modules.
//   - the main thread runs dist/bundle/main.cjs, the same CLI as one CommonJS script, through a vm.Script
//     (dist/cli-loader.js) with the V8 code cache main.cjs.cache that a warm-up run writes here (Node 20 has
//     no code cache for ES modules): V8 then skips most of compiling the bundle. The scan worker (route and
//     conntrack scans) and the svc lookup's iptables worker are run the same way, as scan-worker.cjs /
//     svc-worker.cjs with their .cache, by stubs scan-worker.js / svc-worker.js, and so is diff's iptables worker
//     (diff-iptables-worker.cjs).
// usage: node scripts/build-bundle.mjs           (after tsc and build-info, as `npm run build` does)
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'bundle');
const entries = {
  main: 'main.js',
};
// worker entries run as one CommonJS script each, with a code cache, like main.cjs (below)
const cjsWorkers = {
  'scan-worker': 'collect/scan-worker.js',
  'svc-worker': 'commands/svc-worker.js',
  'diff-iptables-worker': 'commands/diff-iptables-worker.js',
};
for (const f of [...Object.values(entries), ...Object.values(cjsWorkers)])
  if (!existsSync(join(dist, f))) {
    console.error(`build-bundle: dist/${f} is missing: run tsc first`);
    process.exit(1);
  }

rmSync(out, { recursive: true, force: true });
const major = Number(process.versions.node.split('.')[0]);
const r = await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([k, f]) => [k, join(dist, f)])),
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: `node${Math.max(20, major)}`,
  outdir: out,
  chunkNames: 'chunk-[hash]',
  external: ['yaml'],
  // CommonJS dependencies (cli-table3, execa's) call require() for Node's built-ins, which an ES module has not
  banner: {
    js: "import { createRequire as __npRequire } from 'node:module';\nconst require = __npRequire(import.meta.url);",
  },
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  plugins: [
    {
      // yaml-lazy.js (the ConfigMap reader's yaml, loaded on first use) takes the bundled copy beside the chunks
      name: 'yaml-beside',
      setup(b) {
        b.onResolve({ filter: /\/yaml-lazy\.js$/ }, () => ({ path: 'yaml-lazy', namespace: 'yaml-beside' }));
        b.onLoad({ filter: /.*/, namespace: 'yaml-beside' }, () => ({
          contents:
            "import { createRequire } from 'node:module';\nexport const yaml = () => createRequire(import.meta.url)('./yaml.cjs');\n",
          loader: 'js',
        }));
      },
    },
  ],
});
await build({
  entryPoints: [createRequire(import.meta.url).resolve('yaml')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${Math.max(20, major)}`,
  outfile: join(out, 'yaml.cjs'),
  legalComments: 'none',
  logLevel: 'warning',
});
// the main thread's CLI as one CommonJS script (cli-loader.ts). import.meta.url becomes main.cjs's own URL, so
// the offload modules find the worker entries beside it; "use strict" keeps the ES modules' strict semantics;
// `import('yaml')` becomes a require() of the package, as a vm.Script has no loader for import().
const cjs = join(out, 'main.cjs');
const cjsOptions = (entry, outfile) => ({
  entryPoints: [join(dist, entry)],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${Math.max(20, major)}`,
  outfile,
  define: { 'import.meta.url': '__npUrl' },
  banner: { js: "'use strict';\nconst __npUrl = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [
    {
      name: 'yaml-beside',
      setup(b) {
        b.onResolve({ filter: /\/yaml-lazy\.js$/ }, () => ({ path: 'yaml-lazy', namespace: 'yaml-beside' }));
        b.onLoad({ filter: /.*/, namespace: 'yaml-beside' }, () => ({
          contents: "export const yaml = () => require('./yaml.cjs');\n",
          loader: 'js',
        }));
      },
    },
    {
      name: 'yaml-require',
      setup(b) {
        // import('yaml') → a module whose require('yaml') stays a require of the package (and ./yaml.cjs, beside)
        b.onResolve({ filter: /^(yaml|\.\/yaml\.cjs)$/ }, (a) =>
          a.kind === 'dynamic-import' ? { path: 'yaml', namespace: 'yaml-require' } : { path: a.path, external: true },
        );
        b.onLoad({ filter: /.*/, namespace: 'yaml-require' }, () => ({
          contents: "module.exports = require('yaml');\n",
          loader: 'js',
        }));
      },
    },
  ],
});
await build(cjsOptions('main.js', cjs));
// A worker thread started on dist/bundle/scan-worker.js (offload.ts's name for it) runs this stub, which runs
// scan-worker.cjs through dist/cli-loader.js's runBundle with the code cache beside it: Node compiles an ES
// module worker's chunks from source in every worker (~0.1 s of CPU for the route scanner and zod).
for (const [name, entry] of Object.entries(cjsWorkers)) {
  await build(cjsOptions(entry, join(out, `${name}.cjs`)));
  writeFileSync(
    join(out, `${name}.js`),
    `// written by scripts/build-bundle.mjs: runs ${name}.cjs with its V8 code cache\n` +
      "import { fileURLToPath } from 'node:url';\n" +
      "import { runBundle } from '../cli-loader.js';\n\n" +
      `runBundle(fileURLToPath(new URL('./${name}.cjs', import.meta.url)));\n`,
  );
}
// The code cache: V8's compiled code after three commands run one after another in one process (the functions a
// run compiles lazily are in it too): `svc lookup` and a pod-to-outside `trace` on a bundled snapshot, and the
// same trace live through the prefix `true`, which answers every probe with nothing: that compiles the live path
// (the runner, execa, the probe collection, the kernel-route start) without reading this machine. A cache after
// `svc lookup` alone left the trace and the live path to compile lazily (bench/RESULTS.md, branches live8, live9).
// Written here only; a cache V8 rejects (another Node, other flags) is compiled from source at run time. No
// snapshot (an npm install of the package): no cache.
const warm = join(root, 'fixtures/snapshots/socket-lb/k1');
let cacheNote = 'no code cache (no fixtures/snapshots/socket-lb/k1)';
if (existsSync(warm)) {
  // the traces end unknown (exit 3): the snapshot holds no pod namespace, the prefix answers nothing
  const pod = ['10.244.1.235', '8.8.8.8', '--no-color'];
  const args = [
    ...['svc', 'lookup', '10.96.0.20:80/tcp', '-s', warm, '--no-color'],
    ...['--then', 'EXIT:3', 'trace', ...pod, '-s', warm],
    ...['--then', 'EXIT:3', 'trace', ...pod, '--exec', 'true'],
  ];
  const w = spawnSync(process.execPath, [join(root, 'scripts/code-cache.mjs'), `${cjs}.cache`, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (w.status !== 0 || !existsSync(`${cjs}.cache`)) {
    rmSync(`${cjs}.cache`, { force: true });
    console.error(`build-bundle: the code-cache warm-up failed (exit ${w.status}): ${w.stderr.trim().split('\n')[0]}`);
    process.exit(1);
  }
  cacheNote = 'main.cjs.cache';
}
// Each worker bundle's cache: its jobs run once on bundled snapshot files, in one thread (code-cache.mjs
// --worker hands the bundle each job as its workerData, and a job's `ask` as the message the worker waits for),
// every answer { ok: true } or the build fails.
const fx = (p) => join(root, 'fixtures', p);
// the svc worker's questions: by address (the address pre-filter) and by name (the comment pre-filter)
const dump = fx('snapshots/migrate-iptables/before/iptables-save.txt');
const dns = { kind: 'address', address: '10.96.0.10', port: 53, proto: 'UDP' };
const workerJobs = {
  'scan-worker': [
    { kind: 'routes', path: fx('snapshots/kind-v4/k1/ip-route4.json'), probe: 'ip-route4', family: 4 },
    { kind: 'routes', path: fx('snapshots/kind-v4/k1/ip-route6.json'), probe: 'ip-route6', family: 6 },
    {
      kind: 'conntrack',
      path: fx('snapshots/conntrack/np-ct-node/conntrack4.txt'),
      probe: 'conntrack4',
      query: { kind: 'plain', q: { address: '192.0.2.2', proto: 'tcp' } },
    },
  ],
  'svc-worker': [
    { path: dump, probe: 'iptables-save', family: 4, ask: { only: [dns], narrow: { address: dns.address } } },
    {
      path: dump,
      probe: 'iptables-save',
      family: 4,
      ask: {
        only: [{ kind: 'name', namespace: 'kube-system', name: 'kube-dns' }],
        narrow: { name: 'kube-system/kube-dns' },
      },
    },
  ],
  // diff's before side: the whole dump, its per-Service chains read lean (the lean read's code compiled too)
  'diff-iptables-worker': [{ path: dump, probe: 'iptables-save', family: 4, lean: true }],
};
for (const [name, jobs] of Object.entries(workerJobs)) {
  const file = join(out, `${name}.cjs`);
  if (!jobs.every((j) => existsSync(j.path))) continue;
  const w = spawnSync(
    process.execPath,
    [join(root, 'scripts/code-cache.mjs'), '--worker', file, `${file}.cache`, JSON.stringify(jobs)],
    { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
  );
  if (w.status !== 0 || !existsSync(`${file}.cache`)) {
    rmSync(`${file}.cache`, { force: true });
    console.error(`build-bundle: the ${name} code-cache warm-up failed (exit ${w.status}): ${w.stderr.trim()}`);
    process.exit(1);
  }
  cacheNote += `, ${name}.cjs.cache`;
}
const outputs = Object.entries(r.metafile.outputs);
const kb = outputs.reduce((n, [, o]) => n + o.bytes, 0) / 1024;
console.log(
  `build-bundle: dist/bundle (${outputs.length} files, ${kb.toFixed(0)} KiB, yaml.cjs, main.cjs, ${cacheNote})`,
);
