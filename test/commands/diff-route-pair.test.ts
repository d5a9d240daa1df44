import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dirSource } from '../../src/collect/source.js';
import { runDiff } from '../../src/commands/diff.js';
import { genSnapshot } from '../helpers/bench-gen.js';

// diff with both sides' route files in one worker per family, the after side made from the before side's
// scan (tools/ip/route-pair.ts), against each side scanning its own files (routePairs: false, no workers):
// the same JSON and exit code on a generated pair (bench/gen.mjs and --after: ~0.1 % of the routes
// removed, changed or added) and on the bundled before/after pairs.

// the compiled worker (npm run build): vitest runs the TypeScript sources, which have none next to them
const SCAN_WORKER = fileURLToPath(new URL('../../dist/collect/scan-worker.js', import.meta.url));
const snaps = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'npR-diff-pair-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function agree(before: string, after: string): Promise<boolean[]> {
  const ref = await runDiff(dirSource(before), dirSource(after), { offload: false, routePairs: false });
  const replies: boolean[] = [];
  const got = await runDiff(dirSource(before), dirSource(after), {
    offload: { script: SCAN_WORKER, minBytes: 0, onReply: (k, ok) => k === 'route-pair' && replies.push(ok) },
  });
  expect(JSON.stringify(got.diff)).toBe(JSON.stringify(ref.diff));
  expect(got.exitCode).toBe(ref.exitCode);
  return replies;
}

describe('diff with the route pair scan = each side scanned alone', () => {
  it('on a generated pair', async () => {
    const before = genSnapshot(join(tmp, 'before'));
    const after = genSnapshot(join(tmp, 'after'), ['--after']);
    // both families answered by their pair worker
    expect(await agree(before, after)).toEqual([true, true]);
  }, 300_000);

  it('on the bundled before/after pairs', async () => {
    const pairs = readdirSync(snaps).filter((d) => d.startsWith('migrate-'));
    expect(pairs.length).toBeGreaterThan(0);
    for (const p of pairs) await agree(join(snaps, p, 'before'), join(snaps, p, 'after'));
  }, 300_000);
});
