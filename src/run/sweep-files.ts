// The file half of the post-run sweep, and the report that ends it. Every process of the run is
// dead by now; what it left is deleted and then looked for again, by bytes.
import type { SweepReport } from '../protocol/result.js';
import { SECURITY_EVENTS, securityEvent } from '../security-events.js';
import { findFilesOf, LEFTOVER_SAMPLE, removeFilesOf } from '../sandbox/leftover-files.js';
import type { RunEnvironment } from './run.js';
import type { ProcessScopeLeft } from './terminate.js';

/**
 * Delete what the sandbox user left in the shared writable places (its private tmpfs mounts, when
 * it had them, are already gone with its mount namespace), then verify: no process and no file of
 * the user anywhere writable. With a shared user there is no telling its files from the daemon's,
 * so only processes are checked.
 */
export async function sweepFiles(env: RunEnvironment, left: ProcessScopeLeft, scratchPath: string, pidNamespace: boolean): Promise<SweepReport> {
  const problems = left.survivors.map((p) => `process ${p.pid} (state ${p.state}, parent ${p.ppid}) of the sandbox user survived the kill`);
  // Dead but unreaped, they run nothing; they still count against the uid's process limit. Only
  // where the run's own init reaps them is that a fault of the sandbox: without a PID namespace
  // their reaper is the container's PID 1, and the gVisor build Debian ships never reaps a process
  // whose leader left with SYS_exit (README, known limits).
  if (left.unreaped.length > 0) {
    const what = `${left.unreaped.length} processes of the run were never reaped: ${left.unreaped.slice(0, 10).join(', ')}`;
    if (pidNamespace) problems.push(what);
    else env.logger.warn({ unreaped: left.unreaped.slice(0, 10) }, what);
  }
  let unlisted = 0;
  if (env.identity.mode === 'dedicated') {
    const places = env.sweepPlaces;
    // The run's own scratch directory is removed whole afterwards; anything else is a leftover.
    const removed = await removeFilesOf(env.identity.uid, places, scratchPath);
    if (removed.count > 0) {
      securityEvent(env.logger, SECURITY_EVENTS.leftoverFiles, { removed: removed.sample.slice(0, 20), count: removed.count }, 'removed files the run left behind');
      // Every process of the user is dead, so nothing can add files: look again only after a removal.
      const stuck = await findFilesOf(env.identity.uid, places, scratchPath);
      for (const p of stuck.sample) problems.push(`file ${p} of the sandbox user could not be removed`);
      unlisted = stuck.count - stuck.sample.length;
    }
  }
  return sweepReport(problems, unlisted);
}

/** At most LEFTOVER_SAMPLE problems are listed, so a snippet cannot make the result entry large. */
function sweepReport(problems: string[], unlisted: number): SweepReport {
  if (problems.length === 0 && unlisted === 0) return { clean: true };
  const extra = unlisted + Math.max(0, problems.length - LEFTOVER_SAMPLE);
  return { clean: false, problems: problems.slice(0, LEFTOVER_SAMPLE), ...(extra > 0 ? { problemsUnlisted: extra } : {}) };
}
