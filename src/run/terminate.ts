// Ending a run's processes. With the run's init in its own PID namespace the init does the
// killing (kill -1 there reaches exactly the run, in one pass of the kernel, so a fork bomb cannot
// outrun it), and its exit means the namespace is empty. Without one, the daemon kills every
// process of the sandbox uid from root, freezing them first. Nothing is ever executed as the
// sandbox user to do it: a helper of that uid would be the snippet's to stop, trace or read.
import { promisify } from 'node:util';
import treeKill from 'tree-kill';
import type { RunInit } from '../sandbox/run-init.js';
import type { ProcInfo } from './proc-table.js';
import { signalPid, type ProcessScope } from './process-scope.js';

const treeKillAsync = promisify(treeKill) as (pid: number, signal: string) => Promise<void>;
const POLL_MS = 10;
const SWEEP_DEADLINE_MS = 10_000;
const FREEZE_PASSES = 50;
const INIT_EXIT_MS = 5000;
// Killed processes take seconds to vanish under gVisor.
const REAP_WAIT_MS = 10_000;

export interface RunProcesses {
  scope: ProcessScope;
  /** The daemon's own child (the launcher's first step): it exits once the run is over. */
  rootPid: number;
  rootExited: Promise<unknown>;
  init: RunInit | undefined;
  /** The start of the run's init (clock ticks since boot): older processes are not the run's. */
  startTicks?: number;
}

export interface ProcessScopeLeft {
  /** Processes still alive after the sweep gave up (empty when the sweep succeeded). */
  survivors: ProcInfo[];
  /** Processes of the run never reaped (they still count against the uid's process limit). */
  unreaped: number[];
}

/**
 * A budget ran out: SIGTERM every process of the run, wait up to `graceMs` for the snippet's first
 * process to go, then kill everything. `walkTree` adds tree-kill's walk (a shared user, whose
 * scope is itself the tree).
 */
export async function terminateRun(run: RunProcesses, mainExited: Promise<unknown>, graceMs: number, walkTree: boolean): Promise<void> {
  const { scope, init } = run;
  if (init?.pidNamespace) init.terminate();
  else {
    // The launcher's process group holds the init, which must live on to reap and count.
    if (!init) signalGroup(run.rootPid, 'SIGTERM');
    const tree = walkTree ? treeKillAsync(run.rootPid, 'SIGTERM').catch(() => undefined) : undefined;
    await scope.signal('SIGTERM');
    // A stopped process only acts on SIGTERM once continued.
    await scope.signal('SIGCONT');
    await tree;
  }
  await Promise.race([mainExited, delay(graceMs)]);
  if (init?.pidNamespace) init.killAll();
  else {
    if (!init) signalGroup(run.rootPid, 'SIGKILL');
    await sweep(scope);
  }
}

/**
 * The snippet's first process has exited: nothing else of the run may outlive it. Kill what is
 * left, wait for the init to have reaped everything, and verify that no process of the run is
 * left, dead or alive.
 */
export async function finishRun(run: RunProcesses): Promise<ProcessScopeLeft> {
  const { scope, init } = run;
  if (!init?.pidNamespace) await sweep(scope);
  if (init) {
    // The init exits once it has reaped the whole run; should it hang, killing it ends the
    // namespace (and, without one, it only holds the CPU figure).
    if (!(await within(run.rootExited, INIT_EXIT_MS))) {
      init.kill();
      await within(run.rootExited, INIT_EXIT_MS);
    }
  }
  // Verification: nothing of the run is alive; whatever is, is killed from root.
  let survivors = await scope.members();
  if (survivors.length > 0) survivors = (await sweep(scope)).survivors;
  return { survivors, unreaped: await awaitReaping(scope, run.startTicks ?? 0) };
}

/**
 * SIGKILL everything in scope until nothing is left, from root. Stopping every process first,
 * until a scan finds none that is not stopped, freezes a fork bomb so that the kill does not race
 * against new children (the uid's process limit bounds how many there can be).
 */
export async function sweep(scope: ProcessScope): Promise<ProcessScopeLeft> {
  const deadline = Date.now() + SWEEP_DEADLINE_MS;
  for (;;) {
    let live = await scope.members();
    if (live.length === 0) return { survivors: [], unreaped: [] };
    for (let pass = 0; pass < FREEZE_PASSES && live.some((p) => p.state !== 'T' && p.state !== 't'); pass++) {
      for (const p of live) signalPid(p.pid, 'SIGSTOP');
      live = await scope.members();
    }
    for (const p of live) signalPid(p.pid, 'SIGKILL');
    if (Date.now() > deadline) {
      const left = await scope.members();
      if (left.length > 0) return { survivors: left, unreaped: [] };
    }
    await delay(POLL_MS);
  }
}

/**
 * Killed orphans stay zombies until their reaper collects them (the run's init; without one, PID
 * 1), and until then they count against the sandbox user's RLIMIT_NPROC. Waits, bounded, until no
 * process of the run is left at all; returns the pids still unreaped.
 */
async function awaitReaping(scope: ProcessScope, startTicks: number): Promise<number[]> {
  const deadline = Date.now() + REAP_WAIT_MS;
  for (;;) {
    // A zombie older than the run was reported by the run that left it (see run.ts).
    const left = (await scope.all()).filter((p) => p.startTicks >= startTicks);
    if (left.length === 0 || Date.now() > deadline) return left.map((p) => p.pid);
    await delay(POLL_MS);
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  signalPid(-pgid, signal);
}

async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
