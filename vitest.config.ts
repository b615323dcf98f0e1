import { defineConfig } from 'vitest/config';

/**
 * Two projects. Most files run Sluice in-process and run two at a time. The files that start Sluice
 * as child processes (kill -9, SIGTERM, the CLI) run one at a time after them: each start loads
 * the whole program on a fresh process, and two such files beside two in-process ones on two cores
 * made starts take 10-13 s, and tests that did three of them ran out of time.
 *
 * The timeouts only stop a test that hangs. Waits inside tests poll for their condition with
 * deadlines of their own (eventually(), a start's 60 s); a test's timeout is set above the sum of
 * those, so a slow machine shows the condition that was missing, not "timed out".
 */
const PROCESS_TESTS = ['test/crash/**/*.test.ts', 'test/cli/**/*.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'in-process',
          include: ['test/**/*.test.ts'],
          exclude: PROCESS_TESTS,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Two cores: more workers only make the machine slower for all of them.
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: 'processes',
          include: PROCESS_TESTS,
          testTimeout: 180_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
