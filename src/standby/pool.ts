// Standby interpreters, one waiting per runtime that has standby on, in slots: each slot of a
// runtime is a uid of its own (see identitiesByRuntime), and a run takes the slot of the standby it
// is handed (or a free one, fresh). With two slots the next standby starts in the other slot while
// that run executes (once its snippet has printed or exited: starting one costs the daemon a fork,
// which must not delay the run's first byte), at the lowest CPU priority, so a task that follows
// at once is warm too; under another uid it is out of the running snippet's reach. With one slot
// the next standby can only start once the run has ended and been swept.
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
  /** Slots per runtime (each its own uid). */
  slots: number;
  /** The context a standby of `runtime` is started in, in `slot` (the same as its runs'). */
  context: (runtime: string, slot: number) => RunContext;
  /** The limits a task gets when it asks for none: the standby is started with these. */
  limits: EffectiveLimits;
  bootstrapsDir: string;
  /** How long a standby may take to start before its runtime falls back to fresh interpreters. */
  bootMs: number;
  logger: Logger;
}

/** Where a run goes: its slot (whose uid it runs as), and the standby it is handed, if any. */
export interface SlotClaim {
  slot: number;
  standby?: Standby;
}

interface Slot {
  /** A standby starting or waiting in this slot. */
  standby?: Promise<Standby | undefined>;
  /** A run (or session) is using this slot's uid. */
  busy: boolean;
}

// A runtime whose standby fails to start this many times in a row (a broken image, say) stops
// getting one: its tasks run fresh interpreters, which report the actual error.
const MAX_FAILED_STARTS = 3;

export class StandbyPool {
  private readonly slots = new Map<string, Slot[]>();
  private readonly failedStarts = new Map<string, number>();
  private closed = false;

  constructor(private readonly opts: StandbyPoolOptions) {}

  /** The runtimes that keep a standby. */
  get runtimes(): string[] {
    return [...this.opts.enabled];
  }

  /** Start a standby for `runtime` in a free slot, unless one is already there (or standby is off for it). */
  warm(runtime: string): void {
    if (this.closed || !this.opts.enabled.has(runtime)) return;
    if ((this.failedStarts.get(runtime) ?? 0) >= MAX_FAILED_STARTS) return;
    const slots = this.slotsOf(runtime);
    if (slots.some((s) => s.standby)) return;
    const free = slots.findIndex((s) => !s.busy);
    const profile = this.opts.runtimes.get(runtime);
    if (free === -1 || !profile) return;
    const log = this.opts.logger.child({ runtime, slot: free });
    const failed = (err: unknown): undefined => {
      const count = (this.failedStarts.get(runtime) ?? 0) + 1;
      this.failedStarts.set(runtime, count);
      if (count >= MAX_FAILED_STARTS) log.error({ err, count }, 'standby failed to start again; this runtime now always starts fresh interpreters');
      else log.warn({ err }, 'standby failed to start; the next task runs a fresh interpreter');
      return undefined;
    };
    slots[free]!.standby = Standby.boot(profile, this.opts.context(runtime, free), this.opts.limits, this.opts.bootstrapsDir).then(async (standby) => {
      try {
        await withTimeout(standby.ready, this.opts.bootMs, `the standby ${runtime} did not start`);
        this.failedStarts.delete(runtime);
        return standby;
      } catch (err) {
        await standby.retire().catch(() => undefined);
        return failed(err);
      }
    }, failed);
  }

  /**
   * The slot for this task, and its standby once ready when it fits: otherwise the task runs a
   * fresh interpreter in that slot, the standby retired first (a dead one, or one that does not
   * fit), since the fresh run has its uid. The slot is the caller's until release(); warm() then
   * starts the next standby in another slot (the run calls it once its snippet is under way).
   */
  async claim(task: Task, limits: EffectiveLimits): Promise<SlotClaim> {
    const slots = this.slotsOf(task.runtime);
    let slot = slots.findIndex((s) => s.standby && !s.busy);
    if (slot === -1) slot = Math.max(0, slots.findIndex((s) => !s.busy));
    const held = slots[slot]!;
    const starting = held.standby;
    held.standby = undefined;
    held.busy = true;
    const standby = await starting;
    if (!standby) return { slot };
    const log = this.opts.logger.child({ runtime: task.runtime, slot });
    if (!standby.alive) log.warn('the standby died before its task was handed over; starting a fresh interpreter');
    else if (standby.fits(task, limits, this.opts.context(task.runtime, slot))) return { slot, standby };
    else log.debug('standby does not fit this task; a fresh interpreter runs it');
    await standby.retire();
    return { slot };
  }

  /** The run in `slot` is over and swept: the slot may take a standby again. */
  release(runtime: string, slot: number): void {
    const held = this.slots.get(runtime)?.[slot];
    if (held) held.busy = false;
  }

  /**
   * Retire every standby of `runtime`: a session is about to run in its first slot (a session
   * never runs on a standby, and nothing may wait beside a snippet under the same uid).
   */
  async retire(runtime: string): Promise<void> {
    await Promise.all(this.slotsOf(runtime).map((s) => this.retireIn(s)));
  }

  /** Retire every waiting standby; no new ones start. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.slots.values()].flat().map((s) => this.retireIn(s)));
  }

  private async retireIn(slot: Slot): Promise<void> {
    const starting = slot.standby;
    slot.standby = undefined;
    await (await starting)?.retire().catch(() => undefined);
  }

  private slotsOf(runtime: string): Slot[] {
    let slots = this.slots.get(runtime);
    if (!slots) this.slots.set(runtime, (slots = Array.from({ length: this.opts.enabled.has(runtime) ? this.opts.slots : 1 }, () => ({ busy: false }))));
    return slots;
  }
}
