import { describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { BUILD_INFO } from '../src/build-info.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const git = (...a: string[]) => spawnSync('git', ['-C', root, ...a], { encoding: 'utf8' });
const inGit = git('rev-parse', '--show-toplevel').status === 0;

async function bake(args: string[]): Promise<{ version: string; commit: string }> {
  const out = join(mkdtempSync(join(tmpdir(), 'np-bi-')), 'build-info.js');
  const r = spawnSync(process.execPath, [join(root, 'scripts/build-info.mjs'), ...args, '--out', out], {
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  const m = (await import(pathToFileURL(out).href)) as { BUILD_INFO: { version: string; commit: string } };
  rmSync(join(out, '..'), { recursive: true, force: true });
  return m.BUILD_INFO;
}

describe('--version: package version and the git commit baked in at build time', () => {
  it('the source fallback carries the package version', () => {
    expect(BUILD_INFO).toEqual({ version: pkg.version, commit: 'unknown' });
  });

  it.skipIf(!inGit)('built in this git checkout: the commit of HEAD (-dirty when tracked files changed)', async () => {
    const head = git('rev-parse', '--short=12', 'HEAD').stdout.trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
    expect(await bake([])).toEqual({ version: pkg.version, commit: dirty ? `${head}-dirty` : head });
  });

  it('built outside git (a copy, an unpacked tarball): "unknown", never a parent repository\'s commit', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'np-nogit-'));
    try {
      copyFileSync(join(root, 'package.json'), join(copy, 'package.json'));
      expect(await bake(['--root', copy])).toEqual({ version: pkg.version, commit: 'unknown' });
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it.skipIf(!existsSync(join(root, 'dist/build-info.js')))('the built CLI prints what the build baked in', async () => {
    const baked = (
      (await import(pathToFileURL(join(root, 'dist/build-info.js')).href)) as {
        BUILD_INFO: { version: string; commit: string };
      }
    ).BUILD_INFO;
    const r = spawnSync(process.execPath, [join(root, 'bin/netpath.js'), '--version'], { encoding: 'utf8' });
    expect(r.stdout).toBe(`${baked.version} (commit ${baked.commit})\n`);
    expect(baked.version).toBe(pkg.version);
    if (inGit) expect(baked.commit).toMatch(/^[0-9a-f]{12}(-dirty)?$/);
  });
});
