import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The JSON report is read by integration/check-report.mjs in CI.
    reporters: ['default', ['json', { outputFile: '.emulators/test-report.json' }]],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts', 'adapters/**/*.test.ts', 'src/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['integration/**/*.test.ts'],
          globalSetup: ['integration/setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Brokers are shared and the machine has 2 cores: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
