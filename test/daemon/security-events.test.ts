// Sandbox violation events: each one log line with a stable `event` name and one count in
// executor_security_events_total, so that alerts (Cloud Logging, Prometheus) can key on them; and
// every log line carries Cloud Logging's `severity` beside pino's numeric level.
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/redis-server.js';
import { SECURITY_EVENTS } from '../../src/security-events.js';
import { DaemonProcess, type LogLine, daemonEnv, TEST_SWEEP_DIRS } from '../helpers/daemon.js';
import { connect, needsRoot, sandboxUid, unique } from '../helpers/env.js';
import { exitResult, readUntilExit } from '../helpers/results.js';

const redis: Redis = connect();
const UID = sandboxUid(17);
const shared = `/var/lib/agent-executor-test/events-shared-${UID}`;
let daemon: DaemonProcess | undefined;

afterAll(async () => {
  await daemon?.stop();
  await redis.quit();
  fs.rmSync(shared, { recursive: true, force: true });
});

async function runTask(stream: string, task: Record<string, unknown>): Promise<Record<string, unknown>> {
  const id = unique('sec');
  await redis.xadd(stream, '*', 'task', JSON.stringify({ id, ...task }));
  return exitResult(await readUntilExit(redis, id, 30_000));
}

function eventsOf(d: DaemonProcess, event: string): LogLine[] {
  return d.logs.filter((l) => l.event === event);
}

describe.skipIf(needsRoot.skip)(`security events ${needsRoot.reason}`, () => {
  it('logs and counts leftover processes and files, budget kills and path escapes', async () => {
    fs.mkdirSync(shared, { recursive: true });
    fs.chmodSync(shared, 0o1777);
    const stream = unique('tasks');
    const port = await freePort();
    daemon = new DaemonProcess(
      daemonEnv({ stream, uid: UID }, { EXECUTOR_BLOCK_MS: '300', EXECUTOR_HTTP_PORT: String(port), EXECUTOR_SWEEP_DIRS: `${TEST_SWEEP_DIRS}:${shared}` }),
    );
    await daemon.waitForLog('executor started');

    expect((await runTask(stream, { runtime: 'bash', code: 'sleep 30 & echo left' })).status).toBe('ok');
    await daemon.waitForLog('the run left processes behind; they were killed');
    expect((await runTask(stream, { runtime: 'bash', code: `echo x > ${shared}/left-$$` })).status).toBe('ok');
    await daemon.waitForLog('removed files the run left behind');
    expect((await runTask(stream, { runtime: 'bash', code: 'while :; do :; done', limits: { wallMs: 500 } })).status).toBe('timeout');
    expect((await runTask(stream, { runtime: 'bash', code: 'true', files: [{ path: '../escape', content: 'x' }] })).status).toBe('rejected');
    expect((await runTask(stream, { runtime: 'bash', code: 'mkdir -p out && ln -s /etc/passwd out/passwd' })).status).toBe('ok');
    // A clean run and an ordinary rejection are not events.
    expect((await runTask(stream, { runtime: 'bash', code: 'echo fine' })).status).toBe('ok');
    expect((await runTask(stream, { runtime: 'bash', code: 'true', files: [{ path: 'a//b', content: 'x' }] })).status).toBe('rejected');

    const d = daemon;
    expect(eventsOf(d, SECURITY_EVENTS.leftoverProcesses)).toHaveLength(1);
    expect(eventsOf(d, SECURITY_EVENTS.leftoverFiles)).toHaveLength(1);
    expect(eventsOf(d, SECURITY_EVENTS.budgetKill).map((l) => l.status)).toEqual(['timeout']);
    expect(eventsOf(d, SECURITY_EVENTS.pathEscape).map((l) => l.source)).toEqual(['task', 'artifacts']);
    for (const e of [SECURITY_EVENTS.leftoverProcesses, SECURITY_EVENTS.budgetKill]) expect(eventsOf(d, e)[0]!.taskId).toBeDefined();

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^executor_security_events_total\{event="sandbox.leftover_processes"\} 1$/m);
    expect(metrics).toMatch(/^executor_security_events_total\{event="sandbox.leftover_files"\} 1$/m);
    expect(metrics).toMatch(/^executor_security_events_total\{event="run.budget_kill"\} 1$/m);
    expect(metrics).toMatch(/^executor_security_events_total\{event="task.path_escape"\} 2$/m);
    // Every name is exported from the start (at 0), so an alert on a rate has a series to read.
    expect(metrics).toMatch(/^executor_security_events_total\{event="sandbox.dirty"\} 0$/m);

    // Cloud Logging's severity, beside pino's number.
    const started = d.logs.find((l) => l.msg === 'executor started')!;
    expect([started.level, started.severity]).toEqual([30, 'INFO']);
    const budget = eventsOf(d, SECURITY_EVENTS.budgetKill)[0]!;
    expect([budget.level, budget.severity]).toEqual([40, 'WARNING']);
  }, 90_000);
});
