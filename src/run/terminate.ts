// Ending a run's processes when a reason to end it comes before the snippet's own exit. With the
// run's init in its own PID namespace the init does the killing (kill -1 there reaches exactly the
// run, in one pass of the kernel, so a fork bomb cannot outrun it). Without one, the daemon kills
// every process of the sandbox uid from root, freezing them first. Nothing is ever executed as the
// sandbox user to do it: a helper of that uid would be the snippet's to stop, trace or read.
import { promisify } from 'node:util';
import treeKill from 'tree-kill';
import { killScope, signalPid } from '../sandbox/process-scope.js';
import { delay } from '../util/timeout.js';
import type { RunProcesses } from './processes.js';

const treeKillAsync = promisify(treeKill) as (pid: number, signal: string) => Promise<void>;

/**
 * SIGTERM every process of the run, wait up to `graceMs` for the snippet's first process to go,
 * then kill everything. `walkTree` adds tree-kill's walk (a shared user, whose scope is itself the
 * tree).
 */
export async function terminateRun(run: RunProcesses, mainExited: Promise<unknown>, graceMs: number, walkTree: boolean): Promise<void> {
  const { scope, init } = run;
  if (init?.pidNamespace) init.terminate();
  else {
    // The launcher's process group holds the init, which must live on to reap and count.
    if (!init) signalPid(-run.rootPid, 'SIGTERM');
    const tree = walkTree ? treeKillAsync(run.rootPid, 'SIGTERM').catch(() => undefined) : undefined;
    await scope.signal('SIGTERM');
    // A stopped process only acts on SIGTERM once continued.
    await scope.signal('SIGCONT');
    await tree;
  }
  await Promise.race([mainExited, delay(graceMs)]);
  if (init?.pidNamespace) init.killAll();
  else {
    if (!init) signalPid(-run.rootPid, 'SIGKILL');
    await killScope(scope);
  }
}
