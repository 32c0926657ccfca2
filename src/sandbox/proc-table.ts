// A snapshot of the process table from /proc: what the sweep and the CPU meter need to know about
// each process (parent, group, session, state, owner, CPU and memory), from one read of its stat
// file, opened and closed per read (no descriptor is kept between samples). Processes that vanish
// mid-read are skipped.
import fs from 'node:fs/promises';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /**
   * One-letter state from /proc/<pid>/stat: R, S, D, T (stopped), Z (zombie)... A process whose
   * main thread has exited shows Z while its other threads still run: see `alive`.
   */
  state: string;
  /** False only for a zombie with no live thread left: anything else can still act. */
  alive: boolean;
  uid: number;
  /** CPU of the process itself (all its threads), ms. */
  cpuMs: number;
  /** CPU of the children it has reaped (and theirs), ms. */
  childCpuMs: number;
  rssBytes: number;
  /** When it started, in clock ticks since boot. */
  startTicks: number;
}

const TICK_MS = 10; // USER_HZ is 100 on every Linux ABI
const PAGE_BYTES = 4096;

/** Processes owned by `uid`, or every process when `uid` is undefined. */
export async function readProcTable(uid?: number): Promise<ProcInfo[]> {
  const names = await fs.readdir('/proc');
  const reads = names.filter((n) => /^\d+$/.test(n)).map((n) => readProc(Number(n), uid));
  const infos = await Promise.all(reads);
  return infos.filter((p): p is ProcInfo => p !== undefined);
}

export async function readProc(pid: number, uid?: number): Promise<ProcInfo | undefined> {
  try {
    // Owner first: it is one stat() and rules out most processes before their stat file is read.
    const owner = await fs.stat(`/proc/${pid}`);
    if (uid !== undefined && owner.uid !== uid) return undefined;
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0] ?? '?';
    const field = (n: number) => Number(rest[n - 3] ?? 0);
    return {
      pid,
      state,
      alive: state !== 'Z' || (await hasLiveThread(pid)),
      ppid: field(4),
      pgid: field(5),
      sid: field(6),
      uid: owner.uid,
      cpuMs: (field(14) + field(15)) * TICK_MS,
      childCpuMs: (field(16) + field(17)) * TICK_MS,
      rssBytes: field(24) * PAGE_BYTES,
      startTicks: field(22),
    };
  } catch {
    return undefined;
  }
}

// A zombie leader whose other threads run (the main thread left with SYS_exit) is a live process.
async function hasLiveThread(pid: number): Promise<boolean> {
  const tids = await fs.readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const tid of tids) {
    const stat = await fs.readFile(`/proc/${pid}/task/${tid}/stat`, 'latin1').catch(() => '');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state !== '' && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}
