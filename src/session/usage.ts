// A session's usage, watched all session long by one sampler: the session's total CPU (cells and
// whatever runs between them: threads, timers, background jobs) against EXECUTOR_SESSION_CPU_MS,
// its memory against the opening task's memoryBytes, and, while a cell runs, the cell's own CPU
// against its cpuMs. Between cells it samples less often: nothing there is a cell's budget.
import type { Logger } from '../log.js';
import type { CpuMeter } from '../run/cpu-meter.js';
import { memoryOutsideRss } from '../run/memory.js';
import type { ProcessScope } from '../sandbox/process-scope.js';
import { delay } from '../util/timeout.js';

const IDLE_FACTOR = 4;

export type UsageVerdict = 'session_cpu' | 'memory_limit' | 'cell_cpu';

export interface UsageWatchOptions {
  scope: ProcessScope;
  meter: CpuMeter;
  initPid: number | undefined;
  privateDirs: readonly string[];
  intervalMs: number;
  sessionCpuMs: number;
  memoryBytes: number;
  log: Logger;
}

export class SessionUsage {
  /** CPU of the whole session at the last sample, ms. */
  cpuMs = 0;
  private cell: { baseMs: number; budgetMs: number; onOver: () => void } | undefined;
  private readonly stop = new AbortController();
  private wake: (() => void) | undefined;
  private rewait = false;

  constructor(
    private readonly o: UsageWatchOptions,
    /** Called once when the session as a whole is over a limit. */
    private readonly onSessionOver: (why: 'session_cpu' | 'memory_limit') => void,
  ) {
    void this.loop();
  }

  /** A cell starts: its CPU counts from the last sample; `onOver` once it reaches `budgetMs`. */
  cellStarted(budgetMs: number, onOver: () => void): void {
    this.cell = { baseMs: this.cpuMs, budgetMs, onOver };
    // The sampler's wait starts over at the cell interval, without a sample now: a /proc scan at
    // once would compete with the cell for the CPU, and most cells are over before the next one.
    this.rewait = true;
    this.wake?.();
  }

  /** The cell is over: one last sample, and its CPU. */
  async cellEnded(): Promise<number> {
    const cell = this.cell;
    this.cell = undefined;
    await this.sample().catch(() => undefined);
    return cell ? Math.max(0, this.cpuMs - cell.baseMs) : 0;
  }

  close(): void {
    this.stop.abort();
  }

  private async loop(): Promise<void> {
    for (;;) {
      const wait = this.cell ? this.o.intervalMs : this.o.intervalMs * IDLE_FACTOR;
      await Promise.race([delay(wait, this.stop.signal), new Promise<void>((r) => (this.wake = r))]);
      if (this.stop.signal.aborted) return;
      if (this.rewait) {
        this.rewait = false;
        continue;
      }
      try {
        const verdict = await this.sample();
        if (verdict === 'cell_cpu') {
          const onOver = this.cell?.onOver;
          this.cell = undefined;
          onOver?.();
        } else if (verdict !== undefined) {
          this.onSessionOver(verdict);
          return;
        }
      } catch (err) {
        this.o.log.warn({ err }, 'session usage sample failed');
      }
    }
  }

  private async sample(): Promise<UsageVerdict | undefined> {
    const usage = await this.o.meter.sample(() => this.o.scope.members());
    this.cpuMs = usage.cpuMs;
    if (usage.cpuMs >= this.o.sessionCpuMs) return 'session_cpu';
    if (usage.rssBytes > this.o.memoryBytes) return 'memory_limit';
    if (usage.rssBytes + (await memoryOutsideRss(usage.members, this.o.initPid, this.o.privateDirs)) > this.o.memoryBytes) return 'memory_limit';
    if (this.cell && usage.cpuMs - this.cell.baseMs >= this.cell.budgetMs) return 'cell_cpu';
    return undefined;
  }
}
