// `netpath diff` hands a human format the diff without its unchanged frontends unless --all (cli/diff.ts
// diffForHuman): the text, --all text and quiet output must be what the whole diff renders, on every bundled pair
// (its before against its broken after, when it has one) and on a generated pair whose 100 Services are mostly unchanged.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { diffForHuman } from '../../src/cli/diff.js';
import { dirSource } from '../../src/collect/source.js';
import { runDiff } from '../../src/commands/diff.js';
import { findFormat, renderOutput } from '../../src/render/output.js';
import { genSnapshot } from '../helpers/bench-gen.js';

const snaps = fileURLToPath(new URL('../../fixtures/snapshots/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'npD-human-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('diff: a human format shown without the unchanged frontends', () => {
  it('renders as the whole diff does, with and without --all, quiet or not', async () => {
    const text = findFormat('text')!;
    const pairs: [string, string][] = readdirSync(snaps)
      .filter((d) => d.startsWith('migrate-'))
      .map((p) => [
        join(snaps, p, 'before'),
        join(snaps, p, existsSync(join(snaps, p, 'after-broken')) ? 'after-broken' : 'after'),
      ]);
    // and one the other way round: frontends added
    pairs.push([pairs[0]![1], pairs[0]![0]]);
    pairs.push([genSnapshot(join(tmp, 'b')), genSnapshot(join(tmp, 'a'), ['--after'])]);
    let dropped = 0;
    for (const [b, a] of pairs) {
      const { diff } = await runDiff(dirSource(b), dirSource(a), { offload: false });
      for (const all of [false, true])
        for (const quiet of [false, true]) {
          const opts = { color: true, width: 100, quiet, ...(all ? { verbose: true } : {}) };
          const shown = diffForHuman(diff, all);
          if (!all) dropped += diff.services.length - shown.services.length;
          expect(await renderOutput(text, 'diff', shown, opts)).toBe(await renderOutput(text, 'diff', diff, opts));
        }
    }
    // unchanged frontends were left out (else this compares a diff with itself)
    expect(dropped).toBeGreaterThan(100);
  }, 240_000);
});
