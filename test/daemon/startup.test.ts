// Before its first task a daemon takes its sandbox uids (a second daemon on the same uids refuses
// to start) and proves them clean (a crashed predecessor's processes and files are gone).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readProcTable } from '../../src/sandbox/proc-table.js';
import { freePort, startPrivateRedis } from '../../dev/redis-server.js';
import { DaemonProcess, daemonEnv, TEST_SWEEP_DIRS } from '../helpers/daemon.js';
import { connect, needsRoot, redisUrl, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { resultEntries, waitForExit } from '../helpers/results.js';

const redis: Redis = connect();
const daemons: DaemonProcess[] = [];
const UID = sandboxUid(13);
const workDir = `/var/lib/agent-executor-test/start-${UID}`;
const shared = `/var/lib/agent-executor-test/start-shared-${UID}`;

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});
afterAll(async () => {
  await redis.quit();
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.rmSync(shared, { recursive: true, force: true });
});

function startDaemon(stream: string, consumer = unique('exec')): DaemonProcess {
  const d = new DaemonProcess(daemonEnv({ stream, uid: UID, consumer }, { EXECUTOR_WORK_DIR: workDir, EXECUTOR_SWEEP_DIRS: `${TEST_SWEEP_DIRS}:${shared}` }));
  daemons.push(d);
  return d;
}

describe.skipIf(needsRoot.skip)(`start-up ${needsRoot.reason}`, () => {
  it('refuses to start on sandbox uids another daemon holds, saying which daemon', async () => {
    const stream = unique('tasks');
    const first = startDaemon(stream, 'first-exec');
    await first.waitForLog('executor started');
    const second = startDaemon(stream, 'second-exec');
    expect(await second.exited).toEqual({ code: 1, signal: null });
    // Three runtimes, two standby slots each: six uids.
    expect(second.stderr.join('\n')).toMatch(new RegExp(`sandbox uids ${UID}-${UID + 5} are held by pid ${first.pid} \\(consumer first-exec\\)`));
    await first.stop();
    const third = startDaemon(stream, 'third-exec');
    await third.waitForLog('executor started');
  });

  it('kills and deletes what a crashed run left before taking the first task', async () => {
    fs.mkdirSync(shared, { recursive: true, mode: 0o1777 });
    fs.chmodSync(shared, 0o1777);
    fs.mkdirSync(workDir, { recursive: true });
    // As a container killed mid-run leaves them: a process of a sandbox uid, its file in a shared
    // place, and its scratch folder in the work dir.
    const leftover = spawn('setpriv', [`--reuid=${UID + 1}`, `--regid=${UID + 1}`, '--clear-groups', 'sleep', '600'], { detached: true, stdio: 'ignore' });
    leftover.unref();
    await waitFor('the leftover process', async () => ((await readProcTable(UID + 1)).length > 0 ? true : undefined));
    fs.writeFileSync(`${shared}/left-by-a-crash`, 'secret');
    fs.chownSync(`${shared}/left-by-a-crash`, UID, UID);
    fs.mkdirSync(`${workDir}/agent-run-crashed`);
    fs.writeFileSync(`${workDir}/agent-run-crashed/main.py`, 'x');
    fs.chownSync(`${workDir}/agent-run-crashed`, UID + 2, UID + 2);
    const stream = unique('tasks');
    const id = unique('after-crash');
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: `ls -A ${shared} | wc -l` }));
    const d = startDaemon(stream);
    await d.waitForLog('found what an earlier run left (a crash?); removed it before the first task');
    const entries = await waitForExit(redis, id);
    expect(entries.find((e) => e.type === 'stdout')?.data).toBe('0\n');
    // (The node standby, uid + 1 as well, is the daemon's own and alive.)
    expect((await readProcTable(UID + 1)).filter((p) => p.pid === leftover.pid && p.alive)).toEqual([]);
    expect(fs.existsSync(`${workDir}/agent-run-crashed`)).toBe(false);
    expect((await resultEntries(redis, id)).filter((e) => e.type === 'exit')).toHaveLength(1);
  });

  it('exits 3 without taking a task when it cannot prove the sandbox clean at start-up', async () => {
    fs.mkdirSync(workDir, { recursive: true });
    const stuck = `${workDir}/stuck-at-start`;
    fs.writeFileSync(stuck, '');
    fs.chownSync(stuck, UID, UID);
    execFileSync('chattr', ['+i', stuck]);
    try {
      const stream = unique('tasks');
      const id = unique('never');
      await redis.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: 'echo must not run' }));
      const d = startDaemon(stream);
      expect(await d.exited).toEqual({ code: 3, signal: null });
      await d.waitForLog('could not prove the sandbox clean at start-up; not taking any task').catch(() => undefined);
      expect(d.logs.find((l) => l.msg === 'could not prove the sandbox clean at start-up; not taking any task')).toMatchObject({ event: 'sandbox.dirty', phase: 'start-up' });
      expect(await redis.exists(`executor:results:${id}`)).toBe(0);
    } finally {
      execFileSync('chattr', ['-i', stuck]);
      fs.rmSync(stuck, { force: true });
    }
  });

  it('sweeps with EXECUTOR_SWEEP_DIRS=auto only places a sandbox user can reach: a file under a root-only folder survives', async () => {
    // As another container's root file system under /var/lib/docker: world-writable, but below a
    // folder only root may enter, so no run could have written there.
    const hidden = `/var/lib/agent-executor-test/root-only-${UID}`;
    fs.mkdirSync(`${hidden}/tmp`, { recursive: true });
    fs.chmodSync(hidden, 0o700);
    fs.chmodSync(`${hidden}/tmp`, 0o1777);
    const theirs = `${hidden}/tmp/not-ours`;
    fs.writeFileSync(theirs, 'keep');
    fs.chownSync(theirs, UID, UID);
    try {
      const stream = unique('tasks');
      const ids = [1, 2].map((i) => unique(`auto${i}`));
      for (const id of ids) await redis.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: 'echo hi > /tmp/mine' }));
      const d = new DaemonProcess({
        REDIS_URL: redisUrl(),
        EXECUTOR_STREAM: stream,
        EXECUTOR_CONSUMER: unique('exec'),
        EXECUTOR_SANDBOX_USER: String(UID),
        EXECUTOR_BLOCK_MS: '500',
        EXECUTOR_WORK_DIR: workDir,
        EXECUTOR_SWEEP_DIRS: 'auto',
      });
      daemons.push(d);
      const places = (await d.waitForLog('not running under gVisor (sandbox none)')).sweepPlaces as string[];
      expect(places).not.toContain(`${hidden}/tmp`);
      for (const id of ids) await waitForExit(redis, id, 30_000);
      expect(fs.readFileSync(theirs, 'utf8')).toBe('keep');
    } finally {
      fs.rmSync(hidden, { recursive: true, force: true });
    }
  });

  it('on SIGTERM before Redis was ever reached, stops at once and exits 0 (no retrying forever)', async () => {
    const d = new DaemonProcess(daemonEnv({ stream: unique('tasks'), uid: UID, redis: { REDIS_URL: 'redis://127.0.0.1:1' } }, { EXECUTOR_WORK_DIR: workDir }));
    daemons.push(d);
    await d.waitForLog('redis connection error');
    d.signal('SIGTERM');
    const exited = await Promise.race([d.exited, new Promise((r) => setTimeout(() => r('still running 10 s after SIGTERM'), 10_000))]);
    expect(exited).toEqual({ code: 0, signal: null });
  });

  it('started before its Redis is up, waits for it and then serves', async () => {
    const port = await freePort();
    const stream = unique('tasks');
    const d = new DaemonProcess(daemonEnv({ stream, uid: UID, redis: { REDIS_URL: `redis://127.0.0.1:${port}` } }, { EXECUTOR_WORK_DIR: workDir }));
    daemons.push(d);
    await d.waitForLog('redis connection error');
    const late = await startPrivateRedis({ port });
    try {
      await d.waitForLog('executor started', undefined, 20_000);
      const own = new Redis(late.url);
      const id = unique('late');
      await own.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'bash', code: 'echo late' }));
      expect((await waitForExit(own, id)).find((e) => e.type === 'exit')).toBeDefined();
      await own.quit();
    } finally {
      await d.stop();
      await late.stop();
    }
  }, 60_000);
});
