// client.session() against a real daemon: cells in the order run() was called, through the
// direct route after the first, displays to onDisplay, close(), and a clear failure when the
// executor that takes a cell knows no sessions.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecutorClient } from '../../src/client/client.js';
import { ERROR_CODES } from '../../src/errors.js';
import type { DisplayEvent } from '../../src/protocol/result.js';
import { needsRoot, redisUrl, unique } from '../helpers/env.js';
import { useSharedDaemon } from '../helpers/shared-daemon.js';

describe.skipIf(needsRoot.skip)(`client sessions ${needsRoot.reason}`, () => {
  const { stream } = useSharedDaemon(24);
  const client = new ExecutorClient({ redis: redisUrl(), stream });
  afterAll(() => client.close());

  it('runs cells in order, the later ones on the session stream, with displays, and closes', async () => {
    const session = client.session({ runtime: 'python' });
    const displays: DisplayEvent[] = [];
    // Sent without awaiting each other: they still run in call order.
    const subs = await Promise.all([session.run('x = 1'), session.run('x += 1'), session.run('print("x is", x)\nx * 10', { onDisplay: (e) => displays.push(e) })]);
    const results = await Promise.all(subs.map((s) => s.result));
    expect(results.map((r) => [r.status, r.session?.cell])).toEqual([['ok', 1], ['ok', 2], ['ok', 3]]);
    expect(displays.map((d) => [d.mime, d.data.toString(), d.display])).toEqual([['text/plain', '20', 1]]);
    const started = await subs[2]!.started;
    expect(started.session).toMatchObject({ id: session.id, cell: 3, stream: `executor:session:{${session.id}}:cells` });
    await session.close();
    const after = await (await session.run('x')).result;
    expect(after).toMatchObject({ status: 'session_ended', session: { id: session.id, ended: 'closed' } });
  });

  it('fails a session\'s first cell when its id was already someone else\'s open session', async () => {
    const first = client.session({ runtime: 'python' });
    await (await first.run('mine = 1')).result;
    const second = client.session({ runtime: 'python', id: first.id });
    await expect((await second.run('print(mine)')).result).rejects.toMatchObject({ code: ERROR_CODES.SESSION_ID_TAKEN });
    await first.close();
  });

  it('fails clearly when a cell is taken by an executor that does not know sessions', async () => {
    // A stand-in for an executor from before sessions: it runs the task stateless (a started
    // without `session`), as such an executor would.
    const old = unique('old-tasks');
    const fake = new Redis(redisUrl());
    const oldClient = new ExecutorClient({ redis: redisUrl(), stream: old });
    try {
      const sub = await oldClient.session({ runtime: 'python' }).run('1');
      await fake.xadd(`executor:results:${sub.id}`, '*', 'type', 'started', 'executor', 'old', 'attempt', '1', 'limits', '{}', 'sandbox', 'none');
      await expect(sub.result).rejects.toMatchObject({ code: ERROR_CODES.SESSION_UNSUPPORTED });
    } finally {
      fake.disconnect();
      await oldClient.close();
    }
  });
});
