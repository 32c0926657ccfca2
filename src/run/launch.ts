// The first phase of a run: the task's files in the interpreter's scratch directory, then its code
// started. Nothing of the snippet has run when this fails.
import { ERROR_CODES, ExecutorError } from '../errors.js';
import { notRunResult } from '../protocol/result.js';
import type { RunContext } from '../sandbox/types.js';
import { writeInputFiles } from '../workspace/input-files.js';
import { buildVars } from './command.js';
import type { Interpreter, Launched } from './interpreter.js';
import type { RunReport, RunSpec } from './types.js';

export async function launch(spec: RunSpec, ctx: RunContext, interpreter: Interpreter): Promise<Launched | RunReport> {
  const { task, profile } = spec;
  const { scratch } = interpreter;
  const owner = ctx.identity.mode === 'dedicated' ? { uid: ctx.identity.uid, gid: ctx.identity.gid } : undefined;
  try {
    await writeInputFiles(scratch.path, task.files ?? [], owner);
  } catch (err) {
    // The task's own files cannot be written (admission should have caught it): nothing of the
    // snippet has run, so the task is rejected and the sandbox is as clean as before.
    if (err instanceof ExecutorError && err.code === ERROR_CODES.INPUT_FILES) return { result: notRunResult('rejected', err.message) };
    throw err;
  }
  const codeFile = await scratch.writeFile(profile.file, task.code);
  const vars = buildVars({ profile, task, home: scratch.path, path: ctx.sandboxPath });
  const launched = await interpreter.launch({ codeFile, args: task.args ?? [], vars, stdin: task.stdin });
  return typeof launched === 'string' ? { result: notRunResult('internal_error', launched) } : launched;
}
