// `agent-executor close SID...`: end sessions. Their holders sweep them; cells still queued are
// answered `session_ended` (closed). Closing an unknown or ended session is harmless.
import { controlCommand } from './control-command.js';

export function close(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return controlCommand(argv, env, { command: 'close', noun: 'session id', send: (client, id) => client.closeSession(id) });
}
