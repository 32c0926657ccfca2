// `agent-executor cancel ID`: stop a running task, or make a queued one end without running.
import { parseArgs } from 'node:util';
import { usageError } from '../errors.js';
import { clientFromSettings, settingFlags } from './client-settings.js';
import { taskIdSchema } from '../task/schema.js';

export async function cancel(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { 'redis-url': { type: 'string' }, stream: { type: 'string' } },
  });
  if (positionals.length === 0) throw usageError('cancel needs at least one task id');
  for (const id of positionals) if (!taskIdSchema.safeParse(id).success) throw usageError(`not a task id: ${JSON.stringify(id)}`);
  const { client } = clientFromSettings(settingFlags(values), env, false);
  try {
    for (const id of positionals) await client.cancel(id);
  } finally {
    await client.close();
  }
  return 0;
}
