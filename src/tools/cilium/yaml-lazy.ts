import { createRequire } from 'node:module';

// yaml (CommonJS, ~40 ms to load) only when a ConfigMap is read: most commands that import the config parser
// for configValue never parse one. The single executable cannot require a package at run time (its require()
// sees only Node's built-ins), so scripts/build-sea.mjs replaces this module with a static import.
export const yaml = (): typeof import('yaml') => createRequire(import.meta.url)('yaml') as typeof import('yaml');
