import { defineConfig } from 'vitest/config';

// Two projects: every test runs on the embedded store (PGlite); the storage-dependent tests
// (`*.db.test.ts`) run again on the PostgreSQL server. The project name prefixes each line of output.
export default defineConfig({
  test: {
    // Most files wait on PostgreSQL, child processes or sockets; three at once keep 2 cores busy.
    maxWorkers: 3,
    reporters: ['default', './src/test-support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'pglite',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          env: { RIVULET_TEST_BACKEND: 'pglite' },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'postgres',
          include: ['src/**/*.db.test.ts', 'test/**/*.db.test.ts'],
          env: { RIVULET_TEST_BACKEND: 'postgres' },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
