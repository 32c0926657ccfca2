// A task's limits can only lower the executor's maxima, never raise them.
import { LIMIT_NAMES, type EffectiveLimits } from '../protocol/result.js';
import type { Task } from '../task/schema.js';

export function effectiveLimits(maxima: EffectiveLimits, requested: Task['limits']): EffectiveLimits {
  const out = { ...maxima };
  for (const name of LIMIT_NAMES) out[name] = Math.min(maxima[name], requested?.[name] ?? Infinity);
  return out;
}

/** The executor's maxima, from its configuration (each limit has a setting of the same name). */
export function configuredMaxima(config: Readonly<Record<(typeof LIMIT_NAMES)[number], number>>): EffectiveLimits {
  return Object.fromEntries(LIMIT_NAMES.map((name) => [name, config[name]])) as unknown as EffectiveLimits;
}
