// Ending a run's processes. Escalation is SIGTERM to the whole tree, a short grace, then SIGKILL
// to everything still in the run's scope — because a process group or a tree can be escaped
// (setsid, double fork), the last step goes by scope (the sandbox uid), not by tree.
import { promisify } from 'node:util';
import treeKill from 'tree-kill';
import type { ProcInfo } from './proc-table.js';
import type { ProcessScope } from './process-scope.js';

const treeKillAsync = promisify(treeKill) as (pid: number, signal: string) => Promise<void>;
const POLL_MS = 10;
const SWEEP_DEADLINE_MS = 10_000;
const REAP_WAIT_MS = 2000;

/**
 * SIGTERM the tree and the scope, wait up to `graceMs` for them to go, then sweep. `walkTree`
 * adds tree-kill's walk of the process tree: needed when the scope is itself the tree (a shared
 * user); with a dedicated user the scope already holds every process, and spawning `ps` (slow
 * under gVisor, and blocking while it forks) would only delay the kill.
 */
export async function terminateRun(scope: ProcessScope, rootPid: number, graceMs: number, walkTree: boolean): Promise<ProcessScopeLeft> {
  // The scope is signalled from one /proc scan; tree-kill walks the tree with `ps`, slower but
  // independent of how the scope is defined, so it runs alongside instead of first.
  // The first process leads its own session and group: one kill() reaches the group at once.
  signalGroup(rootPid, 'SIGTERM');
  const tree = walkTree ? treeKillAsync(rootPid, 'SIGTERM').catch(() => undefined) : Promise.resolve();
  await scope.signal('SIGTERM');
  // A stopped process only acts on SIGTERM once continued.
  await scope.signal('SIGCONT');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (await scope.members()).length > 0) await sleep(POLL_MS);
  // Grace is over: the group first, at once (no scan), then everything else in scope.
  signalGroup(rootPid, 'SIGKILL');
  const left = await sweep(scope);
  await tree;
  return left;
}

export interface ProcessScopeLeft {
  /** Processes still alive after the sweep gave up (empty when the sweep succeeded). */
  survivors: ProcInfo[];
}

/**
 * SIGKILL everything in scope until nothing is left. Stopping first freezes a fork bomb so that
 * the kill does not race against new children; repeating catches what was forked in between.
 */
export async function sweep(scope: ProcessScope): Promise<ProcessScopeLeft> {
  const deadline = Date.now() + SWEEP_DEADLINE_MS;
  if ((await scope.members()).length > 0) await scope.killAtomically();
  for (;;) {
    await scope.signal('SIGSTOP');
    const killed = await scope.signal('SIGKILL');
    const left = await scope.members();
    if (killed === 0 && left.length === 0) return { survivors: [] };
    if (left.length === 0) continue; // one more pass to be sure nothing was forked in between
    if (Date.now() > deadline) return { survivors: left };
    await sleep(POLL_MS);
  }
}

/**
 * Killed orphans stay zombies until their reaper (PID 1, tini in the images) collects them, and
 * until then they still count against the sandbox user's RLIMIT_NPROC: the next run could not
 * fork. Waits, bounded, for the reaping; returns the pids still unreaped.
 */
export async function awaitReaping(scope: ProcessScope): Promise<number[]> {
  const deadline = Date.now() + REAP_WAIT_MS;
  for (;;) {
    const zombies = await scope.zombies();
    if (zombies.length === 0 || Date.now() > deadline) return zombies.map((p) => p.pid);
    await sleep(POLL_MS);
  }
}

function signalGroup(pgid: number, ...signals: NodeJS.Signals[]): void {
  for (const signal of signals) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // the group is already gone
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
