// The drain deadline (EXECUTOR_DRAIN_TIMEOUT_MS): after SIGTERM the run in hand may finish, but
// not for longer than the deadline; one that outlasts it is aborted, answered, and the daemon exits 0.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { DaemonProcess } from '../helpers/daemon.js';
import { connect, needsRoot, redisUrl, sandboxUid, unique } from '../helpers/env.js';
import { startExecutor } from '../helpers/fleet.js';
import { exitResult, readUntilExit } from '../helpers/results.js';

const redis = connect();
const daemons: DaemonProcess[] = [];
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});
afterAll(async () => {
  await redis.quit();
});

describe.skipIf(needsRoot.skip)(`drain deadline ${needsRoot.reason}`, () => {
  it('aborts a run that outlasts the drain deadline after SIGTERM, reports it internal_error, and exits 0', async () => {
    const stream = unique('tasks');
    const d = startExecutor({ redis: { REDIS_URL: redisUrl() }, stream, env: { EXECUTOR_WALL_MS: '60000', EXECUTOR_DRAIN_TIMEOUT_MS: '1500' } }, sandboxUid(18));
    daemons.push(d);
    await d.waitForLog('executor started');
    const id = unique('outlasts');
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: 'echo go; sleep 50' }));
    await d.waitForLog('run started', (l) => l.taskId === id);
    const signalled = Date.now();
    d.signal('SIGTERM');
    expect(await d.waitForLog('draining: no new tasks; finishing the run in hand')).toMatchObject({ drainMs: 1500 });
    // Well inside the run's own 50 s and its 60 s budget: only the deadline can end it this soon.
    await d.waitForLog('drain deadline passed: aborting the run in hand', () => true, 10_000);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(1500);
    expect(exitResult(await readUntilExit(redis, id, 10_000))).toMatchObject({ status: 'internal_error', error: 'the executor was shut down during the run' });
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(20_000);
  });
});
