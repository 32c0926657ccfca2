// The result events of the wire format, as both the executor writes them and the client reads
// them. Field names and status strings are fixed by the contract; extend, never rename.

export const RUN_STATUSES = [
  'ok',
  'error',
  'timeout',
  'cpu_limit',
  'output_limit',
  'rejected',
  'internal_error',
] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];

/** Effective limits of one run, reported in the `started` event. */
export interface EffectiveLimits {
  wallMs: number;
  cpuMs: number;
  outputBytes: number;
}

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
}

export interface StartedEvent {
  type: 'started';
  executor: string;
  attempt: number;
  limits: EffectiveLimits;
}

export interface OutputEvent {
  type: 'stdout' | 'stderr';
  data: Buffer;
}

export interface ExitEvent {
  type: 'exit';
  result: ExitResult;
}

export type ResultEvent = StartedEvent | OutputEvent | ExitEvent;

/** An exit result for a task that never ran. */
export function notRunResult(status: 'rejected' | 'internal_error', error: string): ExitResult {
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
