// What a run executes: argv from the runtime profile, and the snippet's variables built from
// scratch. The daemon's own environment (which holds the Redis URL) is never passed on.
import type { RuntimeProfile } from '../runtimes/schema.js';
import { FILE_PLACEHOLDER } from '../runtimes/schema.js';
import type { Task } from '../task/schema.js';

export function buildArgv(profile: RuntimeProfile, codeFile: string, args: readonly string[] = []): string[] {
  return [...profile.command.map((a) => (a === FILE_PLACEHOLDER ? codeFile : a)), ...args];
}

/** The snippet's environment variables: the runtime's, then the task's, over a minimal base. */
export function buildVars(opts: {
  profile: RuntimeProfile;
  task: Pick<Task, 'env'>;
  home: string;
  path: string;
}): Record<string, string> {
  return {
    PATH: opts.path,
    HOME: opts.home,
    LANG: 'C.UTF-8',
    ...opts.profile.env,
    ...opts.task.env,
  };
}
