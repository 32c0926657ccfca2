// `agent-executor submit` exits with the snippet's own exit code, so it can stand in for running
// the snippet locally; the codes below are reserved for outcomes that are not the snippet's.
import { constants } from 'node:os';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { isLimitStatus, type ExitResult } from '../protocol/result.js';

/** A budget or limit (wall, CPU, output, memory, file size) ended the run — the same code timeout(1) uses. */
export const EXIT_BUDGET = 124;
/** The task was rejected, failed inside the executor, or no result could be had. */
export const EXIT_EXECUTOR = 125;
/** The run was cancelled (by `agent-executor cancel`, or Ctrl-C on `submit`): 128 + SIGINT. */
export const EXIT_CANCELLED = 130;
/** The command line itself was wrong. */
export const EXIT_USAGE = 2;
/**
 * The command failed without an outcome of a task: bad configuration, a machine that cannot give
 * what `serve` needs, or (for `cancel`) Redis out of reach.
 */
export const EXIT_FAILURE = 1;

export function exitCodeFor(result: ExitResult): number {
  if (isLimitStatus(result.status)) return EXIT_BUDGET;
  switch (result.status) {
    case 'ok':
      return 0;
    case 'error':
      if (result.exitCode !== null) return result.exitCode;
      // Killed by a signal of its own: the shell's convention, 128 + signal number.
      return 128 + (constants.signals[result.signal as keyof typeof constants.signals] ?? 0);
    case 'cancelled':
      return EXIT_CANCELLED;
    case 'expired':
    case 'rejected':
    case 'internal_error':
    // The session is gone: the cell never ran (or ran to the session's end), not the snippet's doing.
    case 'session_ended':
      return EXIT_EXECUTOR;
  }
}

// Every code has its exit status, so a new code cannot be left out (the type says so).
const EXIT_BY_CODE: Record<ErrorCode, number> = {
  [ERROR_CODES.USAGE]: EXIT_USAGE,
  [ERROR_CODES.CONFIG_INVALID]: EXIT_FAILURE,
  [ERROR_CODES.RUNTIMES_INVALID]: EXIT_FAILURE,
  [ERROR_CODES.SANDBOX_USER]: EXIT_FAILURE,
  [ERROR_CODES.GVISOR_REQUIRED]: EXIT_FAILURE,
  [ERROR_CODES.NETWORK_NAMESPACE_UNAVAILABLE]: EXIT_FAILURE,
  [ERROR_CODES.RUN_INIT_UNAVAILABLE]: EXIT_FAILURE,
  [ERROR_CODES.SANDBOX_UIDS_HELD]: EXIT_FAILURE,
  [ERROR_CODES.WORKSPACE]: EXIT_FAILURE,
  [ERROR_CODES.INPUT_FILES]: EXIT_FAILURE,
  [ERROR_CODES.NOT_STARTED]: EXIT_FAILURE,
  // A task the client refuses for its size is a rejected task, like one an executor refuses.
  [ERROR_CODES.TASK_TOO_LARGE]: EXIT_EXECUTOR,
  [ERROR_CODES.TASK_ID_USED]: EXIT_EXECUTOR,
  // `submit` answers these itself with 125 (a task without an outcome); `cancel` exits 1.
  [ERROR_CODES.CLIENT_TIMEOUT]: EXIT_FAILURE,
  [ERROR_CODES.CLIENT_UNREACHABLE]: EXIT_FAILURE,
  [ERROR_CODES.CLIENT_CLOSED]: EXIT_FAILURE,
  [ERROR_CODES.ARTIFACT_PATH_REFUSED]: EXIT_EXECUTOR,
  [ERROR_CODES.SESSION_UNSUPPORTED]: EXIT_EXECUTOR,
  [ERROR_CODES.SESSION_ID_TAKEN]: EXIT_EXECUTOR,
  [ERROR_CODES.RESULT_MALFORMED]: EXIT_EXECUTOR,
};

/** The exit status for an error that ended a command, by its code (Node's parseArgs codes are usage errors). */
export function exitCodeForError(err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return EXIT_EXECUTOR;
  if (code.startsWith('ERR_PARSE_ARGS')) return EXIT_USAGE;
  return Object.hasOwn(EXIT_BY_CODE, code) ? EXIT_BY_CODE[code as ErrorCode] : EXIT_EXECUTOR;
}
