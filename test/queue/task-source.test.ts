// The order work is taken in, against a real Redis: a task that crashes every executor (reclaimed
// again and again, never acknowledged) cannot starve the fresh tasks queued behind it.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { TaskConsumer, type StreamTask } from '../../src/queue/consumer.js';
import { TaskSource, consumerGoneAfterMs, reclaimAfterMs } from '../../src/queue/task-source.js';
import { connect, redisUrl, unique } from '../helpers/env.js';

const redis: Redis = connect();
const opened: Redis[] = [];
afterAll(async () => {
  for (const r of opened) r.disconnect();
  await redis.quit();
});

function consumerOn(stream: string, name: string, blockMs = 200): TaskConsumer {
  const blocking = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: null });
  const control = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: null });
  opened.push(blocking, control);
  return new TaskConsumer(blocking, control, { stream, group: 'executors', consumer: name, blockMs });
}

const taskOf = (t: StreamTask | null) => (t === null ? null : { task: t.raw?.toString(), deliveries: t.deliveries });

describe('TaskSource', () => {
  it('alternates reclaimed and new tasks: a task reclaimed every time still lets each fresh one through', async () => {
    const stream = unique('tasks');
    const consumer = consumerOn(stream, unique('exec'));
    await consumer.start();
    // A consumer took the poisoned task and died with it.
    await redis.xadd(stream, '*', 'task', 'poison');
    await redis.xreadgroup('GROUP', 'executors', 'ghost', 'COUNT', 1, 'STREAMS', stream, '>');
    await redis.xadd(stream, '*', 'task', 'fresh-1');
    await redis.xadd(stream, '*', 'task', 'fresh-2');
    // Idle 0: the poisoned task can be reclaimed on every pass, as when it kills each executor.
    const source = new TaskSource(consumer, { reclaimAfterMs: 0, consumerGoneAfterMs: 3_600_000 }, { logger: createLogger('silent'), taking: () => true });
    const taken = [];
    for (let i = 0; i < 4; i++) {
      const t = await source.next();
      taken.push(taskOf(t));
      // Fresh tasks run and are acknowledged; the poisoned one never is.
      if (t !== null && t.raw?.toString() !== 'poison') await consumer.ack(t.entryId);
    }
    expect(taken).toEqual([
      { task: 'poison', deliveries: 2 },
      { task: 'fresh-1', deliveries: 1 },
      { task: 'poison', deliveries: 3 },
      { task: 'fresh-2', deliveries: 1 },
    ]);
  });

  it('takes tasks handed back one after another, without a blocking read between them', async () => {
    // A session's holder read five tasks from the stream and handed them back: nothing is new,
    // everything is stale. Each must be taken at once, not one per BLOCK time (a gVisor benchmark
    // measured 0.5 tasks/s: every handed-back task waited for a read of new work to time out).
    const stream = unique('tasks');
    const holder = consumerOn(stream, unique('holder'));
    await holder.start();
    for (let i = 0; i < 5; i++) await redis.xadd(stream, '*', 'task', `t${i}`);
    for (const t of await holder.readNew(5)) await holder.handBack(t.entryId);
    const blockMs = 2000;
    const consumer = consumerOn(stream, unique('exec'), blockMs);
    await consumer.start();
    const source = new TaskSource(consumer, { reclaimAfterMs: 45_000, consumerGoneAfterMs: 3_600_000 }, { logger: createLogger('silent'), taking: () => true });
    const t0 = Date.now();
    const taken = [];
    for (let i = 0; i < 5; i++) {
      const t = await source.next();
      taken.push(t?.raw?.toString());
      if (t) await consumer.ack(t.entryId);
    }
    expect(taken).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(Date.now() - t0).toBeLessThan(blockMs);
  });

  it('does not start a blocking read once the executor stops taking work', async () => {
    const stream = unique('tasks');
    const consumer = consumerOn(stream, unique('exec'));
    await consumer.start();
    await redis.xadd(stream, '*', 'task', 'left-for-others');
    const source = new TaskSource(consumer, { reclaimAfterMs: 60_000, consumerGoneAfterMs: 3_600_000 }, { logger: createLogger('silent'), taking: () => false });
    expect(await source.next()).toBeNull();
    expect((await redis.xpending(stream, 'executors'))[0]).toBe(0);
  });

  it('derives its idle times from the budgets: longer than any run, and than three reads', () => {
    const timing = { wallMs: 30_000, killGraceMs: 200, reclaimMarginMs: 15_000, blockMs: 5000 };
    expect(reclaimAfterMs(timing)).toBe(45_200);
    expect(consumerGoneAfterMs(timing)).toBe(45_200);
    expect(consumerGoneAfterMs({ ...timing, wallMs: 100, reclaimMarginMs: 0, blockMs: 60_000 })).toBe(180_000);
  });
});
