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
import { nextSample } from './sample-schedule.js';

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
  // Between two decisions the loop spends more than its wait and its sample: above all the memory
  // check, which under gVisor, beside a run's busy threads (it does not honour their lower priority),
  // took 12-68 ms of a loop that came back 85-150 ms after a 50 ms wait. That extra, smoothed, is
  // what the next wait makes room for.
  let extraMs = 0;
  let decidedAt: number | undefined;
  for (;;) {
    await delay(wait, w.stop);
    if (w.stop.aborted) return undefined;
    try {
      const started = performance.now();
      const usage = await meter.sample(() => w.scope.members());
      const now = performance.now();
      const sampleMs = now - started;
      if (decidedAt !== undefined) extraMs = (extraMs + Math.max(0, now - decidedAt - wait - sampleMs)) / 2;
      decidedAt = now;
      const rate = (usage.cpuMs - last.cpuMs) / Math.max(1, now - last.at);
      const next = nextSample({ usedMs: usage.cpuMs, limitMs: limits.cpuMs, rate, sampleMs, extraMs, intervalMs: w.intervalMs });
      if (next === 'stop') return 'cpu_limit';
      wait = next;
      if (usage.rssBytes > limits.memoryBytes) return 'memory_limit';
      if (usage.rssBytes + (await memoryOutsideRss(usage.members, w.initPid, w.privateDirs)) > limits.memoryBytes) return 'memory_limit';
      last = { at: now, cpuMs: usage.cpuMs };
    } catch (err) {
      wait = w.intervalMs;
      w.log.warn({ err }, 'usage sample failed');
    }
  }
}
