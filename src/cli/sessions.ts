// `agent-executor sessions`: the open sessions, with their holder, age and idle time.
import { parseArgs } from 'node:util';
import { clientFromSettings, settingFlags } from './client-settings.js';

export async function sessions(argv: string[], env: NodeJS.ProcessEnv = process.env, write: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { json: { type: 'boolean', default: false }, 'redis-url': { type: 'string' }, stream: { type: 'string' }, 'key-prefix': { type: 'string' } } });
  const { client } = clientFromSettings(settingFlags(values), env);
  try {
    const list = await client.listSessions();
    if (values.json) {
      write(`${JSON.stringify(list)}\n`);
      return 0;
    }
    const now = Date.now();
    const rows = [['SESSION', 'RUNTIME', 'HOLDER', 'AGE', 'IDLE', 'CELLS'], ...list.map((s) => [s.id, s.runtime, s.holder, seconds(now - s.openedAt), seconds(now - s.lastActive), String(s.cells)])];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
    return 0;
  } finally {
    await client.close();
  }
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}
