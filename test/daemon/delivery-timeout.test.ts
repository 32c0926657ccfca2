// EXECUTOR_DELIVERY_TIMEOUT_MS: Redis is away when a result is due. Waiting for the write is given
// up after the timeout (the executor does not hang on it), the task stays unacknowledged, and once
// Redis is back it has exactly one answer and is acknowledged.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../../dev/redis-server.js';
import type { DaemonProcess } from '../helpers/daemon.js';
import { needsRoot, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { killHard, startExecutor } from '../helpers/fleet.js';
import { resultEntries, waitForExit } from '../helpers/results.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe.skipIf(needsRoot.skip)(`delivery timeout ${needsRoot.reason}`, () => {
  it('gives up waiting for a result write after EXECUTOR_DELIVERY_TIMEOUT_MS with Redis away, leaves the task pending, and ends with one answer once Redis is back', async () => {
    // A Redis of this test's own that keeps its streams and group across a restart on its port.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-aof-'));
    const args = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
    let server = await startPrivateRedis({ args });
    const port = server.port;
    cleanups.push(async () => {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const uid = sandboxUid(19);
    const workDir = `/var/lib/agent-executor-test/delivery-${uid}`;
    cleanups.push(() => fs.rmSync(workDir, { recursive: true, force: true }));
    const own = new Redis(server.url, { maxRetriesPerRequest: null });
    own.on('error', () => undefined);
    cleanups.push(() => own.disconnect());

    const stream = unique('tasks');
    const id = unique('late');
    // Waits (bounded) until the test says go, in the work dir (which the sandbox user may stat
    // but not list), so that Redis can be stopped mid-run; a rerun finds it there at once.
    await own.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: 'echo up; for i in $(seq 1000); do [ -e ../go ] && break; sleep 0.01; done' }));
    const d: DaemonProcess = startExecutor({ redis: { REDIS_URL: server.url }, stream, env: { EXECUTOR_WORK_DIR: workDir, EXECUTOR_DELIVERY_TIMEOUT_MS: '1000' } }, uid);
    cleanups.push(() => killHard(d, uid));
    await d.waitForLog('run started', (l) => l.taskId === id);
    await waitFor('the output written before Redis goes', async () => ((await resultEntries(own, id)).some((e) => e.type === 'stdout' && e.data === 'up\n') ? true : undefined));

    await server.stop();
    fs.writeFileSync(path.join(workDir, 'go'), '');
    const gaveUp = await d.waitForLog('the result could not be written; the task stays pending and will be reclaimed', (l) => l.taskId === id && l.attempt === 1, 15_000);
    expect(gaveUp.err).toMatchObject({ message: 'Redis did not take the result in time (1000 ms)' });
    // The run's end is reported, and the executor goes on (it is not stuck on the write).
    await d.waitForLog('run finished', (l) => l.taskId === id && l.attempt === 1, 5000);
    expect(d.logs.some((l) => l.msg === 'run finished' && l.taskId === id && l.attempt === 1 && l.status === 'ok')).toBe(true);

    server = await startPrivateRedis({ args, port });
    // The write given up on was still queued in the client: it lands once Redis is back, and the
    // one-answer marker keeps it the only answer. The entry, left unacknowledged, is reclaimed
    // and then acknowledged without running again.
    const entries = await waitForExit(own, id, 30_000);
    const exits = entries.filter((e) => e.type === 'exit');
    expect(exits).toHaveLength(1);
    expect(JSON.parse(exits[0]!.result!)).toMatchObject({ status: 'ok', attempt: 1 });
    await d.waitForLog('this entry was answered already (its executor stopped before acknowledging it); acknowledged without running', (l) => l.taskId === id && l.attempt === 2, 30_000);
    await waitFor('the entry acknowledged', async () => ((await own.xpending(stream, 'executors'))[0] === 0 ? true : undefined));
    expect((await resultEntries(own, id)).filter((e) => e.type === 'started')).toHaveLength(1);
  }, 90_000);
});
