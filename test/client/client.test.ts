// The TypeScript client against a real daemon: callbacks, async iteration, awaiting the result.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startPrivateRedis } from '../../dev/redis-server.js';
import { ExecutorClient } from '../../src/client/client.js';
import { ERROR_CODES } from '../../src/errors.js';
import type { ResultEvent } from '../../src/protocol/result.js';
import { needsRoot, redisUrl, unique } from '../helpers/env.js';
import { useSharedDaemon } from '../helpers/shared-daemon.js';

describe.skipIf(needsRoot.skip)(`ExecutorClient ${needsRoot.reason}`, () => {
  const { stream } = useSharedDaemon(2);
  const client = new ExecutorClient({ redis: redisUrl(), stream });
  afterAll(() => client.close());

  it('delivers stdout and stderr to callbacks and resolves the result', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const started: number[] = [];
    const sub = await client.submit(
      { runtime: 'node', code: 'console.log("to out"); console.error("to err"); process.exitCode = 4' },
      { onStdout: (d) => out.push(d.toString()), onStderr: (d) => err.push(d.toString()), onStarted: (e) => started.push(e.attempt) },
    );
    const result = await sub.result;
    expect(result).toMatchObject({ status: 'error', exitCode: 4 });
    expect([out.join(''), err.join(''), started]).toEqual(['to out\n', 'to err\n', [1]]);
    expect(sub.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('yields every event in order through an async iterator, ending after exit', async () => {
    const sub = await client.submit({ id: unique('iter'), runtime: 'bash', code: 'echo a; echo b >&2; echo c' });
    const events: ResultEvent[] = [];
    for await (const e of sub) events.push(e);
    expect(events[0]!.type).toBe('started');
    expect(events.at(-1)!.type).toBe('exit');
    // Each stream is exact and in order; the order across the two pipes is the order they were read.
    const text = (kind: string) => events.flatMap((e) => (e.type === kind && 'data' in e ? [e.data.toString()] : [])).join('');
    expect([text('stdout'), text('stderr')]).toEqual(['a\nc\n', 'b\n']);
  });

  it('refuses an invalid task before sending it', async () => {
    await expect(client.submit({ id: 'no spaces', runtime: 'python', code: '1' })).rejects.toMatchObject({ code: ERROR_CODES.USAGE });
  });

  it('refuses a task over the executors\' size cap before sending it, in the executor\'s words', async () => {
    const stream = unique('never-sent');
    const capped = new ExecutorClient({ redis: redisUrl(), stream });
    const big = { runtime: 'bash', code: 'true', stdin: 'x'.repeat(20 * 1024 * 1024) };
    await expect(capped.submit(big)).rejects.toMatchObject({
      code: ERROR_CODES.TASK_TOO_LARGE,
      message: expect.stringMatching(/^task is 2097\d{4} bytes, over the cap of 20971520 bytes \(EXECUTOR_TASK_BYTES\)$/),
    });
    const small = new ExecutorClient({ redis: redisUrl(), stream, maxTaskBytes: 100 });
    await expect(small.submit({ runtime: 'bash', code: 'echo 1234567890'.repeat(10) })).rejects.toMatchObject({ code: ERROR_CODES.TASK_TOO_LARGE });
    const probe = new ExecutorClient({ redis: redisUrl(), stream: unique('probe') });
    expect(await (probe as unknown as { redis: { xlen(k: string): Promise<number> } }).redis.xlen(stream)).toBe(0);
    await Promise.all([capped.close(), small.close(), probe.close()]);
  });

  it('gives up following after timeoutMs when no executor answers', async () => {
    const lonely = new ExecutorClient({ redis: redisUrl(), stream: unique('nobody-reads') });
    const sub = await lonely.submit({ runtime: 'bash', code: 'true' }, { timeoutMs: 300 });
    await expect(sub.result).rejects.toMatchObject({ code: ERROR_CODES.CLIENT_TIMEOUT });
    await lonely.close();
  });

  it('reports a Redis that goes away while a task is followed as CLIENT_UNREACHABLE, naming the address', async () => {
    const server = await startPrivateRedis();
    const c = new ExecutorClient({ redis: server.url, stream: unique('nobody-reads') });
    try {
      const sub = await c.submit({ runtime: 'bash', code: 'true' }, { timeoutMs: 20_000 });
      await server.stop();
      await expect(sub.result).rejects.toMatchObject({ code: ERROR_CODES.CLIENT_UNREACHABLE, message: expect.stringMatching(new RegExp(`^cannot reach Redis at 127\\.0\\.0\\.1:${server.port}: `)) });
    } finally {
      await c.close();
    }
  });

  it('says which results entry breaks the wire format, instead of a JSON error', async () => {
    const id = unique('malformed');
    const raw = new Redis(redisUrl());
    try {
      await raw.xadd(`executor:results:${id}`, '*', 'type', 'exit', 'result', '{not json');
      const c = new ExecutorClient({ redis: redisUrl() });
      try {
        await expect(c.follow(id).result).rejects.toMatchObject({ code: ERROR_CODES.RESULT_MALFORMED, message: expect.stringMatching(new RegExp(`results entry \\d+-\\d+ of task ${id} is malformed`)) });
      } finally {
        await c.close();
      }
    } finally {
      raw.disconnect();
    }
  });

  it('follows a task submitted by someone else', async () => {
    const id = unique('other');
    const sub = await client.submit({ id, runtime: 'python', code: 'print(6 * 7)' });
    await sub.result;
    const again = client.follow(id);
    const chunks: string[] = [];
    for await (const e of again) if (e.type === 'stdout') chunks.push(e.data.toString());
    expect(chunks.join('')).toBe('42\n');
  });
});
