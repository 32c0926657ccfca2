import { describe, expect, it } from 'vitest';
import { effectiveLimits } from '../../src/run/limits.js';

const maxima = { wallMs: 30_000, cpuMs: 10_000, outputBytes: 1_048_576, memoryBytes: 512, processes: 128, openFiles: 1024, fileSizeBytes: 4096 };

describe('effectiveLimits', () => {
  it('uses the maxima when the task asks for nothing', () => {
    expect(effectiveLimits(maxima, undefined)).toEqual(maxima);
  });
  it('lets a task lower a limit', () => {
    expect(effectiveLimits(maxima, { wallMs: 500, outputBytes: 10, processes: 8 })).toEqual({ ...maxima, wallMs: 500, outputBytes: 10, processes: 8 });
  });
  it('never lets a task raise a limit', () => {
    expect(effectiveLimits(maxima, { wallMs: 10 ** 9, cpuMs: 10 ** 9, outputBytes: 10 ** 12, memoryBytes: 10 ** 12, processes: 10 ** 6, openFiles: 10 ** 6, fileSizeBytes: 10 ** 12 })).toEqual(maxima);
  });
});
