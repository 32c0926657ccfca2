// The sweep after every run, once the snippet's first process has exited: nothing else of the run
// may outlive it. Processes first (kill what is left, wait for the init to have reaped everything,
// verify that no process of the run is left, dead or alive), then files (delete what the sandbox
// user left in the shared writable places, then look again, by bytes). Ends in the report the
// result carries.
import type { SweepReport } from '../protocol/result.js';
import { SECURITY_EVENTS, securityEvent } from '../security-events.js';
import { findFilesOf, LEFTOVER_SAMPLE, removeFilesOf } from '../sandbox/leftover-files.js';
import type { ProcInfo } from '../sandbox/proc-table.js';
import { killScope, type ProcessScope } from '../sandbox/process-scope.js';
import type { RunContext } from '../sandbox/types.js';
import { delay, withTimeout } from '../util/timeout.js';
import type { RunProcesses } from './processes.js';

const POLL_MS = 10;
const INIT_EXIT_MS = 5000;
// Killed processes take seconds to vanish under gVisor.
const REAP_WAIT_MS = 10_000;

export interface Swept {
  report: SweepReport;
  /** The init's count of every process's CPU (undefined: no init, or it died before it could say). */
  allCpuMs: number | undefined;
}

export async function sweepRun(run: RunProcesses, ctx: RunContext, scratchPath: string): Promise<Swept> {
  const { survivors, unreaped } = await sweepProcesses(run);
  const initEnd = run.init ? await run.init.end : undefined;
  if (initEnd?.leftBehind || survivors.length > 0) securityEvent(ctx.logger, SECURITY_EVENTS.leftoverProcesses, { survivors: survivors.length }, 'the run left processes behind; they were killed');
  const problems = survivors.map((p) => `process ${p.pid} (state ${p.state}, parent ${p.ppid}) of the sandbox user survived the kill`);
  // Dead but unreaped, they run nothing; they still count against the uid's process limit. Only
  // where the run's own init reaps them is that a fault of the sandbox: without a PID namespace
  // their reaper is the container's PID 1, and the gVisor build Debian ships never reaps a process
  // whose leader left with SYS_exit (README, known limits).
  if (unreaped.length > 0) {
    const what = `${unreaped.length} processes of the run were never reaped: ${unreaped.slice(0, 10).join(', ')}`;
    if (run.init?.pidNamespace ?? true) problems.push(what);
    else ctx.logger.warn({ unreaped: unreaped.slice(0, 10) }, what);
  }
  const unlisted = await sweepFiles(ctx, scratchPath, problems);
  return { report: sweepReport(problems, unlisted), allCpuMs: initEnd?.cpuMs };
}

async function sweepProcesses(run: RunProcesses): Promise<{ survivors: ProcInfo[]; unreaped: number[] }> {
  const { scope, init } = run;
  if (!init?.pidNamespace) await killScope(scope);
  if (init) {
    // The init exits once it has reaped the whole run; should it hang, killing it ends the
    // namespace (and, without one, it only holds the CPU figure).
    if (!(await settlesWithin(run.rootExited, INIT_EXIT_MS))) {
      init.kill();
      await settlesWithin(run.rootExited, INIT_EXIT_MS);
    }
  }
  // Verification: nothing of the run is alive; whatever is, is killed from root. One read of the
  // process table serves both checks when nothing is alive (the usual case: each read costs ms).
  const seen = await scope.all();
  let survivors = seen.filter((p) => p.alive);
  if (survivors.length > 0) survivors = await killScope(scope);
  return { survivors, unreaped: await awaitReaping(scope, run.startTicks ?? 0, survivors.length === 0 ? seen : undefined) };
}

/**
 * Killed orphans stay zombies until their reaper collects them (the run's init; without one, PID
 * 1), and until then they count against the sandbox user's RLIMIT_NPROC. Waits, bounded, until no
 * process of the run is left at all (`first`: a table read just now, looked at before any other);
 * returns the pids still unreaped.
 */
async function awaitReaping(scope: ProcessScope, startTicks: number, first?: ProcInfo[]): Promise<number[]> {
  const deadline = Date.now() + REAP_WAIT_MS;
  let table = first;
  for (;;) {
    // A zombie older than the run was reported by the run that left it.
    const left = (table ?? (await scope.all())).filter((p) => p.startTicks >= startTicks);
    table = undefined;
    if (left.length === 0 || Date.now() > deadline) return left.map((p) => p.pid);
    await delay(POLL_MS);
  }
}

/**
 * Delete what the sandbox user left in the shared writable places (its private tmpfs mounts, when
 * it had them, are already gone with its mount namespace), then verify; adds to `problems`, returns
 * how many more files were found than listed. With a shared user there is no telling its files from
 * the daemon's, so only processes are checked.
 */
async function sweepFiles(ctx: RunContext, scratchPath: string, problems: string[]): Promise<number> {
  if (ctx.identity.mode !== 'dedicated') return 0;
  // The run's own scratch directory is removed whole afterwards; anything else is a leftover.
  const removed = await removeFilesOf(ctx.identity.uid, ctx.sweepPlaces, scratchPath);
  if (removed.count === 0) return 0;
  securityEvent(ctx.logger, SECURITY_EVENTS.leftoverFiles, { removed: removed.sample.slice(0, 20), count: removed.count }, 'removed files the run left behind');
  // Every process of the user is dead, so nothing can add files: look again only after a removal.
  const stuck = await findFilesOf(ctx.identity.uid, ctx.sweepPlaces, scratchPath);
  for (const p of stuck.sample) problems.push(`file ${p} of the sandbox user could not be removed`);
  return stuck.count - stuck.sample.length;
}

/** At most LEFTOVER_SAMPLE problems are listed, so a snippet cannot make the result entry large. */
function sweepReport(problems: string[], unlisted: number): SweepReport {
  if (problems.length === 0 && unlisted === 0) return { clean: true };
  const extra = unlisted + Math.max(0, problems.length - LEFTOVER_SAMPLE);
  return { clean: false, problems: problems.slice(0, LEFTOVER_SAMPLE), ...(extra > 0 ? { problemsUnlisted: extra } : {}) };
}

function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return withTimeout(promise, ms, 'not settled').then(
    () => true,
    () => false,
  );
}
