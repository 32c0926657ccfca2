// A snapshot of the process table from /proc: what the sweep and the CPU meter need to know about
// each process (parent, group, session, state, owner). Processes that vanish mid-read are skipped.
import fs from 'node:fs/promises';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** One-letter state from /proc/<pid>/stat: R, S, D, T (stopped), Z (zombie)... */
  state: string;
  uid: number;
}

/** Processes owned by `uid`, or every process when `uid` is undefined. */
export async function readProcTable(uid?: number): Promise<ProcInfo[]> {
  const names = await fs.readdir('/proc');
  const reads = names.filter((n) => /^\d+$/.test(n)).map((n) => readProc(Number(n), uid));
  const infos = await Promise.all(reads);
  return infos.filter((p): p is ProcInfo => p !== undefined);
}

async function readProc(pid: number, uid: number | undefined): Promise<ProcInfo | undefined> {
  try {
    // Owner first: it is one stat() and rules out most processes before their stat file is read.
    const owner = await fs.stat(`/proc/${pid}`);
    if (uid !== undefined && owner.uid !== uid) return undefined;
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      pid,
      state: rest[0] ?? '?',
      ppid: Number(rest[1]),
      pgid: Number(rest[2]),
      sid: Number(rest[3]),
      uid: owner.uid,
    };
  } catch {
    return undefined;
  }
}
