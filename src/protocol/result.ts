// The result events of the wire format, as both the executor writes them and the client reads
// them. Field names and status strings are fixed by the contract; extend, never rename.

export const RUN_STATUSES = [
  'ok',
  'error',
  'timeout',
  'cpu_limit',
  'output_limit',
  'memory_limit',
  'file_size_limit',
  'cancelled',
  'expired',
  'rejected',
  'internal_error',
  'session_ended',
] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];

/** The statuses that mean a budget or a limit ended the run (wall, CPU, output, memory, file size). */
export const LIMIT_STATUSES = ['timeout', 'cpu_limit', 'output_limit', 'memory_limit', 'file_size_limit'] as const satisfies readonly RunStatus[];

export type LimitStatus = (typeof LIMIT_STATUSES)[number];

export function isLimitStatus(status: RunStatus): status is LimitStatus {
  return (LIMIT_STATUSES as readonly RunStatus[]).includes(status);
}

/** Effective limits of one run, reported in the `started` event. */
export interface EffectiveLimits {
  wallMs: number;
  cpuMs: number;
  outputBytes: number;
  /** Resident memory of the whole process tree (sampled). */
  memoryBytes: number;
  /** RLIMIT_NPROC for the sandbox user. */
  processes: number;
  /** RLIMIT_NOFILE per process. */
  openFiles: number;
  /** RLIMIT_FSIZE: the largest file a process may write. */
  fileSizeBytes: number;
}

/**
 * The fewest descriptors (RLIMIT_NOFILE) with which every shipped runtime starts through the
 * launcher. Measured by lowering `limits.openFiles` one at a time through the daemon: bash
 * starts with 4 (below that the dynamic loader cannot open setpriv's libraries), python with 5,
 * node with 18 (its event loop, signal pipes and platform threads); 2 more for headroom.
 */
export const MIN_OPEN_FILES = 20;

export const LIMIT_NAMES = ['wallMs', 'cpuMs', 'outputBytes', 'memoryBytes', 'processes', 'openFiles', 'fileSizeBytes'] as const;

/** The JSON of the one `type exit result <JSON>` entry that ends every results stream. */
export interface ExitResult {
  status: RunStatus;
  exitCode: number | null;
  signal: string | null;
  wallMs: number;
  cpuMs: number;
  stdoutBytes: number;
  stderrBytes: number;
  truncated: boolean;
  error?: string;
  /**
   * Which attempt this answers: the one that ran, or for a task answered without a run the
   * delivery count (for an abandoned task, the newest attempt that started). Set by Redis.
   */
  attempt?: number;
  /** Outcome of the post-run sweep; absent for tasks that never ran. */
  sweep?: SweepReport;
  /** Files found in `out/`: which were returned as `file` entries and which were left out. */
  artifacts?: ArtifactEntry[];
  /** Entries of `out/` past the listing cap (EXECUTOR_ARTIFACT_LIST): at least this many, not listed. */
  artifactsUnlisted?: number;
  /** The session the task ran in (or named): its id, the cell's number, and why it ended, once it has. */
  session?: SessionResult;
}

/** Why a session ended (README, "Sessions"). */
export const SESSION_END_REASONS = ['closed', 'idle', 'lifetime', 'exited', 'crashed', 'budget', 'memory_limit', 'drained', 'executor_lost'] as const;

export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

export interface SessionResult {
  id: string;
  /** The cell this task was, from 1; absent when it never ran. */
  cell?: number;
  /** Set once the session has ended (with this cell, or before it could run). */
  ended?: SessionEndReason;
}

export interface ArtifactEntry {
  /** Relative to `out/`; a name that is not UTF-8 has its invalid bytes replaced by U+FFFD. */
  path: string;
  /** The path's raw bytes, base64, when it is not valid UTF-8 (such an entry is never returned). */
  pathBase64?: string;
  bytes: number;
  sha256: string | null;
  included: boolean;
  reason?: string;
}

export interface SweepReport {
  /** True when no process and no file of the sandbox user was left anywhere writable. */
  clean: boolean;
  /** What was found left behind (only when not clean); at most 100. */
  problems?: string[];
  /** Problems past those listed. */
  problemsUnlisted?: number;
}

/** Whether the executor itself runs inside gVisor. */
export type SandboxKind = 'gvisor' | 'none';

export interface StartedEvent {
  type: 'started';
  executor: string;
  attempt: number;
  limits: EffectiveLimits;
  sandbox: SandboxKind;
  /** For a cell of a session: the session, the cell's number, the direct stream and the deadlines (epoch ms). */
  session?: { id: string; cell: number; stream: string; idleDeadline: number; lifetimeDeadline: number };
}

/**
 * Rich output of a session cell: `type display mime <m> data <bytes> display <k>` (and `part <i>
 * parts <n>` when over 1 MiB). Entries with the same k are representations of one object.
 */
export interface DisplayEvent {
  type: 'display';
  mime: string;
  data: Buffer;
  display: number;
  part: number;
  parts: number;
}

export interface OutputEvent {
  type: 'stdout' | 'stderr';
  data: Buffer;
}

/** One part of an artifact: `type file path <p> data <bytes> part <i> parts <n>`. */
export interface FileEvent {
  type: 'file';
  path: string;
  data: Buffer;
  part: number;
  parts: number;
}

export interface ExitEvent {
  type: 'exit';
  result: ExitResult;
}

export type ResultEvent = StartedEvent | OutputEvent | FileEvent | DisplayEvent | ExitEvent;

/** An exit result for a task that never ran. */
export function notRunResult(status: 'rejected' | 'internal_error' | 'cancelled' | 'expired' | 'session_ended', error: string): ExitResult {
  return {
    status,
    exitCode: null,
    signal: null,
    wallMs: 0,
    cpuMs: 0,
    stdoutBytes: 0,
    stderrBytes: 0,
    truncated: false,
    error,
  };
}
