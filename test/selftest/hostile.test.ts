// The hostile suite, natively: every check must be contained and leave the next run clean.
// (The same checks run under gVisor in test/sandbox/gvisor.test.ts, through the CLI.)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { HOSTILE_CHECKS, type CheckContext } from '../../src/selftest/checks.js';
import { listen, runCheck } from '../../src/selftest/runner.js';
import type { PreparedSandbox } from '../../src/sandbox/prepare.js';
import { needsRoot } from '../helpers/env.js';
import { DEFAULT_LIMITS, identity, runtimes, testSandbox, testSandboxConfig } from '../helpers/run.js';

// Inside a folder only this worker's sandbox user may list, so that no other test's sandbox (in
// another worker, or another checkout's run on this machine) finds it writable.
const hidden = path.join(path.dirname(testSandboxConfig.workDir), `hostile-${identity.uid}`);
const shared = path.join(hidden, 'shared');

describe.skipIf(needsRoot.skip)(`hostile snippets are contained ${needsRoot.reason}`, () => {
  let listener: Awaited<ReturnType<typeof listen>>;
  let ctx: CheckContext;
  let sandbox: PreparedSandbox;
  beforeAll(async () => {
    // A world-writable folder outside the private mounts, as an extending image may add (and as
    // every place is under gVisor): swept like the others, so checks that plant there must pass.
    fs.mkdirSync(shared, { recursive: true });
    fs.chownSync(hidden, 0, identity.gid);
    fs.chmodSync(hidden, 0o750);
    fs.chmodSync(shared, 0o1777);
    const base = await testSandbox();
    const sweepPlaces = [...base.sweepPlaces, shared];
    sandbox = { ...base, sweepPlaces, runContext: (log, runtime) => ({ ...base.runContext(log, runtime), sweepPlaces }) };
    listener = await listen();
    const env = (await testSandbox()).runContext(createLogger('silent'));
    const secretPath = path.join(env.workDir, '.hostile-test-secret');
    fs.writeFileSync(secretPath, 'secret', { mode: 0o600 });
    ctx = { listenerPort: listener.port, secretPath, networkAllowed: false };
  });
  afterAll(() => {
    listener.close();
    fs.rmSync(ctx.secretPath, { force: true });
    execFileSync('rm', ['-rf', hidden]);
  });

  it.each(HOSTILE_CHECKS.map((c) => [c.name, c] as const))('%s', async (_, check) => {
    const outcome = await runCheck(check, ctx, listener, {
      sandbox,
      runtimes,
      maxima: { ...DEFAULT_LIMITS, memoryBytes: 512 * 1024 ** 2 },
      logger: createLogger('silent'),
    });
    expect(outcome.detail).toMatch(/next run clean/);
    expect(outcome.ok).toBe(true);
  });
});
