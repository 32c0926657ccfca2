import { defineConfig } from 'vitest/config';

const shared = {
  globalSetup: ['test/global-setup.ts'],
  // Each test waits on events with its own bounded deadline; this is only the backstop.
  testTimeout: 60_000,
  hookTimeout: 30_000,
};

export default defineConfig({
  test: {
    // Two cores: more workers would only make timing-sensitive runs contend.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'main', include: ['test/**/*.test.ts'], exclude: ['test/sandbox/gvisor.test.ts', 'test/recovery/soak.test.ts', 'test/images/**'] } },
      // gVisor runs are slow and timing-checked: they go after the rest, with the machine to themselves.
      { test: { ...shared, name: 'gvisor', include: ['test/sandbox/gvisor.test.ts'], sequence: { groupOrder: 1 } } },
      // The soak loads both cores for minutes: last, alone.
      { test: { ...shared, name: 'soak', include: ['test/recovery/soak.test.ts'], sequence: { groupOrder: 2 } } },
    ],
  },
});
