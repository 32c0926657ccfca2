// The consumer's promises about Redis faults, against a real Redis: a blocking read that hangs
// past its BLOCK time is abandoned and its connection started afresh, and a group lost with its
// stream is made again.
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TaskConsumer } from '../../src/queue/consumer.js';
import { connect, redisUrl, unique } from '../helpers/env.js';
import { stallingProxy as proxyToRedis } from '../helpers/redis-proxy.js';

const redis: Redis = connect();
const opened: Redis[] = [];
const closers: (() => void)[] = [];
afterAll(async () => {
  for (const r of opened) r.disconnect();
  for (const c of closers) c();
  await redis.quit();
});

function client(url: string): Redis {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null });
  r.on('error', () => undefined);
  opened.push(r);
  return r;
}

async function stallingProxy() {
  const proxy = await proxyToRedis();
  closers.push(() => proxy.close());
  return proxy;
}

/** Resolves with the event, or rejects after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

describe('TaskConsumer', () => {
  it('abandons a blocking read that hangs past BLOCK + slack, restarts its connection, and reads again', async () => {
    const stream = unique('tasks');
    const proxy = await stallingProxy();
    const blocking = client(proxy.url);
    const consumer = new TaskConsumer(blocking, client(redisUrl()), { stream, group: 'executors', consumer: unique('exec'), blockMs: 200, watchdogSlackMs: 300 });
    await consumer.start();
    proxy.stall();
    const reconnected = once(blocking, 'ready');
    const started = Date.now();
    // Bounded by more than the watchdog: without it this read would never settle.
    expect(await within(consumer.read(), 5000, 'end of the hung read')).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    await within(reconnected, 5000, 'reconnect of the blocking connection');
    // The new connection answers: a read ends at its BLOCK time, and the next one gets a task.
    expect(await within(consumer.read(), 2000, 'read on the new connection')).toBeNull();
    await redis.xadd(stream, '*', 'task', 'after');
    let task = await within(consumer.read(), 2000, 'task on the new connection');
    // ioredis re-sends the lost read on the new connection, and nobody awaits its reply: when it
    // is the one that took the task, the task is pending on this consumer, to be reclaimed.
    task ??= await consumer.claimStale(0);
    expect(task?.raw?.toString()).toBe('after');
  });

  it('makes the group again when the stream is deleted under it, for the blocking read and for reclaiming', async () => {
    const stream = unique('tasks');
    const consumer = new TaskConsumer(client(redisUrl()), client(redisUrl()), { stream, group: 'executors', consumer: unique('exec'), blockMs: 200 });
    await consumer.start();
    const groups = async () => ((await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][]).map((g) => String(g[1]));

    await redis.del(stream);
    expect(await groups()).toEqual([]);
    expect(await consumer.read()).toBeNull();
    expect(await groups()).toEqual(['executors']);
    await redis.xadd(stream, '*', 'task', 'after-read');
    expect((await consumer.read())?.raw?.toString()).toBe('after-read');

    await redis.del(stream);
    expect(await consumer.claimStale(0)).toBeNull();
    expect(await groups()).toEqual(['executors']);
    await redis.xadd(stream, '*', 'task', 'after-claim');
    expect((await consumer.read())?.raw?.toString()).toBe('after-claim');
  });
});
