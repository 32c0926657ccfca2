// The MCP server (`agent-executor mcp`): the tools over stdio, or over streamable HTTP bound to
// 127.0.0.1 behind a bearer token (it runs code on the fleet). Loaded only by that command: the
// SDK is an optional dependency the executor images do not carry.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { ExecutorClient } from '../client/client.js';
import { SessionRegistry } from './sessions.js';
import { registerTools, type McpCaps } from './tools.js';

const VERSION = '0.1.0';

function newServer(client: ExecutorClient, caps: McpCaps, sessions: SessionRegistry): McpServer {
  const server = new McpServer({ name: 'agent-executor', version: VERSION });
  registerTools(server, client, caps, sessions);
  return server;
}

/** Serve on stdin/stdout until stdin closes (the agent went away) or `stop` resolves; then close its sessions. */
export async function serveStdio(client: ExecutorClient, caps: McpCaps, sessions: SessionRegistry, stop: Promise<void>): Promise<void> {
  const server = newServer(client, caps, sessions);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  await server.connect(transport);
  process.stdin.once('end', () => void server.close());
  await Promise.race([closed, stop]);
  await sessions.closeAll();
}

export interface HttpOptions {
  port: number;
  host: string;
  token: string;
  /** Largest request body, bytes. */
  maxBodyBytes: number;
}

/** Serve streamable HTTP at /mcp (stateless: each request its own transport); resolves with the bound server. */
export async function serveHttp(client: ExecutorClient, caps: McpCaps, sessions: SessionRegistry, o: HttpOptions): Promise<http.Server> {
  const expected = Buffer.from(o.token);
  // The scheme is case-insensitive (RFC 9110); the token is compared in constant time.
  const authorised = (header: string | undefined) => {
    const m = /^bearer +(\S+)$/i.exec(header ?? '');
    const got = Buffer.from(m?.[1] ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };
  const httpServer = http.createServer((req, res) => {
    const fail = (status: number, message: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
    };
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/mcp') return fail(404, 'not found: the endpoint is /mcp');
    if (!authorised(req.headers.authorization)) return fail(401, 'a bearer token is required', { 'www-authenticate': 'Bearer' });
    if (req.method !== 'POST') return fail(405, 'this server is stateless: POST only', { allow: 'POST' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > o.maxBodyBytes) {
        fail(413, `request over ${o.maxBodyBytes} bytes`);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return fail(400, 'the body is not JSON');
      }
      const server = newServer(client, caps, sessions);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      server
        .connect(transport)
        .then(() => transport.handleRequest(req, res, body))
        .catch((err: unknown) => (res.headersSent ? res.end() : fail(500, (err as Error).message)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(o.port, o.host, resolve);
  });
  return httpServer;
}

export { SessionRegistry } from './sessions.js';
