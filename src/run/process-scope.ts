// Which processes belong to a run. With a dedicated sandbox user that is simply every process of
// that uid: setsid, double forks and re-parenting cannot hide a process from it. When snippets
// share the daemon's user (development only) the best available answer is the process tree,
// session and group of the run's first process, remembered across scans.
import { execa } from 'execa';
import type { SandboxIdentity } from '../sandbox/identity.js';
import { readProcTable, type ProcInfo } from './proc-table.js';

export interface ProcessScope {
  /** Live (non-zombie) processes of the run right now. */
  members(): Promise<ProcInfo[]>;
  /** Send the signals, in order, to every live member; returns how many were signalled. */
  signal(...signals: NodeJS.Signals[]): Promise<number>;
  /** Members that are dead but not yet reaped (zombies). */
  zombies(): Promise<ProcInfo[]>;
  /**
   * SIGKILL every member in one atomic step, where the scope allows it: returns false when it
   * does not (then the caller signals members one by one).
   */
  killAtomically(): Promise<boolean>;
}

export function createProcessScope(identity: SandboxIdentity, rootPid: number): ProcessScope {
  const known = new Set<number>([rootPid]);
  const isMember =
    identity.mode === 'dedicated'
      ? () => true
      : (p: ProcInfo) => (known.has(p.pid) || known.has(p.ppid) || p.sid === rootPid || p.pgid === rootPid);

  async function all(): Promise<ProcInfo[]> {
    const table = await readProcTable(identity.uid);
    const found: ProcInfo[] = [];
    // Repeat until stable so that grandchildren of newly found children are found in one call.
    for (let changed = true; changed; ) {
      changed = false;
      for (const p of table) {
        if (p.pid === process.pid || found.includes(p) || !isMember(p)) continue;
        found.push(p);
        if (!known.has(p.pid)) {
          known.add(p.pid);
          changed = identity.mode === 'shared';
        }
      }
    }
    return found;
  }
  const members = async () => (await all()).filter((p) => p.state !== 'Z');

  return {
    members,
    zombies: async () => (await all()).filter((p) => p.state === 'Z'),
    // kill(-1) from a process of the sandbox user reaches every other process of that user in
    // one pass of the kernel's task list: a fork bomb cannot outrun it the way it can outrun a
    // kill loop driven by /proc scans. (The helper runs with the daemon's own process limit,
    // so a sandbox user at its RLIMIT_NPROC does not stop it.)
    killAtomically: async () => {
      if (identity.mode !== 'dedicated') return false;
      try {
        await execa('kill', ['-KILL', '-1'], { uid: identity.uid, gid: identity.gid, reject: false, timeout: 5000, stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    },
    async signal(...signals) {
      const live = await members();
      for (const p of live) {
        for (const signal of signals) {
          try {
            process.kill(p.pid, signal);
          } catch {
            // already gone
          }
        }
      }
      return live.length;
    },
  };
}
