// The MCP tools (names and arguments are a contract: agent configurations depend on them):
// run_code, run_cell (opens a session when none is named) and close_session. Whatever goes wrong
// comes back as a tool result the model can read (isError), never as a protocol failure.
import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ExecutorClient } from '../client/client.js';
import { ExecutorError } from '../errors.js';
import { LIMIT_NAMES, type EffectiveLimits } from '../protocol/result.js';
import type { TaskInput } from '../task/schema.js';
import { collector, emptyCollected, settle, type Collected, type Outcome } from './collect.js';
import { errorResult, renderRun, type RenderCaps, type ToolResult } from './render.js';
import type { SessionRegistry } from './sessions.js';

export interface McpCaps extends RenderCaps {
  /** Largest `code` (and `stdin`), in bytes of UTF-8. */
  maxCodeBytes: number;
  /** Most files per call, and their decoded bytes in all. */
  maxFiles: number;
  maxFilesBytes: number;
  /** The executors' maxima (EXECUTOR_WALL_MS...): a limit asked above one is lowered to it. */
  maxima: Partial<EffectiveLimits>;
  /** How long a call waits for its answer before it cancels the task. */
  resultTimeoutMs: number;
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

export function registerTools(server: McpServer, client: ExecutorClient, caps: McpCaps, sessions: SessionRegistry): void {
  server.registerTool(
    'run_code',
    {
      title: 'Run code in a sandbox',
      description: 'Run a Python, Node.js or bash program in a fresh, isolated sandbox (no state kept between calls; no network). Returns the status, exit code, duration and output; charts as images; files written under out/ as resources.',
      inputSchema: RUN_CODE,
    },
    (args, extra) => guarded(async () => {
      const input = checked(args, caps);
      const c = emptyCollected();
      const sub = await client.submit({ id: randomUUID(), ...input }, collector(c));
      return answer(sub.id, await settle(sub, () => client.cancel(sub.id), caps.resultTimeoutMs, extra.signal), c, caps);
    }),
  );
  server.registerTool(
    'run_cell',
    {
      title: 'Run a cell in a stateful session',
      description: `Run code in a persistent interpreter session (like a notebook): variables, imports and files stay for the next cell. Omit session_id to open a session; pass the returned session_id to continue it. Close it with close_session when done: an open session holds an executor (this server keeps at most ${sessions.max} open).`,
      inputSchema: RUN_CELL,
    },
    ({ session_id, ...args }, extra) => guarded(async () => {
      const input = checked(args, caps);
      let session = session_id === undefined ? undefined : sessions.get(session_id);
      if (session_id !== undefined && session === undefined) {
        const state = await client.sessionState(session_id);
        if (state === undefined) return errorResult(`no session ${session_id}: omit session_id to open a new one`);
        if (state.state !== 'open') return errorResult(`session ${session_id} has ended (${state.reason ?? 'closed'}); its state is gone: omit session_id to open a new one`);
        if (state.runtime !== input.runtime) return errorResult(`session ${session_id} runs ${state.runtime}, not ${input.runtime}`);
        session = sessions.resume(session_id, input.runtime);
        if (session === undefined) return tooMany(sessions);
      } else if (session !== undefined && session.runtime !== input.runtime) {
        return errorResult(`session ${session_id} runs ${session.runtime}, not ${input.runtime}`);
      }
      const opening = session === undefined;
      if (session === undefined) session = sessions.open({ runtime: input.runtime, ...(input.limits ? { limits: input.limits } : {}) });
      if (session === undefined) return tooMany(sessions);
      const sid = session.handle.id;
      const c = emptyCollected();
      const { runtime: _runtime, code, ...options } = input;
      let sub;
      try {
        sub = await session.handle.run(code, { id: randomUUID(), ...options, ...collector(c) });
      } catch (err) {
        if (opening) sessions.forget(sid);
        throw err;
      }
      const outcome = await settle(sub, () => client.cancel(sub.id), caps.resultTimeoutMs, extra.signal);
      // A session that ended, or never opened (its first cell was rejected), is not kept; a later
      // cell that was rejected leaves its session as it was.
      if (!('timedOut' in outcome || 'aborted' in outcome) && (outcome.session?.ended || (opening && c.started === undefined))) sessions.forget(sid);
      return answer(sub.id, outcome, c, caps, sid);
    }),
  );
  server.registerTool(
    'close_session',
    {
      title: 'Close a session',
      description: 'End a session opened by run_cell: its interpreter and files are wiped, and its executor is free again.',
      inputSchema: { session_id: z.string().describe('the session_id run_cell returned') },
    },
    ({ session_id }) => guarded(async () => {
      const state = await client.sessionState(session_id);
      sessions.forget(session_id);
      if (state === undefined) return errorResult(`no session ${session_id}`);
      if (state.state !== 'open') return { content: [{ type: 'text', text: `session ${session_id} had already ended (${state.reason ?? 'closed'})` }] };
      await client.closeSession(session_id);
      return { content: [{ type: 'text', text: `session ${session_id} closed` }] };
    }),
  );
}

function tooMany(sessions: SessionRegistry): ToolResult {
  return errorResult(`this server already holds ${sessions.max} open sessions (${sessions.ids().join(', ')}), each holding an executor: close one with close_session, or continue one with its session_id`);
}

function answer(taskId: string, outcome: Outcome, c: Collected, caps: McpCaps, sessionId?: string): ToolResult {
  const cell = sessionId === undefined ? '' : ` (session_id: ${sessionId}: the cell was interrupted, the session is still open)`;
  if ('aborted' in outcome) return errorResult(`the request was cancelled; task ${taskId} was cancelled too${cell}`);
  if ('timedOut' in outcome) {
    return errorResult(`no answer for task ${taskId} within ${caps.resultTimeoutMs} ms: every executor may be busy (an open session holds one) or none reads this stream; the task was cancelled${cell}`);
  }
  return renderRun(taskId, outcome, c, caps, sessionId);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The task input within this server's ceilings; limits above the executors' maxima are lowered. */
function checked(args: { runtime: string; code: string; stdin?: string; files?: { path: string; content: string; encoding?: 'utf8' | 'base64' }[]; limits?: Partial<EffectiveLimits> }, caps: McpCaps): Pick<TaskInput, 'runtime' | 'code' | 'stdin' | 'files' | 'limits'> {
  for (const [what, value] of [['code', args.code], ['stdin', args.stdin ?? '']] as const) {
    const bytes = Buffer.byteLength(value);
    if (bytes > caps.maxCodeBytes) throw new Refused(`${what} is ${bytes} bytes, over this server's ceiling of ${caps.maxCodeBytes}`);
  }
  const files = args.files ?? [];
  if (files.length > caps.maxFiles) throw new Refused(`${files.length} files, over this server's ceiling of ${caps.maxFiles}`);
  for (const f of files) if (f.encoding === 'base64' && !BASE64.test(f.content.replace(/\s/g, ''))) throw new Refused(`file ${JSON.stringify(f.path)}: content is not base64`);
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
