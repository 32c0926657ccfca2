// A session's interpreter: a kernel (docs/session-kernel.md) started exactly as a fresh run's
// interpreter is (same launcher, user, rlimits, namespaces, run init, a new scratch directory as
// cwd and HOME), with a socket on fd 3 over which it is given cells. It lives until the session
// ends; then it is ended and swept like a run (run/terminate.ts, run/sweep.ts).
import type { Duplex, Readable } from 'node:stream';
import type { EffectiveLimits } from '../protocol/result.js';
import { buildVars } from '../run/command.js';
import { cpuMeter, type CpuMeter } from '../run/cpu-meter.js';
import { trackProcesses, type RunProcesses } from '../run/processes.js';
import { spawnIsolated, type Snippet } from '../run/spawn.js';
import { sweepRun, type Swept } from '../run/sweep.js';
import { terminateRun } from '../run/terminate.js';
import { SESSION_PLACEHOLDER, type RuntimeProfile } from '../runtimes/schema.js';
import { isolationPlan } from '../sandbox/launcher.js';
import { signalPid } from '../sandbox/process-scope.js';
import type { ProcessExit, RunContext } from '../sandbox/types.js';
import type { Task } from '../task/schema.js';
import { withTimeout } from '../util/timeout.js';
import { OUT_DIR } from '../workspace/artifacts.js';
import { createScratch, type Scratch } from '../workspace/scratch.js';
import { KernelLink, type KernelEvent } from './kernel-link.js';

export class SessionInterpreter {
  /** Where the kernel's events go; set by whoever runs the current cell. */
  onEvent: (e: KernelEvent) => void = () => undefined;
  private exit: ProcessExit | undefined;

  private constructor(
    readonly scratch: Scratch,
    readonly child: Snippet,
    readonly processes: RunProcesses,
    readonly link: KernelLink,
    readonly meter: CpuMeter,
    /** The kernel's own process (the one a cell runs in), in the daemon's PID namespace, and its group. */
    private readonly kernel: { pid: number; pgid: number } | undefined,
    /** The kernel's exit: the session is over. */
    readonly exited: Promise<ProcessExit>,
    private readonly ctx: RunContext,
  ) {
    void exited.then((e) => (this.exit = e));
  }

  /**
   * Start a kernel for the session `task` opens, ready for its first cell; or why not. `limits`
   * are the session's (memory, processes, open files, file size hold for all of it).
   */
  static async start(ctx: RunContext, profile: RuntimeProfile, task: Task, limits: EffectiveLimits, kernelsDir: string, bootMs: number): Promise<SessionInterpreter | string> {
    if (!profile.session) return `runtime "${profile.name}" has no sessions`;
    const scratch = await createScratch(ctx.workDir, ctx.identity);
    let started: Awaited<ReturnType<typeof spawnIsolated>> | undefined;
    try {
      await scratch.makeDir(OUT_DIR);
      const argv = [...profile.session.command.map((a) => a.replaceAll(SESSION_PLACEHOLDER, kernelsDir)), ...(task.args ?? [])];
      const vars = { ...buildVars({ profile, task, home: scratch.path, path: ctx.sandboxPath, displayDir: ctx.displayDir }), EXECUTOR_SESSION_FD: '3' };
      started = await spawnIsolated({ argv, vars, plan: { ...isolationPlan(ctx, profile, limits), keepHandoffFd: true }, cwd: scratch.path, stdin: '', handoff: true });
      const channel = 'failure' in started ? undefined : (started.child.stdio[3] as Duplex | undefined);
      if ('failure' in started || !channel) {
        await scratch.remove();
        return `cannot start a ${profile.name} session: ${'failure' in started ? started.failure : 'no channel'}`;
      }
      const processes = await trackProcesses({ ...started, startupCpuMs: 0 }, ctx.identity);
      if (typeof processes === 'string') {
        await scratch.remove();
        return processes;
      }
      let forward: (e: KernelEvent) => void = () => undefined;
      const link = new KernelLink({ stdout: started.child.stdout as Readable, stderr: started.child.stderr as Readable, channel }, (e) => forward(e));
      const meter = cpuMeter(processes.initPid, 0, processes.init?.pidNamespace === true || ctx.capabilities.kind !== 'gvisor');
      const ready = await withTimeout(link.ready, bootMs, 'the kernel did not start in time').then(() => undefined, (err: Error) => err.message);
      const kernel = ready === undefined ? await findKernel(processes) : undefined;
      const session = new SessionInterpreter(scratch, started.child, processes, link, meter, kernel, started.exited, ctx);
      forward = (e) => session.onEvent(e);
      if (ready !== undefined) {
        await session.end();
        return `cannot start a ${profile.name} session: ${ready}`;
      }
      return session;
    } catch (err) {
      await scratch.remove().catch(() => undefined);
      throw err;
    }
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** How the kernel exited, once it has. */
  get exitStatus(): ProcessExit | undefined {
    return this.exit;
  }

  /**
   * Interrupt the running cell (docs/session-kernel.md), as Ctrl-C in a terminal would: SIGINT,
   * from root, to the sandbox user's processes in the kernel's process group (the foreground of a
   * bash cell included; bash's background jobs ignore it). The group is never signalled as a
   * whole: root's launcher and init share it.
   */
  async interrupt(): Promise<void> {
    if (this.kernel === undefined || !this.alive) return;
    const { pid, pgid } = this.kernel;
    const members = await this.processes.scope.members().catch(() => []);
    for (const p of members) if (p.pgid === pgid || p.pid === pid) signalPid(p.pid, 'SIGINT');
  }

  private ending: Promise<Swept> | undefined;
  private killing: Promise<void> | undefined;

  /**
   * End every process of the session now (a limit ended it), keeping its directory for the
   * running cell's artifacts; the sweep comes with end().
   */
  kill(): Promise<void> {
    this.killing ??= terminateRun(this.processes, this.exited, this.ctx.killGraceMs, this.ctx.identity.mode === 'shared');
    return this.killing;
  }

  /** End the session: the kernel told to exit, then the whole run ended and swept like a run's. */
  end(graceMs = 0): Promise<Swept> {
    this.ending ??= (async () => {
      this.link.close();
      const { processes, ctx } = this;
      // Given a moment to leave on its own after its channel closed; then ended like a run.
      await withTimeout(this.exited, Math.max(graceMs, 1), 'still running').catch(() => undefined);
      await (this.killing ?? terminateRun(processes, this.exited, ctx.killGraceMs, ctx.identity.mode === 'shared'));
      const swept = await sweepRun(processes, ctx, this.scratch.path);
      this.child.stdout?.destroy();
      this.child.stderr?.destroy();
      await this.scratch.remove();
      return swept;
    })();
    return this.ending;
  }
}

// The kernel is the run init's first child: the oldest process of the run whose parent is the
// init (with no init, the launcher's own pid is the kernel's after its execs).
async function findKernel(run: RunProcesses): Promise<{ pid: number; pgid: number } | undefined> {
  const members = await run.scope.members();
  const kernel = run.initPid === undefined ? members.find((p) => p.pid === run.rootPid) : members.filter((p) => p.ppid === run.initPid).sort((a, b) => a.startTicks - b.startTicks)[0];
  return kernel && { pid: kernel.pid, pgid: kernel.pgid };
}
