// `agent-executor cancel ID`: stop a running task, or make a queued one end without running.
import { parseArgs } from 'node:util';
import { ExecutorClient } from '../client/client.js';
import { usageError } from '../errors.js';
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
  const client = new ExecutorClient({
    redis: values['redis-url'] ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    ...(env.REDIS_CLUSTER_NODES ? { clusterNodes: env.REDIS_CLUSTER_NODES } : {}),
    stream: values.stream ?? env.EXECUTOR_STREAM ?? undefined,
  });
  try {
    for (const id of positionals) await client.cancel(id);
  } finally {
    await client.close();
  }
  return 0;
}
