// What a valid task must also satisfy before it may run here: the checks that need the runtime's
// profile, the effective limits or the machine. A task that fails one is answered `rejected`
// before anything starts. Each check stands for a failure that would otherwise come only after
// the run had begun — blamed on the snippet, on the executor (`internal_error`), or on a dirty
// sandbox — and some only on a fresh start, never through a warm standby: a task must not pass
// or fail depending on which it got.
import fs from 'node:fs';
import { MIN_OPEN_FILES, type EffectiveLimits } from '../protocol/result.js';
import type { RuntimeProfile } from '../runtimes/schema.js';
import { checkInputFiles } from '../workspace/input-files.js';
import type { Task } from '../task/schema.js';


/** MAX_ARG_STRLEN (32 pages) less the NUL: the longest single argument or NAME=value exec takes. */
export const MAX_EXEC_STRING_BYTES = 131_071;

/** Room kept for what the launcher adds to the largest exec: its script, tools' arguments, paths. */
export const LAUNCHER_EXEC_RESERVE_BYTES = 64 * 1024;

export interface AdmissionOptions {
  /** EXECUTOR_FILES_BYTES. */
  filesBytes: number;
}

export function admissionProblem(task: Task, profile: RuntimeProfile, limits: EffectiveLimits, opts: AdmissionOptions): string | undefined {
  return (
    checkInputFiles(task.files ?? [], opts.filesBytes, [profile.file]) ??
    openFilesProblem(limits.openFiles) ??
    execStringsProblem(task.env ?? {}, task.args ?? [])
  );
}

function openFilesProblem(openFiles: number): string | undefined {
  if (openFiles >= MIN_OPEN_FILES) return undefined;
  return `limits.openFiles: ${openFiles} is below ${MIN_OPEN_FILES}, the fewest descriptors with which every runtime's launcher and interpreter can start`;
}

/**
 * The task's env and args become exec strings of the launcher and of the interpreter (a standby
 * takes them over a pipe instead, but must refuse the same tasks a fresh start would fail).
 */
function execStringsProblem(env: Readonly<Record<string, string>>, args: readonly string[]): string | undefined {
  const limit = `over ${MAX_EXEC_STRING_BYTES}, the kernel's limit for one exec string (MAX_ARG_STRLEN)`;
  // Each string costs its bytes, its NUL and one pointer in the new program's argv or envp.
  let total = 0;
  for (const [name, value] of Object.entries(env)) {
    const bytes = Buffer.byteLength(name) + 1 + Buffer.byteLength(value);
    if (bytes > MAX_EXEC_STRING_BYTES) return `env.${name}: ${name}=... is ${bytes} bytes, ${limit}`;
    total += bytes + 1 + 8;
  }
  for (const [i, arg] of args.entries()) {
    const bytes = Buffer.byteLength(arg);
    if (bytes > MAX_EXEC_STRING_BYTES) return `args.${i}: ${bytes} bytes, ${limit}`;
    total += bytes + 1 + 8;
  }
  const { argMax, budget } = execBudget();
  if (total <= budget) return undefined;
  return `env and args: ${total} bytes, over the ${budget} bytes one exec can carry here (the kernel's ${argMax}, a quarter of the stack rlimit, less ${LAUNCHER_EXEC_RESERVE_BYTES} kept for the launcher; each string counts with its NUL and an 8-byte pointer)`;
}

let cachedBudget: { argMax: number; budget: number } | undefined;

/**
 * What the kernel lets one execve carry in argv + envp: a quarter of RLIMIT_STACK, at most
 * 6 MiB, at least 128 KiB (fs/exec.c). The launcher inherits the daemon's stack rlimit.
 */
export function execBudget(): { argMax: number; budget: number } {
  if (cachedBudget) return cachedBudget;
  const stack = stackRlimit();
  const argMax = Math.max(Math.min(stack / 4, 6 * 1024 * 1024), 128 * 1024);
  cachedBudget = { argMax, budget: argMax - LAUNCHER_EXEC_RESERVE_BYTES };
  return cachedBudget;
}

function stackRlimit(): number {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max stack size'));
    const soft = line?.slice('Max stack size'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return Infinity;
    if (soft !== undefined && /^\d+$/.test(soft)) return Number(soft);
  } catch {
    // no /proc: assume the usual default
  }
  return 8 * 1024 * 1024;
}
