import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Small snapshots from the bench's own generator (bench/gen.mjs, seeded: the same arguments give the same
// files), for tests that need a node with more Services or routes than the bundled captures hold.

const GEN = fileURLToPath(new URL('../../bench/gen.mjs', import.meta.url));

/** Writes a generated snapshot into `dir` (`--scale 0.01`: 100 Services x 10 backends, ~12,000 routes). */
export function genSnapshot(dir: string, args: string[] = []): string {
  execFileSync(process.execPath, [GEN, dir, '--scale', '0.01', ...args], { stdio: 'pipe' });
  return dir;
}
