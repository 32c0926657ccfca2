// Turn a raw stream entry into a task or a rejection a caller can act on. Never throws: a
// malformed message must not be able to crash the daemon.
import { PEEK_BYTES, peekTaskId } from './peek-id.js';
import { PATH_ESCAPES, taskIdSchema, taskSchema, type Task } from './schema.js';
import { DEFAULT_TASK_BYTES, taskTooLarge } from './size.js';

export type ParsedTask =
  | { ok: true; task: Task }
  /**
   * `id` is set when the message carried a usable id, so the rejection can be answered;
   * `tooLarge` (its size in bytes) when it was refused unread for being over the cap;
   * `pathEscape` when a file path pointed outside the working directory.
   */
  | { ok: false; id: string | undefined; error: string; tooLarge?: number; pathEscape?: true };

/**
 * `raw` is the stored `task` field. Its size is checked before anything else: an entry over
 * `maxBytes` is never decoded or parsed, only its start is scanned for an id to answer.
 */
export function parseTask(raw: string | Buffer | undefined, knownRuntimes: readonly string[], maxBytes = DEFAULT_TASK_BYTES): ParsedTask {
  if (raw === undefined) return { ok: false, id: undefined, error: 'entry has no "task" field' };
  const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (bytes > maxBytes) {
    const id = peekTaskId(typeof raw === 'string' ? Buffer.from(raw.slice(0, PEEK_BYTES)) : raw);
    return { ok: false, id, error: taskTooLarge(bytes, maxBytes), tooLarge: bytes };
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    return { ok: false, id: undefined, error: `task is not valid JSON: ${(err as Error).message}` };
  }
  const id = usableId(json);
  const parsed = taskSchema.safeParse(json);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => describeIssue(i.path, i.message, json)).join('; ');
    const escape = parsed.error.issues.some((i) => i.path[0] === 'files' && i.path[2] === 'path' && (PATH_ESCAPES as readonly string[]).includes(i.message));
    return { ok: false, id, error: `invalid task: ${why}`, ...(escape ? { pathEscape: true as const } : {}) };
  }
  if (!knownRuntimes.includes(parsed.data.runtime)) {
    return {
      ok: false,
      id,
      error: `unknown runtime "${parsed.data.runtime}"; this executor runs: ${knownRuntimes.join(', ')}`,
    };
  }
  return { ok: true, task: parsed.data };
}

function usableId(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const parsed = taskIdSchema.safeParse((json as { id?: unknown }).id);
  return parsed.success ? parsed.data : undefined;
}

/**
 * An issue in words a caller can act on: `files[0].path "../x" must stay inside the working
 * directory` names the value, not only the field.
 */
function describeIssue(where: (string | number)[], message: string, json: unknown): string {
  if (where.length === 0) return message;
  if (where.length === 3 && where[0] === 'files' && where[2] === 'path') {
    const value = (json as { files?: { path?: unknown }[] }).files?.[where[1] as number]?.path;
    if (typeof value === 'string') return `files[${where[1]}].path ${JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}...` : value)} ${message}`;
  }
  return `${where.join('.')}: ${message}`;
}
