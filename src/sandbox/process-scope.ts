// Which processes belong to a run. With a dedicated sandbox user that is simply every process of
// that uid: setsid, double forks and re-parenting cannot hide a process from it, nor can a process
// whose main thread has exited while its other threads run (it is alive: see ProcInfo.alive).
// When snippets share the daemon's user (development only) the best available answer is the
// process tree, session and group of the run's first process, remembered across scans.
import { delay } from '../util/timeout.js';
import type { SandboxIdentity } from './identity.js';
import { readProcTable, type ProcInfo } from './proc-table.js';

const POLL_MS = 10;
const KILL_DEADLINE_MS = 10_000;
const FREEZE_PASSES = 50;

export interface ProcessScope {
  /** Live processes of the run right now (a zombie leader with a live thread is live). */
  members(): Promise<ProcInfo[]>;
  /** Every process of the run, dead-but-unreaped ones included. */
  all(): Promise<ProcInfo[]>;
  /** Send the signals, in order, to every live member; returns how many were signalled. */
  signal(...signals: NodeJS.Signals[]): Promise<number>;
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
  const members = async () => (await all()).filter((p) => p.alive);

  return {
    members,
    all,
    async signal(...signals) {
      const live = await members();
      for (const p of live) for (const signal of signals) signalPid(p.pid, signal);
      return live.length;
    },
  };
}

export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * SIGKILL everything in scope until nothing is left, from root; returns what is still alive when
 * it gives up. Stopping every process first, until a scan finds none that is not stopped, freezes
 * a fork bomb so that the kill does not race against new children (the uid's process limit bounds
 * how many there can be).
 */
export async function killScope(scope: ProcessScope): Promise<ProcInfo[]> {
  const deadline = Date.now() + KILL_DEADLINE_MS;
  for (;;) {
    let live = await scope.members();
    if (live.length === 0) return [];
    for (let pass = 0; pass < FREEZE_PASSES && live.some((p) => p.state !== 'T' && p.state !== 't'); pass++) {
      for (const p of live) signalPid(p.pid, 'SIGSTOP');
      live = await scope.members();
    }
    for (const p of live) signalPid(p.pid, 'SIGKILL');
    if (Date.now() > deadline) {
      const left = await scope.members();
      if (left.length > 0) return left;
    }
    await delay(POLL_MS);
  }
}
