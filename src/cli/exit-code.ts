// `agent-executor submit` exits with the snippet's own exit code, so it can stand in for running
// the snippet locally; the codes below are reserved for outcomes that are not the snippet's.
import { constants } from 'node:os';
import type { ExitResult } from '../protocol/result.js';

/** A budget or limit (wall, CPU, output, memory, file size) ended the run — the same code timeout(1) uses. */
export const EXIT_BUDGET = 124;
/** The task was rejected, failed inside the executor, or no result could be had. */
export const EXIT_EXECUTOR = 125;
/** The run was cancelled (by `agent-executor cancel`, or Ctrl-C on `submit`): 128 + SIGINT. */
export const EXIT_CANCELLED = 130;
/** The command line itself was wrong. */
export const EXIT_USAGE = 2;

export function exitCodeFor(result: ExitResult): number {
  switch (result.status) {
    case 'ok':
      return 0;
    case 'error':
      if (result.exitCode !== null) return result.exitCode;
      // Killed by a signal of its own: the shell's convention, 128 + signal number.
      return 128 + (constants.signals[result.signal as keyof typeof constants.signals] ?? 0);
    case 'timeout':
    case 'cpu_limit':
    case 'output_limit':
    case 'memory_limit':
    case 'file_size_limit':
      return EXIT_BUDGET;
    case 'cancelled':
      return EXIT_CANCELLED;
    case 'expired':
    case 'rejected':
    case 'internal_error':
      return EXIT_EXECUTOR;
  }
}
