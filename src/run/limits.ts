// A task's limits can only lower the executor's maxima, never raise them.
import type { EffectiveLimits } from '../protocol/result.js';
import type { Task } from '../task/schema.js';

export function effectiveLimits(maxima: EffectiveLimits, requested: Task['limits']): EffectiveLimits {
  return {
    wallMs: Math.min(maxima.wallMs, requested?.wallMs ?? Infinity),
    cpuMs: Math.min(maxima.cpuMs, requested?.cpuMs ?? Infinity),
    outputBytes: Math.min(maxima.outputBytes, requested?.outputBytes ?? Infinity),
  };
}
