import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    setupFiles: ['test/setup.ts'],
    // Rebuilds dist/ (what bin/simplevm.js runs) when src/ is newer.
    globalSetup: ['test/global-setup.ts'],
  },
});
