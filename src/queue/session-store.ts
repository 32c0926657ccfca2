// A session's state in Redis (scripts in session-scripts.ts): routing a task that names it,
// the holder's lease, its end, the cells its holder reads from its own stream, and the index of
// open sessions (`agent-executor sessions`). The index is a convenience kept beside the atomic
// record (on a cluster it is in another slot): whoever lists it checks each record.
import { sessionKey, sessionLeaseKey, sessionsIndexKey, sessionStreamKey } from '../protocol/keys.js';
import type { SessionEndReason } from '../protocol/result.js';
import type { RedisClient as Redis } from './connection.js';
import { END_IF_LOST, END_SESSION, RENEW_LEASE, ROUTE_SESSION, SUBMIT_CELL } from './session-scripts.js';

export type Route =
  | { kind: 'opened' }
  | { kind: 'absent' }
  | { kind: 'mine' }
  | { kind: 'forwarded'; holder: string }
  | { kind: 'ended'; reason: SessionEndReason }
  | { kind: 'lost'; holder: string };

export interface OpenRequest {
  me: string;
  runtime: string;
  idleMs: number;
  lifetimeMs: number;
  leaseMs: number;
  /** What the opening task fixed for the session's later cells (JSON). */
  fixed: string;
  /** The task entry's own bytes, appended to the cells stream when another executor holds it. */
  raw: Buffer;
  /** False for an executor that holds a session already: it routes, it never opens. */
  mayOpen?: boolean;
}

/** One cell waiting in a session's own stream. */
export interface CellEntry {
  entryId: string;
  raw: Buffer | undefined;
}

export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  keys(sessionId: string): { record: string; cells: string; lease: string } {
    return { record: sessionKey(sessionId, this.prefix), cells: sessionStreamKey(sessionId, this.prefix), lease: sessionLeaseKey(sessionId, this.prefix) };
  }

  async route(sessionId: string, r: OpenRequest): Promise<Route> {
    const k = this.keys(sessionId);
    const now = Date.now();
    const [kind, arg] = (await this.redis.eval(ROUTE_SESSION, 3, k.record, k.cells, k.lease, r.me, String(now), r.runtime, String(r.idleMs), String(r.lifetimeMs), String(r.leaseMs), r.fixed, r.raw, r.mayOpen === false ? '0' : '1')) as [string, string?];
    if (kind === 'opened') await this.redis.zadd(sessionsIndexKey(this.prefix), now, sessionId);
    if (kind === 'forwarded' || kind === 'lost') return { kind, holder: arg ?? '' };
    if (kind === 'ended') return { kind, reason: arg as SessionEndReason };
    return { kind: kind as 'opened' | 'absent' | 'mine' };
  }

  /** False when the session is no longer mine (ended by someone who saw my lease lapse). */
  async renew(sessionId: string, me: string, leaseMs: number): Promise<boolean> {
    const k = this.keys(sessionId);
    return (await this.redis.eval(RENEW_LEASE, 2, k.record, k.lease, me, String(leaseMs))) === 1;
  }

  /** End the session (the first reason wins); returns the reason it ended with. */
  async end(sessionId: string, reason: SessionEndReason, ttlS: number, extra: Record<string, string> = {}): Promise<SessionEndReason> {
    const k = this.keys(sessionId);
    const fields = Object.entries(extra).flat();
    const ended = (await this.redis.eval(END_SESSION, 3, k.record, k.cells, k.lease, reason, String(Date.now()), String(ttlS), ...fields)) as string;
    await this.redis.zrem(sessionsIndexKey(this.prefix), sessionId);
    return ended as SessionEndReason;
  }

  /** Count a cell in the record, and note when the session was last active. */
  async touch(sessionId: string, cells: number): Promise<void> {
    await this.redis.hset(this.keys(sessionId).record, 'cells', String(cells), 'lastActive', String(Date.now()));
  }

  /** Cells after `lastId` in the session's stream; blocks up to `blockMs` (0: not at all). */
  async readCells(conn: Redis, sessionId: string, lastId: string, blockMs: number): Promise<CellEntry[]> {
    const args: (string | number)[] = ['COUNT', 100];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    const reply = (await conn.callBuffer('XREAD', ...args, 'STREAMS', this.keys(sessionId).cells, lastId)) as [Buffer, [Buffer, Buffer[]][]][] | null;
    return (reply?.[0]?.[1] ?? []).map(([id, fields]) => ({ entryId: id.toString(), raw: taskField(fields) }));
  }

  /** The direct route (clients): append a cell while the session is open. */
  async submit(sessionId: string, raw: string): Promise<{ queued: string } | { ended: SessionEndReason } | { unknown: true }> {
    const k = this.keys(sessionId);
    const [kind, arg] = (await this.redis.eval(SUBMIT_CELL, 2, k.record, k.cells, raw)) as [string, string?];
    if (kind === 'queued') return { queued: arg! };
    if (kind === 'ended') return { ended: arg as SessionEndReason };
    return { unknown: true };
  }

  /** The record, or undefined once it has expired. */
  async record(sessionId: string): Promise<Record<string, string> | undefined> {
    const r = await this.redis.hgetall(this.keys(sessionId).record);
    return Object.keys(r).length > 0 ? r : undefined;
  }

  /** The ids in the index of open sessions, oldest first. */
  async listed(): Promise<string[]> {
    return this.redis.zrange(sessionsIndexKey(this.prefix), 0, -1);
  }

  /** End the session `executor_lost` if it is open and its holder's lease has lapsed; true when it did. */
  async endIfLost(sessionId: string, ttlS: number): Promise<boolean> {
    const k = this.keys(sessionId);
    return (await this.redis.eval(END_IF_LOST, 3, k.record, k.cells, k.lease, String(Date.now()), String(ttlS))) === 1;
  }

  /** Drop an id from the index of open sessions (it has ended or expired). */
  async unlist(sessionId: string): Promise<void> {
    await this.redis.zrem(sessionsIndexKey(this.prefix), sessionId);
  }
}

function taskField(fields: Buffer[]): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === 'task') return fields[i + 1];
  return undefined;
}
