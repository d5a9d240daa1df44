import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { HEAD, TAIL } from './exec/bundle-worker.js';

/**
 * Runs the npm CLI from dist/bundle/main.cjs (scripts/build-bundle.mjs) through a vm.Script, so that V8 can
 * take its compiled code from main.cjs.cache instead of compiling the bundle again. Node 20 has no code
 * cache for ES modules (module.enableCompileCache is Node 22+), so the main thread's bundle is a CommonJS
 * script. The scan worker's bundle runs the same way (runBundle), by a stub the build writes.
 *
 * The cache is written at build time only (a warm-up run in scripts/build-bundle.mjs), never here: netpath
 * never writes on a node. V8 checks it against the source, its own version and flags and rejects one that
 * does not fit; the script is then compiled from source as if there were no cache, with the same behaviour.
 */

export type CliModule = { run: (opts?: { name?: string }) => void };

export interface LoadedCli {
  cli: CliModule;
  /** the compiled script (the build's warm-up writes its createCachedData()) */
  script: Script;
  /** what V8 did with main.cjs.cache */
  cache: 'accepted' | 'rejected' | 'absent';
}

/** dist/bundle, beside dist/cli-loader.js */
export const BUNDLE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'bundle');

export function loadCli(dir: string = BUNDLE_DIR, opts: { cache?: boolean } = {}): LoadedCli {
  const r = runBundle(join(dir, 'main.cjs'), opts);
  return { cli: r.exports as CliModule, script: r.script, cache: r.cache };
}

export interface RanBundle {
  exports: unknown;
  script: Script;
  cache: LoadedCli['cache'];
}

/**
 * Runs one CommonJS bundle of dist/bundle through a vm.Script with the code cache FILE.cache beside it: the
 * CLI's main.cjs (loadCli), and each worker thread's script (scan-worker.cjs, run by the scan-worker.js stub
 * the build writes). `require` stands in for the bundle's own: the build's warm-up hands a worker bundle its
 * job that way, in one thread, without starting one.
 */
export function runBundle(file: string, opts: { cache?: boolean; require?: NodeJS.Require } = {}): RanBundle {
  const src = readFileSync(file, 'utf8');
  let cachedData: Buffer | undefined;
  if (opts.cache !== false)
    try {
      cachedData = readFileSync(`${file}.cache`);
    } catch {
      // no cache (not built, or removed): compile from source
      cachedData = undefined;
    }
  const script = new Script(HEAD + src + TAIL, { filename: file, ...(cachedData ? { cachedData } : {}) });
  return { ...evaluate(script, file, opts.require), script, cache: cacheSaid(script, cachedData) };
}

/** Runs the compiled bundle once more (the build's warm-up: one script, several jobs); its exports. */
export function evaluate(
  script: Script,
  file: string,
  req: NodeJS.Require = createRequire(file),
): { exports: unknown } {
  const fn = script.runInThisContext() as (
    exports: object,
    require: NodeJS.Require,
    module: { exports: object },
    filename: string,
    dirname: string,
  ) => void;
  const mod = { exports: {} };
  fn.call(mod.exports, mod.exports, req, mod, file, dirname(file));
  return { exports: mod.exports };
}

const cacheSaid = (script: Script, cachedData: Buffer | undefined): LoadedCli['cache'] =>
  cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted';
