/**
 * How a CommonJS bundle of dist/bundle (scripts/build-bundle.mjs) is run with its V8 code cache: the wrapper
 * cli-loader.ts's runBundle compiles it in, and the source of a worker thread that does the same. Kept out of
 * cli-loader.ts (the entry layer), which the svc lookup's worker start (commands/) may not import, and free of
 * import.meta at its top: the single executable bundles it as CommonJS, where import.meta.url is undefined.
 */

/** The CommonJS wrapper, spelled out here so the cached source does not depend on Node's Module.wrap. */
export const HEAD = '(function (exports, require, module, __filename, __dirname) { ';
export const TAIL = '\n})';

/**
 * The source of a worker thread (`new Worker(code, { eval: true })`) that runs the CommonJS bundle FILE as
 * runBundle does, with FILE.cache: the same wrapped source, so V8 takes the same cache. An eval worker is a
 * CommonJS script: Node does not set up its ES module loader for it, which a worker started on a stub module
 * (scan-worker.js) pays for (~15 ms of CPU per worker, measured on the svc worker).
 */
export function bundleWorkerSource(file: string): string {
  const f = JSON.stringify(file);
  return [
    "'use strict';",
    "const { readFileSync } = require('node:fs');",
    "const { createRequire } = require('node:module');",
    "const { dirname } = require('node:path');",
    "const { Script } = require('node:vm');",
    `const file = ${f};`,
    'let cachedData;',
    'try {',
    "  cachedData = readFileSync(file + '.cache');",
    '} catch {',
    '  cachedData = undefined;',
    '}',
    `const script = new Script(${JSON.stringify(HEAD)} + readFileSync(file, 'utf8') + ${JSON.stringify(TAIL)}, {`,
    '  filename: file,',
    '  ...(cachedData ? { cachedData } : {}),',
    '});',
    'const mod = { exports: {} };',
    'script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, dirname(file));',
  ].join('\n');
}
