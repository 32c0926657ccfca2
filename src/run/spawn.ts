// Start a snippet's first process with execa: in its scratch directory, through the sandbox
// launcher (which switches to the sandbox user), with a clean environment, in a session of its own (so the tree can be signalled as a group),
// stdout and stderr piped raw (Buffers, no re-encoding), stdin from the task or empty.
import { execa, type ResultPromise } from 'execa';

export interface SpawnRequest {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  stdin: string | undefined;
}

export type Snippet = ResultPromise<{ buffer: false; encoding: 'buffer'; reject: false }>;

export function spawnSnippet(req: SpawnRequest): Snippet {
  const [file, ...args] = req.argv as [string, ...string[]];
  const stdin = req.stdin === undefined ? { stdin: 'ignore' as const } : { input: req.stdin };
  return execa(file, args, {
    cwd: req.cwd,
    env: req.env,
    extendEnv: false,
    ...stdin,
    detached: true,
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    encoding: 'buffer',
    reject: false,
    // The run's own termination handles every kill; execa's would only reach the first process.
    cleanup: false,
    windowsHide: true,
  }) as Snippet;
}
