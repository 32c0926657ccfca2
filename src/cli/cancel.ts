// `agent-executor cancel ID`: stop a running task, or make a queued one end without running.
import { controlCommand } from './control-command.js';

export function cancel(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return controlCommand(argv, env, { command: 'cancel', noun: 'task id', send: (client, id) => client.cancel(id) });
}
