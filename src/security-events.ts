// Sandbox violation events: the moments a security reviewer or an alert wants to hear about, each
// one log line with a stable `event` name (the names are part of the documented contract: Cloud
// Logging alerts key on `jsonPayload.event`) and one count in `executor_security_events_total`.
import { EventEmitter } from 'node:events';
import type { Logger } from './log.js';

export const SECURITY_EVENTS = {
  /** A run left processes behind after its first process ended; they were killed. */
  leftoverProcesses: 'sandbox.leftover_processes',
  /** A run left files in a shared writable place; they were removed. */
  leftoverFiles: 'sandbox.leftover_files',
  /** The sandbox could not be proven clean (after a run, or at start-up): the executor stops. */
  dirty: 'sandbox.dirty',
  /** A task named a path outside its working directory, or out/ held a link: refused. */
  pathEscape: 'task.path_escape',
  /** A budget or a limit ended a run (wall, CPU, memory, output, file size). */
  budgetKill: 'run.budget_kill',
  /** A hostile selftest check failed: the sandbox does not hold on this machine. */
  selftestFailed: 'selftest.failed',
} as const;

export type SecurityEvent = (typeof SECURITY_EVENTS)[keyof typeof SECURITY_EVENTS];

/** Every event, for whoever counts them (the metrics); a process has one executor. */
export const securityEvents = new EventEmitter<{ event: [SecurityEvent] }>();

/** Log `event` at warning level (error for a dirty sandbox or a failed check) and count it. */
export function securityEvent(log: Logger, event: SecurityEvent, fields: Record<string, unknown>, message: string): void {
  const severe = event === SECURITY_EVENTS.dirty || event === SECURITY_EVENTS.selftestFailed;
  log[severe ? 'error' : 'warn']({ event, ...fields }, message);
  securityEvents.emit('event', event);
}
