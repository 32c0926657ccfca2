// The settings `submit` and `cancel` share with `serve`, read through the same table: the same
// variables (REDIS_URL_FILE included), defaults and messages for a bad value.
import { ExecutorClient } from '../client/client.js';
import { loadOptions, type Flags } from '../config/load.js';
import type { Config } from '../config/options.js';

const CLIENT_OPTIONS = ['redisUrl', 'clusterNodes', 'stream', 'keyPrefix'] as const;

export type ClientSettings = Pick<Config, (typeof CLIENT_OPTIONS)[number]>;

/**
 * A client on the settings from the environment, `flags` (`--redis-url`, `--stream`, `--key-prefix`)
 * on top. Without `results` (cancel: it writes only to the control stream) the key prefix is
 * neither read nor validated.
 */
export function clientFromSettings(flags: Flags, env: NodeJS.ProcessEnv, results = true): { client: ExecutorClient; settings: ClientSettings } {
  const settings = loadOptions(results ? CLIENT_OPTIONS : CLIENT_OPTIONS.filter((o) => o !== 'keyPrefix'), env, flags) as ClientSettings;
  const client = new ExecutorClient({ redis: settings.redisUrl, clusterNodes: settings.clusterNodes, stream: settings.stream, ...(settings.keyPrefix === undefined ? {} : { keyPrefix: settings.keyPrefix }) });
  return { client, settings };
}

/** The flags of parseArgs `values` that are settings, by option name. */
export function settingFlags(values: { 'redis-url'?: string; stream?: string; 'key-prefix'?: string }): Flags {
  const flags: Flags = {};
  if (values['redis-url'] !== undefined) flags.redisUrl = values['redis-url'];
  if (values.stream !== undefined) flags.stream = values.stream;
  if (values['key-prefix'] !== undefined) flags.keyPrefix = values['key-prefix'];
  return flags;
}
