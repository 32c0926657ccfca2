// EXECUTOR_STANDBY checked against the runtimes, which are known only once their profiles are
// loaded: called once, where serve loads them, so that a wrong name stops start-up.
import { configError } from '../errors.js';
import type { RuntimeRegistry } from '../runtimes/load.js';
import type { Config } from './options.js';

/** Which runtimes get a standby: `all` (every runtime whose profile has one), `none`, or names. */
export function standbyRuntimes(setting: Config['standby'], runtimes: RuntimeRegistry): ReadonlySet<string> {
  if (setting === 'none') return new Set();
  const withBootstrap = [...runtimes.values()].filter((p) => p.standby !== undefined).map((p) => p.name);
  if (setting === 'all') return new Set(withBootstrap);
  for (const name of setting) {
    if (!runtimes.has(name)) throw configError(`EXECUTOR_STANDBY names runtime "${name}", which does not exist (runtimes: ${[...runtimes.keys()].join(', ')})`);
    if (!withBootstrap.includes(name)) throw configError(`EXECUTOR_STANDBY names runtime "${name}", whose profile has no standby section`);
  }
  return new Set(setting);
}
