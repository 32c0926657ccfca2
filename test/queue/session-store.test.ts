// The session scripts against a real Redis: opening is atomic and single-use, a second executor's
// cell is handed to the holder, a lapsed lease ends the session for whoever notices, the direct
// route appends only while the session is open.
import { describe, expect, it } from 'vitest';
import { SessionStore, type OpenRequest } from '../../src/queue/session-store.js';
import { connect, unique } from '../helpers/env.js';

const redis = connect();
const store = new SessionStore(redis, 'executor:');
const open = (me: string, leaseMs = 5000): OpenRequest => ({ me, runtime: 'python', idleMs: 1000, lifetimeMs: 10_000, leaseMs, fixed: '{}', raw: Buffer.from(`{"id":"${unique('t')}"}`) });

describe('SessionStore', () => {
  it('opens a session once: the holder sees it as its own, another executor hands its cell on', async () => {
    const sid = unique('s');
    expect(await store.route(sid, open('a'))).toEqual({ kind: 'opened' });
    expect(await store.route(sid, open('a'))).toEqual({ kind: 'mine' });
    expect(await store.route(sid, open('b'))).toEqual({ kind: 'forwarded', holder: 'a' });
    const cells = await store.readCells(redis, sid, '0-0', 0);
    expect(cells).toHaveLength(1);
    expect(cells[0]!.raw?.toString()).toMatch(/"id":"t/);
    expect(await redis.zscore('executor:sessions', sid)).not.toBeNull();
  });

  it('opens a session for exactly one of two executors racing', async () => {
    const sid = unique('s');
    const routes = await Promise.all([store.route(sid, open('a')), store.route(sid, open('b'))]);
    expect(routes.map((r) => r.kind).sort()).toEqual(['forwarded', 'opened']);
  });

  it('keeps an ended session ended: single-use ids, first reason wins, keys expire', async () => {
    const sid = unique('s');
    await store.route(sid, open('a'));
    expect(await store.end(sid, 'closed', 60)).toBe('closed');
    expect(await store.end(sid, 'idle', 60)).toBe('closed');
    expect(await store.route(sid, open('b'))).toEqual({ kind: 'ended', reason: 'closed' });
    expect(await redis.ttl(`executor:session:{${sid}}`)).toBeGreaterThan(0);
    expect(await redis.exists(`executor:session:{${sid}}:lease`)).toBe(0);
    expect(await redis.zscore('executor:sessions', sid)).toBeNull();
    expect(await store.renew(sid, 'a', 5000)).toBe(false);
  });

  it('ends a session whose lease lapsed, for whoever notices first', async () => {
    const sid = unique('s');
    await store.route(sid, open('a', 1000));
    expect(await store.endIfLost(sid, 60)).toBe(false);
    await redis.del(`executor:session:{${sid}}:lease`);
    expect(await store.route(sid, open('b'))).toEqual({ kind: 'lost', holder: 'a' });
    expect(await store.endIfLost(sid, 60)).toBe(false);
    expect((await store.record(sid))?.reason).toBe('executor_lost');
    // The holder, should it still be alive, learns it is no longer its own.
    expect(await store.renew(sid, 'a', 1000)).toBe(false);
  });

  it('appends a cell on the direct route only while the session is open', async () => {
    const sid = unique('s');
    expect(await store.submit(sid, '{"id":"x"}')).toEqual({ unknown: true });
    await store.route(sid, open('a'));
    expect(await store.submit(sid, '{"id":"y"}')).toMatchObject({ queued: expect.stringMatching(/^\d+-\d+$/) });
    await store.end(sid, 'idle', 60);
    expect(await store.submit(sid, '{"id":"z"}')).toEqual({ ended: 'idle' });
    expect((await store.readCells(redis, sid, '0-0', 0)).map((c) => c.raw?.toString())).toEqual(['{"id":"y"}']);
  });

  it('keeps every key of a session in one slot under a hash-tagged prefix too', () => {
    const tagged = new SessionStore(redis, 'executor:{agents}:');
    const k = tagged.keys('s1');
    expect(Object.values(k).every((key) => key.startsWith('executor:{agents}:session:{s1}'))).toBe(true);
  });
});
