// One run of one snippet, from scratch directory to sweep. Every way a run can end (its own exit,
// the wall budget, the CPU budget, the output cap, a forced shutdown) races here; the first
// reason wins and is the status reported. Cleanup — sweep, then delete — always runs.
import { SECURITY_EVENTS, securityEvent } from '../security-events.js';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ERROR_CODES, ExecutorError } from '../errors.js';
import type { Logger } from '../log.js';
import { OutputCoalescer, type OutputKind, type OutputSink } from '../output/coalescer.js';
import { notRunResult, type EffectiveLimits, type ExitResult } from '../protocol/result.js';
import type { RuntimeProfile } from '../runtimes/schema.js';
import type { SandboxCapabilities } from '../sandbox/capabilities.js';
import type { SandboxIdentity } from '../sandbox/identity.js';
import { LAUNCHER_ENV, statusFd, usesPidNamespace, wrapCommand } from '../sandbox/launcher.js';
import type { Task } from '../task/schema.js';
import { collectArtifacts, OUT_DIR, type ArtifactSink } from '../workspace/artifacts.js';
import { writeInputFiles } from '../workspace/input-files.js';
import { createScratch, type Scratch } from '../workspace/scratch.js';
import type { Readable } from 'node:stream';
import { RunInit, type ProcessExit } from '../sandbox/run-init.js';
import type { Standby } from '../standby/standby.js';
import { buildArgv, buildEnv, isolationPlan } from './command.js';
import { CpuMeter } from './cpu-meter.js';
import { memoryOutsideRss } from './memory.js';
import { toExitResult, type TerminationReason } from './outcome.js';
import { createProcessScope, type ProcessScope } from './process-scope.js';
import { readProc } from './proc-table.js';
import { snippetExit } from './snippet-exit.js';
import { spawnSnippet, type Snippet } from './spawn.js';
import { sweepFiles } from './sweep-files.js';
import { finishRun, terminateRun, type RunProcesses } from './terminate.js';

export interface RunSpec {
  task: Task;
  profile: RuntimeProfile;
  limits: EffectiveLimits;
}

export interface RunEnvironment {
  identity: SandboxIdentity;
  capabilities: SandboxCapabilities;
  /** Executor-wide network permission; a runtime profile may also allow it. */
  network: boolean;
  /** The fstab of the private tmpfs mounts each run gets (see writeMountTable); undefined: none. */
  mountTable: string | undefined;
  /** The folders those mounts cover (their files count as the run's memory). */
  privateDirs: readonly string[];
  /** Writable places searched for (and cleared of) the sandbox user's files after each run. */
  sweepPlaces: readonly string[];
  addressSpaceBytes: number;
  workDir: string;
  sandboxPath: string;
  killGraceMs: number;
  cpuSampleMs: number;
  artifactFiles: number;
  artifactBytes: number;
  /** At most this many entries of out/ are listed in the result. */
  artifactList: number;
  /** How long output may wait for Redis before the run is reported failed. */
  deliveryTimeoutMs: number;
  logger: Logger;
}

export interface RunHooks {
  /** Receives output chunks in order; its promise settling frees backpressure. */
  output: OutputSink;
  /** Receives the parts of each artifact after the output, before the result. */
  artifact?: ArtifactSink;
  /** Aborting cancels the run (status `cancelled`). */
  cancel?: AbortSignal;
  /** Aborting ends the run at once (forced shutdown). */
  signal?: AbortSignal;
}

export interface RunReport {
  result: ExitResult;
  /**
   * Settles once the run's killed processes have been reaped (they no longer count against the
   * sandbox user's process limit), with a problem when they were not: the next run must wait for
   * it, the result need not.
   */
  settled?: Promise<string | undefined>;
}

// Pause the snippet's pipes while this much output is on its way to Redis, so a flood is
// throttled instead of buffered whole in the daemon's memory.
const HIGH_WATER_BYTES = 8 * 1024 * 1024;
// After the first process exits and the rest are killed, the pipes close within moments; this
// bounds the wait should a pipe be held open by something outside the run's scope.
const PIPE_DRAIN_MS = 1000;
const MIN_SAMPLE_MS = 5;
const CANCEL_GRACE_MS = 100;

export async function executeRun(spec: RunSpec, env: RunEnvironment, hooks: RunHooks, standby?: Standby): Promise<RunReport> {
  const { task, profile, limits } = spec;
  const log = env.logger;
  // A standby that died while it waited (killed from outside, say) is replaced by a fresh start.
  if (standby && !standby.alive) {
    log.warn('the standby died before its task was handed over; starting a fresh interpreter');
    await standby.retire();
    standby = undefined;
  }
  const scratch = standby?.scratch ?? (await createScratch(env.workDir, env.identity));
  const timers = new AbortController();
  try {
    const launched = await launch(spec, env, scratch, standby);
    if ('result' in launched) return launched;
    const { child, init, exited, rootExited, startupCpuMs } = launched;
    // Budgets count from here: forking the daemon (slow under gVisor) and a standby's start-up
    // are not the snippet's.
    const startedAt = performance.now();
    const rootPid = child.pid!;
    // Output first, before any await: execa lets an unread pipe flow, and what a standby prints
    // the moment it is handed its task would be lost.
    let reason: TerminationReason | undefined;
    let mainExited = false;
    let termination: Promise<void> | undefined;
    let processes: RunProcesses | undefined;
    const end = (why: TerminationReason): void => {
      reason ??= why;
      // Before the init is known (output can hit its cap at once), the end waits for it.
      if (mainExited || termination || !processes) return;
      log.info({ reason: why, limits }, 'ending run');
      // A cancelled run is not waited for: the caller has moved on and wants the executor back.
      const grace = why === 'cancelled' ? Math.min(env.killGraceMs, CANCEL_GRACE_MS) : env.killGraceMs;
      termination = terminateRun(processes, exited, grace, env.identity.mode === 'shared');
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

    const initPid = init ? await init.pid : undefined;
    if (init && initPid === undefined) {
      await rootExited;
      return { result: notRunResult('internal_error', `the run's init did not start (launcher exit ${JSON.stringify(await rootExited)})`) };
    }
    const meter = new CpuMeter(initPid, startupCpuMs ?? 0, init?.pidNamespace === true || env.capabilities.sandbox !== 'gvisor');
    const scope = createProcessScope(env.identity, rootPid);
    const startTicks = initPid === undefined ? undefined : (await readProc(initPid))?.startTicks;
    processes = { scope, rootPid, rootExited, init, startTicks };
    if (reason !== undefined) end(reason);
    log.debug({ pid: rootPid, initPid, cwd: scratch.path, standby: standby !== undefined }, 'run started');

    // Budgets.
    const wallTimer = setTimeout(() => end('timeout'), limits.wallMs);
    timers.signal.addEventListener('abort', () => clearTimeout(wallTimer));
    const privateDirs = init?.pidNamespace ? env.privateDirs : [];
    void sampleUsage({ scope, meter, initPid, privateDirs, intervalMs: env.cpuSampleMs, limits, stop: timers.signal, end, log });
    const onAbort = () => end('aborted');
    if (hooks.signal?.aborted) onAbort();
    hooks.signal?.addEventListener('abort', onAbort, { signal: timers.signal });
    const onCancel = () => end('cancelled');
    if (hooks.cancel?.aborted) onCancel();
    hooks.cancel?.addEventListener('abort', onCancel, { signal: timers.signal });

    const { code, signal, fileSizeReached } = await exited;
    mainExited = true;
    const wallMs = performance.now() - startedAt;
    timers.abort();

    // The first process is gone; nothing else of the run may outlive it.
    await termination;
    const left = await finishRun(processes);
    const initEnd = init ? await init.end : undefined;
    meter.finish(initEnd?.cpuMs);
    if (initEnd?.leftBehind || left.survivors.length > 0) securityEvent(log, SECURITY_EVENTS.leftoverProcesses, { survivors: left.survivors.length }, 'the run left processes behind; they were killed');
    const sweepReport = await sweepFiles(env, left, scratch.path, init?.pidNamespace ?? true);
    await Promise.race([pipesClosed, delay(PIPE_DRAIN_MS)]);
    pipes.forEach((p) => p?.destroy());
    await child;

    let deliveryError: string | undefined;
    // Output sent while Redis is away waits in the client's queue and goes out in order once it is
    // back; if it is not back in time, the run is reported failed rather than silently cut.
    await withTimeout(coalescer.drain(), env.deliveryTimeoutMs, 'Redis did not take the output in time').catch((err: Error) => {
      deliveryError = err.message;
    });
    // Every process of the run is dead: out/ can no longer change while it is read.
    const artifacts = await collectArtifacts(
      scratch.path,
      { maxFiles: env.artifactFiles, maxBytes: env.artifactBytes, maxListed: env.artifactList, uid: env.identity.uid },
      hooks.artifact ?? (async () => undefined),
    ).catch((err: Error) => {
      deliveryError ??= `artifacts: ${err.message}`;
      return { entries: [], unlisted: 0 };
    });
    const cpuMs = meter.totalMs;
    const result = toExitResult({
      reason,
      exitCode: code,
      signal,
      // Without an init (a shared user) there is no telling: the signal is taken at its word.
      fileSizeReached: init ? fileSizeReached === true : true,
      wallMs,
      cpuMs,
      stdoutBytes: counts.stdout,
      stderrBytes: counts.stderr,
      truncated,
      limits,
      deliveryError,
      sweep: sweepReport,
      artifacts: artifacts.entries,
      artifactsUnlisted: artifacts.unlisted,
    });
    if (!sweepReport.clean) log.error({ problems: sweepReport.problems }, 'sweep could not clean the sandbox');
    return { result };
  } finally {
    timers.abort();
    // A standby the run never handed its task to (writing the task's files failed) is still
    // waiting: end it, or it would outlive the run.
    // (A failure to end it proves nothing clean: it propagates, and the executor stops dirty.)
    if (standby && !standby.handedOver) await standby.retire();
    await scratch.remove();
  }
}

interface Launched {
  child: Snippet;
  /** The run's init (dedicated sandbox users): it reports the snippet's own exit. */
  init: RunInit | undefined;
  /** The snippet's first process's exit. */
  exited: Promise<ProcessExit>;
  /** The daemon's own child's exit: with an init, the whole run is reaped by then. */
  rootExited: Promise<ProcessExit>;
  /** CPU a standby used before its task was handed over. */
  startupCpuMs?: number;
}

/**
 * Put the task's files in place and start its code: by handing it to a standby interpreter, or by
 * spawning a fresh one through the launcher. Returns a result instead when it cannot start.
 */
async function launch(spec: RunSpec, env: RunEnvironment, scratch: Scratch, standby: Standby | undefined): Promise<Launched | RunReport> {
  const { task, profile, limits } = spec;
  if (!standby && findOnPath(profile.command[0]!, env.sandboxPath) === undefined) {
    // A runtime that cannot start is the image's fault, not the snippet's, and leaves nothing
    // behind to sweep: report it and keep the executor going.
    return { result: notRunResult('internal_error', `cannot start runtime "${profile.name}": ${profile.command[0]} not found on ${env.sandboxPath}`) };
  }
  const owner = env.identity.mode === 'dedicated' ? { uid: env.identity.uid, gid: env.identity.gid } : undefined;
  try {
    await writeInputFiles(scratch.path, task.files ?? [], owner);
  } catch (err) {
    // The task's own files cannot be written (admission should have caught it): nothing of the
    // snippet has run, so the task is rejected and the sandbox is as clean as before.
    if (err instanceof ExecutorError && err.code === ERROR_CODES.INPUT_FILES) return { result: notRunResult('rejected', err.message) };
    throw err;
  }
  if (!standby) await scratch.makeDir(OUT_DIR);
  const codeFile = await scratch.writeFile(profile.file, task.code);
  const runEnv = buildEnv({ profile, task, home: scratch.path, path: env.sandboxPath });
  if (standby) {
    const startupCpuMs = await standby.ready;
    standby.handOver(task.args ?? [], runEnv, task.stdin);
    return { child: standby.child, init: standby.init, exited: standby.exited, rootExited: standby.rootExited, startupCpuMs };
  }
  const plan = isolationPlan(env, profile, limits);
  const argv = wrapCommand(buildArgv(profile, codeFile, task.args), runEnv, plan);
  const dedicated = env.identity.mode === 'dedicated';
  const child = spawnSnippet({ argv, cwd: scratch.path, env: LAUNCHER_ENV, stdin: task.stdin ?? '', statusFd: dedicated ? statusFd(plan) : undefined });
  const rootExited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  if (child.pid === undefined) {
    const failed = await child;
    const why = `cannot start runtime "${profile.name}" (${profile.command[0]}): ${failed.shortMessage ?? failed.message}`;
    return { result: notRunResult('internal_error', why) };
  }
  const init = dedicated ? new RunInit(child.stdio[statusFd(plan)] as Readable, usesPidNamespace(plan)) : undefined;
  return { child, init, exited: init ? snippetExit(init, rootExited) : rootExited, rootExited };
}

interface SampleOptions {
  scope: ProcessScope;
  meter: CpuMeter;
  initPid: number | undefined;
  /** The run's private tmpfs mounts, whose files count as its memory. */
  privateDirs: readonly string[];
  intervalMs: number;
  limits: EffectiveLimits;
  stop: AbortSignal;
  end: (why: TerminationReason) => void;
  log: Logger;
}

// Samples CPU and memory of every process in the run's scope until stopped or a limit is hit.
async function sampleUsage(o: SampleOptions): Promise<void> {
  const { meter, limits } = o;
  let last = { at: performance.now(), cpuMs: 0 };
  // The first sample waits one interval: most snippets are done before it, and a scan of /proc at
  // the start would only compete with the snippet for the CPU.
  let wait = o.intervalMs;
  for (;;) {
    await delay(wait, o.stop);
    if (o.stop.aborted) return;
    wait = o.intervalMs;
    try {
      const started = performance.now();
      const initMs = await meter.readInit();
      const members = await o.scope.members();
      const usage = meter.record(initMs, members);
      const now = performance.now();
      const rate = (usage.cpuMs - last.cpuMs) / Math.max(1, now - last.at);
      // A sample takes time (much more under gVisor, where /proc is slow), and the tree keeps
      // burning meanwhile: act when the budget will be gone before the next sample could show it,
      // and otherwise sample again when it would run out at the current rate, if that is sooner.
      const sampleMs = now - started;
      if (usage.cpuMs + rate * sampleMs >= limits.cpuMs) return o.end('cpu_limit');
      if (usage.rssBytes > limits.memoryBytes) return o.end('memory_limit');
      if (usage.rssBytes + (await memoryOutsideRss(members, o.initPid, o.privateDirs)) > limits.memoryBytes) return o.end('memory_limit');
      if (rate > 0) wait = Math.max(MIN_SAMPLE_MS, Math.min(o.intervalMs, (limits.cpuMs - usage.cpuMs) / rate - sampleMs));
      last = { at: now, cpuMs: usage.cpuMs };
    } catch (err) {
      o.log.warn({ err }, 'usage sample failed');
    }
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (${ms} ms)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function findOnPath(command: string, searchPath: string): string | undefined {
  const candidates = command.includes('/') ? [command] : searchPath.split(':').map((dir) => path.join(dir, command));
  return candidates.find((file) => {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
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
