import { defineConfig } from 'vitest/config';
import LongestFirstSequencer from './src/test-support/sequencer.js';

// Two projects: every test runs on the embedded store (PGlite); the storage-dependent tests
// (`*.db.test.ts`) run again on the PostgreSQL server. The project name prefixes each line of output.
// How the suite is organised and how long it takes: docs/testing.md.

// Generous for a busy 2-core machine (docs/testing.md): a test or hook that needs longer is stuck,
// not slow. Files that need more say so themselves.
const TIMEOUTS = { testTimeout: 120_000, hookTimeout: 120_000 };
// Records each file's CPU time for the reporter's profile (test-results/durations.json). Given per
// project: an inline project inherits nothing from the root config.
const PER_PROJECT = { ...TIMEOUTS, setupFiles: ['./src/test-support/cpu-meter.ts'] };

export default defineConfig({
  test: {
    // Most files wait on PostgreSQL, child processes or sockets; three at once keep 2 cores busy.
    maxWorkers: 3,
    // Forks, not threads: many files set process.env before importing the server (delays,
    // intervals), and PGlite's WebAssembly heap and child processes are per process.
    pool: 'forks',
    teardownTimeout: 60_000,
    // Both projects' files in one queue, longest first (recorded durations: sequencer.ts).
    sequence: { sequencer: LongestFirstSequencer },
    reporters: ['default', './src/test-support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'pglite',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          env: { RIVULET_TEST_BACKEND: 'pglite' },
          // Makes the PGlite templates every test database starts from, once (src/test-support/db.ts).
          globalSetup: ['./src/test-support/global-setup.ts'],
          ...PER_PROJECT,
        },
      },
      {
        test: {
          name: 'postgres',
          include: ['src/**/*.db.test.ts', 'test/**/*.db.test.ts'],
          env: { RIVULET_TEST_BACKEND: 'postgres' },
          // Makes the migrated template database every migrated test database is copied from (db.ts).
          globalSetup: ['./src/test-support/global-setup-postgres.ts'],
          ...PER_PROJECT,
        },
      },
    ],
  },
});
