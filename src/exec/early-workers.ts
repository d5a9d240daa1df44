import type { Worker } from 'node:worker_threads';

/**
 * Workers bin/netpath.js starts before the CLI's bundle loads (commands/svc-early.ts, collect/scan-early.ts), by
 * key, until the command adopts or ends them. One map per process and name, kept on globalThis: bin/netpath.js's
 * copy of a module and the bundle's copy share it.
 */
export function earlyRegistry<T extends { w: Worker }>(name: string) {
  const KEY = Symbol.for(`netpath.${name}`);
  const map = (): Map<string, T> => {
    const g = globalThis as { [KEY]?: Map<string, T> };
    g[KEY] ??= new Map();
    return g[KEY];
  };
  return {
    has: (key: string): boolean => map().has(key),
    set: (key: string, v: T): void => void map().set(key, v),
    /** the worker started for `key`, taken out (undefined when none was) */
    take(key: string): T | undefined {
      const m = map();
      const v = m.get(key);
      m.delete(key);
      return v;
    },
    /** ends the workers nobody adopted */
    end(): void {
      const m = map();
      for (const v of m.values()) void v.w.terminate();
      m.clear();
    },
    /** the workers not yet adopted or ended (tests) */
    pending: (): Map<string, T> => new Map(map()),
  };
}
