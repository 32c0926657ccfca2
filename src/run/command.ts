// What a run executes: argv from the runtime profile, and the snippet's variables built from
// scratch. The daemon's own environment (which holds the Redis URL) is never passed on.
import type { RuntimeProfile } from '../runtimes/schema.js';
import { DISPLAY_PLACEHOLDER, DISPLAY_TOKEN_ENV, FILE_PLACEHOLDER } from '../runtimes/schema.js';
import type { Task } from '../task/schema.js';

export function buildArgv(profile: RuntimeProfile, codeFile: string, args: readonly string[] = []): string[] {
  return [...profile.command.map((a) => (a === FILE_PLACEHOLDER ? codeFile : a)), ...args];
}

/**
 * The snippet's environment variables: the runtime's, its display variables (when `displayDir` is
 * given and they apply), then the task's, over a minimal base.
 */
export function buildVars(opts: {
  profile: RuntimeProfile;
  task: Pick<Task, 'env'>;
  home: string;
  path: string;
  displayDir?: string;
}): Record<string, string> {
  return {
    PATH: opts.path,
    HOME: opts.home,
    LANG: 'C.UTF-8',
    ...opts.profile.env,
    ...(opts.displayDir === undefined ? {} : displayVars(opts.profile, opts.task, opts.displayDir)),
    ...opts.task.env,
  };
}

/**
 * The profile's display variables for `task`, `{display}` replaced; none when the profile has
 * none or the task sets any of them: half a set (a backend named but its folder not on the path)
 * would break the library that reads them, and a task that sets one has chosen its own.
 */
export function displayVars(profile: RuntimeProfile, task: Pick<Task, 'env'>, displayDir: string): Record<string, string> {
  if (!profile.display || !displaysApply(profile, task)) return {};
  return Object.fromEntries(Object.entries(profile.display.env).map(([k, v]) => [k, v.replaceAll(DISPLAY_PLACEHOLDER, displayDir)]));
}

/** Whether `task` gets the profile's display variables (it sets none of them, nor the token's). */
export function displaysApply(profile: RuntimeProfile, task: Pick<Task, 'env'>): boolean {
  return profile.display !== undefined && [...Object.keys(profile.display.env), DISPLAY_TOKEN_ENV].every((k) => task.env?.[k] === undefined);
}
