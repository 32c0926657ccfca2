// `agent-executor repl --runtime python|node|bash`: an interactive interpreter over the fleet.
// Each entry is a cell of one session; Ctrl-C interrupts the running cell (the session lives on),
// Ctrl-D closes the session. Displays are printed as text, images saved under --out.
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { usageError } from '../errors.js';
import type { Submission } from '../client/follow.js';
import { clientFromSettings, settingFlags } from './client-settings.js';
import { displayPrinter } from './displays.js';
import { EXIT_EXECUTOR } from './exit-code.js';

const PROMPTS: Record<string, string> = { python: '>>> ', node: '> ', bash: '$ ' };

export async function repl(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { runtime: { type: 'string', short: 'r' }, out: { type: 'string' }, 'redis-url': { type: 'string' }, stream: { type: 'string' }, 'key-prefix': { type: 'string' } },
  });
  const runtime = values.runtime;
  if (runtime === undefined) throw usageError('repl needs --runtime (python, node or bash)');
  const { client } = clientFromSettings(settingFlags(values), env);
  const session = client.session({ runtime });
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true });
  const prompt = PROMPTS[runtime] ?? '> ';
  const showDisplay = displayPrinter(values.out);
  let running: Submission | undefined;
  let pending: string[] = [];
  let code = 0;
  rl.on('SIGINT', () => {
    if (running) {
      void client.cancel(running.id);
      return;
    }
    pending = [];
    process.stdout.write('\n(Ctrl-D closes the session)\n');
    rl.setPrompt(prompt);
    rl.prompt();
  });
  process.stderr.write(`[agent-executor] session ${session.id} (${runtime}); Ctrl-C interrupts a cell, Ctrl-D closes the session\n`);
  rl.setPrompt(prompt);
  rl.prompt();
  try {
    for await (const line of rl) {
      pending.push(line);
      if (continues(runtime, pending)) {
        rl.setPrompt('... ');
        rl.prompt();
        continue;
      }
      const cell = pending.join('\n');
      pending = [];
      if (cell.trim() !== '') {
        running = await session.run(cell, { onStdout: (d) => process.stdout.write(d), onStderr: (d) => process.stderr.write(d), onDisplay: showDisplay });
        const result = await running.result;
        running = undefined;
        if (result.status === 'session_ended' || result.session?.ended) {
          process.stderr.write(`[agent-executor] the session has ended (${result.session?.ended ?? result.status})\n`);
          code = EXIT_EXECUTOR;
          break;
        }
        if (result.status !== 'ok' && result.status !== 'error') process.stderr.write(`[agent-executor] ${result.status}${result.error ? `: ${result.error}` : ''}\n`);
      }
      rl.setPrompt(prompt);
      rl.prompt();
    }
  } finally {
    rl.close();
    await session.close().catch(() => undefined);
    await client.close();
  }
  return code;
}

// An entry goes on over several lines: a trailing backslash, or (python) a block opened by a line
// ending in ':' until an empty line.
function continues(runtime: string, lines: string[]): boolean {
  const last = lines[lines.length - 1]!;
  if (last.endsWith('\\')) return true;
  if (runtime !== 'python') return false;
  const opened = lines.some((l) => l.trimEnd().endsWith(':'));
  return opened && last.trim() !== '';
}
