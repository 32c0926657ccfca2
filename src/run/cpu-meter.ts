// CPU (and memory) used by a whole run, sampled with pidusage over every process of the run's scope. The
// kernel counts per process; a budget for the tree has to add them up. A process that exits keeps
// contributing the CPU it was last seen with, so forking short-lived workers does not reset the
// count. CPU of a process that lives and dies between two samples is not seen here; it is added
// back at the end from the daemon's reaped-children time (see cpuOfReapedChildrenMs).
import fs from 'node:fs';
import pidusage from 'pidusage';

export interface UsageSample {
  /** CPU of the whole run so far, ms. */
  cpuMs: number;
  /** Resident memory of the run's live processes now, bytes (shared pages counted per process). */
  rssBytes: number;
}

export class CpuMeter {
  private readonly lastSeen = new Map<number, number>();

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
    return total;
  }

  /** Release pidusage's cached /proc file handles. */
  close(): void {
    pidusage.clear();
  }
}

const CLOCK_TICKS_PER_S = 100;

/**
 * User+system CPU of the daemon's children that were waited for (cutime+cstime of
 * /proc/self/stat), in ms. The run's first process and every descendant it waited for are
 * included, so the delta across a run is a floor for the run's CPU even for processes too
 * short-lived to be sampled.
 */
export function cpuOfReapedChildrenMs(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the name, 0-based: 13 = cutime, 14 = cstime (in clock ticks).
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS_PER_S;
}
