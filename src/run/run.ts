// One run of one snippet, from scratch directory to sweep. Every way a run can end (its own exit,
// the wall budget, the CPU budget, the output cap, a forced shutdown) races here; the first
// reason wins and is the status reported. Cleanup — sweep, then delete — always runs.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import { OutputCoalescer, type OutputKind, type OutputSink } from '../output/coalescer.js';
import { notRunResult, type EffectiveLimits, type ExitResult } from '../protocol/result.js';
import type { RuntimeProfile } from '../runtimes/schema.js';
import type { SandboxIdentity } from '../sandbox/identity.js';
import type { Task } from '../task/schema.js';
import { createScratch } from '../workspace/scratch.js';
import { buildArgv, buildEnv } from './command.js';
import { CpuMeter, cpuOfReapedChildrenMs } from './cpu-meter.js';
import { toExitResult, type TerminationReason } from './outcome.js';
import { createProcessScope } from './process-scope.js';
import { spawnSnippet } from './spawn.js';
import { sweep, terminateRun, type ProcessScopeLeft } from './terminate.js';

export interface RunSpec {
  task: Task;
  profile: RuntimeProfile;
  limits: EffectiveLimits;
}

export interface RunEnvironment {
  identity: SandboxIdentity;
  workDir: string;
  sandboxPath: string;
  killGraceMs: number;
  cpuSampleMs: number;
  logger: Logger;
}

export interface RunHooks {
  /** Receives output chunks in order; its promise settling frees backpressure. */
  output: OutputSink;
  /** Aborting ends the run at once (forced shutdown). */
  signal?: AbortSignal;
}

export interface RunReport {
  result: ExitResult;
  /** Set when processes of the run survived the sweep: the sandbox is dirty. */
  sweepFailure?: string;
}

// Pause the snippet's pipes while this much output is on its way to Redis, so a flood is
// throttled instead of buffered whole in the daemon's memory.
const HIGH_WATER_BYTES = 8 * 1024 * 1024;
// After the first process exits and the rest are killed, the pipes close within moments; this
// bounds the wait should a pipe be held open by something outside the run's scope.
const PIPE_DRAIN_MS = 1000;

export async function executeRun(spec: RunSpec, env: RunEnvironment, hooks: RunHooks): Promise<RunReport> {
  const { task, profile, limits } = spec;
  const log = env.logger;
  const scratch = await createScratch(env.workDir, env.identity);
  const meter = new CpuMeter();
  const timers = new AbortController();
  try {
    const codeFile = await scratch.writeFile(profile.file, task.code);
    const cpuBefore = cpuOfReapedChildrenMs();
    const startedAt = performance.now();
    const child = spawnSnippet({
      argv: buildArgv(profile, codeFile, task.args),
      cwd: scratch.path,
      env: buildEnv({ profile, task, home: scratch.path, path: env.sandboxPath }),
      stdin: task.stdin,
      identity: env.identity,
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    if (child.pid === undefined) {
      // A runtime that cannot start is the image's fault, not the snippet's, and leaves nothing
      // behind to sweep: report it and keep the executor going.
      const failed = await child;
      const why = `cannot start runtime "${profile.name}" (${profile.command[0]}): ${failed.shortMessage ?? failed.message}`;
      return { result: notRunResult('internal_error', why) };
    }
    const rootPid = child.pid;
    const scope = createProcessScope(env.identity, rootPid);
    log.debug({ pid: rootPid, cwd: scratch.path }, 'run spawned');

    let reason: TerminationReason | undefined;
    let mainExited = false;
    let termination: Promise<ProcessScopeLeft> | undefined;
    const end = (why: TerminationReason): void => {
      reason ??= why;
      if (mainExited || termination) return;
      log.info({ reason: why, limits }, 'ending run');
      termination = terminateRun(scope, rootPid, env.killGraceMs);
    };

    // Output: counted against the cap, coalesced, streamed, with backpressure on the pipes.
    const counts = { stdout: 0, stderr: 0 };
    let truncated = false;
    const pipes = [child.stdout, child.stderr];
    const coalescer = new OutputCoalescer(hooks.output, {
      onDrained: () => pipes.forEach((p) => p?.resume()),
    });
    const onData = (kind: OutputKind) => (chunk: Buffer) => {
      if (truncated) return;
      const room = limits.outputBytes - counts.stdout - counts.stderr;
      if (chunk.length > room) {
        chunk = chunk.subarray(0, room);
        truncated = true;
      }
      counts[kind] += chunk.length;
      coalescer.push(kind, chunk);
      if (truncated) end('output_limit');
      else if (coalescer.inFlightBytes > HIGH_WATER_BYTES) pipes.forEach((p) => p?.pause());
    };
    child.stdout?.on('data', onData('stdout'));
    child.stderr?.on('data', onData('stderr'));
    const pipesClosed = Promise.all(
      pipes.map((p) => (p ? new Promise<void>((resolve) => p.once('close', () => resolve())) : Promise.resolve())),
    );

    // Budgets.
    const wallTimer = setTimeout(() => end('timeout'), limits.wallMs);
    timers.signal.addEventListener('abort', () => clearTimeout(wallTimer));
    void sampleCpu(scope, meter, env.cpuSampleMs, limits.cpuMs, timers.signal, () => end('cpu_limit'), log);
    const onAbort = () => end('aborted');
    if (hooks.signal?.aborted) onAbort();
    hooks.signal?.addEventListener('abort', onAbort, { signal: timers.signal });

    const { code, signal } = await exited;
    mainExited = true;
    const wallMs = performance.now() - startedAt;
    timers.abort();

    // The first process is gone; nothing else of the run may outlive it.
    if (termination) await termination;
    const left = await sweep(scope);
    await Promise.race([pipesClosed, delay(PIPE_DRAIN_MS)]);
    pipes.forEach((p) => p?.destroy());
    await child;

    let deliveryError: string | undefined;
    await coalescer.drain().catch((err: Error) => {
      deliveryError = err.message;
    });
    const cpuMs = Math.max(meter.totalMs, cpuOfReapedChildrenMs() - cpuBefore);
    const result = toExitResult({
      reason,
      exitCode: code,
      signal,
      wallMs,
      cpuMs,
      stdoutBytes: counts.stdout,
      stderrBytes: counts.stderr,
      truncated,
      limits,
      deliveryError,
    });
    const sweepFailure =
      left.survivors.length > 0 ? `processes of the run survived the sweep: ${left.survivors.join(', ')}` : undefined;
    return sweepFailure === undefined ? { result } : { result, sweepFailure };
  } finally {
    timers.abort();
    meter.close();
    await scratch.remove();
  }
}

async function sampleCpu(
  scope: ReturnType<typeof createProcessScope>,
  meter: CpuMeter,
  intervalMs: number,
  budgetMs: number,
  stop: AbortSignal,
  onExceeded: () => void,
  log: Logger,
): Promise<void> {
  while (!stop.aborted) {
    try {
      const members = await scope.members();
      const used = await meter.sample(members.map((p) => p.pid));
      if (used >= budgetMs) {
        onExceeded();
        return;
      }
    } catch (err) {
      log.warn({ err }, 'CPU sample failed');
    }
    await delay(intervalMs, stop);
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
