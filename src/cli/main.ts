#!/usr/bin/env node
// The `agent-executor` command: `serve` runs the daemon, `submit` sends one snippet and follows it.
import { EXIT_USAGE, exitCodeForError } from './exit-code.js';
import { serve } from './serve.js';
import { cancel } from './cancel.js';
import { close } from './close.js';
import { repl } from './repl.js';
import { sessions } from './sessions.js';
import { selftest } from './selftest.js';
import { submit } from './submit.js';

const USAGE = `usage:
  agent-executor serve [--redis-url URL] [--stream S] [--group G] [--consumer C] [--max-runs N]
                       [--wall-ms N] [--cpu-ms N] [--output-bytes N] [--result-ttl-s N] [--log-level L]
                       [--sandbox-user USER] [--allow-shared-user] ...   (every flag has an environment variable; see README)
  agent-executor submit (-e CODE | FILE | -) [--runtime python|node|bash] [--stdin FILE]
                       [--wall-ms N] [--cpu-ms N] [--output-bytes N] [--env K=V]... [--id ID] [--json]
                       [--file LOCAL[:REMOTE]]... [--out DIR] [--timeout-ms N] [--redis-url URL] [--stream S]
                       [--key-prefix P] [--session SID] [-- ARGS...]   (REDIS_URL, REDIS_URL_FILE, REDIS_CLUSTER_NODES, EXECUTOR_STREAM, EXECUTOR_KEY_PREFIX as for serve)
  agent-executor cancel ID... [--redis-url URL] [--stream S]
  agent-executor repl --runtime python|node|bash [--out DIR]   an interactive session (Ctrl-C interrupts a cell, Ctrl-D closes)
  agent-executor sessions [--json]                             the open sessions: holder, age, idle time
  agent-executor close SID...                                  end sessions
  agent-executor selftest [--only NAME]... [--list]   run the hostile snippets against this machine's sandbox
  agent-executor mcp [--http PORT [--host H] [--token-file F]] [--redis-url URL] [--stream S]   an MCP server for agents (stdio by default)
exit codes of submit: the snippet's own; 124 a budget or limit ended it; 125 rejected, failed in the executor or session ended; 130 cancelled; 2 usage`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'submit':
      return submit(rest);
    case 'selftest':
      return selftest(rest);
    case 'cancel':
      return cancel(rest);
    case 'close':
      return close(rest);
    case 'repl':
      return repl(rest);
    case 'sessions':
      return sessions(rest);
    case 'mcp':
      // Loaded only for this command: the MCP SDK is an optional dependency.
      return (await import('./mcp.js')).mcp(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? EXIT_USAGE : 0;
    default:
      process.stderr.write(`agent-executor: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
      return EXIT_USAGE;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`agent-executor: ${(err as Error).message}\n`);
    process.exitCode = exitCodeForError(err);
  },
);
