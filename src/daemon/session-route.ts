// A task that names a session, as it comes off the task stream: refused where sessions are off or
// its runtime has none, otherwise routed (queue/session-store.ts). It opens the session here, or
// is handed to the executor that holds it, or is answered `session_ended` — never run without
// the state it expects.
import { createHash } from 'node:crypto';
import { notRunResult, type ExitResult, type SessionEndReason } from '../protocol/result.js';
import type { StreamTask } from '../queue/consumer.js';
import { fixedBy } from '../session/fixed.js';
import { sessionOf, type SessionRef } from '../task/schema.js';
import { answerWithoutRun, taskLogger } from './answer.js';
import { answerCell } from './session-cell.js';
import type { Admitted } from './run-task.js';
import type { Wiring } from './wiring.js';

export function sessionEndedResult(ref: SessionRef, reason: SessionEndReason): ExitResult {
  return { ...notRunResult('session_ended', `session "${ref.id}" has ended (${reason}); a session id is single-use`), session: { id: ref.id, ended: reason } };
}

/**
 * 'hold' when this executor has just opened the session and must run it; 'absent' when it may not
 * open one (it holds a session already) and this one does not exist yet; otherwise answered or
 * handed on.
 */
export async function routeSessionTask(w: Wiring, entry: StreamTask, admitted: Admitted, mayOpen = true): Promise<'hold' | 'done' | 'absent'> {
  const { task, profile } = admitted;
  const ref = sessionOf(task)!;
  const log = taskLogger(w.logger, task, entry.deliveries).child({ session: ref.id });
  if (!w.config.sessions) {
    log.warn('session task rejected: this executor takes no sessions (EXECUTOR_SESSIONS=0)');
    await answerWithoutRun(w, entry, task.id, notRunResult('rejected', 'this executor pool takes no sessions (EXECUTOR_SESSIONS=0); send session tasks to a pool that does'));
    return 'done';
  }
  if (!profile.session) {
    await answerWithoutRun(w, entry, task.id, notRunResult('rejected', `runtime "${profile.name}" has no sessions (its profile has no "session" section)`));
    return 'done';
  }
  const route = await w.sessions.route(ref.id, {
    me: w.config.consumer,
    runtime: task.runtime,
    idleMs: Math.min(ref.idleMs ?? Infinity, w.config.sessionIdleMs),
    lifetimeMs: Math.min(ref.lifetimeMs ?? Infinity, w.config.sessionLifetimeMs),
    leaseMs: w.config.sessionLeaseMs,
    // A digest only: the record is readable by controllers, and env may hold secrets.
    fixed: createHash('sha256').update(JSON.stringify(fixedBy(task))).digest('hex'),
    raw: entry.raw!,
    mayOpen,
  });
  switch (route.kind) {
    case 'opened':
      return 'hold';
    case 'absent':
      return 'absent';
    case 'forwarded':
      // The holder runs it from its own stream, in the order cells reach it.
      log.info({ holder: route.holder }, 'session task handed to the executor that holds the session');
      await w.consumer.ack(entry.entryId);
      return 'done';
    case 'ended':
      await answerWithoutRun(w, entry, task.id, sessionEndedResult(ref, route.reason));
      return 'done';
    case 'lost':
    case 'mine':
      // 'mine' off the task stream: an earlier life of this consumer name held it and is gone.
      log.warn({ holder: 'holder' in route ? route.holder : w.config.consumer }, 'the session\'s executor is gone (its lease lapsed); the session has ended');
      await endLostSession(w, ref);
      await answerWithoutRun(w, entry, task.id, sessionEndedResult(ref, 'executor_lost'));
      return 'done';
  }
}

/** A session whose holder is gone (ROUTE_SESSION ended it): its keys let expire, every cell left in its stream answered. */
export async function endLostSession(w: Wiring, ref: SessionRef): Promise<void> {
  const reason = await w.sessions.end(ref.id, 'executor_lost', w.config.resultTtlS);
  await answerWaitingCells(w, ref, '0-0', reason);
}

/** Answer every cell after `lastId` in the session's stream `session_ended` (those answered already stay as they are). */
export async function answerWaitingCells(w: Wiring, ref: SessionRef, lastId: string, reason: SessionEndReason): Promise<void> {
  for (;;) {
    const cells = await w.sessions.readCells(w.redis, ref.id, lastId, 0);
    if (cells.length === 0) return;
    for (const c of cells) {
      lastId = c.entryId;
      const id = taskIdOf(c.raw);
      if (id === undefined) continue;
      // One cell that cannot be answered (a broken key) does not keep the others from theirs.
      await answerCell(w, ref.id, c.entryId, id, sessionEndedResult(ref, reason)).catch((err: Error) => w.logger.error({ err: err.message, taskId: id }, 'answering a cell of an ended session failed'));
    }
  }
}

/** The id of a raw task entry, when it has one. */
export function taskIdOf(raw: Buffer | undefined): string | undefined {
  try {
    const id = (JSON.parse(raw?.toString() ?? '') as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whoever notices answers for a lost session: every open session in the index whose holder's
 * lease has lapsed is ended `executor_lost` and its waiting cells answered. Returns how many.
 */
export async function reapLostSessions(w: Wiring): Promise<number> {
  let reaped = 0;
  for (const id of await w.sessions.listed()) {
    const record = await w.sessions.record(id);
    if (record?.state !== 'open') {
      await w.sessions.unlist(id);
      continue;
    }
    if (!(await w.sessions.endIfLost(id, w.config.resultTtlS))) continue;
    w.logger.warn({ session: id, holder: record.holder }, "a session's executor is gone (its lease lapsed); the session has ended");
    await w.sessions.unlist(id);
    await answerWaitingCells(w, { id }, '0-0', 'executor_lost');
    reaped += 1;
  }
  return reaped;
}
