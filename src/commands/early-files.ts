import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// What bin/netpath.js's early starts (svc-early.ts, trace-early.ts) look up before the CLI's bundle loads.

/** dirSource's file for `id` (the JSON form wins), when it is a regular file of at least minBytes. */
export function bigProbeFile(dir: string, id: string, minBytes: number): { path: string; ext: string } | undefined {
  for (const ext of ['json', 'txt']) {
    const path = join(dir, `${id}.${ext}`);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined) continue;
    return st.isFile() && st.size >= minBytes ? { path, ext } : undefined;
  }
  return undefined;
}

/**
 * `name` in `bundle`, by default dist/bundle beside dist/commands (read at the call, not at load: the single
 * executable has no import.meta.url), when it is a file.
 */
export function bundledFile(name: string, bundle?: string): string | undefined {
  const path = join(bundle ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'bundle'), name);
  return statSync(path, { throwIfNoEntry: false })?.isFile() === true ? path : undefined;
}
