// Start a snippet's first process with execa: in its scratch directory, through the sandbox
// launcher (which switches to the sandbox user and sets the run's environment), in a session of its own
// (so the tree can be signalled as a group), stdout and stderr piped raw (Buffers, no
// re-encoding). stdin is always a pipe, ended after the task's stdin (if any), so that a fresh
// interpreter and a standby one (whose stdin only arrives with its task) see the same kind of file.
import os from 'node:os';
import { execa, type ResultPromise } from 'execa';

export interface SpawnRequest {
  argv: string[];
  cwd: string;
  /** The environment of the launcher (LAUNCHER_ENV), not the snippet's: that one is in argv. */
  env: Readonly<Record<string, string>>;
  /** The task's stdin, written now; `undefined` leaves stdin open for the caller (a standby's handoff). */
  stdin: string | undefined;
  /** Also open descriptor 3, a socket to the process (a standby's handoff channel). */
  handoff?: boolean;
  /** Also open this descriptor (after the handoff's), for the run's init to report on. */
  statusFd?: number;
}

// Snippets run at a lower priority than the daemon, so that a tree of CPU burners cannot starve
// the timers and samplers that enforce its budgets. Children inherit it.
const SNIPPET_NICE = 10;

export type Snippet = ResultPromise<{ buffer: false; encoding: 'buffer'; reject: false }>;

export function spawnSnippet(req: SpawnRequest): Snippet {
  const [file, ...args] = req.argv as [string, ...string[]];
  const child = execa(file, args, {
    cwd: req.cwd,
    env: req.env,
    extendEnv: false,
    stdio: ['pipe', 'pipe', 'pipe', ...Array.from({ length: Math.max(req.handoff ? 1 : 0, (req.statusFd ?? 0) - 2) }, () => 'pipe' as const)],
    detached: true,
    buffer: false,
    encoding: 'buffer',
    reject: false,
    // The run's own termination handles every kill; execa's would only reach the first process.
    cleanup: false,
    windowsHide: true,
  }) as Snippet;
  if (child.pid !== undefined) {
    try {
      os.setPriority(child.pid, SNIPPET_NICE);
    } catch {
      // already gone, or not permitted here: budgets still apply, only less promptly under load
    }
  }
  // A snippet that exits without reading its stdin makes the write fail with EPIPE: not an error.
  child.stdin?.on('error', () => undefined);
  if (req.stdin !== undefined) child.stdin?.end(req.stdin);
  return child;
}
