// One cell of a session: its files written, its code handed to the kernel, its output and
// displays streamed (capped, in order), its budgets watched. A budget or a cancel interrupts the
// cell (SIGINT to the kernel); if the kernel is back within the kill grace the session lives on
// and the cell reports the budget's status, otherwise the session is over. Memory, the session's
// CPU, the interpreter's exit and a forced stop end the session itself.
import { performance } from 'node:perf_hooks';
import { ERROR_CODES, ExecutorError } from '../errors.js';
import { OutputCoalescer, type OutputSink } from '../output/coalescer.js';
import { displayCost, type DisplaySink } from '../output/representations.js';
import { notRunResult, type EffectiveLimits, type ExitResult, type RunStatus, type SessionEndReason } from '../protocol/result.js';
import type { Task } from '../task/schema.js';
import { delay } from '../util/timeout.js';
import { collectArtifacts, type ArtifactSink } from '../workspace/artifacts.js';
import { writeCellFiles } from './cell-files.js';
import type { CellStatus, KernelEvent } from './kernel-link.js';
import type { Session } from './session.js';

export interface CellHooks {
  output: OutputSink;
  display: DisplaySink;
  artifact: ArtifactSink;
  cancel: AbortSignal;
  abort: AbortSignal;
}

export interface CellReport {
  result: ExitResult;
  /** Set when the session ended with this cell. */
  ended?: SessionEndReason;
}

type CellEnd = 'timeout' | 'cpu_limit' | 'output_limit' | 'cancelled';

export async function runCell(s: Session, n: number, task: Task, limits: EffectiveLimits, hooks: CellHooks): Promise<CellReport> {
  const { ctx, interpreter } = s;
  const owner = ctx.identity.mode === 'dedicated' ? { uid: ctx.identity.uid, gid: ctx.identity.gid } : undefined;
  try {
    writeCellFiles(interpreter.scratch.path, task.files ?? [], owner);
  } catch (err) {
    if (err instanceof ExecutorError && err.code === ERROR_CODES.INPUT_FILES) return { result: notRunResult('rejected', err.message) };
    throw err;
  }
  const started = performance.now();
  const coalescer = new OutputCoalescer(hooks.output);
  const counts = { stdout: 0, stderr: 0 };
  let sent = 0;
  let truncated = false;
  let reason: CellEnd | undefined;
  let endCell: (why: CellEnd) => void = () => undefined;
  const budget = new Promise<CellEnd>((resolve) => (endCell = resolve));
  const stopCell = (why: CellEnd) => {
    reason ??= why;
    endCell(why);
  };
  const displays: Promise<unknown>[] = [];
  const take = (e: KernelEvent) => {
    if (e.kind === 'done') return;
    const cost = e.kind === 'display' ? displayCost(e) : e.data.length;
    if (truncated || sent + cost > limits.outputBytes) {
      truncated = true;
      stopCell('output_limit');
      return;
    }
    sent += cost;
    if (e.kind === 'output') {
      counts[e.stream] += e.data.length;
      coalescer.push(e.stream, e.data);
    } else {
      // Displays keep their place among stdout and stderr: what was buffered goes out first.
      coalescer.flush();
      displays.push(hooks.display(e.display, e.mime, e.data));
    }
  };
  const between = s.takeBetween();
  for (const e of between.events) take(e);
  if (between.dropped > 0) truncated = true;
  interpreter.onEvent = take;

  const wall = setTimeout(() => stopCell('timeout'), limits.wallMs);
  s.usage.cellStarted(limits.cpuMs, () => stopCell('cpu_limit'));
  const onCancel = () => stopCell('cancelled');
  hooks.cancel.addEventListener('abort', onCancel);
  if (hooks.cancel.aborted) onCancel();

  const over = s.ended.then(() => 'over' as const);
  // The kernel gone mid-cell (it exited, crashed, was killed): the session's end says how.
  const running = interpreter.link.run({ cell: n, code: task.code, stdin: task.stdin }).catch(() => over);
  // Removed when the cell is over: a session's cells would pile up listeners on the executor's signal.
  const cellOver = new AbortController();
  const aborted = new Promise<'over'>((resolve) => hooks.abort.addEventListener('abort', () => resolve('over'), { once: true, signal: cellOver.signal }));
  if (hooks.abort.aborted) s.end('drained');
  let status: CellStatus | 'over' = await Promise.race([running, budget.then(() => 'budget' as const), over, aborted]).then(async (first) => {
    if (first !== 'budget') return first;
    await interpreter.interrupt();
    // Back and waiting within the grace: the session lives on.
    const back = await Promise.race([running, over, delay(ctx.killGraceMs).then(() => 'late' as const)]);
    if (back === 'late') s.end('budget');
    return back === 'late' ? 'over' : back;
  });
  if (hooks.abort.aborted) s.end('drained');
  clearTimeout(wall);
  cellOver.abort();
  hooks.cancel.removeEventListener('abort', onCancel);
  const cpuMs = await s.usage.cellEnded();
  const wallMs = performance.now() - started;
  coalescer.flush();
  let deliveryError: string | undefined;
  await coalescer.drain().catch((err: Error) => (deliveryError = err.message));
  await Promise.all(displays).catch((err: Error) => (deliveryError ??= err.message));
  s.idle();

  const artifacts = await collectArtifacts(
    interpreter.scratch.path,
    { maxFiles: ctx.artifactFiles, maxBytes: ctx.artifactBytes, maxListed: ctx.artifactList, uid: ctx.identity.uid, known: s.known },
    hooks.artifact,
  ).catch((err: Error) => {
    deliveryError ??= `artifacts: ${err.message}`;
    return { entries: [], unlisted: 0 };
  });
  for (const a of artifacts.entries) if (a.sha256) s.known.set(a.path, a.sha256);

  if (status === 'over' && s.endReason === undefined) status = 'error';
  const ended = status === 'over' ? s.endReason : undefined;
  const exit = interpreter.exitStatus;
  const result: ExitResult = {
    status: deliveryError ? 'internal_error' : statusOf(status, reason, ended),
    exitCode: ended ? (exit?.code ?? null) : status === 'ok' ? 0 : 1,
    signal: ended ? (exit?.signal ?? null) : null,
    wallMs: Math.round(wallMs),
    cpuMs: Math.round(cpuMs),
    stdoutBytes: counts.stdout,
    stderrBytes: counts.stderr,
    truncated,
    ...(deliveryError ? { error: `output delivery failed: ${deliveryError}` } : errorOf(reason, ended, limits)),
    ...(artifacts.entries.length ? { artifacts: artifacts.entries } : {}),
    ...(artifacts.unlisted > 0 ? { artifactsUnlisted: artifacts.unlisted } : {}),
  };
  return { result, ended };
}

function statusOf(status: CellStatus | 'over', reason: CellEnd | undefined, ended: SessionEndReason | undefined): RunStatus {
  if (reason) return reason;
  if (ended === 'memory_limit') return 'memory_limit';
  if (ended === 'budget') return 'cpu_limit';
  if (ended === 'drained') return 'internal_error';
  if (status === 'ok') return 'ok';
  return 'error';
}

function errorOf(reason: CellEnd | undefined, ended: SessionEndReason | undefined, limits: EffectiveLimits): { error?: string } {
  const words: Record<CellEnd, string> = {
    timeout: `the cell ran past its wall budget of ${limits.wallMs} ms and was interrupted`,
    cpu_limit: `the cell used its CPU budget of ${limits.cpuMs} ms and was interrupted`,
    output_limit: `the cell's output reached its cap of ${limits.outputBytes} bytes and the cell was interrupted`,
    cancelled: 'the cell was cancelled and interrupted',
  };
  const parts = [reason ? words[reason] : undefined, ended ? `the session ended (${ended})` : undefined].filter(Boolean);
  return parts.length ? { error: parts.join('; ') } : {};
}
