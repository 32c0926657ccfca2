// One task, from the entry the read returned to its XACK, one phase per call: admit it (or answer
// why not), claim its id for this attempt, run it, deliver the result and acknowledge it, report.
import type { StreamTask } from '../queue/consumer.js';
import { ResultsWriter } from '../queue/results-writer.js';
import type { StandbyPool } from '../standby/pool.js';
import { admit } from './admit.js';
import { answerRefusal, refuseDuplicate, taskLogger } from './answer.js';
import { deliverResult, reportRun } from './deliver.js';
import { runTask, type TaskOutcome } from './run-task.js';
import { holdSession } from './session-hold.js';
import { routeSessionTask } from './session-route.js';
import type { Wiring } from './wiring.js';

export type { TaskOutcome } from './run-task.js';

const NOT_RUN: TaskOutcome = { dirty: false };

/**
 * Handle one entry. `countRun` is called once a run is certain and returns the runs left. Throws
 * when Redis fails before the run: the entry is then not acknowledged and is reclaimed later.
 */
export async function handleTask(w: Wiring, standbys: StandbyPool | undefined, entry: StreamTask, countRun: () => number): Promise<TaskOutcome> {
  const { config } = w;
  const admission = admit(entry, {
    runtimes: w.runtimes,
    maxima: w.maxima,
    taskBytes: config.taskBytes,
    filesBytes: config.filesBytes,
    maxAttempts: config.maxAttempts,
    isCancelled: (id) => w.control.isCancelled(id),
    now: Date.now(),
  });
  if (admission.kind !== 'run') {
    await answerRefusal(w, entry, admission);
    return NOT_RUN;
  }
  const { task } = admission;
  if (task.session !== undefined) {
    // Opened here: this executor holds the session until it ends, and takes no other work.
    if ((await routeSessionTask(w, entry, admission)) !== 'hold') return NOT_RUN;
    return holdSession(w, standbys, entry, admission, countRun);
  }
  const log = taskLogger(w.logger, task, entry.deliveries);
  const writer = new ResultsWriter(w.redis, { taskId: task.id, prefix: config.keyPrefix }, config.resultTtlS, task.traceparent ? ['traceparent', task.traceparent] : [], { id: entry.entryId, attempt: entry.deliveries });

  // The claim that starts a run is confirmed before the snippet starts: an id runs at most once,
  // and an attempt runs only while it is the newest of its entry. (A Redis error here throws:
  // nothing ran, the entry stays pending and is reclaimed.)
  const claim = await writer.begin(config.consumer, admission.limits, w.sandbox.capabilities.kind);
  if (claim === 'answered' || claim === 'running') {
    await refuseDuplicate(w, entry, task.id, claim);
    return NOT_RUN;
  }
  if (claim === 'answered-self') {
    log.warn({ entryId: entry.entryId }, 'this entry was answered already (its executor stopped before acknowledging it); acknowledged without running');
    await w.consumer.ack(entry.entryId);
    return NOT_RUN;
  }
  if (claim === 'stale') {
    // A newer attempt of this entry runs elsewhere and will acknowledge it: leave it be.
    log.warn({ entryId: entry.entryId }, 'a newer attempt of this task has started elsewhere; not running this one');
    return NOT_RUN;
  }

  const runsLeft = countRun();
  w.metrics?.queueWait.observe(Math.max(0, Date.now() - Number(entry.entryId.split('-')[0])) / 1000);
  const { report, dirty } = await runTask(w, standbys, admission, writer, log, runsLeft);
  // Counted before it is answered: whoever sees the answer finds it in the metrics.
  w.metrics?.recordRun(task.runtime, report.result);
  await deliverResult(w, entry, writer, report.result, log);
  reportRun(log, report.result);
  return { dirty, ran: task.runtime };
}
