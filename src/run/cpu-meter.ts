// CPU (and memory) used by a whole run, sampled with pidusage over every process of the run's scope. The
// kernel counts per process; a budget for the tree has to add them up. A process that exits keeps
// contributing the CPU it was last seen with, so forking short-lived workers does not reset the
// count. A process that lives and dies between two samples (under 50 ms by default) is not seen;
// each process also has RLIMIT_CPU as a backstop (see sandbox/launcher.ts).
import pidusage from 'pidusage';

export interface UsageSample {
  /** CPU of the whole run so far, ms. */
  cpuMs: number;
  /** Resident memory of the run's live processes now, bytes (shared pages counted per process). */
  rssBytes: number;
}

export class CpuMeter {
  private readonly lastSeen = new Map<number, number>();
  private readonly startupMs: number;

  /**
   * `startup`: a process that was started before the run (a standby interpreter) and the CPU it
   * had used by then, which is not the run's.
   */
  constructor(startup?: { pid: number; cpuMs: number }) {
    if (startup) this.lastSeen.set(startup.pid, startup.cpuMs);
    this.startupMs = startup?.cpuMs ?? 0;
  }

  /** Sample the given pids: the run's CPU total so far and its resident memory now. */
  async sample(pids: readonly number[]): Promise<UsageSample> {
    let rssBytes = 0;
    if (pids.length > 0) {
      const stats = await pidusage(pids as number[]).catch(() => ({}) as Record<string, pidusage.Status | undefined>);
      for (const pid of pids) {
        const s = (stats as Record<string, pidusage.Status | undefined>)[String(pid)];
        if (!s) continue;
        this.lastSeen.set(pid, Math.max(this.lastSeen.get(pid) ?? 0, s.ctime));
        rssBytes += s.memory;
      }
    }
    return { cpuMs: this.totalMs, rssBytes };
  }

  get totalMs(): number {
    let total = 0;
    for (const ms of this.lastSeen.values()) total += ms;
    return Math.max(0, total - this.startupMs);
  }

  /** Release pidusage's cached /proc file handles. */
  close(): void {
    pidusage.clear();
  }
}
