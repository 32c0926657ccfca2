// Redis key names of the wire format. They are part of the fixed contract: other programs
// (controllers in any language) compute the same names, so they live in one place.
//
// Every key the daemon writes sits under EXECUTOR_KEY_PREFIX (default `executor:`), so that agent
// types sharing one Redis (database 0 on a cluster) are kept apart by key patterns and ACLs. The
// task stream and its control stream keep their own setting (EXECUTOR_STREAM).

export const DEFAULT_STREAM = 'executor:tasks';
export const DEFAULT_GROUP = 'executors';
export const DEFAULT_KEY_PREFIX = 'executor:';

/**
 * A prefix has no braces, or exactly one Redis Cluster hash tag (`{...}`, not empty). Anything
 * else would hash a task's keys to different slots and break the atomic scripts on a cluster.
 */
export const KEY_PREFIX_PATTERN = /^[^{}\s]*(\{[^{}\s]+\}[^{}\s]*)?$/;

/** The field of a task stream entry that holds the task JSON. */
export const TASK_FIELD = 'task';

function hasHashTag(prefix: string): boolean {
  return /\{[^{}]+\}/.test(prefix);
}

/** The stream a task's events are written to: `<prefix>results:<id>`. */
export function resultsKey(taskId: string, prefix = DEFAULT_KEY_PREFIX): string {
  return `${prefix}results:${taskId}`;
}

/**
 * A per-task key in the results key's slot. Without a hash tag in the prefix, the results key
 * itself is the tag (`{executor:results:<id>}:answered`, so tasks spread over the cluster); with
 * one, every key of the prefix is in that slot already (`<prefix>answered:<id>`).
 */
function taskKey(kind: string, taskId: string, prefix: string): string {
  return hasHashTag(prefix) ? `${prefix}${kind}:${taskId}` : `{${resultsKey(taskId, prefix)}}:${kind}`;
}

/** The marker that a task has its one final answer; in the results key's slot, so the answer stays atomic. */
export function answeredKey(taskId: string, prefix = DEFAULT_KEY_PREFIX): string {
  return taskKey('answered', taskId, prefix);
}

/** Which stream entry holds a task id, and its newest attempt that started (the fence of later writes). */
export function claimKey(taskId: string, prefix = DEFAULT_KEY_PREFIX): string {
  return taskKey('claim', taskId, prefix);
}

/** The last numbered write of a task's running attempt (so a re-sent write is not appended twice). */
export function writtenKey(taskId: string, prefix = DEFAULT_KEY_PREFIX): string {
  return taskKey('written', taskId, prefix);
}

/**
 * A session's keys (README, "Sessions"), all hash-tagged with the session id so its scripts are
 * atomic on a cluster (under a prefix with a hash tag of its own, that tag decides: the same slot
 * as the rest of the prefix). `<prefix>session:{<sid>}` is its record (a hash: state, holder,
 * runtime, deadlines, cells, end reason), `...:cells` the direct stream its holder reads, `...:lease`
 * the holder's lease (a key with a TTL the holder keeps renewing).
 */
export function sessionKey(sessionId: string, prefix = DEFAULT_KEY_PREFIX): string {
  return `${prefix}session:{${sessionId}}`;
}

export function sessionStreamKey(sessionId: string, prefix = DEFAULT_KEY_PREFIX): string {
  return `${sessionKey(sessionId, prefix)}:cells`;
}

export function sessionLeaseKey(sessionId: string, prefix = DEFAULT_KEY_PREFIX): string {
  return `${sessionKey(sessionId, prefix)}:lease`;
}

/** The open sessions, a sorted set of ids scored by when they opened (`agent-executor sessions`). */
export function sessionsIndexKey(prefix = DEFAULT_KEY_PREFIX): string {
  return `${prefix}sessions`;
}

/** Where tasks that will never run are copied, with the reason: `<prefix>dead` unless set. */
export function deadStreamKey(prefix = DEFAULT_KEY_PREFIX): string {
  return `${prefix}dead`;
}

/** The control stream of a task stream: `<stream>:control` (cancel requests). */
export function controlKey(taskStream: string): string {
  return `${taskStream}:control`;
}
