// What an operator sees of sessions over HTTP: the open session in executor_sessions_open, its
// cells counted, its end counted by reason with every reason exported from the start, and
// /readyz staying 200 while a session is held (the executor is alive and serving its tenant).
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/redis-server.js';
import { connect, needsRoot, unique, waitFor } from '../helpers/env.js';
import { cell, sessionExecutors } from './helpers.js';

const redis = connect();
afterAll(() => redis.quit());
const executor = sessionExecutors();

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
};
const metric = (body: string, line: string) => new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(body)?.[1];

describe.skipIf(needsRoot.skip)(`session metrics ${needsRoot.reason}`, () => {
  it('counts open sessions, cells and ends by reason; /readyz stays 200 while a session is held', async () => {
    const port = await freePort();
    const stream = unique('tasks');
    const d = await executor(stream, 37, { EXECUTOR_HTTP_PORT: String(port) });
    await d.waitForLog('health and metrics listening');
    const before = (await get(port, '/metrics')).body;
    expect(metric(before, 'executor_sessions_open')).toBe('0');
    for (const reason of ['closed', 'idle', 'lifetime', 'exited', 'crashed', 'budget', 'memory_limit', 'drained', 'executor_lost']) {
      expect(metric(before, `executor_session_ends_total{reason="${reason}"}`), reason).toBe('0');
    }
    const sid = unique('metrics');
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'a = 1' });
    await cell(redis, stream, { runtime: 'python', session: sid, code: 'a += 1' });
    const held = await get(port, '/metrics');
    expect(metric(held.body, 'executor_sessions_open')).toBe('1');
    expect(metric(held.body, 'executor_session_cells_total{runtime="python"}')).toBe('2');
    expect((await get(port, '/readyz')).status).toBe(200);
    await redis.xadd(`${stream}:control`, '*', 'close', sid);
    await waitFor('the session counted as ended', async () => (metric((await get(port, '/metrics')).body, 'executor_session_ends_total{reason="closed"}') === '1' ? true : undefined));
    const after = (await get(port, '/metrics')).body;
    expect(metric(after, 'executor_sessions_open')).toBe('0');
    expect(metric(after, 'executor_session_duration_seconds_count')).toBe('1');
  });
});
