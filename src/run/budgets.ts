// The run's budgets, watched: a wall-clock timer, and a sampler comparing the CPU and memory of
// every process in the run's scope with its limits (go-judge's Waiter). It resolves with the first
// budget the run ran out of, and never once stopped.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { EffectiveLimits } from '../protocol/result.js';
import type { ProcessScope } from '../sandbox/process-scope.js';
import { delay } from '../util/timeout.js';
import type { CpuMeter } from './cpu-meter.js';
import { memoryOutsideRss } from './memory.js';

const MIN_SAMPLE_MS = 5;

export type BudgetReason = 'timeout' | 'cpu_limit' | 'memory_limit';

export interface BudgetWatch {
  scope: ProcessScope;
  meter: CpuMeter;
  initPid: number | undefined;
  /** The run's private tmpfs mounts, whose files count as its memory. */
  privateDirs: readonly string[];
  intervalMs: number;
  limits: EffectiveLimits;
  /** Aborting stops the watch (the snippet has exited, or the run is over). */
  stop: AbortSignal;
  log: Logger;
}

export function watchBudgets(w: BudgetWatch): Promise<BudgetReason> {
  return new Promise((resolve) => {
    const wallTimer = setTimeout(() => resolve('timeout'), w.limits.wallMs);
    w.stop.addEventListener('abort', () => clearTimeout(wallTimer), { once: true });
    void sampleUsage(w).then((reason) => reason && resolve(reason));
  });
}

// Samples CPU and memory of every process in the run's scope until stopped or a limit is hit.
async function sampleUsage(w: BudgetWatch): Promise<BudgetReason | undefined> {
  const { meter, limits } = w;
  let last = { at: performance.now(), cpuMs: 0 };
  // The first sample waits one interval: most snippets are done before it, and a scan of /proc at
  // the start would only compete with the snippet for the CPU.
  let wait = w.intervalMs;
  for (;;) {
    await delay(wait, w.stop);
    if (w.stop.aborted) return undefined;
    wait = w.intervalMs;
    try {
      const started = performance.now();
      const usage = await meter.sample(() => w.scope.members());
      const now = performance.now();
      const rate = (usage.cpuMs - last.cpuMs) / Math.max(1, now - last.at);
      // A sample takes time (much more under gVisor, where /proc is slow), and the tree keeps
      // burning meanwhile: act when the budget will be gone before the next sample could show it,
      // and otherwise sample again when it would run out at the current rate, if that is sooner.
      const sampleMs = now - started;
      if (usage.cpuMs + rate * sampleMs >= limits.cpuMs) return 'cpu_limit';
      if (usage.rssBytes > limits.memoryBytes) return 'memory_limit';
      if (usage.rssBytes + (await memoryOutsideRss(usage.members, w.initPid, w.privateDirs)) > limits.memoryBytes) return 'memory_limit';
      if (rate > 0) wait = Math.max(MIN_SAMPLE_MS, Math.min(w.intervalMs, (limits.cpuMs - usage.cpuMs) / rate - sampleMs));
      last = { at: now, cpuMs: usage.cpuMs };
    } catch (err) {
      w.log.warn({ err }, 'usage sample failed');
    }
  }
}
