// A standby interpreter: started ahead of time exactly as a fresh run would be (same launcher, so
// the same user, rlimits, namespaces and clean environment; cwd and HOME its own new scratch
// directory; argv ending in the code file's path), but with a bootstrap that blocks before the
// code file is read. A task is handed over on descriptor 3; the interpreter then runs the file as
// if it had just started. One task per standby, then it is swept like any run.
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { EffectiveLimits } from '../protocol/result.js';
import { buildArgv, buildVars, displaysApply } from '../run/command.js';
import { cpuSoFar } from '../run/cpu-meter.js';
import type { Interpreter, Launched, TaskStart } from '../run/interpreter.js';
import { spawnIsolated, type Snippet } from '../run/spawn.js';
import { DISPLAY_PLACEHOLDER, STANDBY_PLACEHOLDER, type RuntimeProfile } from '../runtimes/schema.js';
import { isolationPlan, rlimitCommands, SNIPPET_NICE } from '../sandbox/launcher.js';
import { createProcessScope } from '../sandbox/process-scope.js';
import type { RunInit } from '../sandbox/run-init.js';
import type { ProcessExit, RunContext } from '../sandbox/types.js';
import type { Task } from '../task/schema.js';
import { OUT_DIR } from '../workspace/artifacts.js';
import { createScratch, type Scratch } from '../workspace/scratch.js';

/** Variables every runtime reads only while starting, whatever its profile says. */
const STARTUP_ENV = ['PATH', 'HOME', 'LD_*', 'GLIBC_TUNABLES', 'MALLOC_*'];

// A standby starts at the lowest priority: it may start while a run executes (in the other slot),
// and must not slow that run. It gets a run's priority back before its task is handed over.
const STANDBY_NICE = 19;

/** The handoff's last field (see the bootstraps). */
const HANDOFF_END = '.end';

export class Standby implements Interpreter {
  readonly standby = true;
  private exit: ProcessExit | undefined;
  private handed = false;

  private constructor(
    /** The runtime it is a standby of (its profile has a standby section). */
    readonly profile: RuntimeProfile,
    readonly child: Snippet,
    readonly pid: number,
    /** The run's init (see sandbox/run-init.ts). */
    readonly init: RunInit,
    /** Its processes, known once it is ready. */
    private readonly pids: readonly number[],
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

  /** Start a standby for `profile` (which must have a standby section), ready once `ready` resolves. */
  static async boot(profile: RuntimeProfile, ctx: RunContext, limits: EffectiveLimits, bootstrapsDir: string): Promise<Standby> {
    const standby = profile.standby;
    if (!standby) throw new Error(`runtime ${profile.name} has no standby bootstrap`);
    if (ctx.identity.mode !== 'dedicated') throw new Error('standby interpreters need a dedicated sandbox user');
    const scratch = await createScratch(ctx.workDir, ctx.identity);
    try {
      await scratch.makeDir(OUT_DIR);
      const plan = { ...isolationPlan(ctx, profile, limits), keepHandoffFd: true, nice: STANDBY_NICE };
      const bootVars: Record<string, string> = {
        ...buildVars({ profile, task: {}, home: scratch.path, path: ctx.sandboxPath, displayDir: ctx.displayDir }),
        ...Object.fromEntries(Object.entries(standby.env).map(([k, v]) => [k, v.replaceAll(STANDBY_PLACEHOLDER, bootstrapsDir).replaceAll(DISPLAY_PLACEHOLDER, ctx.displayDir)])),
        EXECUTOR_STANDBY_FD: '3',
      };
      const started = await spawnIsolated({
        argv: buildArgv(profile, path.join(scratch.path, profile.file)),
        vars: bootVars,
        plan,
        cwd: scratch.path,
        stdin: undefined,
        handoff: true,
      });
      const channel = 'failure' in started ? undefined : (started.child.stdio[3] as Duplex | undefined);
      if ('failure' in started || !channel) {
        const why = 'failure' in started ? started.failure : (await started.child).shortMessage;
        throw new Error(`cannot start a standby ${profile.name}: ${why}`);
      }
      const { child, exited, rootExited } = started;
      // A dedicated user's run always has its init (spawnIsolated).
      const init = started.init!;
      const pid = child.pid!;
      channel.on('error', () => undefined);
      const scope = createProcessScope(ctx.identity, pid);
      // Its processes once it waits (read then, off the handoff's path), to get their priority back.
      const pids: number[] = [];
      const ready = new Promise<number>((resolve, reject) => {
        channel.once('data', () => {
          // Blocked on its handoff from here on: what it used so far is start-up, not the task's.
          void init.pid
            .then(async (initPid) => {
              const members = await scope.members();
              pids.push(...members.map((p) => p.pid));
              return cpuSoFar(initPid, async () => members);
            })
            .then(resolve, () => resolve(0));
        });
        void exited.then((e) => reject(new Error(`the standby ${profile.name} exited before it was ready (code ${e.code}, signal ${e.signal})`)));
      });
      ready.catch(() => undefined);
      return new Standby(profile, child, pid, init, pids, scratch, rlimitCommands(plan).join(' '), channel, ready, exited, rootExited);
    } catch (err) {
      await scratch.remove().catch(() => undefined);
      throw err;
    }
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /**
   * Whether this standby can run `task` exactly as a fresh interpreter would: the same rlimits,
   * and no variable in the task's env that the interpreter reads only while starting.
   */
  fits(task: Task, limits: EffectiveLimits, ctx: RunContext): boolean {
    const rlimits = rlimitCommands({ limits, identity: ctx.identity, addressSpaceBytes: ctx.addressSpaceBytes }).join(' ');
    if (rlimits !== this.rlimits) return false;
    // PATH and HOME are read at start-up by every runtime (which interpreter runs, user site and
    // module folders), and so are the dynamic loader's and glibc's variables by every dynamically
    // linked program (LD_PRELOAD, GLIBC_TUNABLES, MALLOC_ARENA_MAX...): a task that sets one gets
    // the fresh start that honours it.
    // It started with the display variables (PYTHONPATH among them): a task that gets none must
    // start without them.
    if (this.profile.display && !displaysApply(this.profile, task)) return false;
    const patterns = [...STARTUP_ENV, ...(this.profile.standby?.startupEnv ?? [])];
    return Object.keys(task.env ?? {}).every((name) => !patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p)));
  }

  /**
   * Hand the task over once the standby is ready: its stdin, then its arguments and complete
   * environment. The code and input files are already in the scratch directory.
   */
  async launch(task: TaskStart): Promise<Launched> {
    const startupCpuMs = await this.ready;
    // A run's priority, as a fresh interpreter has it, before any of the task is its to run (its
    // processes: the init, root's, keeps its own, as a fresh run's does).
    for (const pid of new Set(this.pids)) {
      try {
        os.setPriority(pid, SNIPPET_NICE);
      } catch {
        // gone: the run finds out from its exit
      }
    }
    this.handed = true;
    this.child.stdin?.end(task.stdin ?? '');
    // The last field marks the end: a handoff cut short (the daemon dying mid-write) is refused.
    const fields = [String(task.args.length), ...task.args, ...Object.entries(task.vars).map(([k, v]) => `${k}=${v}`), HANDOFF_END];
    this.channel.end(`${fields.join('\0')}\0`);
    return { child: this.child, init: this.init, exited: this.exited, rootExited: this.rootExited, startupCpuMs };
  }

  /**
   * The run is over: a standby whose task was never handed over (writing the task's files failed)
   * is still waiting, and is retired so that it does not outlive the run; then its scratch
   * directory goes. (A failure to retire it proves nothing clean: it propagates, and the executor
   * stops dirty.)
   */
  async release(): Promise<void> {
    if (!this.handed) await this.retire();
    await this.scratch.remove();
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
