import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

// The single executable: built from dist/ into a temp dir, copied alone into another one, and run with a
// PATH that has no node, it must answer exactly as `node bin/netpath.js` does on the bundled snapshots.
const root = fileURLToPath(new URL('../..', import.meta.url));
const probe = spawnSync(process.execPath, ['--experimental-sea-config'], { encoding: 'utf8' });
const seaSupported = !/bad option/.test(probe.stderr);
const built = existsSync(join(root, 'dist/main.js'));
const why = !seaSupported
  ? `node ${process.versions.node} has no --experimental-sea-config`
  : !built
    ? 'dist/ is not built (npm run build)'
    : process.platform !== 'linux'
      ? 'only built and checked on Linux'
      : '';

describe.skipIf(why !== '')(`single executable${why ? ` (skipped: ${why})` : ''}`, () => {
  let buildDir: string;
  let runDir: string;
  let exe: string;
  let env: NodeJS.ProcessEnv;
  const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
  const SVC = join(root, 'fixtures/snapshots/kind-v4-svc/k1');
  const GW = join(root, 'fixtures/snapshots/v6-wg/gateway');

  beforeAll(() => {
    buildDir = mkdtempSync(join(tmpdir(), 'np-sea-build-'));
    runDir = mkdtempSync(join(tmpdir(), 'np-sea-run-'));
    const b = spawnSync(process.execPath, [join(root, 'scripts/build-sea.mjs'), '--out', join(buildDir, 'netpath')], {
      encoding: 'utf8',
      timeout: 240_000,
    });
    if (b.status !== 0) throw new Error(`build-sea failed: ${b.stderr}`);
    exe = join(runDir, 'netpath');
    copyFileSync(join(buildDir, 'netpath'), exe);
    spawnSync('chmod', ['755', exe]);
    // the tar.gz form of a snapshot too: gunzip and tar reading must be inside the executable
    spawnSync('tar', ['-czf', join(runDir, 'k1.tar.gz'), '-C', join(root, 'fixtures/snapshots/kind-v4'), 'k1']);
    env = {
      PATH: runDir,
      HOME: runDir,
      ...(process.env.NETPATH_AUDIT_LOG ? { NETPATH_AUDIT_LOG: process.env.NETPATH_AUDIT_LOG } : {}),
    };
  }, 300_000);
  afterAll(() => {
    rmSync(buildDir, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  });

  it('runs where PATH has no node', () => {
    expect(spawnSync('/bin/sh', ['-c', 'command -v node'], { env }).status).not.toBe(0);
    const v = spawnSync(exe, ['--version'], { env, cwd: runDir, encoding: 'utf8' });
    expect(v.status).toBe(0);
    // the same version and commit as the build it was bundled from
    expect(v.stdout).toBe(
      spawnSync(process.execPath, [join(root, 'bin/netpath.js'), '--version'], { encoding: 'utf8' }).stdout,
    );
  });

  it('answers exactly as the node CLI: text, json, wide, svc lookup, a .tar.gz snapshot, and the exit codes', () => {
    const cases: [string[], number][] = [
      [['trace', '10.244.1.12', '10.244.2.7', '--port', '8080', '--snapshot', K1], 0],
      [['trace', '10.244.1.12', '10.96.0.10', '--proto', 'udp', '--port', '53', '-s', SVC, '-o', 'json'], 0],
      [['trace', '10.244.1.12', '203.0.113.9', '-s', K1, '-o', 'wide'], 0],
      [['svc', 'lookup', '10.96.0.10', '-s', SVC, '-o', 'yaml'], 0],
      [['trace', '2001:db8:1::10', '2001:db8:77::1', '-s', GW], 1],
      [['trace', '10.244.1.12', '10.244.1.57', '-s', join(runDir, 'k1.tar.gz'), '-o', 'table'], 0],
      [['trace', 'nope', '10.0.0.1', '-s', K1], 2],
    ];
    for (const [argv, code] of cases) {
      const sea = spawnSync(exe, argv, { env, cwd: runDir, encoding: 'utf8' });
      const cli = spawnSync(process.execPath, [join(root, 'bin/netpath.js'), ...argv], {
        cwd: runDir,
        encoding: 'utf8',
      });
      expect(sea.status, argv.join(' ')).toBe(code);
      expect(sea.stdout, argv.join(' ')).toBe(cli.stdout);
      expect(sea.stderr, argv.join(' ')).toBe(cli.stderr);
    }
  });

  it('says in one line that kubectl is missing on such a node', () => {
    const r = spawnSync(exe, ['trace', '10.244.1.12', 'default/web', '-s', K1], { env, cwd: runDir, encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toBe('netpath: kubectl: not installed (needed to resolve pod default/web)\n');
  });
});
