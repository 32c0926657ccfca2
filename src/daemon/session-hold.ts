// Holding a session: the executor that opened it starts its interpreter, keeps its lease, and runs
// its cells one at a time in the order they reach it (the opening task first, then its own stream),
// taking no other work, until the session ends. Then the session is swept and verified like a run,
// and every cell still waiting is answered `session_ended` with the reason.
import { notRunResult, type SessionEndReason } from '../protocol/result.js';
import type { StreamTask } from '../queue/consumer.js';
import { SessionInterpreter } from '../session/interpreter.js';
import { Session } from '../session/session.js';
import { fixedBy } from '../session/fixed.js';
import { SECURITY_EVENTS, securityEvent } from '../security-events.js';
import { sessionOf } from '../task/schema.js';
import { answerWithoutRun, taskLogger } from './answer.js';
import { answerCell, runCellTask, type Cell } from './session-cell.js';
import { answerWaitingCells, routeSessionTask, sessionEndedResult, taskIdOf } from './session-route.js';
import type { StandbyPool } from '../standby/pool.js';
import type { Admitted, TaskOutcome } from './run-task.js';
import { admit } from './admit.js';
import type { Wiring } from './wiring.js';

// The longest a read of the session's stream blocks: the task stream, deadlines and a drain are
// looked at in between.
const READ_BLOCK_MS = 250;
// Cells in a row whose Redis writes failed before the session is ended `crashed`.
const MAX_FAILED_CELLS = 3;

export async function holdSession(w: Wiring, standbys: StandbyPool | undefined, entry: StreamTask, opening: Admitted, countRun: () => number): Promise<TaskOutcome> {
  const { task, profile, limits } = opening;
  const ref = sessionOf(task)!;
  const log = w.logger.child({ session: ref.id, runtime: task.runtime });
  const ctx = w.sandbox.runContext(log, task.runtime);
  const idleMs = Math.min(ref.idleMs ?? Infinity, w.config.sessionIdleMs);
  const lifetimeMs = Math.min(ref.lifetimeMs ?? Infinity, w.config.sessionLifetimeMs);
  // The lease is kept from the moment the session is opened: starting the kernel may take a while.
  let leaseLost = false;
  let onLeaseLost = () => undefined as void;
  const lease = setInterval(() => {
    w.sessions.renew(ref.id, w.config.consumer, w.config.sessionLeaseMs).then(
      (mine) => {
        if (mine) return;
        leaseLost = true;
        onLeaseLost();
      },
      (err: Error) => log.warn({ err: err.message }, 'renewing the session lease failed'),
    );
  }, Math.max(250, Math.floor(w.config.sessionLeaseMs / 3)));
  try {
    return await hold();
  } finally {
    clearInterval(lease);
  }

  async function hold(): Promise<TaskOutcome> {
    await standbys?.retire(task.runtime);
    const started = await SessionInterpreter.start(ctx, profile, task, limits, w.kernelsDir(), w.config.standbyBootMs).catch((err: Error) => `executor failure: ${err.message}`);
    if (typeof started === 'string') {
      log.error({ error: started }, 'the session could not start');
      await w.sessions.end(ref.id, 'crashed', w.config.resultTtlS);
      await answerWithoutRun(w, entry, task.id, { ...notRunResult('internal_error', started), session: { id: ref.id, ended: 'crashed' } });
      await answerWaitingCells(w, ref, '0-0', 'crashed');
      return { dirty: started.startsWith('executor failure') };
    }
    const session = new Session(ref.id, task.runtime, started, ctx, { limits, idleMs, lifetimeMs, cpuMs: w.config.sessionCpuMs });
    w.metrics?.sessionsOpen.inc();
    log.info({ idleMs, lifetimeMs, cpuMs: w.config.sessionCpuMs }, 'session opened');
    onLeaseLost = () => session.end('executor_lost');
    if (leaseLost || w.control.isClosing(ref.id)) session.end(leaseLost ? 'executor_lost' : 'closed');
    const lifetime = setTimeout(() => session.end('lifetime'), lifetimeMs);
    const unsubscribe = w.control.onClose((id) => id === ref.id && session.end('closed'));
    // A drain or a forced stop ends the session; its blocked read is ended by the executor.
    const onForced = () => session.end('drained');
    w.forced.addEventListener('abort', onForced);
    const fixed = fixedBy(task);
    let lastId = '0-0';
    let dirty = false;
    let failures = 0;
    const queue: Cell[] = [{ entry, admitted: opening, fromGroup: true }];
    try {
      while (session.endReason === undefined) {
        const cell = queue.shift();
        if (cell) {
          try {
            await runCellTask(w, session, cell, fixed, countRun);
            failures = 0;
          } catch (err) {
            // Redis refused or failed this cell's writes (a broken key, a failover): the session goes
            // on; several in a row end it. Either way it is swept below, before anything else runs.
            log.error({ err: (err as Error).message, entryId: cell.entry.entryId }, 'a cell of the session failed in Redis');
            if (++failures >= MAX_FAILED_CELLS) session.end('crashed');
          }
          continue;
        }
        if (w.draining()) session.end('drained');
        const now = Date.now();
        if (now >= session.idleDeadline) session.end('idle');
        if (session.endReason !== undefined) break;
        const block = Math.max(1, Math.min(READ_BLOCK_MS, session.idleDeadline - now, session.lifetimeDeadline - now));
        const read = await Promise.race([w.sessions.readCells(w.blocking, ref.id, lastId, block), session.ended.then(() => [])]).catch((err: Error) => {
          log.warn({ err: err.message }, 'reading the session stream failed; retrying');
          return [];
        });
        for (const c of read) {
          lastId = c.entryId;
          queue.push({ entry: { entryId: c.entryId, raw: c.raw, deliveries: 1, fields: [] }, fromGroup: false });
        }
        // Cells of this session put on the task stream reach it here even when no other executor is
        // free to hand them on; anything else read there is given back for another executor.
        if (read.length === 0) queue.push(...(await cellsFromTaskStream(w, ref.id).catch((err: Error) => (log.warn({ err: err.message }, 'reading the task stream failed'), []))));
      }
    } catch (err) {
      log.error({ err }, 'holding the session failed; ending it');
      session.end('crashed');
    } finally {
      clearTimeout(lifetime);
      unsubscribe();
      w.forced.removeEventListener('abort', onForced);
    }
    const reason = session.endReason!;
    const swept = await session.close(w.config.killGraceMs).catch((err: Error) => ({ report: { clean: false, problems: [`the session's sweep failed: ${err.message}`] } }));
    const clean = swept.report.clean;
    const ended: SessionEndReason = await w.sessions.end(ref.id, reason, w.config.resultTtlS, { sweepClean: String(clean), cellsRun: String(session.cells) }).catch(() => reason);
    // Cells taken but not run (the session ended first), then those still in its stream.
    for (const c of queue.splice(0)) await answerEndedCell(w, ref, c, ended).catch((err: Error) => log.error({ err: err.message }, 'answering a cell the session ended before failed'));
    await answerWaitingCells(w, ref, lastId, ended).catch((err: Error) => log.error({ err: err.message }, 'answering the cells left in the session stream failed'));
    w.metrics?.sessionsOpen.dec();
    w.metrics?.sessionEnds.inc({ reason: ended });
    w.metrics?.sessionDuration.observe((Date.now() - session.openedAt) / 1000);
    if (!clean) {
      dirty = true;
      securityEvent(log, SECURITY_EVENTS.dirty, { phase: 'session', problems: swept.report.problems }, 'sandbox is dirty after the session; stopping');
    }
    taskLogger(w.logger, task, entry.deliveries).info({ session: ref.id, reason: ended, cells: session.cells, clean }, 'session ended');
    return { dirty, ran: task.runtime };
  }
}

/**
 * New entries of the task stream: this session's cells, to run; another open session's cells,
 * routed to their holder (or answered, when that session has ended); every other entry given
 * back for an executor that is free.
 */
async function cellsFromTaskStream(w: Wiring, sessionId: string): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const entry of await w.consumer.readNew(10)) {
    const a = admit(entry, { runtimes: w.runtimes, maxima: w.maxima, taskBytes: w.config.taskBytes, filesBytes: w.config.filesBytes, maxAttempts: w.config.maxAttempts, isCancelled: (id) => w.control.isCancelled(id), now: Date.now() });
    const named = a.kind === 'run' ? sessionOf(a.task)?.id : undefined;
    if (a.kind === 'run' && named === sessionId) cells.push({ entry, admitted: a, fromGroup: true });
    else if (a.kind === 'run' && named !== undefined && (await routeSessionTask(w, entry, a, false)) !== 'absent') continue;
    else await w.consumer.handBack(entry.entryId);
  }
  return cells;
}

async function answerEndedCell(w: Wiring, ref: { id: string }, c: Cell, reason: SessionEndReason): Promise<void> {
  const id = c.admitted?.task.id ?? taskIdOf(c.entry.raw);
  if (c.fromGroup) {
    if (id) await answerWithoutRun(w, c.entry, id, sessionEndedResult(ref, reason));
    else await w.consumer.handBack(c.entry.entryId);
  } else if (id) {
    await answerCell(w, ref.id, c.entry.entryId, id, sessionEndedResult(ref, reason));
  }
}
