// The CPU sampler's timing, against a fake clock: a tree burning CPU at a steady rate, a sampler that
// spends more than its wait between two looks (under gVisor a busy sandbox starves the daemon: its
// 50 ms waits were seen taking 85-150 ms with the sample and the memory check), and a sample that
// takes time. The run must be ended as close to the moment its budget runs out as the sampler's own
// delays allow.
import { describe, expect, it } from 'vitest';
import { MIN_SAMPLE_MS, nextSample } from '../../src/run/sample-schedule.js';

interface Case {
  rate: number;
  extraMs: number;
  sampleMs: number;
  limitMs: number;
  intervalMs: number;
}

/** CPU used when the sampler ends the run, minus the budget. */
function overshoot(c: Case): number {
  let t = 0;
  let wait = c.intervalMs;
  for (let i = 0; i < 10_000; i++) {
    t += wait + c.extraMs;
    const used = c.rate * t;
    t += c.sampleMs;
    const next = nextSample({ usedMs: used, limitMs: c.limitMs, rate: c.rate, sampleMs: c.sampleMs, extraMs: c.extraMs, intervalMs: c.intervalMs });
    if (next === 'stop') return c.rate * t - c.limitMs;
    wait = next;
  }
  throw new Error('never stopped');
}

describe('the CPU sampler', () => {
  const cases: Case[] = [];
  for (const rate of [0.3, 1, 2, 5])
    for (const extraMs of [0, 1, 20, 50, 120])
      for (const sampleMs of [1, 5, 30])
        for (const limitMs of [100, 1500, 10_000]) cases.push({ rate, extraMs, sampleMs, limitMs, intervalMs: 50 });

  // The first look comes one interval in (most snippets are over by then); a budget spent before it
  // is ended at that first look.
  const outlastFirstLook = (c: Case) => c.limitMs / c.rate > c.intervalMs + c.extraMs + c.sampleMs;

  it('ends a steady burner within half of its soonest possible next look of the budget running out, however long the sampler\'s loop takes', () => {
    const worst = cases
      .filter(outlastFirstLook)
      .map((c) => ({ c, off: Math.abs(overshoot(c)), bound: (c.rate * (MIN_SAMPLE_MS + c.extraMs + c.sampleMs)) / 2 + 1e-6 }))
      .filter((r) => r.off > r.bound);
    expect(worst.slice(0, 5).map((r) => `${JSON.stringify(r.c)}: off by ${r.off.toFixed(1)} ms, bound ${r.bound.toFixed(1)}`)).toEqual([]);
  });

  it('ends a burner whose budget is gone before the first look at that look', () => {
    for (const c of cases.filter((c) => !outlastFirstLook(c))) {
      expect(overshoot(c)).toBeCloseTo(c.rate * (c.intervalMs + c.extraMs + c.sampleMs) - c.limitMs, 6);
    }
  });

  it('samples at the longest interval while nothing burns, and stops a run already past its budget', () => {
    expect(nextSample({ usedMs: 0, limitMs: 1000, rate: 0, sampleMs: 2, extraMs: 0, intervalMs: 50 })).toBe(50);
    expect(nextSample({ usedMs: 1000, limitMs: 1000, rate: 0, sampleMs: 2, extraMs: 0, intervalMs: 50 })).toBe('stop');
    expect(nextSample({ usedMs: 990, limitMs: 1000, rate: 2, sampleMs: 5, extraMs: 0, intervalMs: 50 })).toBe('stop');
  });
});
