import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-audit.ts'],
    setupFiles: ['test/setup/yield.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Kernel tests build network namespaces; two cores are all a CI machine has.
    maxWorkers: 2,
  },
});
