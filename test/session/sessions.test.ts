// Sessions end to end, with real executors, real interpreters and a real Redis (README,
// "Sessions"): state across cells, displays, budgets that interrupt a cell and leave the session,
// ends and their reasons, single-use ids, what a later cell may change, and the sweep after.
import fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect, needsRoot, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { cell, readCell, sequence, sessionExecutors, sessionsToClose } from './helpers.js';

const redis = connect();
const sessions = sessionsToClose(redis);
afterEach(() => sessions.closeAll());
afterAll(() => redis.quit());
const executor = sessionExecutors();


describe.skipIf(needsRoot.skip)(`sessions ${needsRoot.reason}`, () => {
  const stream = unique('tasks');
  const ready = executor(stream, 20);

  it('keeps python state across cells, numbers the cells and displays the last expression', async () => {
    await ready;
    const sid = unique('py');
    const c1 = await cell(redis, stream, { runtime: 'python', session: sid, code: 'import math\nx = 41\ndef f(v):\n    return v + 1\nopen("kept.txt", "w").write("k")' });
    expect(c1.result).toMatchObject({ status: 'ok', session: { id: sid, cell: 1 } });
    expect(c1.started).toMatchObject({ session: sid, cell: '1', sessionStream: `executor:session:{${sid}}:cells` });
    const c2 = await cell(redis, stream, { runtime: 'python', session: sid, code: 'print("before")\nf(x)' });
    expect(c2.result).toMatchObject({ status: 'ok', session: { id: sid, cell: 2 } });
    expect(c2.displays).toEqual([{ k: '1', mime: 'text/plain', data: '42' }]);
    expect(sequence(c2.entries)).toEqual(['stdout:before', 'display:text/plain']);
    const c3 = await cell(redis, stream, { runtime: 'python', session: sid, code: 'print(open("kept.txt").read(), math.pi > 3)\nNone' });
    expect(c3.stdout).toBe('k True\n');
    expect(c3.displays).toEqual([]);
    await redis.xadd(`${stream}:control`, '*', 'close', sid);
    const after = await cell(redis, stream, { runtime: 'python', session: sid, code: 'print(x)' });
    expect(after.result).toMatchObject({ status: 'session_ended', session: { id: sid, ended: 'closed' } });
  });

  it('keeps node and bash state across cells', async () => {
    await ready;
    const js = unique('js');
    sessions.track(stream, js);
    await cell(redis, stream, { runtime: 'node', session: js, code: 'const a = 20; let b = 1; function g() { return a + b; }' });
    const j2 = await cell(redis, stream, { runtime: 'node', session: js, code: 'b += 1; await new Promise((r) => setTimeout(r, 10)); g()' });
    expect(j2.result).toMatchObject({ status: 'ok', session: { cell: 2 } });
    expect(j2.displays.map((d) => d.data)).toEqual(['22']);
    await redis.xadd(`${stream}:control`, '*', 'close', js);
    const sh = unique('sh');
    sessions.track(stream, sh);
    await cell(redis, stream, { runtime: 'bash', session: sh, code: 'mkdir -p sub && cd sub && V=7 && hi() { echo "hi $1"; }' });
    const s2 = await cell(redis, stream, { runtime: 'bash', session: sh, code: 'hi "$V"; basename "$PWD"' });
    expect(s2.stdout).toBe('hi 7\nsub\n');
    await redis.xadd(`${stream}:control`, '*', 'close', sh);
  });

  it('interrupts a cell that runs past its wall budget, and the session lives on', async () => {
    await ready;
    const sid = unique('budget');
    sessions.track(stream, sid);
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'kept = "still here"' });
    const spin = await cell(redis, stream, { runtime: 'python', session: sid, code: 'while True:\n    pass', limits: { wallMs: 1000 } });
    expect(spin.result).toMatchObject({ status: 'timeout', session: { id: sid, cell: 2 } });
    expect(spin.result.session.ended).toBeUndefined();
    expect(spin.stderr).toMatch(/KeyboardInterrupt/);
    expect(spin.stderr).toMatch(/File "<cell 2>", line [12]/);
    const next = await cell(redis, stream, { runtime: 'python', session: sid, code: 'print(kept)' });
    expect(next.stdout).toBe('still here\n');
    await redis.xadd(`${stream}:control`, '*', 'close', sid);
  });

  it('ends the session when its interpreter exits; the id is single-use', async () => {
    await ready;
    const sid = unique('exits');
    sessions.track(stream, sid);
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'open("/tmp/left-by-session-' + sid + '", "w").write("x")' });
    const bye = await cell(redis, stream, { runtime: 'python', session: sid, code: 'import sys\nsys.exit(3)' });
    expect(bye.result).toMatchObject({ session: { id: sid, cell: 2, ended: 'exited' }, exitCode: 3 });
    // Swept like a run: the file it left in a shared place is gone.
    expect(fs.existsSync(`/tmp/left-by-session-${sid}`)).toBe(false);
    const again = await cell(redis, stream, { runtime: 'python', session: sid, code: 'print(1)' });
    expect(again.result).toMatchObject({ status: 'session_ended', session: { id: sid, ended: 'exited' } });
  });

  it('ends an idle session after its idle timeout (a task can lower it)', async () => {
    const d = await ready;
    const sid = unique('idle');
    sessions.track(stream, sid);
    await cell(redis, stream, { runtime: 'python', session: { id: sid, idleMs: 1000 }, code: 'y = 1' });
    await d.waitForLog('session ended', (l) => l.session === sid, 10_000);
    const late = await cell(redis, stream, { runtime: 'python', session: sid, code: 'print(y)' });
    expect(late.result).toMatchObject({ status: 'session_ended', session: { ended: 'idle' } });
  });

  it('rejects a later cell that changes what the opening task fixed', async () => {
    await ready;
    const sid = unique('fixed');
    sessions.track(stream, sid);
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'z = 1', env: { A: '1' } });
    const other = await cell(redis, stream, { runtime: 'node', session: sid, code: 'z' });
    expect(other.result).toMatchObject({ status: 'rejected', error: expect.stringMatching(/runtime/) });
    const env = await cell(redis, stream, { runtime: 'python', session: sid, code: 'z', env: { A: '2' } });
    expect(env.result).toMatchObject({ status: 'rejected', error: expect.stringMatching(/env is fixed/) });
    const same = await cell(redis, stream, { runtime: 'python', session: sid, code: 'print(z)', env: { A: '1' } });
    expect(same.stdout).toBe('1\n');
    await redis.xadd(`${stream}:control`, '*', 'close', sid);
  });

  it('refuses sessions where EXECUTOR_SESSIONS=0', async () => {
    const own = unique('tasks');
    await executor(own, 21, { EXECUTOR_SESSIONS: '0' });
    const r = await cell(redis, own, { runtime: 'python', session: unique('off'), code: 'print(1)' });
    expect(r.result).toMatchObject({ status: 'rejected', error: expect.stringMatching(/EXECUTOR_SESSIONS=0/) });
  });

  it('opens a session once when its first two cells reach two executors at the same time', async () => {
    const own = unique('tasks');
    await executor(own, 31);
    await executor(own, 32);
    const sid = sessions.track(own, unique('race'));
    const ids = [unique('first'), unique('second')];
    // Both queued before either executor looks: each may take one.
    await Promise.all(ids.map((id) => redis.xadd(own, '*', 'task', JSON.stringify({ id, runtime: 'python', session: sid, code: 'import os\nprint(os.getpid())' }))));
    const results = await Promise.all(ids.map((id) => readCell(redis, id)));
    expect(results.map((r) => r.result.status)).toEqual(['ok', 'ok']);
    // One interpreter ran both: the same process, the same executor, cells 1 and 2.
    expect(new Set(results.map((r) => r.stdout)).size).toBe(1);
    expect(new Set(results.map((r) => r.started.executor)).size).toBe(1);
    expect(results.map((r) => r.result.session.cell).sort()).toEqual([1, 2]);
  });

  it('routes a cell put on the task stream to the executor that holds its session', async () => {
    const own = unique('tasks');
    const a = await executor(own, 22, { EXECUTOR_CONSUMER: unique('holder') });
    const sid = unique('routed');
    const first = await cell(redis, own, { runtime: 'python', session: sid, code: 'n = 5' });
    expect(first.started.executor).toBe(a.env.EXECUTOR_CONSUMER);
    await executor(own, 23);
    // The holder reads only its session's stream now: the other executor takes this one and hands it on.
    const second = await cell(redis, own, { runtime: 'python', session: sid, code: 'print(n * 2)' });
    expect(second.stdout).toBe('10\n');
    expect(second.started.executor).toBe(a.env.EXECUTOR_CONSUMER);
    expect(second.result).toMatchObject({ session: { cell: 2 } });
    await redis.xadd(`${own}:control`, '*', 'close', sid);
    await waitFor('the session to end', async () => ((await redis.hget(`executor:session:{${sid}}`, 'state')) === 'ended' ? true : undefined));
  });
});
