// Parse the configuration once at start-up: environment, then flags on top; validate each value
// against its schema; reject the first bad one with a message naming the variable and echoing
// the value; resolve the settings whose default follows from others; freeze the result.
import fs from 'node:fs';
import { configError } from '../errors.js';
import { deadStreamKey } from '../protocol/keys.js';
import { DRAIN_MARGIN_MS, OPTIONS, flagName, type Config, type OptionName } from './options.js';

export type Flags = Partial<Record<OptionName, string>>;

/** Every setting of `serve`. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: Flags = {}): Config {
  return loadOptions(Object.keys(OPTIONS) as OptionName[], env, flags);
}

/**
 * Only the settings named (what `submit` and `cancel` need): the others are neither read nor
 * validated, so a daemon's setting left in the environment cannot fail a client command.
 */
export function loadOptions<K extends OptionName>(names: readonly K[], env: NodeJS.ProcessEnv = process.env, flags: Flags = {}): Readonly<Pick<Config, K>> {
  // Credentials are better kept out of the daemon's environment (which some kernels let other
  // users read through /proc): REDIS_URL_FILE names a file holding the URL instead.
  const urlFile = env.REDIS_URL_FILE;
  const urlFromFile = Boolean(urlFile && flags.redisUrl === undefined && names.includes('redisUrl' as K));
  if (urlFromFile) {
    try {
      flags = { ...flags, redisUrl: fs.readFileSync(urlFile!, 'utf8').trim() };
    } catch (err) {
      throw configError(`REDIS_URL_FILE=${JSON.stringify(urlFile)} cannot be read: ${(err as Error).message}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of names) {
    const option = OPTIONS[key];
    const fromFlag = flags[key];
    const fromEnv = env[option.env];
    const raw = fromFlag ?? (fromEnv === undefined || fromEnv === '' ? option.default : fromEnv);
    const source = fromFlag !== undefined ? `--${flagName(key)}` : option.env;
    const parsed = option.schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => i.message).join('; ');
      const shown = JSON.stringify(key === 'redisUrl' ? withoutPassword(raw) : raw);
      if (key === 'redisUrl' && urlFromFile) throw configError(`the URL in REDIS_URL_FILE=${JSON.stringify(urlFile)} (${shown}) is invalid: ${why}`);
      throw configError(`${source}=${shown} is invalid: ${why}`);
    }
    out[key] = parsed.data;
  }
  resolveDerived(out as Settable);
  return Object.freeze(out) as Readonly<Pick<Config, K>>;
}

/** Settings whose default (empty, or 0) follows from other settings. */
type Settable = { -readonly [K in OptionName]?: Config[K] };

function resolveDerived(c: Settable): void {
  if (c.deadStream === '' && c.keyPrefix !== undefined) c.deadStream = deadStreamKey(c.keyPrefix);
  // Inside the wall budget plus a margin the run in hand ends by itself.
  if (c.drainTimeoutMs === 0 && c.wallMs !== undefined && c.killGraceMs !== undefined) c.drainTimeoutMs = c.wallMs + c.killGraceMs + DRAIN_MARGIN_MS;
}

/** A bad URL is echoed, but never the password it may hold. */
function withoutPassword(url: string): string {
  // Up to the last @ of the authority part: a password may hold '/', ':' or '@' unescaped.
  const standard = url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*):.*@(?=[^@]*$)/i, '$1:***@');
  // A mistyped URL (`redis//:pw@h`, `redis:/:pw@h`) may still hold one before its last @: hide
  // everything there but the scheme; and a password given as a query parameter.
  const at = standard.lastIndexOf('@');
  const masked = standard === url && at !== -1 ? `${/^[a-z][a-z0-9+.-]*:\/{0,2}/i.exec(url)?.[0] ?? ''}***${url.slice(at)}` : standard;
  return masked.replace(/(password=)[^&#]*/gi, '$1***');
}
