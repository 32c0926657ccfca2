// A session's cells and limits with real executors: cancel and budgets interrupt a cell and keep
// the session; output between cells comes with the next; files in and out per cell; memory, the
// session's CPU, a drain and a dead executor end it; EXECUTOR_MAX_RUNS never cuts it short.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect, needsRoot, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { killHard } from '../helpers/fleet.js';
import { field } from '../helpers/results.js';
import { cell, readCell, sequence, sessionExecutors, sessionsToClose } from './helpers.js';

const redis = connect();
const sessions = sessionsToClose(redis);
afterEach(() => sessions.closeAll());
afterAll(() => redis.quit());
const executor = sessionExecutors();


const close = (stream: string, sid: string) => redis.xadd(`${stream}:control`, '*', 'close', sid);

describe.skipIf(needsRoot.skip)(`session cells and limits ${needsRoot.reason}`, () => {
  const stream = unique('tasks');
  const ready = executor(stream, 25);

  it('interrupts a cancelled cell and a node cell awaiting forever; the session lives on', async () => {
    await ready;
    const sid = unique('cancel');
    sessions.track(stream, sid);
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'v = 3' });
    const id = unique('spin');
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id, runtime: 'python', session: sid, code: 'import time\nwhile True:\n    time.sleep(0.01)' }));
    await waitFor('the cell to start', async () => ((await redis.xlen(`executor:results:${id}`)) > 0 ? true : undefined));
    await redis.xadd(`${stream}:control`, '*', 'cancel', id);
    expect((await readCell(redis, id)).result).toMatchObject({ status: 'cancelled', session: { cell: 2 } });
    expect((await cell(redis, stream, { runtime: 'python', session: sid, code: 'print(v)' })).stdout).toBe('3\n');
    await close(stream, sid);
    const js = unique('await');
    sessions.track(stream, js);
    await cell(redis, stream, { runtime: 'node', session: js, code: 'let w = 9' });
    const hung = await cell(redis, stream, { runtime: 'node', session: js, code: 'await new Promise(() => {})', limits: { wallMs: 800 } });
    expect(hung.result).toMatchObject({ status: 'timeout' });
    expect(hung.result.session.ended).toBeUndefined();
    expect((await cell(redis, stream, { runtime: 'node', session: js, code: 'w' })).displays.map((d) => d.data)).toEqual(['9']);
    await close(stream, js);
  });

  it('delivers output made between cells with the next cell, and keeps display order', async () => {
    await ready;
    const sid = unique('between');
    sessions.track(stream, sid);
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'import threading, time\ndef later():\n    time.sleep(0.3)\n    print("from the thread", flush=True)\nthreading.Thread(target=later).start()' });
    await new Promise((r) => setTimeout(r, 700));
    const next = await cell(redis, stream, { runtime: 'python', session: sid, code: 'print("a")\ndisplay(1)\nprint("b")' });
    expect(sequence(next.entries)).toEqual(['stdout:from the thread\na', 'display:text/plain', 'stdout:b']);
    await close(stream, sid);
  });

  it('writes a later cell\'s files and returns only what a cell added or changed in out/', async () => {
    await ready;
    const sid = unique('files');
    const first = await cell(redis, stream, { runtime: 'python', session: sid, code: 'open("out/a.txt", "w").write("one")' });
    expect(first.result.artifacts.map((a: { path: string }) => a.path)).toEqual(['a.txt']);
    const second = await cell(redis, stream, { runtime: 'python', session: sid, code: 'open("out/b.txt", "w").write(open("data/in.txt").read().upper())', files: [{ path: 'data/in.txt', content: 'two' }] });
    expect(second.result.artifacts.map((a: { path: string }) => a.path)).toEqual(['b.txt']);
    expect(second.entries.filter((e) => field(e, 'type') === 'file').map((e) => [field(e, 'path'), field(e, 'data')])).toEqual([['b.txt', 'TWO']]);
    const third = await cell(redis, stream, { runtime: 'python', session: sid, code: 'open("out/a.txt", "w").write("changed")', files: [{ path: 'data/in.txt', content: 'replaced' }] });
    expect(third.result.artifacts.map((a: { path: string }) => a.path)).toEqual(['a.txt']);
    await close(stream, sid);
  });

  it('ends the session at its memory limit, and bash background jobs live across cells', async () => {
    await ready;
    const sid = unique('memory');
    sessions.track(stream, sid);
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'x = 1', limits: { memoryBytes: 128 * 1024 ** 2 } });
    const big = await cell(redis, stream, { runtime: 'python', session: sid, code: 'hog = bytearray(400 * 1024 * 1024)\nimport time\ntime.sleep(5)' });
    expect(big.result).toMatchObject({ status: 'memory_limit', session: { ended: 'memory_limit' } });
    const sh = unique('bg');
    sessions.track(stream, sh);
    await cell(redis, stream, { runtime: 'bash', session: sh, code: '(sleep 0.5; echo from-the-job) & job=$!' });
    // The job started by the last cell is this shell's still: it can be waited for.
    const later = await cell(redis, stream, { runtime: 'bash', session: sh, code: 'wait "$job"; echo "waited $?"' });
    expect(later.stdout).toBe('from-the-job\nwaited 0\n');
    await close(stream, sh);
  });

  it('ends a session at its lifetime, in the middle of a cell, and kills it then', async () => {
    await ready;
    const sid = unique('lifetime');
    sessions.track(stream, sid);
    await cell(redis, stream, { runtime: 'python', session: { id: sid, lifetimeMs: 1500 }, code: 'import time' });
    const started = Date.now();
    const long = await cell(redis, stream, { runtime: 'python', session: sid, code: 'time.sleep(20)' });
    expect(long.result).toMatchObject({ session: { ended: 'lifetime' } });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('ends a session past its total CPU budget, counting what runs between cells', async () => {
    const own = unique('tasks');
    await executor(own, 26, { EXECUTOR_SESSION_CPU_MS: '1500' });
    const sid = unique('cpu');
    sessions.track(own, sid);
    await cell(redis, own, { runtime: 'python', session: sid, code: 'import threading\ndef burn():\n    while True:\n        pass\nthreading.Thread(target=burn, daemon=True).start()' });
    await waitFor('the session to end', async () => ((await redis.hget(`executor:session:{${sid}}`, 'state')) === 'ended' ? true : undefined), 15_000);
    expect(await redis.hget(`executor:session:{${sid}}`, 'reason')).toBe('budget');
    const after = await cell(redis, own, { runtime: 'python', session: sid, code: '1' });
    expect(after.result).toMatchObject({ status: 'session_ended', session: { ended: 'budget' } });
  });

  it('is not cut short by EXECUTOR_MAX_RUNS: the executor recycles once the session ends', async () => {
    const own = unique('tasks');
    const d = await executor(own, 27, { EXECUTOR_MAX_RUNS: '2', EXECUTOR_RECYCLE_JITTER: '0' });
    const sid = unique('runs');
    for (let i = 1; i <= 4; i++) expect((await cell(redis, own, { runtime: 'python', session: sid, code: `${i}` })).result).toMatchObject({ status: 'ok', session: { cell: i } });
    await close(own, sid);
    expect(await d.exited).toMatchObject({ code: 0 });
    expect(d.logs.some((l) => l.msg === 'recycling: run budget used up')).toBe(true);
  });

  it('answers the cells of a drained session, and of a session whose executor died, session_ended', async () => {
    const own = unique('tasks');
    const a = await executor(own, 28);
    const drained = unique('drain');
    sessions.track(own, drained);
    await cell(redis, own, { runtime: 'python', session: drained, code: 'x = 1' });
    a.signal('SIGTERM');
    expect(await a.exited).toMatchObject({ code: 0 });
    expect(await redis.hget(`executor:session:{${drained}}`, 'reason')).toBe('drained');
    const b = await executor(own, 29);
    const lost = unique('lost');
    sessions.track(own, lost);
    await cell(redis, own, { runtime: 'python', session: lost, code: 'y = 2' });
    // A cell waiting in the session's own stream when its executor dies.
    const waiting = unique('waiting');
    await killHard(b, sandboxUid(29));
    await redis.xadd(`executor:session:{${lost}}:cells`, '*', 'task', JSON.stringify({ id: waiting, runtime: 'python', session: lost, code: 'print(y)' }));
    await executor(own, 29, { EXECUTOR_SESSION_LEASE_MS: '1000' });
    // The lease the dead executor held lapses (15 s by default); the next cell on the task stream notices.
    await redis.del(`executor:session:{${lost}}:lease`);
    const next = await cell(redis, own, { runtime: 'python', session: lost, code: 'print(y)' });
    expect(next.result).toMatchObject({ status: 'session_ended', session: { ended: 'executor_lost' } });
    expect((await readCell(redis, waiting)).result).toMatchObject({ status: 'session_ended', session: { ended: 'executor_lost' } });
  });
});
