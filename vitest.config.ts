import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-audit.ts'],
    setupFiles: ['test/setup/yield.ts'],
    // A hang detector, not a speed check: CLI end-to-end tests spawn node dozens of times and take minutes on a
    // 2-core machine under load (speed is measured in `npm run bench`).
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Kernel tests build network namespaces; two cores are all a CI machine has.
    maxWorkers: 2,
  },
});
