// The cap on a task entry as a whole (EXECUTOR_TASK_BYTES): stdin, args and env have no cap of
// their own, and one 200 MB task grew the daemon by 470 MiB. The daemon and the client refuse in
// the same words, so a caller learns the same thing whichever side stopped it.

/**
 * Default cap on the byte length of the stored `task` field: room for the 4 MiB code cap plus
 * 10 MiB of files base64-encoded (13.4 MiB), with some to spare for stdin, args and env.
 */
export const DEFAULT_TASK_BYTES = 20 * 1024 * 1024;

export function taskTooLarge(bytes: number, cap: number): string {
  return `task is ${bytes} bytes, over the cap of ${cap} bytes (EXECUTOR_TASK_BYTES)`;
}
