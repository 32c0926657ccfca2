// The MCP tools (names and arguments are a contract: agent configurations depend on them):
// run_code, run_cell (opens a session when none is named) and close_session. Whatever goes wrong
// comes back as a tool result the model can read (isError), never as a protocol failure.
import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ExecutorClient } from '../client/client.js';
import type { SessionHandle } from '../client/session.js';
import { ExecutorError } from '../errors.js';
import { LIMIT_NAMES, type EffectiveLimits } from '../protocol/result.js';
import type { TaskInput } from '../task/schema.js';
import { collector, emptyCollected, settle } from './collect.js';
import { errorResult, renderRun, type ToolResult } from './render.js';

export interface McpCaps {
  /** Largest `code`, in bytes of UTF-8. */
  maxCodeBytes: number;
  /** Most files per call, and their decoded bytes in all. */
  maxFiles: number;
  maxFilesBytes: number;
  /** The executors' maxima (EXECUTOR_WALL_MS...): a limit asked above one is lowered to it. */
  maxima: Partial<EffectiveLimits>;
  /** How long a call waits for its answer before it cancels the task. */
  resultTimeoutMs: number;
  /** Characters of stdout (and of stderr) put in the text result. */
  maxTextChars: number;
}

const positive = z.number().int().positive();
const fileShape = z.object({
  path: z.string().describe('relative path inside the working directory, e.g. "data/in.csv"'),
  content: z.string(),
  encoding: z.enum(['utf8', 'base64']).optional().describe('utf8 (default) or base64 for binary content'),
});
const limitsShape = z
  .object(Object.fromEntries(LIMIT_NAMES.map((n) => [n, positive.optional()])) as Record<(typeof LIMIT_NAMES)[number], z.ZodOptional<typeof positive>>)
  .describe('lower the budgets: wallMs, cpuMs, outputBytes, memoryBytes, processes, openFiles, fileSizeBytes (never above the executors\' maxima)');
const runtime = z.string().min(1).describe('the interpreter: "python", "node" or "bash" (or another runtime the executors have)');

const RUN_CODE = {
  runtime,
  code: z.string().describe('the program to run, as a file: output is what it prints'),
  stdin: z.string().optional().describe('standard input'),
  files: z.array(fileShape).optional().describe('files written into the working directory before the code runs; files the code writes under out/ come back as resources'),
  limits: limitsShape.optional(),
};

const RUN_CELL = {
  session_id: z.string().optional().describe('the session to run in; omit to open a new one (its id is in the result)'),
  ...RUN_CODE,
  code: z.string().describe('the next cell: variables, imports and files of earlier cells are there; the value of a last expression is shown'),
};

export function registerTools(server: McpServer, client: ExecutorClient, caps: McpCaps): void {
  // Sessions this server opened or was told of, by id: their later cells take the direct route.
  const sessions = new Map<string, SessionHandle>();
  server.registerTool(
    'run_code',
    {
      title: 'Run code in a sandbox',
      description: 'Run a Python, Node.js or bash program in a fresh, isolated sandbox (no state kept between calls; no network). Returns the status, exit code, duration and output; charts as images; files written under out/ as resources.',
      inputSchema: RUN_CODE,
    },
    (args) => guarded(async () => {
      const input = checked(args, caps);
      const c = emptyCollected();
      const sub = await client.submit({ id: randomUUID(), ...input }, collector(c));
      return answer(sub.id, await settle(sub, () => client.cancel(sub.id), caps.resultTimeoutMs), c, caps);
    }),
  );
  server.registerTool(
    'run_cell',
    {
      title: 'Run a cell in a stateful session',
      description: 'Run code in a persistent interpreter session (like a notebook): variables, imports and files stay for the next cell. Omit session_id to open a session; pass the returned session_id to continue it. Close it with close_session when done.',
      inputSchema: RUN_CELL,
    },
    ({ session_id, ...args }) => guarded(async () => {
      const input = checked(args, caps);
      let session = session_id === undefined ? undefined : sessions.get(session_id);
      if (session_id !== undefined && session === undefined) {
        const state = await client.sessionState(session_id);
        if (state === undefined) return errorResult(`no session ${session_id}: omit session_id to open a new one`);
        if (state.state !== 'open') return errorResult(`session ${session_id} has ended (${state.reason ?? 'closed'}); its state is gone: omit session_id to open a new one`);
        session = client.session({ id: session_id, runtime: input.runtime, resume: true });
      }
      if (session === undefined) session = client.session({ runtime: input.runtime, ...(input.limits ? { limits: input.limits } : {}) });
      sessions.set(session.id, session);
      const c = emptyCollected();
      const { runtime: _runtime, code, ...options } = input;
      const sub = await session.run(code, { id: randomUUID(), ...options, ...collector(c) });
      const outcome = await settle(sub, () => client.cancel(sub.id), caps.resultTimeoutMs);
      if (!('timedOut' in outcome) && outcome.session?.ended) sessions.delete(session.id);
      return answer(sub.id, outcome, c, caps, session.id);
    }),
  );
  server.registerTool(
    'close_session',
    {
      title: 'Close a session',
      description: 'End a session opened by run_cell: its interpreter and files are wiped.',
      inputSchema: { session_id: z.string().describe('the session_id run_cell returned') },
    },
    ({ session_id }) => guarded(async () => {
      const state = await client.sessionState(session_id);
      sessions.delete(session_id);
      if (state === undefined) return errorResult(`no session ${session_id}`);
      if (state.state !== 'open') return { content: [{ type: 'text', text: `session ${session_id} had already ended (${state.reason ?? 'closed'})` }] };
      await client.closeSession(session_id);
      return { content: [{ type: 'text', text: `session ${session_id} closed` }] };
    }),
  );
}

function answer(taskId: string, outcome: Awaited<ReturnType<typeof settle>>, c: ReturnType<typeof emptyCollected>, caps: McpCaps, sessionId?: string): ToolResult {
  if ('timedOut' in outcome) return errorResult(`no answer for task ${taskId} within ${caps.resultTimeoutMs} ms (are executors running and reading the stream?); it was cancelled`);
  return renderRun(taskId, outcome, c, { maxTextChars: caps.maxTextChars, ...(sessionId === undefined ? {} : { sessionId }) });
}

/** The task input within this server's ceilings; limits above the executors' maxima are lowered. */
function checked(args: { runtime: string; code: string; stdin?: string; files?: { path: string; content: string; encoding?: 'utf8' | 'base64' }[]; limits?: Partial<EffectiveLimits> }, caps: McpCaps): Pick<TaskInput, 'runtime' | 'code' | 'stdin' | 'files' | 'limits'> {
  const codeBytes = Buffer.byteLength(args.code);
  if (codeBytes > caps.maxCodeBytes) throw new Refused(`code is ${codeBytes} bytes, over this server's ceiling of ${caps.maxCodeBytes}`);
  const files = args.files ?? [];
  if (files.length > caps.maxFiles) throw new Refused(`${files.length} files, over this server's ceiling of ${caps.maxFiles}`);
  const filesBytes = files.reduce((n, f) => n + (f.encoding === 'base64' ? Buffer.from(f.content, 'base64').length : Buffer.byteLength(f.content)), 0);
  if (filesBytes > caps.maxFilesBytes) throw new Refused(`files are ${filesBytes} bytes, over this server's ceiling of ${caps.maxFilesBytes}`);
  const limits = args.limits ? Object.fromEntries(Object.entries(args.limits).map(([k, v]) => [k, Math.min(v!, caps.maxima[k as keyof EffectiveLimits] ?? v!)])) : undefined;
  return { runtime: args.runtime, code: args.code, ...(args.stdin === undefined ? {} : { stdin: args.stdin }), ...(args.files ? { files: files.map((f) => ({ ...f, encoding: f.encoding ?? 'utf8' })) } : {}), ...(limits ? { limits } : {}) };
}

class Refused extends Error {}

async function guarded(call: () => Promise<ToolResult>): Promise<ToolResult> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof Refused) return errorResult(err.message);
    if (err instanceof ExecutorError) return errorResult(`${err.message} (${err.code})`);
    return errorResult(`the server failed: ${(err as Error).message}`);
  }
}
