// The recycling figures are pure arithmetic on the settings and the consumer name.
import { describe, expect, it } from 'vitest';
import { jitterFraction, recycleLimits } from '../../src/daemon/recycle-policy.js';

const names = Array.from({ length: 200 }, (_, i) => `executor-code-review-${i.toString(36)}-x7k2p`);

describe('recycle policy', () => {
  it('lowers max runs and max age by a fraction in [0, jitter), the same for the same name', () => {
    for (const consumer of names) {
      const { maxRuns, maxAgeMs } = recycleLimits({ maxRuns: 100, maxAgeS: 3600, recycleJitter: 0.1, consumer });
      expect(maxRuns).toBeGreaterThanOrEqual(90);
      expect(maxRuns).toBeLessThanOrEqual(100);
      expect(maxAgeMs!).toBeGreaterThan(3240_000);
      expect(maxAgeMs!).toBeLessThanOrEqual(3600_000);
      expect(recycleLimits({ maxRuns: 100, maxAgeS: 3600, recycleJitter: 0.1, consumer })).toEqual({ maxRuns, maxAgeMs });
    }
  });

  it('spreads a pool started together: no lockstep', () => {
    const runs = new Set(names.map((consumer) => recycleLimits({ maxRuns: 100, maxAgeS: 0, recycleJitter: 0.1, consumer }).maxRuns));
    const ages = new Set(names.map((consumer) => recycleLimits({ maxRuns: 100, maxAgeS: 3600, recycleJitter: 0.1, consumer }).maxAgeMs));
    expect(runs.size).toBeGreaterThanOrEqual(9);
    expect(ages.size).toBeGreaterThan(150);
    // Runs and age take different bytes of the hash: one does not predict the other.
    const both = names.map((c) => [jitterFraction(c, 'runs', 1), jitterFraction(c, 'age', 1)]);
    expect(both.filter(([r, a]) => Math.abs(r! - a!) < 1e-9)).toHaveLength(0);
  });

  it('takes the fraction from SHA-256 of the name, as documented', () => {
    // sha256("a") = ca978112ca1bbdca...: bytes 0-3 0xca978112, bytes 4-7 0xca1bbdca.
    expect(jitterFraction('a', 'runs', 0.1)).toBeCloseTo((0.1 * 0xca978112) / 2 ** 32, 12);
    expect(jitterFraction('a', 'age', 0.1)).toBeCloseTo((0.1 * 0xca1bbdca) / 2 ** 32, 12);
  });

  it('without jitter or age limit, the settings as given; never below one run', () => {
    expect(recycleLimits({ maxRuns: 7, maxAgeS: 0, recycleJitter: 0, consumer: 'x' })).toEqual({ maxRuns: 7, maxAgeMs: undefined });
    for (const consumer of names) expect(recycleLimits({ maxRuns: 1, maxAgeS: 0, recycleJitter: 0.9, consumer }).maxRuns).toBe(1);
    // A budget of 2 stays 2 under the default jitter (rounded, not floored).
    for (const consumer of names) expect(recycleLimits({ maxRuns: 2, maxAgeS: 0, recycleJitter: 0.1, consumer }).maxRuns).toBe(2);
  });
});
