// An interpreter started for its task: a new scratch directory, then the runtime's command
// through the launcher once the task's files are in place.
import fs from 'node:fs';
import path from 'node:path';
import type { EffectiveLimits } from '../protocol/result.js';
import type { RuntimeProfile } from '../runtimes/schema.js';
import { isolationPlan } from '../sandbox/launcher.js';
import type { RunContext } from '../sandbox/types.js';
import { OUT_DIR } from '../workspace/artifacts.js';
import { createScratch } from '../workspace/scratch.js';
import { buildArgv } from './command.js';
import type { Interpreter } from './interpreter.js';
import { spawnIsolated } from './spawn.js';

/** A fresh interpreter for `profile`, or why there cannot be one. */
export async function freshInterpreter(ctx: RunContext, profile: RuntimeProfile, limits: EffectiveLimits): Promise<Interpreter | string> {
  // A runtime that cannot start is the image's fault, not the snippet's, and leaves nothing
  // behind to sweep: report it and keep the executor going.
  if (findOnPath(profile.command[0]!, ctx.sandboxPath) === undefined) return `cannot start runtime "${profile.name}": ${profile.command[0]} not found on ${ctx.sandboxPath}`;
  const scratch = await createScratch(ctx.workDir, ctx.identity);
  try {
    await scratch.makeDir(OUT_DIR);
  } catch (err) {
    await scratch.remove().catch(() => undefined);
    throw err;
  }
  return {
    standby: false,
    scratch,
    async launch(task) {
      const started = await spawnIsolated({
        argv: buildArgv(profile, task.codeFile, task.args),
        vars: task.vars,
        plan: isolationPlan(ctx, profile, limits),
        cwd: scratch.path,
        stdin: task.stdin ?? '',
      });
      if ('failure' in started) return `cannot start runtime "${profile.name}" (${profile.command[0]}): ${started.failure}`;
      return { ...started, startupCpuMs: 0 };
    },
    release: () => scratch.remove(),
  };
}

function findOnPath(command: string, searchPath: string): string | undefined {
  const candidates = command.includes('/') ? [command] : searchPath.split(':').map((dir) => path.join(dir, command));
  return candidates.find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}
