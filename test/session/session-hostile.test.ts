// Attacks on sessions found by a review, each as a test first: a Redis error in a cell must not
// leave the session unswept under the executor's next tenant; forged kernel lines on fd 3 and
// forged markers must not get past the output cap or hold the daemon; a cell of another executor's
// task id must not be answered by a session; closes sent early still count.
import fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readProcTable } from '../../src/sandbox/proc-table.js';
import { connect, needsRoot, sandboxUid, unique, waitFor } from '../helpers/env.js';
import { cell, readCell, sessionExecutors, sessionsToClose } from './helpers.js';

const redis = connect();
const sessions = sessionsToClose(redis);
afterEach(() => sessions.closeAll());
afterAll(() => redis.quit());
const executor = sessionExecutors();
const cmdline = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return ''; // gone meanwhile
  }
};
// The python runtime's uid (bash 0, node 1, python 2 from the base).
const PYTHON_UID = sandboxUid(33) + 2;

describe.skipIf(needsRoot.skip)(`sessions under attack ${needsRoot.reason}`, () => {
  const stream = unique('tasks');
  const ready = executor(stream, 33);

  it('sweeps a session whose cell hits a Redis error, before the executor takes anything else', async () => {
    await ready;
    const sid = sessions.track(stream, unique('boom'));
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'import subprocess\nbg = subprocess.Popen(["sleep", "300"])' });
    // A results key that is not a stream: every write for this task id fails (WRONGTYPE).
    const boom = unique('boom-cell');
    await redis.set(`executor:results:${boom}`, 'not a stream');
    await redis.xadd(`executor:session:{${sid}}:cells`, '*', 'task', JSON.stringify({ id: boom, runtime: 'python', session: sid, code: 'print(1)' }));
    // The session goes on after that cell...
    expect((await cell(redis, stream, { runtime: 'python', session: sid, code: 'print(bg.poll())' })).stdout).toBe('None\n');
    await redis.xadd(`${stream}:control`, '*', 'close', sid);
    await waitFor('the session to end', async () => ((await redis.hget(`executor:session:{${sid}}`, 'state')) === 'ended' ? true : undefined));
    // ... and when it ends, nothing of it is left alive (a new standby of that uid may wait by then).
    const sessionLeft = async () => (await readProcTable(PYTHON_UID)).filter((p) => p.alive && cmdline(p.pid).startsWith('sleep\x00300'));
    await waitFor('the session swept', async () => ((await sessionLeft()).length === 0 ? true : undefined), 10_000);
  });

  it('keeps forged display lines from passing the output cap or filling Redis', async () => {
    await ready;
    const sid = sessions.track(stream, unique('forge'));
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'import executor_kernel as k, os' });
    // Mime types of 2 MB: the line is refused whole.
    const huge = await cell(redis, stream, {
      runtime: 'python',
      session: sid,
      limits: { outputBytes: 1000 },
      code: 'line = "display %d 1 999" % k.Cell.n + (" a/" + "b" * 2_000_000 + " ") * 5\nos.write(k.FD, (line + "\\n").encode())\nprint("sent")',
    });
    expect(huge.result.status).toBe('ok');
    expect(await redis.memory('USAGE', `executor:results:${huge.id}`)).toBeLessThan(50_000);
    // A flood of well-formed empty displays: each costs an entry, and the cap ends the cell.
    const flood = await cell(redis, stream, {
      runtime: 'python',
      session: sid,
      limits: { outputBytes: 1000 },
      code: 'line = ("display %d 1 1" % k.Cell.n + " a/b " * 16 + "\\n").encode()\nfor _ in range(5000):\n    os.write(k.FD, line)\nimport time\ntime.sleep(2)',
    });
    expect(flood.result).toMatchObject({ status: 'output_limit', truncated: true });
    expect(flood.displays.length).toBeLessThan(20);
  });

  it('never answers, from a session, a task id that runs from another entry', async () => {
    await ready;
    const other = await executor(stream, 34);
    const sid = sessions.track(stream, unique('victim-session'));
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'x = 1' });
    // Another tenant's one-shot task, running on the other executor.
    const victim = unique('victim');
    await redis.xadd(stream, '*', 'task', JSON.stringify({ id: victim, runtime: 'bash', code: 'sleep 2; echo victim done' }));
    await waitFor('the victim to start', async () => ((await redis.xlen(`executor:results:${victim}`)) > 0 ? true : undefined));
    // A cell with the victim's id (and a runtime the session refuses) on the session's own stream.
    await redis.xadd(`executor:session:{${sid}}:cells`, '*', 'task', JSON.stringify({ id: victim, runtime: 'node', session: sid, code: '1' }));
    const run = await readCell(redis, victim);
    expect(run.result).toMatchObject({ status: 'ok' });
    expect(run.stdout).toBe('victim done\n');
    expect(run.started.executor).toBe(other.env.EXECUTOR_CONSUMER);
  });

  it('gets cells on the task stream to their session while every executor holds one', async () => {
    const own = unique('tasks');
    await executor(own, 35);
    await executor(own, 36);
    const a = sessions.track(own, unique('sa'));
    const b = sessions.track(own, unique('sb'));
    await cell(redis, own, { runtime: 'python', session: a, code: 'seen = []' });
    await cell(redis, own, { runtime: 'python', session: b, code: 'other = 1' });
    // Both executors hold a session now; six cells of the first go on the task stream at once.
    const ids = [1, 2, 3, 4, 5, 6].map((i) => unique(`a${i}`));
    for (const [i, id] of ids.entries()) await redis.xadd(own, '*', 'task', JSON.stringify({ id, runtime: 'python', session: a, code: `seen.append(${i})` }));
    const results = await Promise.all(ids.map((id) => readCell(redis, id, 10_000)));
    expect(results.every((r) => r.result.status === 'ok')).toBe(true);
    expect((await cell(redis, own, { runtime: 'python', session: a, code: 'print(sorted(seen))' })).stdout).toBe('[0, 1, 2, 3, 4, 5]\n');
  });
});
