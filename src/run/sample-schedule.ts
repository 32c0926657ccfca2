// When the CPU budget's sampler looks next, and when it acts: pure timer arithmetic, kept apart
// from the /proc reading so it can be tested with a fake clock.

/** The shortest wait between two samples, ms: below it the scans would only compete with the run. */
export const MIN_SAMPLE_MS = 5;

export interface SampleState {
  /** CPU used so far and the budget, ms. */
  usedMs: number;
  limitMs: number;
  /** CPU ms the run burns per wall ms, from the last two samples. */
  rate: number;
  /** How long the last sample took, wall ms. */
  sampleMs: number;
  /**
   * How much longer than its wait and one sample the sampler takes from one decision to the next
   * (the memory check, timers firing late), wall ms.
   */
  extraMs: number;
  /** The longest wait between samples. */
  intervalMs: number;
}

/**
 * 'stop': end the run for its CPU budget now; a number: sample again after that many ms.
 *
 * The decision at the end of a sample stands for the run's use at that moment (the sample's
 * reading, plus what the tree burnt while it was taken). The next decision comes a wait, the loop's
 * extra time and one more sample later; the wait is chosen so that it comes as the budget runs out.
 * When even the shortest wait would land past that moment, the nearer of now and then is taken:
 * the run ends a little before or a little after its budget, by at most half that span of CPU.
 * Natively the span is a few ms; under gVisor, beside a run's busy threads, a 50 ms wait came back
 * 85-150 ms later, and waiting as if only the wait passed overshot by 500 ms of CPU and more.
 */
export function nextSample(s: SampleState): 'stop' | number {
  if (s.rate <= 0) return s.usedMs >= s.limitMs ? 'stop' : s.intervalMs;
  // Wall ms from now until the budget is gone at the current rate.
  const untilSpent = (s.limitMs - s.usedMs) / s.rate - s.sampleMs;
  if (untilSpent <= 0) return 'stop';
  const delays = s.extraMs + s.sampleMs;
  const wait = untilSpent - delays;
  if (wait >= MIN_SAMPLE_MS) return Math.min(s.intervalMs, wait);
  return untilSpent < (MIN_SAMPLE_MS + delays) / 2 ? 'stop' : MIN_SAMPLE_MS;
}
