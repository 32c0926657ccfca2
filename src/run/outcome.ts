// How a run ended, turned into the wire format's exit result. The first reason to end a run wins;
// a run that ended on its own is judged by its exit code and signal.
import type { ArtifactEntry, EffectiveLimits, ExitResult, RunStatus, SweepReport } from '../protocol/result.js';

export type TerminationReason = 'timeout' | 'cpu_limit' | 'output_limit' | 'memory_limit' | 'cancelled' | 'aborted';

/** What is known when a run is over; the status and its words are derived from it. */
export interface RunFacts extends Omit<ExitResult, 'status' | 'error' | 'sweep' | 'artifacts' | 'artifactsUnlisted'> {
  reason: TerminationReason | undefined;
  limits: EffectiveLimits;
  /** For SIGXFSZ: whether a file of the run had reached the limit (undefined: not known). */
  fileSizeReached?: boolean;
  /** Set when the output could not be delivered. */
  deliveryError?: string;
  sweep: SweepReport;
  artifacts: ArtifactEntry[];
  /** Entries of out/ past the listing cap. */
  artifactsUnlisted: number;
}

export function toExitResult(f: RunFacts): ExitResult {
  const { status, error } = statusOf(f);
  return {
    status,
    exitCode: f.exitCode,
    signal: f.signal,
    wallMs: Math.round(f.wallMs),
    cpuMs: Math.round(f.cpuMs),
    stdoutBytes: f.stdoutBytes,
    stderrBytes: f.stderrBytes,
    truncated: f.truncated,
    ...(error === undefined ? {} : { error }),
    sweep: f.sweep,
    ...(f.artifacts.length ? { artifacts: f.artifacts } : {}),
    ...(f.artifactsUnlisted > 0 ? { artifactsUnlisted: f.artifactsUnlisted } : {}),
  };
}

function statusOf(f: RunFacts): { status: RunStatus; error?: string } {
  if (f.deliveryError !== undefined) return { status: 'internal_error', error: `output delivery failed: ${f.deliveryError}` };
  switch (f.reason) {
    case 'timeout':
      return { status: 'timeout', error: `wall-clock budget of ${f.limits.wallMs} ms exceeded` };
    case 'cpu_limit':
      return { status: 'cpu_limit', error: `CPU budget of ${f.limits.cpuMs} ms exceeded (whole process tree)` };
    case 'output_limit':
      return { status: 'output_limit', error: `output cap of ${f.limits.outputBytes} bytes reached; the rest was discarded` };
    case 'memory_limit':
      return { status: 'memory_limit', error: `memory limit of ${f.limits.memoryBytes} bytes exceeded (resident memory of the whole process tree)` };
    case 'cancelled':
      return { status: 'cancelled', error: 'cancelled by request' };
    case 'aborted':
      return { status: 'internal_error', error: 'the executor was shut down during the run' };
    case undefined:
      break;
  }
  // The kernel's own rlimits end a process with these signals, but a snippet can send them to
  // itself too: a limit is reported only when one was reached. A process reaches its RLIMIT_CPU
  // (a second above the budget) only after the run's CPU has passed the budget.
  if (f.signal === 'SIGXCPU' && f.cpuMs >= f.limits.cpuMs) return { status: 'cpu_limit', error: `CPU rlimit reached (backstop of the ${f.limits.cpuMs} ms budget)` };
  if (f.signal === 'SIGXFSZ' && f.fileSizeReached) return { status: 'file_size_limit', error: `file size limit of ${f.limits.fileSizeBytes} bytes exceeded` };
  return f.exitCode === 0 ? { status: 'ok' } : { status: 'error' };
}
