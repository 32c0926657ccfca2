// Turn a raw stream entry into a task or a rejection a caller can act on. Never throws: a
// malformed message must not be able to crash the daemon.
import { taskIdSchema, taskSchema, type Task } from './schema.js';

export type ParsedTask =
  | { ok: true; task: Task }
  /** `id` is set when the message carried a usable id, so the rejection can be answered. */
  | { ok: false; id: string | undefined; error: string };

export function parseTask(raw: string | undefined, knownRuntimes: readonly string[]): ParsedTask {
  if (raw === undefined) return { ok: false, id: undefined, error: 'entry has no "task" field' };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return { ok: false, id: undefined, error: `task is not valid JSON: ${(err as Error).message}` };
  }
  const id = usableId(json);
  const parsed = taskSchema.safeParse(json);
  if (!parsed.success) {
    const why = parsed.error.issues
      .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
      .join('; ');
    return { ok: false, id, error: `invalid task: ${why}` };
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
