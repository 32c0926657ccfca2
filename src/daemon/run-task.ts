// The run phase of one task: listen for its cancel, take an interpreter (a standby that fits, or
// a fresh one), run it, and decide whether the sandbox is still fit for the next task. Nothing
// here writes to Redis but the run's own output, through the results writer.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import { notRunResult, type EffectiveLimits } from '../protocol/result.js';
import type { ResultsWriter } from '../queue/results-writer.js';
import { executeRun, type RunReport } from '../run/run.js';
import type { RuntimeProfile } from '../runtimes/schema.js';
import { SECURITY_EVENTS, securityEvent } from '../security-events.js';
import type { StandbyPool } from '../standby/pool.js';
import type { Task } from '../task/schema.js';
import type { Wiring } from './wiring.js';

export interface Admitted {
  task: Task;
  profile: RuntimeProfile;
  limits: EffectiveLimits;
}

export interface TaskOutcome {
  /** The sandbox is dirty after the run: the executor must stop. */
  dirty: boolean;
  /** The runtime that ran, when one did. */
  ran?: string;
}

export interface RunOutcome {
  report: RunReport;
  /** Nothing proves the sandbox clean: the executor must stop before another task. */
  dirty: boolean;
}

export async function runTask(w: Wiring, standbys: StandbyPool | undefined, { task, profile, limits }: Admitted, writer: ResultsWriter, log: Logger, runsLeft: number): Promise<RunOutcome> {
  let report: RunReport;
  let dirty = false;
  const cancel = new AbortController();
  const unsubscribe = w.control.onCancel((id) => {
    if (id === task.id) cancel.abort();
  });
  let slot = 0;
  try {
    const claimAt = performance.now();
    const claim = standbys ? await standbys.claim(task, limits) : { slot };
    // How long the task waited for its standby to be ready (README, "Performance").
    const waitedMs = Math.round((performance.now() - claimAt) * 10) / 10;
    slot = claim.slot;
    const { standby } = claim;
    const runContext = w.sandbox.runContext(log, task.runtime, slot);
    log.info({ runtime: task.runtime, limits, runsLeft, standby: standby !== undefined, slot, waitedMs }, 'run started');
    w.metrics?.interpreterStarts.inc({ runtime: task.runtime, interpreter: standby ? 'standby' : 'fresh' });
    report = await executeRun({ task, profile, limits }, runContext, {
      output: (kind, data) => writer.output(kind, data),
      display: (k, mime, data) => writer.display(k, mime, data),
      // The next standby, in another slot, while this run executes.
      underway: () => standbys?.warm(task.runtime),
      artifact: (relPath, data, part, parts) => writer.file(relPath, data, part, parts),
      abort: w.forced,
      cancel: cancel.signal,
    }, standby);
  } catch (err) {
    // The run's own set-up or clean-up failed: nothing proves the sandbox is clean.
    log.error({ err }, 'run failed inside the executor');
    report = { result: notRunResult('internal_error', `executor failure: ${(err as Error).message}`) };
    dirty = true;
  } finally {
    unsubscribe();
    standbys?.release(task.runtime, slot);
  }
  // Never run the next task in a dirty sandbox: report, stop, and let the pod be replaced.
  if (report.result.sweep && !report.result.sweep.clean) dirty = true;
  // Before any Redis write: the end of a run happens whatever fails next.
  if (dirty) securityEvent(log, SECURITY_EVENTS.dirty, { phase: 'run', problems: report.result.sweep?.problems }, 'sandbox is dirty after the run; stopping');
  return { report, dirty };
}
