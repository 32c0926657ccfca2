// `cancel ID...` and `close SID...`: each id checked, then one control entry per id. Both write only
// to the control stream, so the key prefix is neither read nor validated.
import { parseArgs } from 'node:util';
import type { ExecutorClient } from '../client/client.js';
import { usageError } from '../errors.js';
import { taskIdSchema } from '../task/schema.js';
import { clientFromSettings, settingFlags } from './client-settings.js';

export async function controlCommand(argv: string[], env: NodeJS.ProcessEnv, what: { command: string; noun: string; send: (client: ExecutorClient, id: string) => Promise<void> }): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { 'redis-url': { type: 'string' }, stream: { type: 'string' } } });
  if (positionals.length === 0) throw usageError(`${what.command} needs at least one ${what.noun}`);
  for (const id of positionals) if (!taskIdSchema.safeParse(id).success) throw usageError(`not a ${what.noun}: ${JSON.stringify(id)}`);
  const { client } = clientFromSettings(settingFlags(values), env, false);
  try {
    for (const id of positionals) await what.send(client, id);
  } finally {
    await client.close();
  }
  return 0;
}
