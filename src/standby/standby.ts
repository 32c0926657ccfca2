// A standby interpreter: started ahead of time exactly as a fresh run would be (same launcher, so
// the same user, rlimits, namespaces and clean environment; cwd and HOME its own new scratch
// directory; argv ending in the code file's path), but with a bootstrap that blocks before the
// code file is read. A task is handed over on descriptor 3; the interpreter then runs the file as
// if it had just started. One task per standby, then it is swept like any run.
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { EffectiveLimits } from '../protocol/result.js';
import type { RunEnvironment } from '../run/run.js';
import { buildArgv, buildEnv, isolationPlan } from '../run/command.js';
import { cpuSoFar } from '../run/cpu-meter.js';
import { readProcTable } from '../run/proc-table.js';
import { snippetExit } from '../run/snippet-exit.js';
import { spawnSnippet, type Snippet } from '../run/spawn.js';
import { RunInit, type ProcessExit } from '../sandbox/run-init.js';
import { STANDBY_PLACEHOLDER, type RuntimeProfile } from '../runtimes/schema.js';
import { LAUNCHER_ENV, rlimitCommands, statusFd, usesPidNamespace, wrapCommand } from '../sandbox/launcher.js';
import type { Task } from '../task/schema.js';
import { OUT_DIR } from '../workspace/artifacts.js';
import { createScratch, type Scratch } from '../workspace/scratch.js';

/** Variables every runtime reads only while starting, whatever its profile says. */
const STARTUP_ENV = ['PATH', 'HOME', 'LD_*', 'GLIBC_TUNABLES', 'MALLOC_*'];

/** The handoff's last field (see the bootstraps). */
const HANDOFF_END = '.end';

export type { ProcessExit };

export class Standby {
  private exit: ProcessExit | undefined;
  private handed = false;

  private constructor(
    readonly profile: NonNullable<RuntimeProfile['standby']> & { runtime: string },
    readonly child: Snippet,
    readonly pid: number,
    /** The run's init (see sandbox/run-init.ts). */
    readonly init: RunInit,
    readonly scratch: Scratch,
    /** The rlimits it was started with (see fits()). */
    private readonly rlimits: string,
    private readonly channel: Duplex,
    /** Resolves with the CPU the start-up used (ms) once the bootstrap waits for its task. */
    readonly ready: Promise<number>,
    /** The interpreter's own exit. */
    readonly exited: Promise<ProcessExit>,
    /** The launcher's exit: the whole run is reaped by then. */
    readonly rootExited: Promise<ProcessExit>,
  ) {
    void exited.then((e) => (this.exit = e));
  }

  static async start(profile: RuntimeProfile, env: RunEnvironment, limits: EffectiveLimits, bootstrapsDir: string): Promise<Standby> {
    const standby = profile.standby;
    if (!standby) throw new Error(`runtime ${profile.name} has no standby bootstrap`);
    const scratch = await createScratch(env.workDir, env.identity);
    try {
      await scratch.makeDir(OUT_DIR);
      const plan = { ...isolationPlan(env, profile, limits), keepHandoffFd: true };
      const bootEnv: Record<string, string> = {
        ...buildEnv({ profile, task: {}, home: scratch.path, path: env.sandboxPath }),
        ...Object.fromEntries(Object.entries(standby.env).map(([k, v]) => [k, v.replaceAll(STANDBY_PLACEHOLDER, bootstrapsDir)])),
        EXECUTOR_STANDBY_FD: '3',
      };
      const child = spawnSnippet({
        argv: wrapCommand(buildArgv(profile, path.join(scratch.path, profile.file)), bootEnv, plan),
        cwd: scratch.path,
        env: LAUNCHER_ENV,
        stdin: undefined,
        handoff: true,
        statusFd: statusFd(plan),
      });
      const rootExited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      const channel = child.stdio[3] as Duplex | undefined;
      const status = child.stdio[statusFd(plan)] as Duplex | undefined;
      if (child.pid === undefined || !channel || !status) {
        const failed = await child;
        throw new Error(`cannot start a standby ${profile.name}: ${failed.shortMessage ?? failed.message}`);
      }
      const pid = child.pid;
      const init = new RunInit(status, usesPidNamespace(plan));
      const exited = snippetExit(init, rootExited);
      channel.on('error', () => undefined);
      const uid = env.identity.uid;
      const ready = new Promise<number>((resolve, reject) => {
        channel.once('data', () => {
          // Blocked on its handoff from here on: what it used so far is start-up, not the task's.
          void init.pid
            .then((initPid) => cpuSoFar(initPid, async () => (await readProcTable(uid)).filter((p) => p.alive)))
            .then(resolve, () => resolve(0));
        });
        void exited.then((e) => reject(new Error(`the standby ${profile.name} exited before it was ready (code ${e.code}, signal ${e.signal})`)));
      });
      ready.catch(() => undefined);
      return new Standby({ ...standby, runtime: profile.name }, child, pid, init, scratch, rlimitCommands(plan).join(' '), channel, ready, exited, rootExited);
    } catch (err) {
      await scratch.remove().catch(() => undefined);
      throw err;
    }
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Whether a task has been handed to it (from then on it is a run, swept as one). */
  get handedOver(): boolean {
    return this.handed;
  }

  /**
   * Whether this standby can run `task` exactly as a fresh interpreter would: the same rlimits,
   * and no variable in the task's env that the interpreter reads only while starting.
   */
  fits(task: Task, limits: EffectiveLimits, env: RunEnvironment): boolean {
    const rlimits = rlimitCommands({ limits, identity: env.identity, addressSpaceBytes: env.addressSpaceBytes }).join(' ');
    if (rlimits !== this.rlimits) return false;
    // PATH and HOME are read at start-up by every runtime (which interpreter runs, user site and
    // module folders), and so are the dynamic loader's and glibc's variables by every dynamically
    // linked program (LD_PRELOAD, GLIBC_TUNABLES, MALLOC_ARENA_MAX...): a task that sets one gets
    // the fresh start that honours it.
    const patterns = [...STARTUP_ENV, ...this.profile.startupEnv];
    return Object.keys(task.env ?? {}).every((name) => !patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p)));
  }

  /**
   * Hand the task over: its stdin, then its arguments and complete environment. The code and
   * input files must already be in the scratch directory.
   */
  handOver(args: readonly string[], env: Record<string, string>, stdin: string | undefined): void {
    this.handed = true;
    this.child.stdin?.end(stdin ?? '');
    // The last field marks the end: a handoff cut short (the daemon dying mid-write) is refused.
    const fields = [String(args.length), ...args, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), HANDOFF_END];
    this.channel.end(`${fields.join('\0')}\0`);
  }

  /** End an unused standby: kill it, wait for it, delete its scratch directory. */
  async retire(): Promise<void> {
    if (this.handed) throw new Error('a standby that ran a task is swept as a run, not retired');
    // Once it has exited its pid may belong to someone else: signal only a live standby.
    if (this.alive) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      this.init.kill();
    }
    this.channel.destroy();
    await this.rootExited;
    await this.child;
    await this.scratch.remove();
  }
}
