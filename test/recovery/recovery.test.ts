// Executors die, Redis restarts: every task still gets exactly one final answer.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { DaemonProcess } from '../helpers/daemon.js';
import { connect, needsRoot, redisUrl, sandboxUid, unique } from '../helpers/env.js';
import { killHard, startExecutor } from '../helpers/fleet.js';
import { resultEntries, waitForExit, waitForStarted } from '../helpers/results.js';
import { persistentRedis } from '../helpers/redis-extra.js';

const running: DaemonProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop()));
});

function start(stream: string, uid: number, env: Record<string, string> = {}, url = redisUrl()): DaemonProcess {
  const d = startExecutor({ redis: { REDIS_URL: url }, stream, env }, uid);
  running.push(d);
  return d;
}

const exits = (entries: Record<string, string>[]) => entries.filter((e) => e.type === 'exit');
const attemptOutput = (entries: Record<string, string>[], attempt: number) =>
  entries.filter((e) => e.type === 'stdout' && e.attempt === String(attempt)).map((e) => e.data).join('');

describe.skipIf(needsRoot.skip)(`crash recovery ${needsRoot.reason}`, () => {
  const redis = connect();

  it('finishes the task of an executor killed mid-run as attempt 2, with exactly one exit', async () => {
    const stream = unique('tasks');
    const id = unique('crash');
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: 'echo begin; sleep 1; echo end' }));
    const first = start(stream, sandboxUid(7));
    await waitForStarted(redis, id, 1);
    await killHard(first, sandboxUid(7));
    start(stream, sandboxUid(8));
    const entries = await waitForExit(redis, id);
    expect(entries.filter((e) => e.type === 'started').map((e) => e.attempt)).toEqual(['1', '2']);
    expect(exits(entries)).toHaveLength(1);
    expect(JSON.parse(exits(entries)[0]!.result!)).toMatchObject({ status: 'ok' });
    expect(attemptOutput(entries, 2)).toBe('begin\nend\n');
  });

  it('dead-letters a task that kills its executor every time, and the queue behind it keeps flowing', async () => {
    const stream = unique('tasks');
    const dead = unique('dead');
    const poison = unique('poison');
    const others = [1, 2, 3].map((i) => unique(`after${i}`));
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id: poison, runtime: 'bash', code: 'echo doomed; sleep 30' }));
    for (const id of others) await redis.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: `echo ${id}` }));
    const env = { EXECUTOR_MAX_ATTEMPTS: '3', EXECUTOR_DEAD_STREAM: dead };
    for (let attempt = 1; attempt <= 3; attempt++) {
      const d = start(stream, sandboxUid(7), env);
      await waitForStarted(redis, poison, attempt);
      await killHard(d, sandboxUid(7));
    }
    start(stream, sandboxUid(8), env);
    const entries = await waitForExit(redis, poison);
    expect(exits(entries)).toHaveLength(1);
    expect(JSON.parse(exits(entries)[0]!.result!)).toMatchObject({ status: 'internal_error', error: expect.stringMatching(/abandoned after 3 attempts/) });
    const letters = await redis.xrange(dead, '-', '+');
    expect(letters).toHaveLength(1);
    const fields = letters[0]![1];
    expect(fields[fields.indexOf('reason') + 1]).toMatch(/abandoned after 3 attempts/);
    expect(fields[fields.indexOf('task') + 1]).toContain(poison);
    for (const id of others) expect(exits(await waitForExit(redis, id))).toHaveLength(1);
  });

  it('survives a Redis restart while tasks are queued and while a run streams output', async () => {
    const server = await persistentRedis();
    const own = new Redis(server.url, { maxRetriesPerRequest: null });
    own.on('error', () => undefined); // refused while the server restarts; commands wait and retry
    try {
      const stream = unique('tasks');
      const ids = [1, 2, 3, 4].map((i) => unique(`restart${i}`));
      const code = 'import time\nfor i in range(10):\n    print(i, flush=True)\n    time.sleep(0.1)';
      for (const id of ids) await own.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'python', code }));
      start(stream, sandboxUid(7), {}, server.url);
      await waitForStarted(own, ids[0]!, 1);
      await server.restart();
      for (const id of ids) {
        const entries = await waitForExit(own, id, 40_000);
        expect(exits(entries)).toHaveLength(1);
        const result = JSON.parse(exits(entries)[0]!.result!);
        const last = Math.max(...entries.filter((e) => e.type === 'started').map((e) => Number(e.attempt)));
        // Output produced while Redis was away waited and went out in order: whole, not cut.
        expect(result.status).toBe('ok');
        expect(attemptOutput(entries, last)).toBe('0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n');
      }
    } finally {
      own.disconnect();
      await server.stop();
    }
  }, 120_000);

  it('answers a task once even when a second answer is attempted', async () => {
    const { ResultsWriter } = await import('../../src/queue/results-writer.js');
    const id = unique('once');
    const w = new ResultsWriter(redis, { taskId: id }, 60);
    const result = { status: 'ok' as const, exitCode: 0, signal: null, wallMs: 1, cpuMs: 1, stdoutBytes: 0, stderrBytes: 0, truncated: false };
    expect(await w.exit(result, 'a')).toBe(true);
    expect(await w.exit({ ...result, status: 'error', exitCode: 1 }, 'b')).toBe(false);
    expect(exits(await resultEntries(redis, id))).toHaveLength(1);
  });

  it('answers a task still queued past its deadline with expired, and carries traceparent', async () => {
    const stream = unique('tasks');
    const late = unique('late');
    const traced = unique('traced');
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id: late, runtime: 'bash', code: 'echo no', deadline: Date.now() - 1000 }));
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id: traced, runtime: 'bash', code: 'echo yes', traceparent }));
    const d = start(stream, sandboxUid(7));
    const lateEntries = await waitForExit(redis, late);
    expect(lateEntries.map((e) => e.type)).toEqual(['exit']);
    expect(JSON.parse(lateEntries[0]!.result!)).toMatchObject({ status: 'expired' });
    const tracedEntries = await waitForExit(redis, traced);
    expect(tracedEntries.find((e) => e.type === 'started')!.traceparent).toBe(traceparent);
    expect(exits(tracedEntries)[0]!.traceparent).toBe(traceparent);
    await d.waitForLog('run finished', (l) => l.traceparent === traceparent);
  });
});
