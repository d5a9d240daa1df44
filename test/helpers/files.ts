import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir` (depth first, in readdir order) whose name matches `re`. */
export function filesUnder(dir: string, re: RegExp): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, re));
    else if (re.test(n)) out.push(p);
  }
  return out;
}

/** Freezes a value and everything it reaches: a memo's kept answers, so that code editing one throws. */
export function deepFreeze<T>(v: T, seen = new Set<unknown>()): T {
  if (v === null || typeof v !== 'object' || seen.has(v)) return v;
  seen.add(v);
  Object.freeze(v);
  for (const x of Object.values(v as object)) deepFreeze(x, seen);
  return v;
}
