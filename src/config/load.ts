// Parse the configuration once at start-up: environment, then flags on top; validate each value
// against its schema; reject the first bad one with a message naming the variable and echoing
// the value; freeze the result.
import { configError } from '../errors.js';
import { OPTIONS, flagName, type Config, type OptionName } from './options.js';

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: Partial<Record<OptionName, string>> = {},
): Config {
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
  return Object.freeze(out) as Config;
}
