// One standby interpreter per runtime that has standby on, each under its runtime's own uid (see
// identitiesByRuntime), so a waiting interpreter is never within reach of the snippet running
// beside it. The executor takes one for a task and starts the next only after that run has ended
// and been swept: a start-up during the run would compete with it for the CPU, and under the same
// uid it would be the running snippet's to tamper with.
import type { Logger } from '../log.js';
import type { EffectiveLimits } from '../protocol/result.js';
import type { RuntimeRegistry } from '../runtimes/load.js';
import type { RunContext } from '../sandbox/types.js';
import type { Task } from '../task/schema.js';
import { withTimeout } from '../util/timeout.js';
import { Standby } from './standby.js';

export interface StandbyPoolOptions {
  runtimes: RuntimeRegistry;
  /** Runtimes to keep a standby for (each must have a standby in its profile). */
  enabled: ReadonlySet<string>;
  /** The context a standby of `runtime` is started in (the same as its runs'). */
  context: (runtime: string) => RunContext;
  /** The limits a task gets when it asks for none: the standby is started with these. */
  limits: EffectiveLimits;
  bootstrapsDir: string;
  /** How long a standby may take to start before its runtime falls back to fresh interpreters. */
  bootMs: number;
  logger: Logger;
}

// A runtime whose standby fails to start this many times in a row (a broken image, say) stops
// getting one: its tasks run fresh interpreters, which report the actual error.
const MAX_FAILED_STARTS = 3;

export class StandbyPool {
  private readonly waiting = new Map<string, Promise<Standby | undefined>>();
  private readonly failedStarts = new Map<string, number>();
  private closed = false;

  constructor(private readonly opts: StandbyPoolOptions) {}

  /** The runtimes that keep a standby. */
  get runtimes(): string[] {
    return [...this.opts.enabled];
  }

  /** Start a standby for `runtime` unless one is already there (or standby is off for it). */
  warm(runtime: string): void {
    if (this.closed || !this.opts.enabled.has(runtime) || this.waiting.has(runtime)) return;
    if ((this.failedStarts.get(runtime) ?? 0) >= MAX_FAILED_STARTS) return;
    const profile = this.opts.runtimes.get(runtime);
    if (!profile) return;
    const log = this.opts.logger.child({ runtime });
    const failed = (err: unknown): undefined => {
      const count = (this.failedStarts.get(runtime) ?? 0) + 1;
      this.failedStarts.set(runtime, count);
      if (count >= MAX_FAILED_STARTS) log.error({ err, count }, 'standby failed to start again; this runtime now always starts fresh interpreters');
      else log.warn({ err }, 'standby failed to start; the next task runs a fresh interpreter');
      return undefined;
    };
    const starting = Standby.boot(profile, this.opts.context(runtime), this.opts.limits, this.opts.bootstrapsDir).then(async (standby) => {
      try {
        await withTimeout(standby.ready, this.opts.bootMs, `the standby ${runtime} did not start`);
        this.failedStarts.delete(runtime);
        return standby;
      } catch (err) {
        await standby.retire().catch(() => undefined);
        return failed(err);
      }
    }, failed);
    this.waiting.set(runtime, starting);
  }

  /**
   * The standby for this task, once it is ready; undefined when the task needs a fresh
   * interpreter. A standby that died while it waited (killed from outside, say), or that does not
   * fit the task, is retired first, since the fresh run will have the same uid. The run releases
   * the standby it is given (see Standby.release).
   */
  async take(task: Task, limits: EffectiveLimits, ctx: RunContext): Promise<Standby | undefined> {
    const starting = this.waiting.get(task.runtime);
    if (!starting) return undefined;
    this.waiting.delete(task.runtime);
    const standby = await starting;
    if (!standby) return undefined;
    if (!standby.alive) ctx.logger.warn('the standby died before its task was handed over; starting a fresh interpreter');
    else if (standby.fits(task, limits, ctx)) return standby;
    else this.opts.logger.debug({ runtime: task.runtime, alive: standby.alive }, 'standby does not fit this task; a fresh interpreter runs it');
    await standby.retire();
    return undefined;
  }

  /**
   * Retire the standby of `runtime`, if one waits: a session is about to run under its uid (a
   * session never runs on a standby, and nothing may wait beside a snippet under the same uid).
   */
  async retire(runtime: string): Promise<void> {
    const starting = this.waiting.get(runtime);
    if (!starting) return;
    this.waiting.delete(runtime);
    await (await starting)?.retire().catch(() => undefined);
  }

  /** Retire every waiting standby; no new ones start. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.waiting.values()];
    this.waiting.clear();
    await Promise.all(all.map(async (p) => (await p)?.retire().catch(() => undefined)));
  }
}
