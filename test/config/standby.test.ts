import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { standbyRuntimes } from '../../src/config/standby.js';
import { loadRuntimes } from '../../src/runtimes/load.js';

const runtimes = loadRuntimes();
const withStandby = [...runtimes.values()].filter((p) => p.standby !== undefined).map((p) => p.name);
const standby = (value: string) => standbyRuntimes(loadConfig({ EXECUTOR_STANDBY: value }).standby, runtimes);

describe('standbyRuntimes', () => {
  it('all: every runtime whose profile has a standby; none: no runtime; or the names given', () => {
    expect([...standby('all')].sort()).toEqual(withStandby.sort());
    expect(standby('none').size).toBe(0);
    expect([...standby(withStandby[0]!)]).toEqual([withStandby[0]]);
  });

  it('refuses a runtime that does not exist, or has no standby, naming it', () => {
    expect(() => standby('cobol')).toThrow(/^EXECUTOR_STANDBY names runtime "cobol", which does not exist \(runtimes: /);
    const without = [...runtimes.keys()].find((n) => !withStandby.includes(n));
    if (without !== undefined) expect(() => standby(without)).toThrow(`EXECUTOR_STANDBY names runtime "${without}", whose profile has no standby section`);
  });
});
