// Errors of the executor itself (never of user code: a snippet's failure is a result, not an
// exception). One base class, a stable `code` for each kind, the original kept as `cause`, and
// every code listed here so that each is findable with grep.

export const ERROR_CODES = {
  CONFIG_INVALID: 'EXEC_ERR_CONFIG_INVALID',
  RUNTIMES_INVALID: 'EXEC_ERR_RUNTIMES_INVALID',
  /** The sandbox user cannot be used (not root, is root, unknown, its runtimes' ids taken). */
  SANDBOX_USER: 'EXEC_ERR_SANDBOX_USER',
  /** EXECUTOR_REQUIRE_GVISOR=1 outside gVisor. */
  GVISOR_REQUIRED: 'EXEC_ERR_GVISOR_REQUIRED',
  /** EXECUTOR_NETWORK=none where network namespaces cannot be made. */
  NETWORK_NAMESPACE_UNAVAILABLE: 'EXEC_ERR_NETWORK_NAMESPACE_UNAVAILABLE',
  /** The per-run init cannot run here (no perl). */
  RUN_INIT_UNAVAILABLE: 'EXEC_ERR_RUN_INIT_UNAVAILABLE',
  /** Another daemon holds the sandbox uids. */
  SANDBOX_UIDS_HELD: 'EXEC_ERR_SANDBOX_UIDS_HELD',
  WORKSPACE: 'EXEC_ERR_WORKSPACE',
  INPUT_FILES: 'EXEC_ERR_INPUT_FILES',
  TASK_TOO_LARGE: 'EXEC_ERR_TASK_TOO_LARGE',
  /** A task id given to submit has its answer already: it would not run again. */
  TASK_ID_USED: 'EXEC_ERR_TASK_ID_USED',
  CLIENT_TIMEOUT: 'EXEC_ERR_CLIENT_TIMEOUT',
  /** The client could not reach Redis (after a bounded retry). */
  CLIENT_UNREACHABLE: 'EXEC_ERR_CLIENT_UNREACHABLE',
  CLIENT_CLOSED: 'EXEC_ERR_CLIENT_CLOSED',
  /** An artifact's path would be saved outside the chosen folder (client side). */
  ARTIFACT_PATH_REFUSED: 'EXEC_ERR_ARTIFACT_PATH_REFUSED',
  /** A session cell was taken by an executor from before sessions (it ran without the session's state). */
  SESSION_UNSUPPORTED: 'EXEC_ERR_SESSION_UNSUPPORTED',
  /** A results entry breaks the wire format (written by something that is not an executor). */
  RESULT_MALFORMED: 'EXEC_ERR_RESULT_MALFORMED',
  /** The first cell of a new session ran as a later cell: someone else had opened a session with that id. */
  SESSION_ID_TAKEN: 'EXEC_ERR_SESSION_ID_TAKEN',
  /** An Executor method that needs start() was called before it. */
  NOT_STARTED: 'EXEC_ERR_NOT_STARTED',
  USAGE: 'EXEC_ERR_USAGE',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export class ExecutorError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExecutorError';
    this.code = code;
  }
}

export function configError(message: string): ExecutorError {
  return new ExecutorError(ERROR_CODES.CONFIG_INVALID, message);
}

export function usageError(message: string): ExecutorError {
  return new ExecutorError(ERROR_CODES.USAGE, message);
}
