// The selftest's session check through the daemon's own session code, natively (the gVisor suite
// runs the whole selftest under runsc): a session's state is kept across its cells and none of it
// reaches the next session.
import { describe, expect, it } from 'vitest';
import { SESSION_KERNELS_DIR } from '../../src/runtimes/load.js';
import { sessionCheck } from '../../src/selftest/session-check.js';
import { installBootstraps } from '../../src/runtimes/bootstraps.js';
import { createLogger } from '../../src/log.js';
import { needsRoot } from '../helpers/env.js';
import { DEFAULT_LIMITS, runtimes, testSandbox } from '../helpers/run.js';

describe.skipIf(needsRoot.skip)(`selftest session-state ${needsRoot.reason}`, () => {
  it('passes: state kept across cells, nothing of it in the next session', async () => {
    const sandbox = await testSandbox();
    const failed = await sessionCheck(sandbox.runContext(createLogger('silent'), 'python'), {
      runtimes,
      limits: DEFAULT_LIMITS,
      kernelsDir: installBootstraps(SESSION_KERNELS_DIR, sandbox.workDir),
    });
    expect(failed).toBeUndefined();
  }, 60_000);
});
