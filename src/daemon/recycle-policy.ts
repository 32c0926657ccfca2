// When an executor leaves on purpose, so that Kubernetes replaces it with a clean pod: after
// EXECUTOR_MAX_RUNS runs, or once it has been warm EXECUTOR_MAX_AGE_S (after the run in hand, or
// at once when idle). Both are lowered by a fraction in [0, EXECUTOR_RECYCLE_JITTER) taken from a
// hash of the consumer name, so that a pool started together does not recycle in lockstep, and
// the same executor always gets the same figures (reproducible from its name alone). Runs are
// rounded to the nearest whole run (never below 1): a budget of 2 stays 2 under the default 0.1.
import { createHash } from 'node:crypto';

export interface RecycleSettings {
  maxRuns: number;
  /** 0: no age limit. */
  maxAgeS: number;
  recycleJitter: number;
  consumer: string;
}

export interface RecycleLimits {
  maxRuns: number;
  /** Undefined: no age limit. */
  maxAgeMs: number | undefined;
}

/**
 * The fraction for one limit: bytes 0-3 (runs) or 4-7 (age) of SHA-256(consumer name), read as
 * an unsigned 32-bit big-endian integer u, give jitter × u / 2^32.
 */
export function jitterFraction(consumer: string, limit: 'runs' | 'age', jitter: number): number {
  const digest = createHash('sha256').update(consumer).digest();
  return (jitter * digest.readUInt32BE(limit === 'runs' ? 0 : 4)) / 2 ** 32;
}

export function recycleLimits(s: RecycleSettings): RecycleLimits {
  const runs = Math.max(1, Math.round(s.maxRuns * (1 - jitterFraction(s.consumer, 'runs', s.recycleJitter))));
  const ageMs = s.maxAgeS > 0 ? Math.max(1000, Math.floor(s.maxAgeS * 1000 * (1 - jitterFraction(s.consumer, 'age', s.recycleJitter)))) : undefined;
  return { maxRuns: runs, maxAgeMs: ageMs };
}
