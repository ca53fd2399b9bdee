import { defineConfig } from 'vitest/config';

// The unit tier: pure logic and in-process fakes only, so it needs no dist/ build (the global setup
// of vitest.config.ts compiles dist/ for the CLI tests of the integration tier).
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    testTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
