// "One task, one run, one answer": a task id runs at most once whatever is queued, and an attempt
// that was presumed dead never answers for a newer one. Real executors, real Redis.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ResultsWriter } from '../../src/queue/results-writer.js';
import type { DaemonProcess } from '../helpers/daemon.js';
import { connect, needsRoot, redisUrl, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { killHard, startExecutor } from '../helpers/fleet.js';
import { resultEntries, waitForExit, waitForStarted } from '../helpers/results.js';

const redis: Redis = connect();
const running: DaemonProcess[] = [];
// Each test's executors are stopped before the next starts: two daemons never share sandbox uids.
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop().catch(() => undefined);
});
afterAll(async () => {
  await redis.quit();
});

function start(stream: string, uidOffset: number, dead: string): DaemonProcess {
  const d = startExecutor({ redis: { REDIS_URL: redisUrl() }, stream, env: { EXECUTOR_DEAD_STREAM: dead } }, sandboxUid(uidOffset));
  running.push(d);
  return d;
}

async function deadLetters(dead: string): Promise<Record<string, string>[]> {
  return (await redis.xrange(dead, '-', '+')).map(([, f]) => Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i]!, f[2 * i + 1]!])));
}

describe.skipIf(needsRoot.skip)(`delivery ${needsRoot.reason}`, () => {
  it('runs a repeated task id once: a second entry is acknowledged, dead-lettered as a duplicate, and its stream left alone', async () => {
    const stream = unique('tasks');
    const dead = unique('dead');
    const id = unique('t1');
    const task = JSON.stringify({ id, runtime: 'bash', code: 'echo ran' });
    await redis.xadd(stream, '*', 'task', task);
    const d = start(stream, 11, dead);
    await waitForExit(redis, id);
    await redis.xadd(stream, '*', 'task', task);
    await waitFor('the duplicate to be dead-lettered', async () => ((await deadLetters(dead)).length === 1 ? true : undefined));
    const letters = await deadLetters(dead);
    expect(letters[0]!.reason).toMatch(/^duplicate id: task ".*" has already been answered/);
    const entries = await resultEntries(redis, id);
    expect(entries.map((e) => e.type)).toEqual(['started', 'stdout', 'exit']);
    expect(JSON.parse(entries[2]!.result!)).toMatchObject({ status: 'ok', attempt: 1 });
    expect(entries[2]!.attempt).toBe('1');
    await waitFor('both entries acknowledged', async () => ((await redis.xpending(stream, 'executors'))[0] === 0 ? true : undefined));
    await d.waitForLog(letters[0]!.reason!);
  });

  it('runs two copies queued at once on two executors once', async () => {
    const stream = unique('tasks');
    const dead = unique('dead');
    const id = unique('twice');
    const task = JSON.stringify({ id, runtime: 'bash', code: 'echo ran; sleep 0.5' });
    await redis.xadd(stream, '*', 'task', task);
    await redis.xadd(stream, '*', 'task', task);
    start(stream, 11, dead);
    start(stream, 12, dead);
    await waitForExit(redis, id);
    await waitFor('the duplicate to be dead-lettered', async () => ((await deadLetters(dead)).length === 1 ? true : undefined));
    expect((await deadLetters(dead))[0]!.reason).toMatch(/^duplicate id/);
    const entries = await resultEntries(redis, id);
    expect(entries.filter((e) => e.type === 'started')).toHaveLength(1);
    expect(entries.filter((e) => e.type === 'stdout').map((e) => e.data)).toEqual(['ran\n']);
    expect(entries.filter((e) => e.type === 'exit')).toHaveLength(1);
  });

  it('never lets a stale attempt answer for a newer one: an executor paused mid-run writes nothing once it wakes', async () => {
    const stream = unique('tasks');
    const dead = unique('dead');
    const id = unique('stale');
    // Prints through the whole run, so a woken attempt 1 would have output to write.
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'python', code: 'import time\nfor i in range(40):\n    print(i, flush=True)\n    time.sleep(0.1)' }));
    const a = start(stream, 11, dead);
    await waitForStarted(redis, id, 1);
    a.signal('SIGSTOP');
    const b = start(stream, 12, dead);
    await waitForStarted(redis, id, 2, 20_000);
    a.signal('SIGCONT');
    const entries = await waitForExit(redis, id, 30_000);
    const exits = entries.filter((e) => e.type === 'exit');
    expect(exits).toHaveLength(1);
    expect(exits[0]!.attempt).toBe('2');
    expect(JSON.parse(exits[0]!.result!).attempt).toBe(2);
    // Nothing of attempt 1 after attempt 2 started.
    const second = entries.findIndex((e) => e.type === 'started' && e.attempt === '2');
    expect(entries.slice(second).filter((e) => e.attempt === '1')).toEqual([]);
    // Attempt 1 ends (its wall budget ran on while it was stopped) and drops its result: a newer
    // attempt started, or has even answered already.
    await a.waitForLog('run finished', () => true, 30_000);
    expect(a.logs.some((l) => /result dropped$/.test(l.msg ?? ''))).toBe(true);
    await waitFor('the entry acknowledged by the newer attempt', async () => ((await redis.xpending(stream, 'executors'))[0] === 0 ? true : undefined));
    await killHard(a, sandboxUid(11));
    await killHard(b, sandboxUid(12));
  }, 90_000);

  it('does not run again an entry that was answered but not acknowledged (its executor died in between)', async () => {
    const stream = unique('tasks');
    const dead = unique('dead');
    const id = unique('answered');
    await redis.xgroup('CREATE', stream, 'executors', '0', 'MKSTREAM');
    const entryId = await redis.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: 'echo must not run' }));
    // A consumer took it, answered it, and died before XACK.
    await redis.xreadgroup('GROUP', 'executors', 'ghost', 'COUNT', 1, 'STREAMS', stream, '>');
    const result = { status: 'ok' as const, exitCode: 0, signal: null, wallMs: 1, cpuMs: 0, stdoutBytes: 0, stderrBytes: 0, truncated: false };
    expect(await new ResultsWriter(redis, { taskId: id }, 60, [], { id: entryId!, attempt: 1 }).answer(result, 'ghost', true)).toBe('ok');
    const d = start(stream, 11, dead);
    await d.waitForLog('this entry was answered already (its executor stopped before acknowledging it); acknowledged without running', () => true, 20_000);
    // (The log line comes just before the XACK.)
    await waitFor('the entry acknowledged', async () => ((await redis.xpending(stream, 'executors'))[0] === 0 ? true : undefined));
    expect((await resultEntries(redis, id)).map((e) => e.type)).toEqual(['exit']);
    expect(await deadLetters(dead)).toEqual([]);
  });
});

describe.skipIf(needsRoot.skip)(`the end of a run whatever Redis does ${needsRoot.reason}`, () => {
  it('stops dirty (exit 3) after a run whose sweep failed even when Redis is gone and the result cannot be written', async () => {
    const { startPrivateRedis } = await import('../../dev/redis-server.js');
    const server = await startPrivateRedis();
    const own = new Redis(server.url, { maxRetriesPerRequest: 1 });
    own.on('error', () => undefined);
    const uid = sandboxUid(14);
    const workDir = `/var/lib/agent-executor-test/redis-gone-${uid}`;
    const stuck = `${workDir}/stuck`;
    try {
      const stream = unique('tasks');
      const id = unique('gone');
      // Waits (bounded) for the test to say go, so that Redis can be stopped mid-run.
      await own.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: 'echo up; for i in $(seq 1000); do [ -e go ] && break; sleep 0.01; done' }));
      const d = startExecutor({ redis: { REDIS_URL: server.url }, stream, env: { EXECUTOR_WORK_DIR: workDir, EXECUTOR_DELIVERY_TIMEOUT_MS: '1000' } }, uid);
      running.push(d);
      await waitFor('the run to start', async () => ((await own.xrange(`executor:results:${id}`, '-', '+')).some(([, f]) => f.includes('stdout')) ? true : undefined));
      const scratch = fs.readdirSync(workDir).find((n) => n.startsWith('agent-run-') && fs.statSync(`${workDir}/${n}`).uid === uid)!;
      // The sweep will find a file it cannot delete: the sandbox is dirty after this run.
      fs.writeFileSync(stuck, '');
      fs.chownSync(stuck, uid, uid);
      execFileSync('chattr', ['+i', stuck]);
      own.disconnect();
      await server.stop();
      fs.writeFileSync(`${workDir}/${scratch}/go`, '');
      // Bounded: an executor that hangs on the way out (waiting for Redis) is the bug.
      const exited = await Promise.race([d.exited, new Promise((r) => setTimeout(() => r('still running after 20 s'), 20_000))]);
      expect(exited, JSON.stringify(d.logs.map((l) => l.msg).filter((m) => m !== 'redis connection error'))).toEqual({ code: 3, signal: null });
      expect(d.logs.some((l) => l.msg === 'sandbox is dirty after the run; stopping')).toBe(true);
    } finally {
      execFileSync('chattr', ['-i', stuck], { stdio: 'ignore' });
      fs.rmSync(workDir, { recursive: true, force: true });
      await server.stop().catch(() => undefined);
    }
  }, 60_000);
});
