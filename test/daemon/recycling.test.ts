// Recycling as a Job-shaped pool needs it: an executor leaves after its runs or its age, removes
// its own consumer from the group on the way out, and removes the consumers of executors that are
// gone once nothing is pending under them.
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TaskConsumer } from '../../src/queue/consumer.js';
import { DaemonProcess, daemonEnv } from '../helpers/daemon.js';
import { connect, needsRoot, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { exitResult, readUntilExit } from '../helpers/results.js';

const redis: Redis = connect();
const daemons: DaemonProcess[] = [];
const UID = sandboxUid(15);

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});
afterAll(async () => {
  await redis.quit();
});

function startDaemon(stream: string, consumer: string, env: Record<string, string> = {}): DaemonProcess {
  const d = new DaemonProcess(daemonEnv({ stream, uid: UID, consumer }, env));
  daemons.push(d);
  return d;
}

async function consumers(stream: string): Promise<{ name: string; pending: number }[]> {
  const rows = (await redis.xinfo('CONSUMERS', stream, 'executors')) as (string | number)[][];
  return rows.map((r) => ({ name: String(r[r.indexOf('name') + 1]), pending: Number(r[r.indexOf('pending') + 1]) }));
}

async function enqueue(stream: string, task: unknown): Promise<string> {
  return (await redis.xadd(stream, '*', 'task', JSON.stringify(task)))!;
}

describe.skipIf(needsRoot.skip)(`recycling ${needsRoot.reason}`, () => {
  it('after its runs it exits 0 and its consumer is gone from the group', async () => {
    const stream = unique('tasks');
    const ids = [unique('r1'), unique('r2')];
    for (const id of ids) await enqueue(stream, { id, runtime: 'bash', code: 'echo hi' });
    const d = startDaemon(stream, unique('exec'), { EXECUTOR_MAX_RUNS: '2', EXECUTOR_RECYCLE_JITTER: '0' });
    expect(await d.exited).toEqual({ code: 0, signal: null });
    for (const id of ids) expect(exitResult(await readUntilExit(redis, id)).status).toBe('ok');
    expect(await consumers(stream)).toEqual([]);
  });

  it('idle past EXECUTOR_MAX_AGE_S it leaves at once, without waiting for a task', async () => {
    const stream = unique('tasks');
    const d = startDaemon(stream, unique('exec'), { EXECUTOR_MAX_AGE_S: '1', EXECUTOR_RECYCLE_JITTER: '0', EXECUTOR_BLOCK_MS: '60000' });
    await d.waitForLog('executor started');
    const started = Date.now();
    expect(await d.exited).toEqual({ code: 0, signal: null });
    // Its blocked read (BLOCK 60 s) was ended: it did not wait for the read to time out.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(d.logs.some((l) => l.msg === 'recycling: warm for EXECUTOR_MAX_AGE_S')).toBe(true);
    expect(await consumers(stream)).toEqual([]);
  });

  it('busy past EXECUTOR_MAX_AGE_S it finishes the run in hand, answers it, then leaves', async () => {
    const stream = unique('tasks');
    const id = unique('inhand');
    const next = unique('next');
    const d = startDaemon(stream, unique('exec'), { EXECUTOR_MAX_AGE_S: '2', EXECUTOR_RECYCLE_JITTER: '0' });
    await d.waitForLog('executor started');
    await enqueue(stream, { id, runtime: 'bash', code: 'sleep 3; echo done' });
    await d.waitForLog('run started');
    await enqueue(stream, { id: next, runtime: 'bash', code: 'echo next' });
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(exitResult(await readUntilExit(redis, id)).status).toBe('ok');
    // The queued task was left for another executor.
    expect(await redis.exists(`executor:results:${next}`)).toBe(0);
    expect((await redis.xpending(stream, 'executors'))[0]).toBe(0);
  });

  it('removes the consumers of executors that are gone, once nothing is pending under them', async () => {
    const stream = unique('tasks');
    // Two executors that died: one idle, one holding a task it never answered.
    await redis.xgroup('CREATE', stream, 'executors', '0', 'MKSTREAM');
    await redis.xgroup('CREATECONSUMER', stream, 'executors', 'dead-idle');
    const id = unique('orphan');
    await enqueue(stream, { id, runtime: 'bash', code: 'echo reclaimed' });
    await redis.xreadgroup('GROUP', 'executors', 'dead-busy', 'COUNT', 1, 'STREAMS', stream, '>');
    expect((await consumers(stream)).map((c) => c.name).sort()).toEqual(['dead-busy', 'dead-idle']);
    // Idle longer than a run can take: wall 1 s + grace 100 ms + margin 200 ms.
    await new Promise((r) => setTimeout(r, 1500));
    const live = unique('exec');
    const d = startDaemon(stream, live, { EXECUTOR_WALL_MS: '1000', EXECUTOR_KILL_GRACE_MS: '100', EXECUTOR_RECLAIM_MARGIN_MS: '200', EXECUTOR_BLOCK_MS: '200' });
    expect(exitResult(await readUntilExit(redis, id)).status).toBe('ok');
    // The reclaimed entry is no longer pending under dead-busy; both dead consumers go.
    const left = await waitFor('only the live consumer', async () => {
      const c = await consumers(stream);
      return c.length === 1 ? c : undefined;
    });
    expect(left.map((c) => c.name)).toEqual([live]);
    await d.waitForLog('removed consumers of executors that are gone');
  });
});

// The scripts themselves, against Redis: removal is atomic with "nothing pending".
describe('removing consumers', () => {
  it('removes idle consumers with nothing pending, never one that holds an entry', async () => {
    const stream = unique('tasks');
    await redis.xgroup('CREATE', stream, 'executors', '0', 'MKSTREAM');
    await redis.xgroup('CREATECONSUMER', stream, 'executors', 'idle');
    await enqueue(stream, { id: unique('held'), runtime: 'bash', code: 'true' });
    await redis.xreadgroup('GROUP', 'executors', 'holding', 'COUNT', 1, 'STREAMS', stream, '>');
    const self = new TaskConsumer(redis, redis, { stream, group: 'executors', consumer: 'holding', blockMs: 100 });
    const other = new TaskConsumer(redis, redis, { stream, group: 'executors', consumer: 'me', blockMs: 100 });
    expect(await self.removeSelf()).toBe(false);
    // A consumer that was never in the group is not counted as removed.
    expect(await new TaskConsumer(redis, redis, { stream, group: 'executors', consumer: 'never-there', blockMs: 100 }).removeSelf()).toBe(false);
    expect(await new TaskConsumer(redis, redis, { stream: unique('no-stream'), group: 'executors', consumer: 'x', blockMs: 100 }).removeSelf()).toBe(false);
    expect(await other.pruneDead(0)).toEqual(['idle']);
    expect(await consumers(stream)).toEqual([{ name: 'holding', pending: 1 }]);
    // Not idle long enough: kept.
    await redis.xgroup('CREATECONSUMER', stream, 'executors', 'recent');
    expect(await other.pruneDead(60_000)).toEqual([]);
    const entry = ((await redis.xpending(stream, 'executors', '-', '+', 1)) as [string][])[0]![0];
    await redis.xack(stream, 'executors', entry);
    expect(await self.removeSelf()).toBe(true);
    expect((await consumers(stream)).map((c) => c.name)).toEqual(['recent']);
  });
});
