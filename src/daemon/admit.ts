// Whether a stream entry may run, decided from facts alone (no Redis, no clock, no machine beyond
// what admissionProblem reads once): parsed, within its attempts, admissible here, not cancelled,
// not expired. Every refusal carries the answer to write and, when the entry must be kept, the
// reason for its dead-letter copy; the caller writes them and logs.
import { effectiveLimits } from '../run/limits.js';
import { notRunResult, type EffectiveLimits, type ExitResult } from '../protocol/result.js';
import type { RuntimeRegistry } from '../runtimes/load.js';
import type { RuntimeProfile } from '../runtimes/schema.js';
import { admissionProblem } from './admission-checks.js';
import { parseTask } from '../task/parse.js';
import type { Task } from '../task/schema.js';

export interface AdmitEntry {
  /** The raw `task` field. */
  raw: Buffer | string | undefined;
  /** Its delivery count: the attempt. */
  deliveries: number;
}

export interface AdmitContext {
  runtimes: RuntimeRegistry;
  /** The executor's maxima; a task's limits can only lower them. */
  maxima: EffectiveLimits;
  taskBytes: number;
  filesBytes: number;
  maxAttempts: number;
  isCancelled: (taskId: string) => boolean;
  /** Milliseconds since the epoch. */
  now: number;
}

export type Admission =
  /** Not a usable task. Without an id there is nobody to answer: `deadReason` is then set. */
  | { kind: 'unparsed'; taskId: string | undefined; error: string; result: ExitResult; deadReason?: string; tooLarge: boolean; pathEscape: boolean }
  /** A task that will not run: answered with `result`, dead-lettered when `deadReason` is set. */
  | { kind: 'refused'; why: 'abandoned' | 'rejected' | 'cancelled' | 'expired'; task: Task; result: ExitResult; deadReason?: string }
  | { kind: 'run'; task: Task; profile: RuntimeProfile; limits: EffectiveLimits };

export function admit(entry: AdmitEntry, c: AdmitContext): Admission {
  const parsed = parseTask(entry.raw, [...c.runtimes.keys()], c.taskBytes);
  if (!parsed.ok) {
    return {
      kind: 'unparsed',
      taskId: parsed.id,
      error: parsed.error,
      result: notRunResult('rejected', parsed.error),
      // Keep the message where someone can look at it (one refused for its size without its
      // body: the copy would be as large).
      ...(parsed.id === undefined ? { deadReason: `unusable task: ${parsed.error}` } : {}),
      tooLarge: parsed.tooLarge !== undefined,
      pathEscape: parsed.pathEscape === true,
    };
  }
  const { task } = parsed;
  // A cell is never run again anywhere (README, "Sessions"): routing answers a reclaimed one.
  if (entry.deliveries > c.maxAttempts && task.session === undefined) {
    const why = `abandoned after ${entry.deliveries - 1} attempts: every executor that ran it stopped answering (EXECUTOR_MAX_ATTEMPTS=${c.maxAttempts})`;
    return { kind: 'refused', why: 'abandoned', task, result: notRunResult('internal_error', why), deadReason: why };
  }
  const profile = c.runtimes.get(task.runtime)!;
  const limits = effectiveLimits(c.maxima, task.limits);
  const problem = admissionProblem(task, profile, limits, { filesBytes: c.filesBytes });
  if (problem !== undefined) return { kind: 'refused', why: 'rejected', task, result: notRunResult('rejected', problem) };
  if (c.isCancelled(task.id)) return { kind: 'refused', why: 'cancelled', task, result: notRunResult('cancelled', 'cancelled before it ran') };
  if (task.deadline !== undefined && c.now > task.deadline) {
    const why = `deadline ${new Date(task.deadline).toISOString()} passed before an executor reached it`;
    return { kind: 'refused', why: 'expired', task, result: notRunResult('expired', why) };
  }
  return { kind: 'run', task, profile, limits };
}
