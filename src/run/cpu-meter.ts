// CPU (and memory) used by a whole run. The kernel counts per process; a budget for the tree has
// to add them up. With the run's init (sandbox/run-init.ts) nothing is lost: every process of the
// run is reaped by a process of the run or by the init, so the CPU of a process that lived for a
// microsecond ends up in its reaper's children's times (TreeCpuMeter). Without an init (a shared
// user, development only) a process that lives and dies between two samples is not seen; RLIMIT_CPU
// is the backstop there (SampledCpuMeter).
import { readProc, type ProcInfo } from '../sandbox/proc-table.js';

export interface UsageSample {
  /** CPU of the whole run so far, ms. */
  cpuMs: number;
  /** Resident memory of the run's live processes now, bytes (shared pages counted per process). */
  rssBytes: number;
  /** The run's live processes in this sample. */
  members: ProcInfo[];
}

export interface CpuMeter {
  /** Take one sample of the run's processes (`members` lists them). */
  sample(members: () => Promise<ProcInfo[]>): Promise<UsageSample>;
  /** The init's own count once the run is over (undefined: none). */
  finish(allCpuMs: number | undefined): void;
  /** CPU of the task so far, ms: what the run used minus what it used before the task. */
  readonly totalMs: number;
}

/**
 * `initPid`: the run's init, whose reaped children are the run's; `startupMs`: CPU the run had
 * used before its task was handed over (a standby's start-up), which is not the task's.
 * `countReaped`: whether reaped children's times can be trusted. Under the gVisor build Debian
 * ships (no PID namespace there) they come out far above what two cores can burn in the time, so
 * there only each process's own CPU is sampled, and the init's figures are not taken either.
 */
export function cpuMeter(initPid: number | undefined, startupMs = 0, countReaped = true): CpuMeter {
  return initPid !== undefined && countReaped ? new TreeCpuMeter(initPid, startupMs) : new SampledCpuMeter(startupMs);
}

/** CPU used so far by `members` and the children `initPid` has reaped, ms. */
export async function cpuSoFar(initPid: number | undefined, members: () => Promise<ProcInfo[]>): Promise<number> {
  return (await cpuMeter(initPid).sample(members)).cpuMs;
}

// The run's total is the init's children's times plus, for each live process, its own and its
// reaped children's. The init is read before the others: a process reaped in between is then
// missed for one sample, never counted twice.
class TreeCpuMeter implements CpuMeter {
  private best = 0;
  private final: number | undefined;

  constructor(
    private readonly initPid: number,
    private readonly startupMs: number,
  ) {}

  async sample(members: () => Promise<ProcInfo[]>): Promise<UsageSample> {
    let sum = (await readProc(this.initPid))?.childCpuMs ?? 0;
    const live = await members();
    let rssBytes = 0;
    for (const p of live) {
      rssBytes += p.rssBytes;
      sum += p.cpuMs + p.childCpuMs;
    }
    this.best = Math.max(this.best, sum);
    return { cpuMs: this.totalMs, rssBytes, members: live };
  }

  finish(allCpuMs: number | undefined): void {
    // The larger of the two: a process whose parent ignores SIGCHLD is reaped by the kernel, and its
    // CPU reaches no one's children's times; the samples may still have seen it.
    if (allCpuMs !== undefined) this.final = Math.max(allCpuMs, this.best);
  }

  get totalMs(): number {
    return Math.max(0, (this.final ?? this.best) - this.startupMs);
  }
}

// The most each process was seen to have used, added up: what dies between samples is missed.
class SampledCpuMeter implements CpuMeter {
  private readonly lastSeen = new Map<number, number>();
  private best = 0;

  constructor(private readonly startupMs: number) {}

  async sample(members: () => Promise<ProcInfo[]>): Promise<UsageSample> {
    const live = await members();
    let rssBytes = 0;
    for (const p of live) {
      rssBytes += p.rssBytes;
      this.lastSeen.set(p.pid, Math.max(this.lastSeen.get(p.pid) ?? 0, p.cpuMs));
    }
    this.best = Math.max(this.best, [...this.lastSeen.values()].reduce((a, b) => a + b, 0));
    return { cpuMs: this.totalMs, rssBytes, members: live };
  }

  finish(): void {
    // Nothing to add: without an init (or under the old gVisor, whose init's count is inflated like
    // the samples) the samples are all there is.
  }

  get totalMs(): number {
    return Math.max(0, this.best - this.startupMs);
  }
}
