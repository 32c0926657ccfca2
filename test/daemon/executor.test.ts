// The daemon as a real process against a real Redis, driven only through the wire format with a
// plain Redis client — the way a controller in any language would use it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonEnv } from '../helpers/daemon.js';
import { connect, needsRoot, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { exitResult, field, output, readUntilExit } from '../helpers/results.js';

const redis = connect();
const daemons: DaemonProcess[] = [];

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});

function names() {
  return { stream: unique('tasks'), group: unique('group'), consumer: unique('exec') };
}

function startDaemon(n: ReturnType<typeof names>, env: Record<string, string> = {}, spawnAs: { uid?: number; gid?: number } = {}): DaemonProcess {
  const d = new DaemonProcess(
    daemonEnv({ stream: n.stream, uid: sandboxUid(1), consumer: n.consumer }, { EXECUTOR_GROUP: n.group, ...env }),
    [],
    spawnAs,
  );
  daemons.push(d);
  return d;
}

// A snippet that prints its working directory, then waits (bounded) until the test creates `go`
// there: the test's way to hold a run open without sleeping. Its /tmp is private, its cwd is not.
const WAIT_FOR_GO = 'pwd; for i in $(seq 1000); do [ -e go ] && break; sleep 0.01; done';

async function runningIn(taskId: string): Promise<string> {
  return waitFor(`task ${taskId} to print its directory`, async () => {
    const entries = await redis.xrange(`executor:results:${taskId}`, '-', '+');
    for (const [, fields] of entries) {
      const i = fields.indexOf('stdout');
      if (i >= 0) return fields[i + 2]!.trim();
    }
    return undefined;
  });
}

async function enqueue(stream: string, task: unknown): Promise<void> {
  await redis.xadd(stream, '*', 'task', typeof task === 'string' ? task : JSON.stringify(task));
}

describe.skipIf(needsRoot.skip)(`executor daemon ${needsRoot.reason}`, () => {
  it('answers a task added with plain XADD: started, streamed output, one exit last', async () => {
    const n = names();
    const d = startDaemon(n);
    await d.waitForLog('executor started');
    const id = unique('task');
    await enqueue(n.stream, { id, runtime: 'python', code: 'import sys\nprint("hello")\nprint("oops", file=sys.stderr)\nsys.exit(2)' });
    const entries = await readUntilExit(redis, id);
    const types = entries.map((e) => field(e, 'type'));
    expect(types[0]).toBe('started');
    expect(types.at(-1)).toBe('exit');
    expect(types.filter((t) => t === 'exit')).toHaveLength(1);
    expect(field(entries[0]!, 'executor')).toBe(n.consumer);
    expect(field(entries[0]!, 'attempt')).toBe('1');
    expect(JSON.parse(field(entries[0]!, 'limits'))).toEqual({
      wallMs: 30_000,
      cpuMs: 10_000,
      outputBytes: 1_048_576,
      memoryBytes: 512 * 1024 ** 2,
      processes: 128,
      openFiles: 1024,
      fileSizeBytes: 64 * 1024 ** 2,
    });
    expect(field(entries[0]!, 'sandbox')).toBe('none');
    expect(output(entries, 'stdout').toString()).toBe('hello\n');
    expect(output(entries, 'stderr').toString()).toBe('oops\n');
    expect(exitResult(entries)).toMatchObject({ status: 'error', exitCode: 2, signal: null, stdoutBytes: 6, stderrBytes: 5, truncated: false });
    const ttl = await redis.ttl(`executor:results:${id}`);
    expect(ttl).toBeGreaterThan(3500);
    expect(ttl).toBeLessThanOrEqual(3600);
  });

  it('runs tasks queued before the first executor started (group created from ID 0)', async () => {
    const n = names();
    const id = unique('early');
    await enqueue(n.stream, { id, runtime: 'bash', code: 'echo early' });
    startDaemon(n);
    expect(output(await readUntilExit(redis, id), 'stdout').toString()).toBe('early\n');
  });

  it('rejects bad tasks, acknowledges them, and goes on', async () => {
    const n = names();
    const d = startDaemon(n);
    await d.waitForLog('executor started');
    await enqueue(n.stream, '{not json');
    await redis.xadd(n.stream, '*', 'other', 'field');
    await enqueue(n.stream, { id: 'bad id!', runtime: 'python', code: '1' });
    const unknown = unique('unknown');
    await enqueue(n.stream, { id: unknown, runtime: 'cobol', code: 'DISPLAY 1' });
    const noCode = unique('nocode');
    await enqueue(n.stream, { id: noCode, runtime: 'python' });
    const good = unique('good');
    await enqueue(n.stream, { id: good, runtime: 'bash', code: 'echo still here' });

    const rejected = await readUntilExit(redis, unknown);
    expect(rejected.map((e) => field(e, 'type'))).toEqual(['exit']);
    expect(exitResult(rejected)).toMatchObject({ status: 'rejected', error: expect.stringMatching(/unknown runtime "cobol"/) });
    expect(exitResult(await readUntilExit(redis, noCode))).toMatchObject({ status: 'rejected', error: expect.stringMatching(/code is required/) });
    expect(output(await readUntilExit(redis, good), 'stdout').toString()).toBe('still here\n');
    expect(d.logs.filter((l) => l.msg === 'task rejected')).toHaveLength(5);
    // Everything, rejected or run, ends acknowledged (the last ack follows its exit entry).
    await waitFor('every entry acknowledged', async () => (((await redis.xpending(n.stream, n.group)) as [number])[0] === 0 ? true : undefined));
  });

  it('lets task limits lower the maxima but never raise them', async () => {
    const n = names();
    startDaemon(n, { EXECUTOR_WALL_MS: '1500' });
    const id = unique('limits');
    await enqueue(n.stream, { id, runtime: 'bash', code: 'sleep 30', limits: { wallMs: 600_000, cpuMs: 400, outputBytes: 10, processes: 10 ** 9, openFiles: 64 } });
    const entries = await readUntilExit(redis, id);
    expect(JSON.parse(field(entries[0]!, 'limits'))).toMatchObject({ wallMs: 1500, cpuMs: 400, outputBytes: 10, processes: 128, openFiles: 64 });
    expect(exitResult(entries)).toMatchObject({ status: 'timeout' });
  });

  it('acknowledges a task only after its exit entry is written', async () => {
    const n = names();
    startDaemon(n);
    const id = unique('ack');
    await enqueue(n.stream, { id, runtime: 'bash', code: WAIT_FOR_GO });
    const cwd = await runningIn(id);
    const during = (await redis.xpending(n.stream, n.group)) as [number, ...unknown[]];
    expect(during[0]).toBe(1);
    fs.writeFileSync(`${cwd}/go`, '');
    await readUntilExit(redis, id);
    await waitFor('the ack', async () => (((await redis.xpending(n.stream, n.group)) as [number])[0] === 0 ? true : undefined));
  });

  it('recycles after EXECUTOR_MAX_RUNS runs, exits 0, and leaves the rest of the queue for the next executor', async () => {
    const n = names();
    const ids = [1, 2, 3, 4].map((i) => unique(`recycle${i}`));
    for (const id of ids) await enqueue(n.stream, { id, runtime: 'bash', code: `echo ${id}` });
    const first = startDaemon(n, { EXECUTOR_MAX_RUNS: '2' });
    expect(await first.exited).toEqual({ code: 0, signal: null });
    await first.waitForLog('recycling: run budget used up');
    for (const id of ids.slice(0, 2)) expect(exitResult(await readUntilExit(redis, id)).status).toBe('ok');
    for (const id of ids.slice(2)) expect(await redis.exists(`executor:results:${id}`)).toBe(0);
    const pending = (await redis.xpending(n.stream, n.group)) as [number];
    expect(pending[0]).toBe(0);

    startDaemon({ ...n, consumer: unique('exec') });
    for (const id of ids.slice(2)) expect(output(await readUntilExit(redis, id), 'stdout').toString()).toBe(`${id}\n`);
  });

  it('on SIGTERM finishes the run in hand, takes no new task, and exits 0', async () => {
    const n = names();
    const d = startDaemon(n);
    const running = unique('inhand');
    const queued = unique('queued');
    await enqueue(n.stream, { id: running, runtime: 'bash', code: `${WAIT_FOR_GO}; echo finished` });
    await enqueue(n.stream, { id: queued, runtime: 'bash', code: 'echo should not run' });
    const cwd = await runningIn(running);
    d.signal('SIGTERM');
    await d.waitForLog('draining: no new tasks; finishing the run in hand');
    fs.writeFileSync(`${cwd}/go`, '');
    const entries = await readUntilExit(redis, running);
    expect(output(entries, 'stdout').toString()).toBe(`${cwd}\nfinished\n`);
    expect(exitResult(entries).status).toBe('ok');
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(await redis.exists(`executor:results:${queued}`)).toBe(0);
  });

  it('stops taking work and exits 3 when the sweep cannot prove the sandbox clean', async () => {
    const n = names();
    const workDir = `/var/lib/agent-executor-test/dirty-${sandboxUid(1)}`;
    fs.mkdirSync(workDir, { recursive: true });
    // A file of the sandbox user that not even root can delete (immutable): the sweep finds it
    // after the run, cannot remove it, and must refuse to go on.
    const stuck = `${workDir}/stuck`;
    fs.writeFileSync(stuck, '');
    fs.chownSync(stuck, sandboxUid(1), sandboxUid(1));
    execFileSync('chattr', ['+i', stuck]);
    try {
      // Made immutable only once the daemon has started: found at start-up, it would not run at all.
      execFileSync('chattr', ['-i', stuck]);
      fs.chownSync(stuck, 0, 0);
      const d = startDaemon(n, { EXECUTOR_WORK_DIR: workDir });
      await d.waitForLog('executor started');
      fs.chownSync(stuck, sandboxUid(1), sandboxUid(1));
      execFileSync('chattr', ['+i', stuck]);
      const id = unique('dirty');
      const next = unique('after-dirty');
      await enqueue(n.stream, { id, runtime: 'bash', code: 'echo ran' });
      await enqueue(n.stream, { id: next, runtime: 'bash', code: 'echo must not run' });
      const result = exitResult(await readUntilExit(redis, id));
      expect(result).toMatchObject({ status: 'ok', sweep: { clean: false, problems: [expect.stringMatching(/stuck of the sandbox user could not be removed/)] } });
      expect(await d.exited).toEqual({ code: 3, signal: null });
      const dirty = await d.waitForLog('sandbox is dirty after the run; stopping');
      expect([dirty.event, dirty.phase, dirty.severity]).toEqual(['sandbox.dirty', 'run', 'ERROR']);
      expect(await redis.exists(`executor:results:${next}`)).toBe(0);
    } finally {
      execFileSync('chattr', ['-i', stuck]);
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });

  it('stops start-up on a bad setting with a message naming the variable', async () => {
    const d = startDaemon(names(), { EXECUTOR_CPU_MS: 'fast' });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr.join('\n')).toMatch(/EXECUTOR_CPU_MS="fast" is invalid/);
  });

  it('refuses to start as non-root unless snippets may share its user', async () => {
    const d = startDaemon(names(), {}, { uid: 65534, gid: 65534 });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr.join('\n')).toMatch(/refusing to start.*EXECUTOR_ALLOW_SHARED_USER=1/);
  });

  it('runs snippets as its own user when that is allowed explicitly (development mode)', async () => {
    const n = names();
    const d = startDaemon(n, { EXECUTOR_ALLOW_SHARED_USER: '1' }, { uid: 65534, gid: 65534 });
    await d.waitForLog('executor started');
    const id = unique('shared');
    await enqueue(n.stream, { id, runtime: 'python', code: 'import os\nprint(os.getuid(), "REDIS_URL" in os.environ)' });
    expect(output(await readUntilExit(redis, id), 'stdout').toString()).toBe('65534 False\n');
  });
});
