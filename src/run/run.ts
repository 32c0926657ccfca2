// One run of one snippet, phase by phase: launch → capture → budgets → sweep → artifacts → result.
// Every way a run can end races in one place (ending.ts); the first reason wins and is the status
// reported. The interpreter is handed in (fresh or standby: the run never chooses) and released in
// `finally`, always.
import { performance } from 'node:perf_hooks';
import { notRunResult } from '../protocol/result.js';
import type { RunContext } from '../sandbox/types.js';
import { collectArtifacts } from '../workspace/artifacts.js';
import { watchBudgets } from './budgets.js';
import { OutputCapture } from './capture.js';
import { cpuMeter } from './cpu-meter.js';
import { RunEnding } from './ending.js';
import { freshInterpreter } from './fresh.js';
import type { Interpreter } from './interpreter.js';
import { launch } from './launch.js';
import { toExitResult, type TerminationReason } from './outcome.js';
import { trackProcesses } from './processes.js';
import { sweepRun } from './sweep.js';
import { terminateRun } from './terminate.js';
import type { RunHooks, RunReport, RunSpec } from './types.js';

export type { RunHooks, RunReport, RunSpec } from './types.js';

// A cancelled run is not waited for: the caller has moved on and wants the executor back.
const CANCEL_GRACE_MS = 100;

/** Run `spec` on `given` (a standby from the pool), or on a fresh interpreter. */
export async function executeRun(spec: RunSpec, ctx: RunContext, hooks: RunHooks, given?: Interpreter): Promise<RunReport> {
  const { limits } = spec;
  const log = ctx.logger;
  const interpreter = given ?? (await freshInterpreter(ctx, spec.profile, limits));
  if (typeof interpreter === 'string') return { result: notRunResult('internal_error', interpreter) };
  // Aborted once the snippet has exited: the budgets and the listeners on the hooks stop.
  const over = new AbortController();
  try {
    const launchAt = performance.now();
    const launched = await launch(spec, ctx, interpreter);
    if ('result' in launched) return launched;
    // Budgets count from here: forking the daemon (slow under gVisor) and a standby's start-up
    // are not the snippet's.
    const startedAt = performance.now();
    const ending = new RunEnding();
    const display = launched.displayToken && hooks.display ? { token: launched.displayToken, sink: hooks.display } : undefined;
    let underway = hooks.underway;
    const sink: RunHooks['output'] = (kind, data) => {
      const sent = hooks.output(kind, data);
      underway?.();
      underway = undefined;
      return sent;
    };
    const output = new OutputCapture(launched.child, sink, limits.outputBytes, () => ending.end('output_limit'), display);

    const processes = await trackProcesses(launched, ctx.identity);
    if (typeof processes === 'string') return { result: notRunResult('internal_error', processes) };
    const { init, initPid } = processes;
    log.debug({ pid: processes.rootPid, initPid, cwd: interpreter.scratch.path, standby: interpreter.standby }, 'run started');
    ending.arm((why: TerminationReason) => {
      log.info({ reason: why, limits }, 'ending run');
      const grace = why === 'cancelled' ? Math.min(ctx.killGraceMs, CANCEL_GRACE_MS) : ctx.killGraceMs;
      return terminateRun(processes, launched.exited, grace, ctx.identity.mode === 'shared');
    });

    const meter = cpuMeter(initPid, launched.startupCpuMs, init?.pidNamespace === true || ctx.capabilities.kind !== 'gvisor');
    const privateDirs = init?.pidNamespace ? ctx.privateDirs : [];
    void watchBudgets({ scope: processes.scope, meter, initPid, privateDirs, intervalMs: ctx.cpuSampleMs, limits, stop: over.signal, log }).then((why) => ending.end(why));
    ending.follow(hooks.abort, 'aborted', over.signal);
    ending.follow(hooks.cancel, 'cancelled', over.signal);

    const { code, signal, fileSizeReached } = await launched.exited;
    const wallMs = performance.now() - startedAt;
    underway?.();
    underway = undefined;
    over.abort();
    await ending.exited();

    const sweepAt = performance.now();
    const swept = await sweepRun(processes, ctx, interpreter.scratch.path);
    const sweptAt = performance.now();
    meter.finish(swept.allCpuMs);
    await output.close();
    let deliveryError = await output.deliver(ctx.deliveryTimeoutMs);
    // Every process of the run is dead: out/ can no longer change while it is read.
    const artifacts = await collectArtifacts(
      interpreter.scratch.path,
      { maxFiles: ctx.artifactFiles, maxBytes: ctx.artifactBytes, maxListed: ctx.artifactList, uid: ctx.identity.uid },
      hooks.artifact ?? (async () => undefined),
    ).catch((err: Error) => {
      deliveryError ??= `artifacts: ${err.message}`;
      return { entries: [], unlisted: 0 };
    });

    const result = toExitResult({
      reason: ending.reason,
      exitCode: code,
      signal,
      // Without an init (a shared user) there is no telling: the signal is taken at its word.
      fileSizeReached: init ? fileSizeReached === true : true,
      wallMs,
      cpuMs: meter.totalMs,
      stdoutBytes: output.counts.stdout,
      stderrBytes: output.counts.stderr,
      truncated: output.truncated,
      limits,
      deliveryError,
      sweep: swept.report,
      artifacts: artifacts.entries,
      artifactsUnlisted: artifacts.unlisted,
    });
    if (!swept.report.clean) log.error({ problems: swept.report.problems }, 'sweep could not clean the sandbox');
    // Where a run's time went (README, "Performance"): starting it, the snippet, the sweep, the rest.
    const ms = (a: number, b: number) => Math.round((b - a) * 10) / 10;
    log.debug({ launchMs: ms(launchAt, startedAt), snippetMs: ms(startedAt, sweepAt), sweepMs: ms(sweepAt, sweptAt), afterMs: ms(sweptAt, performance.now()), standby: interpreter.standby }, 'run phases');
    return { result };
  } finally {
    over.abort();
    await interpreter.release();
  }
}
