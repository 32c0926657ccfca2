// The gVisor tests' entry: whether runsc can run here, and runs under it (dev/gvisor.ts).
import { execFileSync } from 'node:child_process';
import { runInRunsc, type GvisorRun } from '../../dev/gvisor.js';
import { isRoot } from './env.js';

export { EXECUTOR_CAPABILITIES, runInRunsc, type GvisorOptions, type GvisorRun } from '../../dev/gvisor.js';

export const gvisorAvailable = (() => {
  if (!isRoot) return { skip: true, reason: 'needs root' };
  try {
    execFileSync('runsc', ['--version'], { stdio: 'ignore' });
    return { skip: false, reason: '' };
  } catch {
    return { skip: true, reason: 'runsc is not installed (apt-get install runsc)' };
  }
})();
if (gvisorAvailable.skip && process.env.CI === 'true') {
  throw new Error(`CI=true but the gVisor tests cannot run: ${gvisorAvailable.reason}`);
}

/** Run `args` under runsc; paths in the repository are mapped to /repo (see insideSandbox). */
export async function runInGvisor(args: string[], env: Record<string, string>, cwd: string, timeoutMs: number): Promise<GvisorRun> {
  return runInRunsc(args, { env, cwd, timeoutMs });
}
