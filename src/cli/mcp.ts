// `agent-executor mcp`: an MCP server for agents (tools run_code, run_cell, close_session) over
// stdio, or streamable HTTP with --http PORT. Runs beside the agent, not in executor pods; its SDK
// is an optional dependency, loaded only here.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadOptions } from '../config/load.js';
import { usageError } from '../errors.js';
import type { McpCaps } from '../mcp/tools.js';
import { clientFromSettings, settingFlags } from './client-settings.js';

const positive = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw usageError(`--${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  return n;
};

function portOf(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw usageError(`--http must be a port number (0-65535), not ${JSON.stringify(raw)}`);
  return n;
}

export async function mcp(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'redis-url': { type: 'string' },
      stream: { type: 'string' },
      'key-prefix': { type: 'string' },
      http: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      'token-file': { type: 'string' },
      'max-code-bytes': { type: 'string' },
      'max-files': { type: 'string' },
      'max-files-bytes': { type: 'string' },
      'result-timeout-ms': { type: 'string' },
      'max-text-chars': { type: 'string' },
      'max-images': { type: 'string' },
      'max-media-bytes': { type: 'string' },
      'max-sessions': { type: 'string' },
    },
  });
  // The executors' budgets, read from the same settings they read (defaults when not set).
  const maxima = loadOptions(['wallMs', 'cpuMs', 'outputBytes'], env);
  const caps: McpCaps = {
    maxCodeBytes: positive('max-code-bytes', values['max-code-bytes'], 1024 * 1024),
    maxFiles: positive('max-files', values['max-files'], 100),
    maxFilesBytes: positive('max-files-bytes', values['max-files-bytes'], 10 * 1024 * 1024),
    maxima,
    resultTimeoutMs: positive('result-timeout-ms', values['result-timeout-ms'], maxima.wallMs + 90_000),
    maxTextChars: positive('max-text-chars', values['max-text-chars'], 20_000),
    maxImages: positive('max-images', values['max-images'], 8),
    maxMediaBytes: positive('max-media-bytes', values['max-media-bytes'], 4 * 1024 * 1024),
  };
  const maxSessions = positive('max-sessions', values['max-sessions'], 2);
  // 0: any free port (the one taken is printed on stderr).
  const port = values.http === undefined ? undefined : portOf(values.http);
  const token = port === undefined ? undefined : readToken(values['token-file'], env);
  let sdk: typeof import('../mcp/server.js');
  try {
    sdk = await import('../mcp/server.js');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw usageError('agent-executor mcp needs @modelcontextprotocol/sdk, an optional dependency not installed here: npm install @modelcontextprotocol/sdk');
    }
    throw err;
  }
  const { client } = clientFromSettings(settingFlags(values), env);
  const sessions = new sdk.SessionRegistry(client, maxSessions);
  const stop = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  try {
    if (port === undefined) {
      await sdk.serveStdio(client, caps, sessions, stop);
      return 0;
    }
    const body = 2 * caps.maxCodeBytes + Math.ceil(caps.maxFilesBytes * 1.4) + 1024 * 1024;
    const server = await sdk.serveHttp(client, caps, sessions, { port, host: values.host, token: token!, maxBodyBytes: body });
    const address = server.address();
    process.stderr.write(`agent-executor mcp: listening on http://${values.host}:${typeof address === 'object' && address ? address.port : port}/mcp\n`);
    await stop;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // The sessions agents opened through this server end with it: none keeps an executor.
    await sessions.closeAll();
    return 0;
  } finally {
    await client.close();
  }
}

/** The bearer token: the file --token-file names, else AGENT_EXECUTOR_MCP_TOKEN (never a flag: argv is visible to every user). */
function readToken(file: string | undefined, env: NodeJS.ProcessEnv): string {
  const token = file !== undefined ? fs.readFileSync(file, 'utf8').trim() : env.AGENT_EXECUTOR_MCP_TOKEN?.trim();
  if (!token) throw usageError('--http needs a bearer token: --token-file FILE or AGENT_EXECUTOR_MCP_TOKEN (the server runs code on the fleet)');
  if (token.length < 16) throw usageError('the bearer token must be at least 16 characters');
  if (!/^[\x21-\x7e]+$/.test(token)) throw usageError('the bearer token must be printable ASCII without spaces (a header cannot carry anything else)');
  return token;
}
