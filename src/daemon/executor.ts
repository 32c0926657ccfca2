// The executor: a loop that takes one task at a time from the stream, runs it, writes its result
// and acknowledges it, until it has done its runs or been warm its time (recycle-policy.ts: then
// it leaves the group and exits on purpose, so its Job's pod is replaced with a new one) or is
// told to stop.
import type { RedisClient as Redis } from '../queue/connection.js';
import type { Config } from '../config/options.js';
import type { Logger } from '../log.js';
import { EventEmitter } from 'node:events';
import { notRunResult, type EffectiveLimits, type ExitResult } from '../protocol/result.js';
import type { ExecutorMetrics } from './metrics.js';
import { connectRedis } from '../queue/connection.js';
import { TaskConsumer, type StreamTask } from '../queue/consumer.js';
import { controlKey } from '../protocol/keys.js';
import { ControlListener } from '../queue/control.js';
import { ResultsWriter } from '../queue/results-writer.js';
import { configuredMaxima, effectiveLimits } from '../run/limits.js';
import { executeRun, type RunReport } from '../run/run.js';
import type { RuntimeRegistry } from '../runtimes/load.js';
import type { PreparedSandbox } from '../sandbox/prepare.js';
import { admissionProblem } from '../task/admission.js';
import { parseTask } from '../task/parse.js';
import { SECURITY_EVENTS, securityEvent } from '../security-events.js';
import { HARD_LINK_REFUSED, LINK_REFUSED } from '../workspace/artifacts.js';
import { STANDBY_BOOTSTRAPS_DIR } from '../runtimes/load.js';
import { installBootstraps, StandbyPool, standbyRuntimes } from '../standby/pool.js';
import { withTimeout } from '../util/timeout.js';
import { recycleLimits, type RecycleLimits } from './recycle-policy.js';

const STOP_MESSAGES: Record<StopReason, string> = {
  recycled: 'recycling: run budget used up',
  aged: 'recycling: warm for EXECUTOR_MAX_AGE_S',
  stopped: 'executor stopped',
  dirty: 'executor stopped: the sandbox is dirty',
};

/** Why the executor stopped: every reason but `dirty` is a clean exit. */
export type StopReason = 'recycled' | 'aged' | 'stopped' | 'dirty';

export interface ExecutorDeps {
  config: Config;
  runtimes: RuntimeRegistry;
  sandbox: PreparedSandbox;
  logger: Logger;
}

const READ_ERROR_BACKOFF_MS = 1000;
// How often an executor looks for consumers of executors that are gone (and removes them).
const PRUNE_EVERY_MS = 60_000;
/** Statuses that mean a budget or a limit ended the run. */
const BUDGET_KILLS = new Set(['timeout', 'cpu_limit', 'output_limit', 'memory_limit', 'file_size_limit']);
const QUIT_MS = 2000;

export class Executor {
  private readonly redis: Redis;
  private readonly blocking: Redis;
  private readonly consumer: TaskConsumer;
  private readonly control: ControlListener;
  private readonly maxima: EffectiveLimits;
  /** Interpreters started ahead of time; only with dedicated sandbox users (one uid per runtime). */
  private readonly standbys: StandbyPool | undefined;
  private readonly forced = new AbortController();
  private stopping = false;
  private runsDone = 0;
  private lastWasReclaimed = false;
  private readonly recycle: RecycleLimits;
  private aged = false;
  private ageTimer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  /** Emits 'stopping' when the executor stops taking work (drain, recycle, dirty). */
  readonly events = new EventEmitter();
  private loop: Promise<StopReason> | undefined;
  private closing: Promise<StopReason> | undefined;

  constructor(
    private readonly deps: ExecutorDeps,
    private readonly metrics?: ExecutorMetrics,
  ) {
    const { config, logger } = deps;
    this.redis = connectRedis(config, `${config.consumer}:main`, logger);
    this.blocking = connectRedis(config, `${config.consumer}:read`, logger);
    this.consumer = new TaskConsumer(this.blocking, this.redis, config);
    this.control = new ControlListener(
      connectRedis(config, `${config.consumer}:control-read`, logger),
      controlKey(config.stream),
      config.resultTtlS * 1000,
      logger,
    );
    this.maxima = configuredMaxima(config);
    this.recycle = recycleLimits(config);
    const enabled = standbyRuntimes(config.standby, deps.runtimes);
    this.standbys =
      deps.sandbox.identity.mode === 'dedicated' && enabled.size > 0
        ? new StandbyPool({
            runtimes: deps.runtimes,
            enabled,
            context: (runtime) => deps.sandbox.runContext(logger.child({ runtime, standby: true }), runtime),
            limits: effectiveLimits(this.maxima, undefined),
            bootstrapsDir: installBootstraps(STANDBY_BOOTSTRAPS_DIR, deps.sandbox.workDir),
            bootMs: config.standbyBootMs,
            logger,
          })
        : undefined;
  }

  /** Connect, create the consumer group if missing, and start taking tasks. */
  async start(): Promise<void> {
    await this.consumer.start();
    await this.control.start();
    const { config, runtimes, sandbox } = this.deps;
    if (this.recycle.maxAgeMs !== undefined) {
      this.ageTimer = setTimeout(() => {
        // Idle, the blocked read ends now; busy, the run in hand finishes first.
        this.aged = true;
        void this.consumer.interrupt();
      }, this.recycle.maxAgeMs);
      this.ageTimer.unref();
    }
    this.metrics?.runsLeft.set(this.recycle.maxRuns);
    this.deps.logger.info(
      {
        stream: config.stream,
        group: config.group,
        consumer: config.consumer,
        maxRuns: this.recycle.maxRuns,
        maxAgeS: this.recycle.maxAgeMs === undefined ? 0 : this.recycle.maxAgeMs / 1000,
        limits: this.maxima,
        sandbox: sandbox.capabilities.sandbox,
        sandboxUser: sandbox.identity.name,
        runtimes: [...runtimes.keys()],
        standby: this.standbys?.runtimes ?? [],
      },
      'executor started',
    );
    for (const runtime of runtimes.keys()) this.standbys?.warm(runtime);
    this.loop = this.runLoop();
  }

  /** Resolves when the executor has stopped, with the reason. */
  done(): Promise<StopReason> {
    if (!this.loop) throw new Error('executor not started');
    return this.loop;
  }

  /** Drain: stop taking tasks, finish the run in hand (bounded by its budget), disconnect. Idempotent. */
  close(): Promise<StopReason> {
    this.closing ??= (async () => {
      this.stopping = true;
      this.events.emit('stopping');
      await this.consumer.interrupt();
      return this.loop ?? 'stopped';
    })();
    return this.closing;
  }

  /** Forced stop: end the run in hand now (it is reported as internal_error), then close. */
  abort(): Promise<StopReason> {
    this.forced.abort();
    return this.close();
  }

  /** Taking work: connected to Redis, not draining, not recycling. */
  get ready(): boolean {
    return !this.stopping && !this.aged && this.runsDone < this.recycle.maxRuns && this.redis.status === 'ready' && this.blocking.status === 'ready';
  }

  private async runLoop(): Promise<StopReason> {
    const log = this.deps.logger;
    let reason: StopReason = 'stopped';
    try {
      while (!this.stopping) {
        if (this.runsDone >= this.recycle.maxRuns) {
          reason = 'recycled';
          break;
        }
        if (this.aged) {
          reason = 'aged';
          break;
        }
        let entry: StreamTask | null;
        try {
          entry = await this.next();
        } catch (err) {
          // A background loop logs and keeps going; it never throws out.
          log.error({ err }, 'reading the task stream failed; retrying');
          await new Promise((r) => setTimeout(r, READ_ERROR_BACKOFF_MS));
          continue;
        }
        if (entry === null) continue;
        try {
          if (await this.handle(entry)) {
            reason = 'dirty';
            break;
          }
        } catch (err) {
          // Most likely Redis went away mid-task. The entry is not acknowledged, so it stays
          // pending in the group, is reclaimed later and is not lost.
          log.error({ err, entryId: entry.entryId }, 'handling a task failed; it was not acknowledged');
        }
      }
    } finally {
      this.stopping = true;
      clearTimeout(this.ageTimer);
      this.events.emit('stopping');
      log.debug('stopping: retiring standbys');
      await this.standbys?.close();
      log.debug('stopping: control listener');
      await this.control.stop();
      log.debug('stopping: disconnecting');
      // Bounded: with Redis away a QUIT would wait for a reconnect forever, and an executor that
      // must stop (dirty, say) has to stop whatever Redis does.
      await withTimeout(this.blocking.quit(), QUIT_MS, 'QUIT').catch(() => this.blocking.disconnect());
      await this.leaveGroup();
      await withTimeout(this.redis.quit(), QUIT_MS, 'QUIT').catch(() => this.redis.disconnect());
    }
    log.info({ reason, runs: this.runsDone }, STOP_MESSAGES[reason]);
    return reason;
  }

  /**
   * Every pod has a consumer name of its own, so a consumer left in the group would stay there
   * forever: remove it, unless it holds entries (a task acknowledged late is reclaimed from it,
   * and then removed by whoever prunes). After the blocking connection is closed, so that no read
   * of ours can recreate it.
   */
  private async leaveGroup(): Promise<void> {
    try {
      const removed = await withTimeout(this.consumer.removeSelf(), QUIT_MS, 'XGROUP DELCONSUMER');
      if (removed) this.metrics?.consumersRemoved.inc();
      this.deps.logger.debug({ removed }, 'left the consumer group');
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not leave the consumer group; another executor removes it later');
    }
  }

  /** Remove the consumers of executors that are gone, now and then. Never fails the loop. */
  private async pruneConsumers(): Promise<void> {
    const { config, logger } = this.deps;
    if (Date.now() - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = Date.now();
    try {
      // Idle longer than a run can take, so no live executor is ever in the middle of one.
      const removed = await this.consumer.pruneDead(Math.max(config.wallMs + config.killGraceMs + config.reclaimMarginMs, config.blockMs * 3));
      if (removed.length > 0) {
        this.metrics?.consumersRemoved.inc(removed.length);
        logger.info({ removed: removed.slice(0, 20), count: removed.length }, 'removed consumers of executors that are gone');
      }
    } catch (err) {
      logger.warn({ err }, 'pruning the consumer group failed; trying again later');
    }
  }

  /**
   * The next task: one a dead consumer left pending, or else a new one. Reclaimed and new tasks
   * alternate, so a task that crashes every executor it lands on cannot starve fresh work.
   */
  private async next(): Promise<StreamTask | null> {
    const { config } = this.deps;
    if (!this.lastWasReclaimed) {
      const stale = await this.consumer.claimStale(config.wallMs + config.killGraceMs + config.reclaimMarginMs);
      if (stale) {
        this.lastWasReclaimed = true;
        // Its dead consumer may hold nothing any more: look for it on the next pass.
        this.lastPrune = 0;
        this.deps.logger.warn({ entryId: stale.entryId, deliveries: stale.deliveries }, 'reclaimed a task from a consumer that stopped answering');
        this.metrics?.reclaimed.inc();
        return stale;
      }
    }
    this.lastWasReclaimed = false;
    await this.pruneConsumers();
    if (this.aged) return null;
    return this.consumer.read();
  }

  /** Answer a task that will not run, then acknowledge it. */
  private async answerWithoutRun(entry: StreamTask, taskId: string | undefined, result: ExitResult, deadReason?: string, withoutTask = false): Promise<void> {
    const { config } = this.deps;
    // The dead letter and the count before the answer: a controller that sees the answer finds
    // the copy there, and nothing is lost if the executor dies in between.
    if (deadReason !== undefined) {
      await this.consumer.deadLetter(config.deadStream, entry, deadReason, withoutTask);
      this.metrics?.deadLettered.inc();
    }
    if (taskId !== undefined) {
      const answered = await new ResultsWriter(this.redis, { taskId, prefix: config.keyPrefix }, config.resultTtlS, [], { id: entry.entryId, attempt: entry.deliveries }).answer(result, config.consumer, false);
      if (answered === 'answered' || answered === 'running') return this.refuseDuplicate(entry, taskId, answered);
    }
    this.metrics?.runs.inc({ runtime: 'none', status: result.status });
    await this.consumer.ack(entry.entryId);
  }

  /**
   * A second stream entry for an id that has an answer, or is being run from another entry: it
   * is not run and its results stream is left alone. Acknowledged, counted, dead-lettered.
   */
  private async refuseDuplicate(entry: StreamTask, taskId: string, why: 'answered' | 'running'): Promise<void> {
    const { config, logger } = this.deps;
    const reason = why === 'answered'
      ? `duplicate id: task "${taskId}" has already been answered (a task id runs at most once within EXECUTOR_RESULT_TTL_S=${config.resultTtlS})`
      : `duplicate id: task "${taskId}" is already being run from another stream entry`;
    logger.warn({ taskId, entryId: entry.entryId }, reason);
    await this.consumer.deadLetter(config.deadStream, entry, reason);
    this.metrics?.deadLettered.inc();
    this.metrics?.duplicates.inc();
    await this.consumer.ack(entry.entryId);
  }

  /** Handle one entry; returns true when the sandbox is dirty and the executor must stop. */
  private async handle(entry: StreamTask): Promise<boolean> {
    const { config, runtimes, sandbox, logger } = this.deps;
    const parsed = parseTask(entry.raw, [...runtimes.keys()], config.taskBytes);
    if (!parsed.ok) {
      if (parsed.pathEscape) securityEvent(logger, SECURITY_EVENTS.pathEscape, { entryId: entry.entryId, taskId: parsed.id, source: 'task', error: parsed.error }, 'task rejected: a file path points outside its working directory');
      else logger.warn({ entryId: entry.entryId, taskId: parsed.id, error: parsed.error }, 'task rejected');
      // Without an id nobody can be answered: keep the message where someone can look at it
      // (one refused for its size without its body: the copy would be as large).
      const deadReason = parsed.id === undefined ? `unusable task: ${parsed.error}` : undefined;
      await this.answerWithoutRun(entry, parsed.id, notRunResult('rejected', parsed.error), deadReason, parsed.tooLarge !== undefined);
      return false;
    }

    const { task } = parsed;
    const attempt = entry.deliveries;
    const log = logger.child({ taskId: task.id, attempt, ...(task.traceparent ? { traceparent: task.traceparent } : {}) });
    if (attempt > config.maxAttempts) {
      const why = `abandoned after ${attempt - 1} attempts: every executor that ran it stopped answering (EXECUTOR_MAX_ATTEMPTS=${config.maxAttempts})`;
      log.error({ entryId: entry.entryId }, 'task abandoned; copied to the dead-letter stream');
      await this.answerWithoutRun(entry, task.id, notRunResult('internal_error', why), why);
      return false;
    }
    const profile = runtimes.get(task.runtime)!;
    const limits = effectiveLimits(this.maxima, task.limits);
    const problem = admissionProblem(task, profile, limits, { filesBytes: config.filesBytes });
    if (problem !== undefined) {
      log.warn({ error: problem }, 'task rejected');
      await this.answerWithoutRun(entry, task.id, notRunResult('rejected', problem));
      return false;
    }
    if (this.control.isCancelled(task.id)) {
      log.info('task cancelled before it ran');
      await this.answerWithoutRun(entry, task.id, notRunResult('cancelled', 'cancelled before it ran'));
      return false;
    }
    if (task.deadline !== undefined && Date.now() > task.deadline) {
      log.info({ deadline: task.deadline }, 'task expired before it ran');
      await this.answerWithoutRun(entry, task.id, notRunResult('expired', `deadline ${new Date(task.deadline).toISOString()} passed before an executor reached it`));
      return false;
    }

    const writer = new ResultsWriter(this.redis, { taskId: task.id, prefix: config.keyPrefix }, config.resultTtlS, task.traceparent ? ['traceparent', task.traceparent] : [], { id: entry.entryId, attempt });
    // The claim that starts a run is confirmed before the snippet starts: an id runs at most once,
    // and an attempt runs only while it is the newest of its entry. (A Redis error here throws:
    // nothing ran, the entry stays pending and is reclaimed.)
    const claim = await writer.begin(config.consumer, limits, sandbox.capabilities.sandbox);
    if (claim === 'answered' || claim === 'running') {
      await this.refuseDuplicate(entry, task.id, claim);
      return false;
    }
    if (claim === 'answered-self') {
      log.warn({ entryId: entry.entryId }, 'this entry was answered already (its executor stopped before acknowledging it); acknowledged without running');
      await this.consumer.ack(entry.entryId);
      return false;
    }
    if (claim === 'stale') {
      // A newer attempt of this entry runs elsewhere and will acknowledge it: leave it be.
      log.warn({ entryId: entry.entryId }, 'a newer attempt of this task has started elsewhere; not running this one');
      return false;
    }
    this.runsDone += 1;
    this.metrics?.runsLeft.set(this.recycle.maxRuns - this.runsDone);
    this.metrics?.queueWait.observe(Math.max(0, Date.now() - Number(entry.entryId.split('-')[0])) / 1000);

    let report: RunReport;
    let dirty = false;
    const cancel = new AbortController();
    const unsubscribe = this.control.onCancel((id) => {
      if (id === task.id) cancel.abort();
    });
    try {
      const runContext = sandbox.runContext(log, task.runtime);
      const standby = await this.standbys?.take(task, limits, runContext);
      log.info({ runtime: task.runtime, limits, runsLeft: this.recycle.maxRuns - this.runsDone, standby: standby !== undefined }, 'run started');
      this.metrics?.interpreterStarts.inc({ runtime: task.runtime, interpreter: standby ? 'standby' : 'fresh' });
      report = await executeRun({ task, profile, limits }, runContext, {
        output: (kind, data) => writer.output(kind, data),
        artifact: (relPath, data, part, parts) => writer.file(relPath, data, part, parts),
        abort: this.forced.signal,
        cancel: cancel.signal,
      }, standby);
    } catch (err) {
      // The run's own set-up or clean-up failed: nothing proves the sandbox is clean.
      log.error({ err }, 'run failed inside the executor');
      report = { result: notRunResult('internal_error', `executor failure: ${(err as Error).message}`) };
      dirty = true;
    } finally {
      unsubscribe();
    }
    // The end of a run happens whatever fails next: the dirty check before any Redis write.
    if (report.result.sweep && !report.result.sweep.clean) {
      // Never run the next task in a dirty sandbox: report, stop, and let the pod be replaced.
      dirty = true;
    }
    if (dirty) securityEvent(log, SECURITY_EVENTS.dirty, { phase: 'run', problems: report.result.sweep?.problems }, 'sandbox is dirty after the run; stopping');
    const r = report.result;
    // Counted before it is answered: whoever sees the answer finds it in the metrics.
    this.metrics?.recordRun(task.runtime, r);
    try {
      // Bounded: if Redis stays away, the task is left unacknowledged and is reclaimed later; the
      // claim and the one-answer marker make a late second write harmless.
      const answered = await withTimeout(writer.answer(r, config.consumer, true), config.deliveryTimeoutMs, 'Redis did not take the result in time');
      if (answered === 'stale') {
        // Presumed dead and rerun elsewhere: that attempt answers and acknowledges.
        log.warn('a newer attempt of this task started while this one ran (this executor was presumed dead); result dropped');
      } else {
        if (answered !== 'ok') log.warn({ answered }, 'the task had already been answered; result dropped');
        await this.consumer.ack(entry.entryId);
      }
    } catch (err) {
      log.error({ err }, 'the result could not be written; the task stays pending and will be reclaimed');
    }
    if (BUDGET_KILLS.has(r.status)) securityEvent(log, SECURITY_EVENTS.budgetKill, { status: r.status, error: r.error, wallMs: r.wallMs, cpuMs: r.cpuMs }, 'limit hit');
    const links = r.artifacts?.filter((a) => a.reason === LINK_REFUSED || a.reason === HARD_LINK_REFUSED) ?? [];
    if (links.length > 0) securityEvent(log, SECURITY_EVENTS.pathEscape, { source: 'artifacts', paths: links.slice(0, 20).map((a) => a.path), count: links.length }, 'out/ held links; they were not followed');
    log.info(
      { status: r.status, exitCode: r.exitCode, signal: r.signal, wallMs: r.wallMs, cpuMs: r.cpuMs, truncated: r.truncated },
      'run finished',
    );
    // The run is over and swept: the next interpreter of this runtime may start now.
    if (!dirty && !this.aged && this.runsDone < this.recycle.maxRuns) this.standbys?.warm(task.runtime);
    return dirty;
  }
}
