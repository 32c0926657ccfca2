// Parse the configuration once at start-up: environment, then flags on top; validate each value
// against its schema; reject the first bad one with a message naming the variable and echoing
// the value; freeze the result.
import fs from 'node:fs';
import { configError } from '../errors.js';
import { deadStreamKey } from '../protocol/keys.js';
import { OPTIONS, flagName, type Config, type OptionName } from './options.js';

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: Partial<Record<OptionName, string>> = {},
): Config {
  // Credentials are better kept out of the daemon's environment (which some kernels let other
  // users read through /proc): REDIS_URL_FILE names a file holding the URL instead.
  const urlFile = env.REDIS_URL_FILE;
  if (urlFile && flags.redisUrl === undefined) {
    try {
      flags = { ...flags, redisUrl: fs.readFileSync(urlFile, 'utf8').trim() };
    } catch (err) {
      throw configError(`REDIS_URL_FILE=${JSON.stringify(urlFile)} cannot be read: ${(err as Error).message}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(OPTIONS) as [OptionName, (typeof OPTIONS)[OptionName]][]) {
    const fromFlag = flags[key];
    const fromEnv = env[option.env];
    const raw = fromFlag ?? (fromEnv === undefined || fromEnv === '' ? option.default : fromEnv);
    const source = fromFlag !== undefined ? `--${flagName(key)}` : option.env;
    const parsed = option.schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      throw configError(`${source}=${JSON.stringify(raw)} is invalid: ${why}`);
    }
    out[key] = parsed.data;
  }
  // Settings whose default follows from another one.
  if (out.deadStream === '') out.deadStream = deadStreamKey(out.keyPrefix as string);
  return Object.freeze(out) as Config;
}
