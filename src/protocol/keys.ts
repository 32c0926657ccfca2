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
