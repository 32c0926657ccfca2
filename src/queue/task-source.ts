// The order in which an executor takes work: a task that a dead consumer left pending, or else a
// new one. Reclaimed and new tasks alternate, so a task that crashes every executor it lands on
// (and so is reclaimed again and again) cannot starve fresh work. Consumers of executors that are
// gone are removed now and then on the way; that housekeeping never fails a read.
import type { Config } from '../config/options.js';
import type { Logger } from '../log.js';
import type { StreamTask, TaskConsumer } from './consumer.js';

// How often an executor looks for consumers of executors that are gone (and removes them).
const PRUNE_EVERY_MS = 60_000;

export type TimingSettings = Pick<Config, 'wallMs' | 'killGraceMs' | 'reclaimMarginMs' | 'blockMs'>;

/** How long an entry is pending before it is presumed its executor's last: longer than any run takes. */
export function reclaimAfterMs(c: TimingSettings): number {
  return c.wallMs + c.killGraceMs + c.reclaimMarginMs;
}

/** A consumer idle this long is gone: no live executor is ever in the middle of a run that long, nor between reads. */
export function consumerGoneAfterMs(c: TimingSettings): number {
  return Math.max(reclaimAfterMs(c), c.blockMs * 3);
}

export interface TaskSourceHooks {
  logger: Logger;
  /** False once the executor takes no more work: the blocking read is then skipped. */
  taking: () => boolean;
  onReclaimed?: (task: StreamTask) => void;
  onPruned?: (count: number) => void;
}

export class TaskSource {
  private lastWasReclaimed = false;
  private lastPrune = 0;

  constructor(
    private readonly consumer: TaskConsumer,
    private readonly timing: { reclaimAfterMs: number; consumerGoneAfterMs: number; pruneEveryMs?: number },
    private readonly hooks: TaskSourceHooks,
  ) {}

  /** The next task, or null when none came (or the read was interrupted). */
  async next(): Promise<StreamTask | null> {
    if (!this.lastWasReclaimed) {
      const stale = await this.consumer.claimStale(this.timing.reclaimAfterMs);
      if (stale) {
        this.lastWasReclaimed = true;
        // Its dead consumer may hold nothing any more: look for it on the next pass.
        this.lastPrune = 0;
        this.hooks.logger.warn({ entryId: stale.entryId, deliveries: stale.deliveries }, 'reclaimed a task from a consumer that stopped answering');
        this.hooks.onReclaimed?.(stale);
        return stale;
      }
    }
    const afterReclaim = this.lastWasReclaimed;
    this.lastWasReclaimed = false;
    await this.pruneConsumers();
    // Stopped while pruning: the interrupt found no read to end, so do not start one.
    if (!this.hooks.taking()) return null;
    if (afterReclaim) {
      // New work's turn, but only if there is some now: blocking here would make every further
      // stale task (tasks a session's holder handed back, say) wait a whole BLOCK time.
      const [fresh] = await this.consumer.readNew(1);
      return fresh ?? this.next();
    }
    return this.consumer.read();
  }

  /** Remove the consumers of executors that are gone, now and then. Never fails the read. */
  private async pruneConsumers(): Promise<void> {
    if (Date.now() - this.lastPrune < (this.timing.pruneEveryMs ?? PRUNE_EVERY_MS)) return;
    this.lastPrune = Date.now();
    try {
      const removed = await this.consumer.pruneDead(this.timing.consumerGoneAfterMs);
      if (removed.length > 0) {
        this.hooks.onPruned?.(removed.length);
        this.hooks.logger.info({ removed: removed.slice(0, 20), count: removed.length }, 'removed consumers of executors that are gone');
      }
    } catch (err) {
      this.hooks.logger.warn({ err }, 'pruning the consumer group failed; trying again later');
    }
  }
}
