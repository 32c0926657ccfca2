// Redis key names of the wire format. They are part of the fixed contract: other programs
// (controllers in any language) compute the same names, so they live in one place.

export const DEFAULT_STREAM = 'executor:tasks';
export const DEFAULT_GROUP = 'executors';

/** The stream a task's events are written to: `executor:results:<id>`. */
export function resultsKey(taskId: string): string {
  return `executor:results:${taskId}`;
}

/** The field of a task stream entry that holds the task JSON. */
export const TASK_FIELD = 'task';

/**
 * The marker that a task has its one final answer. Its hash tag is the results key itself, so
 * on Redis Cluster both live in one slot and the write of the answer stays atomic.
 */
export function answeredKey(taskId: string): string {
  return `{${resultsKey(taskId)}}:answered`;
}

/**
 * Which stream entry holds a task id, and its newest attempt that started (the fence of later
 * writes). Same hash tag as answeredKey.
 */
export function claimKey(taskId: string): string {
  return `{${resultsKey(taskId)}}:claim`;
}

/** Where tasks that will never run are copied, with the reason. */
export const DEFAULT_DEAD_STREAM = 'executor:dead';
