import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';

// bin/netpath.js runs dist/bundle/main.cjs through dist/cli-loader.js with the V8 code cache the build wrote
// (scripts/build-bundle.mjs). The cache must be one V8 takes (else it only costs a read), and a cache V8
// rejects, or none, must give the same CLI. Each run is a child process: V8 checks the cache against the
// flags of the process, and the test runner's are not the CLI's.

const root = fileURLToPath(new URL('../..', import.meta.url));
const BUNDLE = join(root, 'dist/bundle');
const LOADER = join(root, 'dist/cli-loader.js');
const SVC = join(root, 'fixtures/snapshots/kind-v4-svc/k1');
const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
const LB = join(root, 'fixtures/snapshots/socket-lb/k1');
const tmp = mkdtempSync(join(tmpdir(), 'np-code-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** the CLI from the bundle in `dir`, as bin/netpath.js runs it, and what V8 did with the cache */
function runFrom(dir: string, args: string[]) {
  const said = join(tmp, 'cache-said');
  rmSync(said, { force: true });
  const script = [
    "import { writeFileSync } from 'node:fs';",
    `import { loadCli } from ${JSON.stringify(LOADER)};`,
    `const r = loadCli(${JSON.stringify(dir)});`,
    `writeFileSync(${JSON.stringify(said)}, r.cache);`,
    'r.cli.run();',
  ].join('\n');
  const p = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
    timeout: 120_000,
  });
  return { code: p.status, out: p.stdout, err: p.stderr, cache: existsSync(said) ? readFileSync(said, 'utf8') : '' };
}

const COMMANDS = [
  ['svc', 'lookup', '10.96.0.10:53/udp', '-s', SVC, '--no-color'],
  ['svc', 'lookup', '10.96.0.20:80/tcp', '-s', LB, '-o', 'json'],
  ['trace', '10.244.1.235', '10.244.2.99', '-s', K1, '-o', 'yaml'],
  ['node', '-s', join(root, 'fixtures/snapshots/migrate-ipvs/before'), '--no-color'],
  ['trace', '10.244.1.235', '-s', K1],
];

describe.skipIf(!existsSync(join(BUNDLE, 'main.cjs')))('the main thread bundle and its V8 code cache', () => {
  it('is built with a cache that V8 accepts', () => {
    expect(existsSync(join(BUNDLE, 'main.cjs.cache')), 'dist/bundle/main.cjs.cache: run npm run build').toBe(true);
    const r = runFrom(BUNDLE, ['--version']);
    expect(r.code).toBe(0);
    expect(r.cache).toBe('accepted');
  });

  it('answers the same with the cache, with a cache V8 rejects, and with none', () => {
    const bad = join(tmp, 'rejected');
    const none = join(tmp, 'absent');
    for (const d of [bad, none]) cpSync(BUNDLE, d, { recursive: true });
    // the right size, wrong bytes: V8's header check fails and it compiles from source
    const cache = readFileSync(join(BUNDLE, 'main.cjs.cache'));
    writeFileSync(join(bad, 'main.cjs.cache'), Buffer.alloc(cache.length, 0x5a));
    rmSync(join(none, 'main.cjs.cache'));
    for (const args of COMMANDS) {
      const a = runFrom(BUNDLE, args);
      const b = runFrom(bad, args);
      const c = runFrom(none, args);
      expect([a.cache, b.cache, c.cache], args.join(' ')).toEqual(['accepted', 'rejected', 'absent']);
      // paths in the output are the snapshot's, not the bundle's: the three runs print the same
      expect({ code: b.code, out: b.out, err: b.err }, args.join(' ')).toEqual({
        code: a.code,
        out: a.out,
        err: a.err,
      });
      expect({ code: c.code, out: c.out, err: c.err }, args.join(' ')).toEqual({
        code: a.code,
        out: a.out,
        err: a.err,
      });
    }
  }, 180_000);
});
