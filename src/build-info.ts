/**
 * What was built: the package version and the git commit. `npm run build` replaces dist/build-info.js with
 * the real values (scripts/build-info.mjs); this source copy is what runs untranspiled (tests), where no
 * build happened.
 */
export const BUILD_INFO: { version: string; commit: string } = { version: '0.1.0', commit: 'unknown' };
