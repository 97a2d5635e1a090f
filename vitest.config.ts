import { defineConfig } from 'vitest/config';

// One config for the whole monorepo: every package keeps its tests in <package>/test/.
// Forks (not worker threads) because chDB and the collector are native/child-process heavy.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 300_000,
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
  },
});
