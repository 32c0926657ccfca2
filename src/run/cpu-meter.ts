// CPU (and memory) used by a whole run. The kernel counts per process; a budget for the tree has
// to add them up. With the run's init (sandbox/run-init.ts) nothing is lost: every process of the
// run is reaped by a process of the run or by the init, so the CPU of a process that lived for a
// microsecond ends up in its reaper's children's times. The run's total is the init's children's
// times plus, for each live process, its own and its reaped children's. The init is read before
// the others: a process reaped in between is then missed for one sample, never counted twice.
// Without an init (a shared user, development only) a process that lives and dies between two
// samples is not seen; RLIMIT_CPU is the backstop there.
import { readProc, type ProcInfo } from './proc-table.js';

export interface UsageSample {
  /** CPU of the whole run so far, ms. */
  cpuMs: number;
  /** Resident memory of the run's live processes now, bytes (shared pages counted per process). */
  rssBytes: number;
}

export class CpuMeter {
  private readonly lastSeen = new Map<number, number>();
  private best = 0;
  private final: number | undefined;

  /**
   * `initPid`: the run's init, whose reaped children are the run's; `startupMs`: CPU the run had
   * used before its task was handed over (a standby's start-up), which is not the task's.
   */
  constructor(
    private readonly initPid: number | undefined,
    private readonly startupMs = 0,
    /**
     * Whether live processes' reaped children count. Under the gVisor build Debian ships (no PID
     * namespace there) those figures come out far above what two cores can burn in the time, so
     * only each process's own CPU is sampled there, and the init's total is not taken either.
     */
    private readonly countReaped = true,
  ) {}

  /** The init's CPU figure, if there is an init (read it before the members). */
  async readInit(): Promise<number> {
    if (this.initPid === undefined) return 0;
    return (await readProc(this.initPid))?.childCpuMs ?? 0;
  }

  /** Record one sample: `initChildMs` from readInit(), then the run's processes. */
  record(initChildMs: number, members: readonly ProcInfo[]): UsageSample {
    let rssBytes = 0;
    // Under the old gVisor the init's children's times are inflated like the others (see above).
    let sum = this.countReaped ? initChildMs : 0;
    for (const p of members) {
      rssBytes += p.rssBytes;
      if (this.initPid !== undefined && this.countReaped) sum += p.cpuMs + p.childCpuMs;
      else this.lastSeen.set(p.pid, Math.max(this.lastSeen.get(p.pid) ?? 0, p.cpuMs));
    }
    if (this.initPid === undefined || !this.countReaped) sum += [...this.lastSeen.values()].reduce((a, b) => a + b, 0);
    this.best = Math.max(this.best, sum);
    return { cpuMs: this.totalMs, rssBytes };
  }

  /** The init's own count once the run is over: every process's CPU, exactly. */
  finish(allCpuMs: number | undefined): void {
    // (Not under the old gVisor: its children's times are inflated like the sampled ones.)
    // The larger of the two: a process whose parent ignores SIGCHLD is reaped by the kernel, and its
    // CPU reaches no one's children's times; the samples may still have seen it.
    if (allCpuMs !== undefined && this.countReaped) this.final = Math.max(allCpuMs, this.best);
  }

  get totalMs(): number {
    return Math.max(0, (this.final ?? this.best) - this.startupMs);
  }
}

/** CPU used so far by the processes of `uid` and the children `initPid` has reaped, ms. */
export async function cpuSoFar(initPid: number | undefined, members: () => Promise<ProcInfo[]>): Promise<number> {
  const meter = new CpuMeter(initPid);
  return meter.record(await meter.readInit(), await members()).cpuMs;
}
