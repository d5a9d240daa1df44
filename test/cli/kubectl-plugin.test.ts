import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

// End to end with the real kubectl binary: the plugin is found on PATH, dispatched, and, with no cluster
// configured, a name that needs kubectl fails in one line with exit 3.
const root = fileURLToPath(new URL('../..', import.meta.url));
const K1 = join(root, 'fixtures/snapshots/kind-v4/k1');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const kubectlFound = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const built = existsSync(join(root, 'dist/main.js'));

describe.skipIf(!kubectlFound || !built)(
  `kubectl netpath (real kubectl${kubectlFound ? '' : ': not installed, skipped'}${built ? '' : '; dist/ not built, run npm run build'})`,
  () => {
    let dir: string;
    let env: NodeJS.ProcessEnv;
    const kubectl = (args: string[]) =>
      spawnSync('kubectl', args, { encoding: 'utf8', env, cwd: dir, timeout: 60_000 });

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'np-plugin-'));
      symlinkSync(join(root, 'bin/kubectl-netpath'), join(dir, 'kubectl-netpath'));
      // no kubeconfig anywhere: kubectl falls back to localhost:8080, where nothing listens
      env = {
        ...process.env,
        PATH: `${dir}:${process.env.PATH ?? ''}`,
        HOME: dir,
        KUBECONFIG: join(dir, 'no-kubeconfig'),
      };
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('kubectl plugin list finds kubectl-netpath on PATH', () => {
      const r = kubectl(['plugin', 'list']);
      expect(r.stdout).toContain(join(dir, 'kubectl-netpath'));
    });

    it('kubectl netpath runs netpath: version, help under the plugin name, the same trace as the CLI', () => {
      const v = kubectl(['netpath', '--version']);
      expect(v.status).toBe(0);
      expect(v.stdout.split(/\s/)[0]).toBe(version);
      expect(kubectl(['netpath', '--help']).stdout).toMatch(/^Usage: kubectl netpath /);
      const argv = ['trace', '10.244.1.12', '10.244.2.7', '--port', '8080', '-s', K1, '-o', 'wide'];
      const viaKubectl = kubectl(['netpath', ...argv]);
      const direct = spawnSync(process.execPath, [join(root, 'bin/netpath.js'), ...argv], { encoding: 'utf8' });
      expect(viaKubectl.status).toBe(0);
      expect(viaKubectl.stdout).toBe(direct.stdout);
      expect(viaKubectl.stdout).toMatch(/^result: FORWARDED/m);
    });

    it('without a cluster, a pod name fails in one line naming kubectl, exit 3', () => {
      const r = kubectl(['netpath', 'trace', '10.244.1.12', 'default/web', '-s', K1]);
      expect(r.status).toBe(3);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /^netpath: kubectl: The connection to the server localhost:8080 was refused[^\n]* \(resolving pod default\/web\)\n$/,
      );
      const ctx = kubectl([
        'netpath',
        'svc',
        'lookup',
        'kube-system/kube-dns',
        '--context',
        'nope',
        '-s',
        join(root, 'fixtures/snapshots/kind-v4-svc/k1'),
      ]);
      expect(ctx.status).toBe(3);
      expect(ctx.stderr).toBe(
        'netpath: kubectl: error: context "nope" does not exist (resolving service kube-system/kube-dns)\n',
      );
    });
  },
);
