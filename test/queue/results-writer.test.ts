// The results writer against a real Redis, through a connection that loses a reply: a write
// that reached Redis but whose answer was lost is re-sent by ioredis after the reconnect, and
// must not appear twice in the results stream.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ResultsWriter } from '../../src/queue/results-writer.js';
import { connect, unique, waitFor } from '../helpers/env.js';
import { stallingProxy, type RedisProxy } from '../helpers/redis-proxy.js';
import { resultEntries } from '../helpers/results.js';

const redis: Redis = connect();
const cleanup: (() => void)[] = [];
afterAll(async () => {
  for (const c of cleanup) c();
  await redis.quit();
});

async function writerThrough(proxy: RedisProxy, taskId: string, attempt = 1): Promise<ResultsWriter> {
  const conn = new Redis(proxy.url, { maxRetriesPerRequest: null });
  conn.on('error', () => undefined);
  cleanup.push(() => conn.disconnect());
  const writer = new ResultsWriter(conn, { taskId }, 60, [], { id: '1-1', attempt });
  const limits = { wallMs: 1000, cpuMs: 1000, memoryBytes: 1, processes: 1, openFiles: 20, fileSizeBytes: 1, outputBytes: 1 };
  expect(await writer.begin('exec', limits as never, 'none')).toBe('ok');
  return writer;
}

const stdout = async (id: string) => (await resultEntries(redis, id)).filter((e) => e.type === 'stdout').map((e) => e.data);

describe('ResultsWriter', () => {
  it('writes an output entry once when its reply is lost and ioredis re-sends it after reconnecting', async () => {
    const id = unique('resend');
    const proxy = await stallingProxy();
    cleanup.push(() => proxy.close());
    const writer = await writerThrough(proxy, id);
    await writer.output('stdout', Buffer.from('a'));
    proxy.stall();
    const lost = writer.output('stdout', Buffer.from('b'));
    // The write ran in Redis; only its reply is gone.
    await waitFor('b in Redis', async () => ((await stdout(id)).length === 2 ? true : undefined), 5000);
    proxy.cut();
    await lost;
    await writer.output('stdout', Buffer.from('c'));
    expect(await stdout(id)).toEqual(['a', 'b', 'c']);
  });

  it('still writes a newer attempt\'s output after an older attempt\'s, and never the older one\'s once the newer started', async () => {
    const id = unique('attempts');
    const proxy = await stallingProxy();
    cleanup.push(() => proxy.close());
    const first = await writerThrough(proxy, id, 1);
    await first.output('stdout', Buffer.from('1a'));
    await first.output('stdout', Buffer.from('1b'));
    const second = await writerThrough(proxy, id, 2);
    await second.output('stdout', Buffer.from('2a'));
    await first.output('stdout', Buffer.from('1c'));
    expect(await stdout(id)).toEqual(['1a', '1b', '2a']);
  });

  it('writes nothing more for an attempt once its id has been answered by someone else (a lost session\'s cell)', async () => {
    const id = unique('answered');
    const proxy = await stallingProxy();
    cleanup.push(() => proxy.close());
    const running = await writerThrough(proxy, id, 1);
    await running.output('stdout', Buffer.from('before'));
    const result = { status: 'session_ended' as const, exitCode: null, signal: null, wallMs: 0, cpuMs: 0, stdoutBytes: 0, stderrBytes: 0, truncated: false };
    expect(await new ResultsWriter(redis, { taskId: id }, 60, [], { id: '1-1', attempt: 1 }).answer(result, 'reaper', false)).toBe('ok');
    await running.output('stdout', Buffer.from('after'));
    const entries = await resultEntries(redis, id);
    expect(entries.map((e) => e.type)).toEqual(['started', 'stdout', 'exit']);
    expect(await running.answer({ ...result, status: 'ok' as const, exitCode: 0 }, 'holder', true)).not.toBe('ok');
  });
});
