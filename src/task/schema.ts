// The task message, checked at the queue edge. Unknown fields are dropped rather than refused so
// that controllers written against a newer version of the wire format still get their tasks run.
import { z } from 'zod';

export const TASK_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_CODE_BYTES = 4 * 1024 * 1024;
const noNul = (what: string) => z.string().refine((s) => !s.includes('\0'), `${what} must not contain NUL bytes`);

export const taskIdSchema = z
  .string({ required_error: 'id is required', invalid_type_error: 'id must be a string' })
  .regex(TASK_ID_PATTERN, 'id must be 1-128 characters of [A-Za-z0-9._:-]');

const positiveInt = z.number().int().positive();

/** NAME_MAX: the longest name of one file or folder, in bytes, on every Linux file system. */
export const MAX_SEGMENT_BYTES = 255;
/**
 * The longest relative path, in bytes. 1024 characters are at most 3072 bytes of UTF-8; with a
 * work dir of at most MAX_WORK_DIR_BYTES (config) every input path stays within PATH_MAX (4096,
 * with its NUL) inside the scratch directory.
 */
export const MAX_PATH_BYTES = 3072;

/**
 * A relative path that stays inside the scratch directory: no absolute paths, no `..`, no empty
 * or `.` segments (so there is one spelling per file), no NUL, and names the kernel can create —
 * a longer one would fail only while being written (ENAMETOOLONG), after the run had begun.
 */
export const relativePathSchema = z
  .string()
  .min(1)
  .max(1024)
  // One message per path, the first reason that applies (an absolute path is not also "empty
  // segments"); the value itself is named where the error is worded (task/parse.ts).
  .superRefine((p, ctx) => {
    const why = pathProblem(p);
    if (why !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: why });
  });

/** The reasons a path is refused for pointing outside the working directory (a security event). */
export const PATH_ESCAPES = ['must be relative: it must stay inside the working directory', 'must stay inside the working directory (no ".." segments)'] as const;

function pathProblem(p: string): string | undefined {
  if (p === '') return undefined; // said by min(1)
  if (p.includes('\0')) return 'must not contain NUL bytes';
  if (p.startsWith('/')) return PATH_ESCAPES[0];
  const segments = p.split('/');
  if (segments.includes('..')) return PATH_ESCAPES[1];
  if (segments.some((seg) => seg === '' || seg === '.')) return 'must not contain empty or "." segments (one spelling per file)';
  if (segments.some((seg) => Buffer.byteLength(seg) > MAX_SEGMENT_BYTES)) return `must have segments of at most ${MAX_SEGMENT_BYTES} bytes (NAME_MAX)`;
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) return `must be at most ${MAX_PATH_BYTES} bytes`;
  return undefined;
}

export const taskFileSchema = z.object({
  path: relativePathSchema,
  content: z.string(),
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
  /** Permission bits (e.g. 493 = 0o755); set-id and sticky bits are not allowed. */
  mode: z.number().int().min(0).max(0o777).optional(),
});

export type TaskFile = z.output<typeof taskFileSchema>;

/**
 * A session a task runs in (README, "Sessions"): its id alone, or the id with an idle timeout and a
 * lifetime that may only lower the executor's (EXECUTOR_SESSION_IDLE_MS, _LIFETIME_MS).
 */
export const sessionRefSchema = z.union([
  taskIdSchema,
  z.object({ id: taskIdSchema, idleMs: positiveInt.optional(), lifetimeMs: positiveInt.optional() }),
]);

export const taskSchema = z.object({
  id: taskIdSchema,
  runtime: z.string({ required_error: 'runtime is required' }).min(1),
  code: z
    .string({ required_error: 'code is required', invalid_type_error: 'code must be a string' })
    .refine((c) => Buffer.byteLength(c) <= MAX_CODE_BYTES, `code must be at most ${MAX_CODE_BYTES} bytes`),
  stdin: z.string().optional(),
  args: z.array(noNul('args')).max(1024).optional(),
  files: z.array(taskFileSchema).max(10_000).optional(),
  /** Epoch ms after which a still-queued task is answered `expired` instead of run. */
  deadline: z.number().int().positive().optional(),
  /** The session to run in, as its next cell (opened by the first task that names it). */
  session: sessionRefSchema.optional(),
  /** W3C trace context, carried into the logs and the result entries. */
  traceparent: z
    .string()
    .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'traceparent must be a W3C trace context (00-<32 hex>-<16 hex>-<2 hex>)')
    .optional(),
  env: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names must match [A-Za-z_][A-Za-z0-9_]*'),
      noNul('env values'),
    )
    .optional(),
  limits: z
    .object({
      wallMs: positiveInt.optional(),
      cpuMs: positiveInt.optional(),
      outputBytes: positiveInt.optional(),
      memoryBytes: positiveInt.optional(),
      processes: positiveInt.optional(),
      openFiles: positiveInt.optional(),
      fileSizeBytes: positiveInt.optional(),
    })
    .optional(),
});

export type Task = z.output<typeof taskSchema>;

export interface SessionRef {
  id: string;
  idleMs?: number;
  lifetimeMs?: number;
}

/** The session a task names, in its one form; undefined when it names none. */
export function sessionOf(task: Pick<Task, 'session'>): SessionRef | undefined {
  const s = task.session;
  return typeof s === 'string' ? { id: s } : s;
}
/** What a caller may submit: a task whose id the client may fill in. */
export type TaskInput = Omit<Task, 'id'> & { id?: string };
