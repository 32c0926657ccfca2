// How a run ends. Every reason (the wall budget, the CPU budget, memory, the output cap, a
// cancel, a forced shutdown) is reported here; the first one wins and is the status reported
// (execa's `terminationReason ??=`). The run's processes are ended once, for that reason, unless
// the snippet had exited already: then what is left is swept as after any exit.
import type { TerminationReason } from './outcome.js';

export class RunEnding {
  private first: TerminationReason | undefined;
  private kill: ((why: TerminationReason) => Promise<void>) | undefined;
  private killing: Promise<void> | undefined;
  private over = false;

  /** The reason that ended the run; undefined when it ended on its own. */
  get reason(): TerminationReason | undefined {
    return this.first;
  }

  /** A reason to end the run; only the first counts. */
  end(why: TerminationReason): void {
    this.first ??= why;
    this.fire();
  }

  /** End the run when `signal` aborts, until `stop` does. */
  follow(signal: AbortSignal | undefined, why: TerminationReason, stop: AbortSignal): void {
    if (signal?.aborted) this.end(why);
    signal?.addEventListener('abort', () => this.end(why), { signal: stop });
  }

  /**
   * From now on the first reason ends the run's processes with `kill`; a reason that came before
   * (the output can reach its cap before the run's init is known) does so now.
   */
  arm(kill: (why: TerminationReason) => Promise<void>): void {
    this.kill = kill;
    this.fire();
  }

  /** The snippet's first process has exited: nothing is killed for a reason any more. Waits for a kill under way. */
  async exited(): Promise<void> {
    this.over = true;
    await this.killing;
  }

  private fire(): void {
    if (this.first === undefined || this.over || this.killing || !this.kill) return;
    this.killing = this.kill(this.first);
  }
}
