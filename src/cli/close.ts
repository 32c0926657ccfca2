// `agent-executor close SID...`: end sessions. Their holders sweep them; cells still queued are
// answered `session_ended` (closed). Closing an unknown or ended session is harmless.
import { parseArgs } from 'node:util';
import { usageError } from '../errors.js';
import { taskIdSchema } from '../task/schema.js';
import { clientFromSettings, settingFlags } from './client-settings.js';

export async function close(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { 'redis-url': { type: 'string' }, stream: { type: 'string' } } });
  if (positionals.length === 0) throw usageError('close needs at least one session id');
  for (const id of positionals) if (!taskIdSchema.safeParse(id).success) throw usageError(`not a session id: ${JSON.stringify(id)}`);
  const { client } = clientFromSettings(settingFlags(values), env, false);
  try {
    for (const id of positionals) await client.closeSession(id);
  } finally {
    await client.close();
  }
  return 0;
}
