// What the opening task fixes for a whole session, and whether a later cell keeps to it (README,
// "Sessions"): a cell may bring code, stdin, files and lower wall/CPU/output budgets; the runtime,
// env, args and the session-wide limits (memory, processes, open files, file size) are the
// opening task's. Pure.
import type { Task } from '../task/schema.js';

const SESSION_LIMITS = ['memoryBytes', 'processes', 'openFiles', 'fileSizeBytes'] as const;

export interface FixedBySession {
  runtime: string;
  env: Record<string, string>;
  args: string[];
  limits: Partial<Record<(typeof SESSION_LIMITS)[number], number>>;
}

export function fixedBy(task: Task): FixedBySession {
  const limits: FixedBySession['limits'] = {};
  for (const k of SESSION_LIMITS) if (task.limits?.[k] !== undefined) limits[k] = task.limits[k];
  return { runtime: task.runtime, env: task.env ?? {}, args: task.args ?? [], limits };
}

/** Why a later cell cannot run in the session; undefined when it can. */
export function cellConflict(fixed: FixedBySession, cell: Task): string | undefined {
  if (cell.runtime !== fixed.runtime) return `the session runs ${fixed.runtime}; a cell cannot change its runtime to ${cell.runtime}`;
  if (cell.env !== undefined && !sameRecord(cell.env, fixed.env)) return 'env is fixed by the task that opened the session; a later cell cannot change it';
  if (cell.args !== undefined && JSON.stringify(cell.args) !== JSON.stringify(fixed.args)) return 'args are fixed by the task that opened the session; a later cell cannot change them';
  for (const k of SESSION_LIMITS) {
    const v = cell.limits?.[k];
    if (v !== undefined && v !== fixed.limits[k]) return `limits.${k} holds for the whole session (set by the task that opened it); a later cell cannot change it`;
  }
  return undefined;
}

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}
