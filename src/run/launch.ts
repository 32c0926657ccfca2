// The first phase of a run: the task's files in the interpreter's scratch directory, then its code
// started. Nothing of the snippet has run when this fails.
import { randomBytes } from 'node:crypto';
import { ERROR_CODES, ExecutorError } from '../errors.js';
import { notRunResult } from '../protocol/result.js';
import { DISPLAY_TOKEN_ENV } from '../runtimes/schema.js';
import type { RunContext } from '../sandbox/types.js';
import { writeInputFiles } from '../workspace/input-files.js';
import { buildVars, displaysApply } from './command.js';
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
  // A token of its own per run, so that output which merely contains a frame (another run's, say)
  // is not taken for one; the snippet may know it (a display it forges is its own output).
  const displayToken = displaysApply(profile, task) ? randomBytes(16).toString('hex') : undefined;
  const vars = {
    ...buildVars({ profile, task, home: scratch.path, path: ctx.sandboxPath, displayDir: ctx.displayDir }),
    ...(displayToken ? { [DISPLAY_TOKEN_ENV]: displayToken } : {}),
  };
  const launched = await interpreter.launch({ codeFile, args: task.args ?? [], vars, stdin: task.stdin });
  return typeof launched === 'string' ? { result: notRunResult('internal_error', launched) } : { ...launched, displayToken };
}
