// The image tests (`npm run test:images`): Dockerfiles built and run under gVisor, the seccomp and
// AppArmor profiles, the Kubernetes manifests. Kept out of `npm test` (its files are *.spec.ts,
// which the main config does not pick up): they install nothing themselves but need root, Docker,
// debootstrap and runsc, and take minutes.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/images/**/*.spec.ts'],
    // Each step waits with its own bounded deadline; these are only the backstop.
    testTimeout: 300_000,
    hookTimeout: 1_200_000,
    // One file at a time: image builds and gVisor runs each want the whole (2-core) machine.
    fileParallelism: false,
    reporters: ['default'],
  },
});
