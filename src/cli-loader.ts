import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/**
 * Runs the npm CLI from dist/bundle/main.cjs (scripts/build-bundle.mjs) through a vm.Script, so that V8 can
 * take its compiled code from main.cjs.cache instead of compiling the bundle again. Node 20 has no code
 * cache for ES modules (module.enableCompileCache is Node 22+), so the main thread's bundle is a CommonJS
 * script; the worker threads still run the ESM entries beside it.
 *
 * The cache is written at build time only (a warm-up run in scripts/build-bundle.mjs), never here: netpath
 * never writes on a node. V8 checks it against the source, its own version and flags and rejects one that
 * does not fit; the script is then compiled from source as if there were no cache, with the same behaviour.
 */

/** The CommonJS wrapper, spelled out here so the cached source does not depend on Node's Module.wrap. */
const HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const TAIL = '\n})';

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
  const file = join(dir, 'main.cjs');
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
  const fn = script.runInThisContext() as (
    exports: object,
    require: NodeJS.Require,
    module: { exports: object },
    filename: string,
    dirname: string,
  ) => void;
  const mod = { exports: {} as CliModule };
  fn.call(mod.exports, mod.exports, createRequire(file), mod, file, dir);
  const cache = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted';
  return { cli: mod.exports, script, cache };
}
