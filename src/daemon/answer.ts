// Answers for entries that do not run: a rejection, an abandoned or cancelled or expired task,
// and a duplicate id (which gets no answer: its id's results stream belongs to another entry).
import type { Logger } from '../log.js';
import type { ExitResult } from '../protocol/result.js';
import type { StreamTask } from '../queue/consumer.js';
import { ResultsWriter } from '../queue/results-writer.js';
import { SECURITY_EVENTS, securityEvent } from '../security-events.js';
import type { Task } from '../task/schema.js';
import type { Admission } from './admit.js';
import type { Wiring } from './wiring.js';

/** Answer a task that will not run (dead-lettered first when `deadReason` is set), then acknowledge it. */
export async function answerWithoutRun(w: Wiring, entry: StreamTask, taskId: string | undefined, result: ExitResult, deadReason?: string, withoutTask = false): Promise<void> {
  const { config, metrics } = w;
  // The dead letter and the count before the answer: a controller that sees the answer finds
  // the copy there, and nothing is lost if the executor dies in between.
  if (deadReason !== undefined) {
    await w.consumer.deadLetter(config.deadStream, entry, deadReason, withoutTask);
    metrics?.deadLettered.inc();
  }
  if (taskId !== undefined) {
    const writer = new ResultsWriter(w.redis, { taskId, prefix: config.keyPrefix }, config.resultTtlS, [], { id: entry.entryId, attempt: entry.deliveries });
    const answered = await writer.answer(result, config.consumer, false);
    if (answered === 'answered' || answered === 'running') return refuseDuplicate(w, entry, taskId, answered);
  }
  metrics?.runs.inc({ runtime: 'none', status: result.status });
  await w.consumer.ack(entry.entryId);
}

/**
 * A second stream entry for an id that has an answer, or is being run from another entry: it
 * is not run and its results stream is left alone. Acknowledged, counted, dead-lettered.
 */
export async function refuseDuplicate(w: Wiring, entry: StreamTask, taskId: string, why: 'answered' | 'running'): Promise<void> {
  const { config, logger, metrics } = w;
  const reason = why === 'answered'
    ? `duplicate id: task "${taskId}" has already been answered (a task id runs at most once within EXECUTOR_RESULT_TTL_S=${config.resultTtlS})`
    : `duplicate id: task "${taskId}" is already being run from another stream entry`;
  logger.warn({ taskId, entryId: entry.entryId }, reason);
  await w.consumer.deadLetter(config.deadStream, entry, reason);
  metrics?.deadLettered.inc();
  metrics?.duplicates.inc();
  await w.consumer.ack(entry.entryId);
}

/** Log why an entry will not run, in the words each case has, then answer it. */
export async function answerRefusal(w: Wiring, entry: StreamTask, a: Exclude<Admission, { kind: 'run' }>): Promise<void> {
  if (a.kind === 'unparsed') {
    const fields = { entryId: entry.entryId, taskId: a.taskId, error: a.error };
    if (a.pathEscape) securityEvent(w.logger, SECURITY_EVENTS.pathEscape, { ...fields, source: 'task' }, 'task rejected: a file path points outside its working directory');
    else w.logger.warn(fields, 'task rejected');
    return answerWithoutRun(w, entry, a.taskId, a.result, a.deadReason, a.tooLarge);
  }
  const log = taskLogger(w.logger, a.task, entry.deliveries);
  if (a.why === 'abandoned') log.error({ entryId: entry.entryId }, 'task abandoned; copied to the dead-letter stream');
  else if (a.why === 'rejected') log.warn({ error: a.result.error }, 'task rejected');
  else if (a.why === 'cancelled') log.info('task cancelled before it ran');
  else log.info({ deadline: a.task.deadline }, 'task expired before it ran');
  return answerWithoutRun(w, entry, a.task.id, a.result, a.deadReason);
}

/** The logger of one task: every line bound to its id, its attempt and its trace. */
export function taskLogger(logger: Logger, task: Task, attempt: number): Logger {
  return logger.child({ taskId: task.id, attempt, ...(task.traceparent ? { traceparent: task.traceparent } : {}) });
}
