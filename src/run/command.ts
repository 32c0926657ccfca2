// What a run executes: argv from the runtime profile, and an environment built from scratch.
// The daemon's own environment (which holds the Redis URL) is never passed on.
import type { RuntimeProfile } from '../runtimes/schema.js';
import { FILE_PLACEHOLDER } from '../runtimes/schema.js';
import type { IsolationPlan } from '../sandbox/launcher.js';
import type { Task } from '../task/schema.js';
import type { EffectiveLimits } from '../protocol/result.js';
import type { RunEnvironment } from './run.js';

export function buildArgv(profile: RuntimeProfile, codeFile: string, args: readonly string[] = []): string[] {
  return [...profile.command.map((a) => (a === FILE_PLACEHOLDER ? codeFile : a)), ...args];
}

export function buildEnv(opts: {
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

/** How the launcher isolates a run of `profile` in this executor's environment. */
export function isolationPlan(env: RunEnvironment, profile: RuntimeProfile, limits: EffectiveLimits): IsolationPlan {
  return {
    identity: env.identity,
    capabilities: env.capabilities,
    network: env.network || profile.network,
    mountTable: env.mountTable,
    privateDirs: env.privateDirs,
    addressSpaceBytes: env.addressSpaceBytes,
    limits,
  };
}
