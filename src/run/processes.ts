// The run's processes once its code has started: the launcher, the run's init, and the scope in
// which every later phase (budgets, termination, sweep) finds the rest.
import { readProc } from '../sandbox/proc-table.js';
import { createProcessScope, type ProcessScope } from '../sandbox/process-scope.js';
import type { RunInit } from '../sandbox/run-init.js';
import type { SandboxIdentity } from '../sandbox/identity.js';
import type { Launched } from './interpreter.js';

export interface RunProcesses {
  scope: ProcessScope;
  /** The daemon's own child (the launcher's first step): it exits once the run is over. */
  rootPid: number;
  rootExited: Promise<unknown>;
  init: RunInit | undefined;
  /** The init's pid in the daemon's namespace. */
  initPid: number | undefined;
  /** The start of the run's init (clock ticks since boot): older processes are not the run's. */
  startTicks?: number;
}

/** The run's processes, once its init has said where it is; or why the run cannot go on. */
export async function trackProcesses(launched: Launched, identity: SandboxIdentity): Promise<RunProcesses | string> {
  const { child, init, rootExited } = launched;
  const rootPid = child.pid!;
  const initPid = init ? await init.pid : undefined;
  if (init && initPid === undefined) {
    await rootExited;
    return `the run's init did not start (launcher exit ${JSON.stringify(await rootExited)})`;
  }
  const scope = createProcessScope(identity, rootPid);
  const startTicks = initPid === undefined ? undefined : (await readProc(initPid))?.startTicks;
  return { scope, rootPid, rootExited, init, initPid, startTicks };
}
