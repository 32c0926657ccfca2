import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Each test waits on events with its own bounded deadline; this is only the backstop.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Two cores: more workers would only make timing-sensitive runs contend.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
