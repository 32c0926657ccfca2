// The exit of a snippet's first process, as its init saw it. Should the init die before it could
// say (killed from outside), the snippet died with it: SIGKILL.
import type { ProcessExit, RunInit } from '../sandbox/run-init.js';

export async function snippetExit(init: RunInit, rootExited: Promise<ProcessExit>): Promise<ProcessExit> {
  const main = await Promise.race([init.main, rootExited.then(() => init.main)]);
  return main ?? { code: null, signal: 'SIGKILL' };
}
