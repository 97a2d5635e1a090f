import { configDefaults, defineConfig } from 'vitest/config';

// One config for the whole monorepo: every package keeps its tests in <package>/test/.
// Two tiers (README "Tests"): `unit` — files named *.unit.test.ts, which start no chDB, no server, no child
// process and no Go (`npm run test:unit`) — and `integration`, everything else. `npm test` runs both.
// Forks (not worker threads) because chDB and the collector are native/child-process heavy.
const ROOTS = ['packages/*/test', 'examples/*/test', 'test'];
const UNIT = ROOTS.map((r) => `${r}/**/*.unit.test.ts`);
const ALL = ROOTS.map((r) => `${r}/**/*.test.ts`);

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 300_000,
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: { name: 'integration', include: ALL, exclude: [...configDefaults.exclude, ...UNIT] },
      },
    ],
  },
});
