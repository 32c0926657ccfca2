// The executor: a loop that takes one task at a time from the stream (queue/task-source.ts), has
// it handled (task-flow.ts: admit, claim, run, deliver, acknowledge), until it has done its runs
// or been warm its time (recycle-policy.ts: then it leaves the group and exits on purpose, so its
// Job's pod is replaced with a new one) or is told to stop.
import { ERROR_CODES, ExecutorError } from '../errors.js';
import type { StreamTask } from '../queue/consumer.js';
import type { StandbyPool } from '../standby/pool.js';
import type { ExecutorMetrics } from './metrics.js';
import { recycleLimits, type RecycleLimits } from './recycle-policy.js';
import { shutDown } from './shutdown.js';
import { reapLostSessions } from './session-route.js';
import { handleTask } from './task-flow.js';
import { startStandbys, wire, type ExecutorDeps, type Wiring } from './wiring.js';

export type { ExecutorDeps } from './wiring.js';

const STOP_MESSAGES: Record<StopReason, string> = {
  recycled: 'recycling: run budget used up',
  aged: 'recycling: warm for EXECUTOR_MAX_AGE_S',
  stopped: 'executor stopped',
  dirty: 'executor stopped: the sandbox is dirty',
};

/** Why the executor stopped: every reason but `dirty` is a clean exit. */
export type StopReason = 'recycled' | 'aged' | 'stopped' | 'dirty';

const READ_ERROR_BACKOFF_MS = 1000;
const LOST_SESSIONS_EVERY_MS = 60_000;

export class Executor {
  private readonly w: Wiring;
  private readonly recycle: RecycleLimits;
  private readonly forced = new AbortController();
  private standbys: StandbyPool | undefined;
  private stopping = false;
  private aged = false;
  private runsDone = 0;
  private ageTimer: NodeJS.Timeout | undefined;
  private loop: Promise<StopReason> | undefined;
  private closing: Promise<StopReason> | undefined;

  constructor(deps: ExecutorDeps, metrics?: ExecutorMetrics) {
    this.w = wire(deps, metrics, this.forced.signal, () => this.taking, () => this.stopping);
    this.recycle = recycleLimits(deps.config);
  }

  /** Connect, create the consumer group if missing, and start taking tasks. */
  async start(): Promise<void> {
    const { w } = this;
    await w.consumer.start();
    await w.control.start();
    this.standbys = startStandbys(w);
    if (this.recycle.maxAgeMs !== undefined) {
      this.ageTimer = setTimeout(() => {
        // Idle, the blocked read ends now; busy, the run in hand finishes first.
        this.aged = true;
        void w.consumer.interrupt();
      }, this.recycle.maxAgeMs);
      this.ageTimer.unref();
    }
    w.metrics?.runsLeft.set(this.recycle.maxRuns);
    w.logger.info(
      {
        stream: w.config.stream,
        group: w.config.group,
        consumer: w.config.consumer,
        maxRuns: this.recycle.maxRuns,
        maxAgeS: this.recycle.maxAgeMs === undefined ? 0 : this.recycle.maxAgeMs / 1000,
        limits: w.maxima,
        sandbox: w.sandbox.capabilities.kind,
        sandboxUser: w.sandbox.identity.name,
        runtimes: [...w.runtimes.keys()],
        standby: this.standbys?.runtimes ?? [],
      },
      'executor started',
    );
    for (const runtime of w.runtimes.keys()) this.standbys?.warm(runtime);
    this.loop = this.runLoop();
  }

  /** Resolves when the executor has stopped, with the reason. */
  done(): Promise<StopReason> {
    if (!this.loop) throw new ExecutorError(ERROR_CODES.NOT_STARTED, 'executor not started');
    return this.loop;
  }

  /** Drain: stop taking tasks, finish the run in hand (bounded by its budget), disconnect. Idempotent. */
  close(): Promise<StopReason> {
    this.closing ??= (async () => {
      this.stopping = true;
      if (this.loop === undefined) {
        // Stopped before it was connected (Redis unreachable at start-up): end the connection
        // attempts, which start() is waiting on, instead of retrying forever.
        this.w.redis.disconnect();
        this.w.blocking.disconnect();
        await this.w.control.stop();
        return 'stopped';
      }
      await this.w.consumer.interrupt();
      return this.loop;
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
    return this.taking && this.w.redis.status === 'ready' && this.w.blocking.status === 'ready';
  }

  /** Not draining, not recycling. */
  private get taking(): boolean {
    return !this.stopping && !this.aged && this.runsDone < this.recycle.maxRuns;
  }

  private async runLoop(): Promise<StopReason> {
    const log = this.w.logger;
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
          entry = await this.w.source.next();
        } catch (err) {
          // A background loop logs and keeps going; it never throws out.
          log.error({ err }, 'reading the task stream failed; retrying');
          await new Promise((r) => setTimeout(r, READ_ERROR_BACKOFF_MS));
          continue;
        }
        if (entry === null) {
          await this.reapLostSessions();
          continue;
        }
        if (await this.handle(entry)) {
          reason = 'dirty';
          break;
        }
      }
    } finally {
      this.stopping = true;
      clearTimeout(this.ageTimer);
      await shutDown(this.w, this.standbys);
    }
    log.info({ reason, runs: this.runsDone }, STOP_MESSAGES[reason]);
    return reason;
  }

  /** Handle one entry; true when the sandbox is dirty and the executor must stop. */
  private async handle(entry: StreamTask): Promise<boolean> {
    try {
      const outcome = await handleTask(this.w, this.standbys, entry, () => this.countRun());
      // The run is over and swept: the next interpreter of this runtime may start now.
      if (outcome.ran !== undefined && !outcome.dirty && this.taking) this.standbys?.warm(outcome.ran);
      return outcome.dirty;
    } catch (err) {
      // Most likely Redis went away mid-task. The entry is not acknowledged, so it stays
      // pending in the group, is reclaimed later and is not lost.
      this.w.logger.error({ err, entryId: entry.entryId }, 'handling a task failed; it was not acknowledged');
      return false;
    }
  }

  private lastReap = 0;

  // Sessions whose executor died are ended by whoever notices; idle executors look once a minute.
  private async reapLostSessions(): Promise<void> {
    if (Date.now() - this.lastReap < LOST_SESSIONS_EVERY_MS) return;
    this.lastReap = Date.now();
    await reapLostSessions(this.w).catch((err: Error) => this.w.logger.warn({ err: err.message }, 'looking for lost sessions failed'));
  }

  /** Counts a run that is about to start; returns the runs left. */
  private countRun(): number {
    this.runsDone += 1;
    const left = this.recycle.maxRuns - this.runsDone;
    this.w.metrics?.runsLeft.set(left);
    return left;
  }
}
