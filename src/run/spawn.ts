// Start a snippet's first process with execa: in its scratch directory, through the sandbox
// launcher (which switches to the sandbox user and sets the run's environment), in a session of its own
// (so the tree can be signalled as a group), stdout and stderr piped raw (Buffers, no
// re-encoding). stdin is always a pipe, ended after the task's stdin (if any), so that a fresh
// interpreter and a standby one (whose stdin only arrives with its task) see the same kind of file.
import os from 'node:os';
import type { Readable } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { LAUNCHER_ENV, SNIPPET_NICE, statusFd, usesPidNamespace, wrapCommand, type IsolationPlan } from '../sandbox/launcher.js';
import { RunInit } from '../sandbox/run-init.js';
import type { ProcessExit } from '../sandbox/types.js';

export interface SpawnRequest {
  argv: string[];
  cwd: string;
  /** The environment of the launcher (LAUNCHER_ENV), not the snippet's variables: those are in argv. */
  env: Readonly<Record<string, string>>;
  /** The task's stdin, written now; `undefined` leaves stdin open for the caller (a standby's handoff). */
  stdin: string | undefined;
  /** Also open descriptor 3, a socket to the process (a standby's handoff channel). */
  handoff?: boolean;
  /** Also open this descriptor (after the handoff's), for the run's init to report on. */
  statusFd?: number;
  /** Set its CPU priority from here: only without a run init, which sets it for the whole run itself. */
  nice?: number;
}


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
  if (child.pid !== undefined && req.nice !== undefined) {
    try {
      os.setPriority(child.pid, req.nice);
    } catch {
      // already gone, or not permitted here: budgets still apply, only less promptly under load
    }
  }
  // A snippet that exits without reading its stdin makes the write fail with EPIPE: not an error.
  child.stdin?.on('error', () => undefined);
  if (req.stdin !== undefined) child.stdin?.end(req.stdin);
  return child;
}

/** A snippet's processes as the daemon sees them once its launcher has started. */
export interface Spawned {
  child: Snippet;
  /** The run's init (dedicated sandbox users): it reports the snippet's own exit. */
  init: RunInit | undefined;
  /** The snippet's first process's exit. */
  exited: Promise<ProcessExit>;
  /** The daemon's own child's exit: with an init, the whole run is reaped by then. */
  rootExited: Promise<ProcessExit>;
}

/**
 * Start `argv` through the launcher, isolated as `plan` says, with the snippet's variables
 * `vars`; with a dedicated user, under a run init of its own. Returns why instead when it cannot
 * start (execa's short message).
 */
export async function spawnIsolated(req: {
  argv: readonly string[];
  vars: Readonly<Record<string, string>>;
  plan: IsolationPlan;
  cwd: string;
  stdin: string | undefined;
  handoff?: boolean;
}): Promise<Spawned | { failure: string }> {
  const dedicated = req.plan.identity.mode === 'dedicated';
  const fd = statusFd(req.plan);
  const child = spawnSnippet({
    argv: wrapCommand(req.argv, req.vars, req.plan),
    cwd: req.cwd,
    env: LAUNCHER_ENV,
    stdin: req.stdin,
    handoff: req.handoff,
    statusFd: dedicated ? fd : undefined,
    // A dedicated user's run gets its priority from its init (plan.nice); a shared one from here.
    nice: dedicated ? undefined : (req.plan.nice ?? SNIPPET_NICE),
  });
  const rootExited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const status = child.stdio[fd] as Readable | undefined;
  if (child.pid === undefined || (dedicated && !status)) {
    const failed = await child;
    return { failure: String(failed.shortMessage ?? failed.message) };
  }
  const init = dedicated ? new RunInit(status!, usesPidNamespace(req.plan)) : undefined;
  return { child, init, exited: init ? init.exit : rootExited, rootExited };
}
