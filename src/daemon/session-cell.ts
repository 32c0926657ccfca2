// One cell of a held session, from its entry to its answer: admitted like any task (a cell from
// the session's own stream is parsed here), checked against what the opening task fixed, claimed
// (its `started` names the session, the cell and the direct stream), run, answered; the entry is
// acknowledged when it came from the task stream.
import { notRunResult, type ExitResult } from '../protocol/result.js';
import { sessionStreamKey } from '../protocol/keys.js';
import type { StreamTask } from '../queue/consumer.js';
import { ResultsWriter } from '../queue/results-writer.js';
import { runCell } from '../session/cell.js';
import { cellConflict, type FixedBySession } from '../session/fixed.js';
import type { Session } from '../session/session.js';
import { sessionOf } from '../task/schema.js';
import { admit } from './admit.js';
import { answerRefusal, answerWithoutRun, refuseDuplicate, taskLogger } from './answer.js';
import { deliverResult, reportRun } from './deliver.js';
import type { Admitted } from './run-task.js';
import type { Wiring } from './wiring.js';

export interface Cell {
  entry: StreamTask;
  /** Set for the opening task (admitted already). */
  admitted?: Admitted;
  /** From the task stream (acknowledged there), or from the session's own stream. */
  fromGroup: boolean;
}

/**
 * The entry a cell's claim names: its task-stream entry, or its entry in the session's own stream,
 * named with that stream (an id chosen by a controller could equal one of the task stream's).
 */
export function cellEntryRef(sessionId: string, cell: Pick<Cell, 'entry' | 'fromGroup'>, prefix: string): { id: string; attempt: number } {
  return cell.fromGroup ? { id: cell.entry.entryId, attempt: cell.entry.deliveries } : { id: `${sessionStreamKey(sessionId, prefix)}/${cell.entry.entryId}`, attempt: 1 };
}

/**
 * Answer a cell of the session's own stream without running it, fenced like any answer: never
 * for a task id another entry has claimed (it runs elsewhere), never twice.
 */
export async function answerCell(w: Wiring, sessionId: string, entryId: string, taskId: string, result: ExitResult): Promise<void> {
  const ref = cellEntryRef(sessionId, { entry: { entryId, raw: undefined, deliveries: 1, fields: [] }, fromGroup: false }, w.config.keyPrefix);
  const answered = await new ResultsWriter(w.redis, { taskId, prefix: w.config.keyPrefix }, w.config.resultTtlS, [], ref).answer(result, w.config.consumer, false);
  if (answered === 'running') w.logger.warn({ taskId, session: sessionId }, 'a cell of the session has the id of a task that runs from another entry; not answered');
}

export async function runCellTask(w: Wiring, s: Session, cell: Cell, fixed: FixedBySession, countRun: () => number): Promise<{ dirty: boolean }> {
  const { config } = w;
  const { entry } = cell;
  const answer = (taskId: string, result: ExitResult) => (cell.fromGroup ? answerWithoutRun(w, entry, taskId, result) : answerCell(w, s.id, entry.entryId, taskId, result));
  let admitted = cell.admitted;
  if (!admitted) {
    const a = admit(entry, { runtimes: w.runtimes, maxima: w.maxima, taskBytes: config.taskBytes, filesBytes: config.filesBytes, maxAttempts: config.maxAttempts, isCancelled: (id) => w.control.isCancelled(id), now: Date.now() });
    if (a.kind !== 'run') {
      if (cell.fromGroup) await answerRefusal(w, entry, a);
      else if (a.kind === 'unparsed' ? a.taskId : a.task.id) await answer(a.kind === 'unparsed' ? a.taskId! : a.task.id, a.result);
      return { dirty: false };
    }
    admitted = a;
  }
  const { task, limits } = admitted;
  const conflict = sessionOf(task)?.id !== s.id ? `the task names session "${sessionOf(task)?.id}", not "${s.id}"` : cellConflict(fixed, task);
  if (conflict) {
    await answer(task.id, { ...notRunResult('rejected', conflict), session: { id: s.id } });
    return { dirty: false };
  }
  const log = taskLogger(w.logger, task, entry.deliveries).child({ session: s.id });
  const n = s.cells + 1;
  const writer = new ResultsWriter(w.redis, { taskId: task.id, prefix: config.keyPrefix }, config.resultTtlS, task.traceparent ? ['traceparent', task.traceparent] : [], cellEntryRef(s.id, cell, config.keyPrefix));
  const more = ['session', s.id, 'cell', String(n), 'sessionStream', sessionStreamKey(s.id, config.keyPrefix), 'idleDeadline', String(s.lastActive + s.sessionLimits.idleMs), 'lifetimeDeadline', String(s.lifetimeDeadline)];
  const claim = await writer.begin(config.consumer, limits, w.sandbox.capabilities.kind, more);
  if (claim === 'answered' || claim === 'running') {
    if (cell.fromGroup) await refuseDuplicate(w, entry, task.id, claim);
    return { dirty: false };
  }
  if (claim !== 'ok') {
    if (cell.fromGroup) await w.consumer.ack(entry.entryId);
    return { dirty: false };
  }
  s.cells = n;
  countRun();
  w.metrics?.cells.inc({ runtime: s.runtime });
  const cancel = new AbortController();
  const unsubscribe = w.control.onCancel((id) => id === task.id && cancel.abort());
  let result: ExitResult;
  try {
    const report = await runCell(s, n, task, limits, {
      output: (kind, data) => writer.output(kind, data),
      display: (k, mime, data) => writer.display(k, mime, data),
      artifact: (p, data, part, parts) => writer.file(p, data, part, parts),
      cancel: cancel.signal,
      abort: w.forced,
    });
    result = { ...report.result, session: { id: s.id, cell: n, ...(report.ended ? { ended: report.ended } : {}) } };
  } catch (err) {
    log.error({ err }, 'cell failed inside the executor');
    s.end('crashed');
    result = { ...notRunResult('internal_error', `executor failure: ${(err as Error).message}`), session: { id: s.id, cell: n, ended: 'crashed' } };
  } finally {
    unsubscribe();
  }
  await w.sessions.touch(s.id, n).catch(() => undefined);
  w.metrics?.recordRun(task.runtime, result);
  if (cell.fromGroup) await deliverResult(w, entry, writer, result, log);
  else await writer.answer(result, config.consumer, true).catch((err: Error) => log.error({ err: err.message }, 'the cell\'s result could not be written'));
  reportRun(log, result);
  return { dirty: false };
}
