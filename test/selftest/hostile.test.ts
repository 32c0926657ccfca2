// The hostile suite, natively: every check must be contained and leave the next run clean.
// (The same checks run under gVisor in test/sandbox/gvisor.test.ts, through the CLI.)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { HOSTILE_CHECKS, type CheckContext } from '../../src/selftest/checks.js';
import { listen, runCheck } from '../../src/selftest/runner.js';
import { needsRoot } from '../helpers/env.js';
import { DEFAULT_LIMITS, runtimes, testSandbox } from '../helpers/run.js';

describe.skipIf(needsRoot.skip)(`hostile snippets are contained ${needsRoot.reason}`, () => {
  let listener: Awaited<ReturnType<typeof listen>>;
  let ctx: CheckContext;
  beforeAll(async () => {
    listener = await listen();
    const env = (await testSandbox()).runEnvironment(createLogger('silent'));
    const secretPath = path.join(env.workDir, '.hostile-test-secret');
    fs.writeFileSync(secretPath, 'secret', { mode: 0o600 });
    ctx = { listenerPort: listener.port, secretPath, networkAllowed: false };
  });
  afterAll(() => {
    listener.close();
    fs.rmSync(ctx.secretPath, { force: true });
  });

  it.each(HOSTILE_CHECKS.map((c) => [c.name, c] as const))('%s', async (_, check) => {
    const outcome = await runCheck(check, ctx, listener, {
      sandbox: await testSandbox(),
      runtimes,
      maxima: { ...DEFAULT_LIMITS, memoryBytes: 512 * 1024 ** 2 },
      logger: createLogger('silent'),
    });
    expect(outcome.detail).toMatch(/next run clean/);
    expect(outcome.ok).toBe(true);
  });
});
