// `agent-executor mcp` through the MCP SDK's own client, over stdio (and streamable HTTP), against
// a real executor: the tools are listed with their arguments; code runs and comes back as text
// with a fixed first line, charts as image content, artifacts as resources; sessions keep state
// and close; what goes wrong (a rejected task, a budget, an unreachable Redis, a request over the
// server's ceilings) is a tool result the model can read, never a protocol failure.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RUNTIMES_DIR } from '../../src/runtimes/load.js';
import { BIN, DaemonProcess, daemonEnv } from '../helpers/daemon.js';
import { DEBIAN_PYTHON, hasMatplotlib, needsRoot, redisUrl, sandboxUid, unique, waitFor } from '../helpers/env.js';

type Content = { type: string; text?: string; data?: string; mimeType?: string; resource?: { uri: string; mimeType?: string; blob?: string; text?: string } };
type CallResult = { content: Content[]; isError?: boolean };

const runtimesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-runtimes-'));
const stock = JSON.parse(fs.readFileSync(path.join(DEFAULT_RUNTIMES_DIR, 'python.json'), 'utf8')) as Record<string, unknown> & { command: string[] };
fs.writeFileSync(path.join(runtimesDir, 'python-mpl.json'), JSON.stringify({ ...stock, name: 'python-mpl', extensions: [], command: [DEBIAN_PYTHON, ...stock.command.slice(1)], session: undefined }));

const stream = unique('mcp');
let daemon: DaemonProcess;
let client: Client;

function mcpClient(args: string[] = []): { client: Client; transport: StdioClientTransport } {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp', '--redis-url', redisUrl(), '--stream', stream, ...args],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stderr: 'pipe',
  });
  return { client: new Client({ name: 'test', version: '1' }), transport };
}

async function call(c: Client, name: string, args: Record<string, unknown>): Promise<CallResult> {
  return (await c.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as CallResult;
}

const text = (r: CallResult) => r.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

describe.skipIf(needsRoot.skip)('agent-executor mcp', () => {
  beforeAll(async () => {
    daemon = new DaemonProcess(daemonEnv({ stream, uid: sandboxUid(39) }, { EXECUTOR_RUNTIMES_DIR: `${DEFAULT_RUNTIMES_DIR}:${runtimesDir}`, EXECUTOR_MAX_RUNS: '1000' }));
    await daemon.waitForLog('executor started');
    const m = mcpClient();
    client = m.client;
    await client.connect(m.transport);
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await daemon?.stop();
    fs.rmSync(runtimesDir, { recursive: true, force: true });
  });

  it('lists the three tools with their arguments', async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual(['close_session', 'run_cell', 'run_code']);
    const props = (n: string) => Object.keys((byName[n]!.inputSchema as { properties: object }).properties).sort();
    expect(props('run_code')).toEqual(['code', 'files', 'limits', 'runtime', 'stdin']);
    expect(props('run_cell')).toEqual(['code', 'files', 'limits', 'runtime', 'session_id', 'stdin']);
    expect(props('close_session')).toEqual(['session_id']);
    expect((byName.run_code!.inputSchema as { required: string[] }).required.sort()).toEqual(['code', 'runtime']);
  });

  it('runs code: a fixed first line, then the output', async () => {
    const r = await call(client, 'run_code', { runtime: 'python', code: 'import sys\nprint(input() * 2)\nprint("warn", file=sys.stderr)', stdin: 'ab\n' });
    expect(r.isError).toBeFalsy();
    const t = text(r);
    expect(t.split('\n')[0]).toMatch(/^status: ok, exit code: 0, duration: \d+ ms$/);
    expect(t).toContain('--- stdout ---\nabab\n');
    expect(t).toContain('--- stderr ---\nwarn\n');
  });

  it('returns files written under out/ as resources, and takes files in', async () => {
    const r = await call(client, 'run_code', {
      runtime: 'bash',
      code: 'mkdir -p out && tr a-z A-Z < in.txt > out/upper.txt && cp blob out/blob',
      files: [{ path: 'in.txt', content: 'shout' }, { path: 'blob', content: Buffer.from([0, 1, 2, 255]).toString('base64'), encoding: 'base64' }],
    });
    expect(r.isError).toBeFalsy();
    const resources = Object.fromEntries(r.content.filter((c) => c.type === 'resource').map((c) => [c.resource!.uri, c.resource!]));
    const upper = Object.entries(resources).find(([uri]) => uri.endsWith('/upper.txt'))![1];
    expect(upper.mimeType).toBe('text/plain');
    expect(Buffer.from(upper.blob!, 'base64').toString()).toBe('SHOUT');
    const blob = Object.entries(resources).find(([uri]) => uri.endsWith('/blob'))![1];
    expect([...Buffer.from(blob.blob!, 'base64')]).toEqual([0, 1, 2, 255]);
  });

  it.skipIf(!hasMatplotlib)('returns a chart as image content', async () => {
    const r = await call(client, 'run_code', { runtime: 'python-mpl', code: 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nprint("done")' });
    expect(text(r)).toContain('status: ok');
    const images = r.content.filter((c) => c.type === 'image');
    expect(images).toHaveLength(1);
    expect(images[0]!.mimeType).toBe('image/png');
    expect(Buffer.from(images[0]!.data!, 'base64').subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  });

  it('says plainly which budget ended a run, as an error result', async () => {
    const r = await call(client, 'run_code', { runtime: 'bash', code: 'echo started; sleep 30', limits: { wallMs: 500 } });
    expect(r.isError).toBe(true);
    const t = text(r);
    expect(t.split('\n')[0]).toMatch(/^status: timeout, exit code: none/);
    expect(t).toMatch(/stopped by a limit: wall-clock budget of 500 ms/);
    expect(t).toMatch(/limits: wall 500 ms/);
    expect(t).toContain('started');
  });

  it('reports a rejected task and a non-zero exit as tool results', async () => {
    const rejected = await call(client, 'run_code', { runtime: 'cobol', code: 'x' });
    expect(rejected.isError).toBe(true);
    expect(text(rejected)).toMatch(/^status: rejected, exit code: none, duration: 0 ms\nerror: .*cobol/);
    const failed = await call(client, 'run_code', { runtime: 'bash', code: 'exit 7' });
    expect(failed.isError).toBe(true);
    expect(text(failed).split('\n')[0]).toMatch(/^status: error, exit code: 7,/);
    const badPath = await call(client, 'run_code', { runtime: 'bash', code: 'true', files: [{ path: '../escape', content: 'x' }] });
    expect(badPath.isError).toBe(true);
    expect(text(badPath)).toMatch(/^error: invalid task: files.0.path/);
  });

  it('keeps state across cells of a session, returns its id, and closes it', async () => {
    const first = await call(client, 'run_cell', { runtime: 'python', code: 'x = 20' });
    expect(first.isError).toBeFalsy();
    const sid = /session_id: ([\w-]+), cell 1/.exec(text(first))?.[1];
    expect(sid).toBeDefined();
    const second = await call(client, 'run_cell', { session_id: sid, runtime: 'python', code: 'x * 2 + 2' });
    expect(text(second)).toContain(`session_id: ${sid}, cell 2`);
    expect(text(second)).toContain('display 1: 42');
    // Another MCP server (a second agent process, say) can continue the same session by its id.
    const other = mcpClient();
    await other.client.connect(other.transport);
    try {
      expect(text(await call(other.client, 'run_cell', { session_id: sid, runtime: 'python', code: 'x' }))).toContain('display 1: 20');
    } finally {
      await other.client.close();
    }
    expect(text(await call(client, 'close_session', { session_id: sid }))).toBe(`session ${sid} closed`);
    const after = await waitFor('the session to end', async () => {
      const r = await call(client, 'run_cell', { session_id: sid, runtime: 'python', code: 'x' });
      return /has ended/.test(text(r)) ? r : undefined;
    });
    expect(after.isError).toBe(true);
    expect(text(after)).toMatch(/session .* has ended \(closed\)/);
    const unknown = await call(client, 'run_cell', { session_id: 'no-such-session', runtime: 'python', code: '1' });
    expect(text(unknown)).toMatch(/^error: no session no-such-session: omit session_id/);
  }, 120_000);

  it('refuses requests over its ceilings, and reports an unreachable Redis, as tool results', async () => {
    const capped = mcpClient(['--max-code-bytes', '100', '--max-files', '1']);
    await capped.client.connect(capped.transport);
    try {
      expect(text(await call(capped.client, 'run_code', { runtime: 'bash', code: `# ${'x'.repeat(200)}` }))).toMatch(/^error: code is 202 bytes, over this server's ceiling of 100/);
      const files = [{ path: 'a', content: '' }, { path: 'b', content: '' }];
      expect(text(await call(capped.client, 'run_code', { runtime: 'bash', code: 'true', files }))).toMatch(/^error: 2 files, over this server's ceiling of 1/);
    } finally {
      await capped.client.close();
    }
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--redis-url', 'redis://127.0.0.1:1', '--stream', stream], stderr: 'pipe' });
    const dead = new Client({ name: 'test', version: '1' });
    await dead.connect(transport);
    try {
      const r = await call(dead, 'run_code', { runtime: 'bash', code: 'true' });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/^error: cannot reach Redis at 127\.0\.0\.1:1/);
    } finally {
      await dead.close();
    }
  }, 60_000);

  it('bounds what reaches the model: displays, images that are not images, artifacts', async () => {
    const displays = await call(client, 'run_cell', { runtime: 'python', code: 'for i in range(300): display(i)\nclass Fake:\n    def _repr_png_(self): return b"not a png"\ndisplay(Fake())' });
    const texts = displays.content.filter((c) => c.type === 'text');
    expect(texts.filter((c) => c.text!.startsWith('display '))).toHaveLength(20);
    expect(displays.content.filter((c) => c.type === 'image')).toHaveLength(0);
    expect(text(displays)).toMatch(/displays not shown \(over this server's caps, or an image that is not one\): 21, 22, .*, and \d+ more/);
    const sid = /session_id: ([\w-]+)/.exec(text(displays))![1]!;
    await call(client, 'close_session', { session_id: sid });
    const files = await call(client, 'run_code', { runtime: 'bash', code: 'mkdir -p out && for i in $(seq 100); do echo $i > out/f$i; done' });
    expect(text(files)).toMatch(/artifacts left out by the executor: .*, and \d+ more/);
    expect(JSON.stringify(files).length).toBeLessThan(50_000);
  }, 60_000);

  it('keeps at most --max-sessions open, says which, and closes them when the agent goes away', async () => {
    const m = mcpClient(['--max-sessions', '1', '--result-timeout-ms', '8000']);
    await m.client.connect(m.transport);
    let sid: string;
    try {
      const first = await call(m.client, 'run_cell', { runtime: 'bash', code: 'A=1' });
      sid = /session_id: ([\w-]+)/.exec(text(first))![1]!;
      const second = await call(m.client, 'run_cell', { runtime: 'bash', code: 'B=1' });
      expect(second.isError).toBe(true);
      expect(text(second)).toContain(`already holds 1 open sessions (${sid})`);
      expect(text(await call(m.client, 'run_cell', { session_id: sid, runtime: 'python', code: '1' }))).toMatch(/runs bash, not python/);
      // A later cell the executor rejects leaves the session open, and still counted.
      expect(text(await call(m.client, 'run_cell', { session_id: sid, runtime: 'bash', code: 'true', limits: { memoryBytes: 100_000_000 } }))).toMatch(/^status: rejected/);
      expect(text(await call(m.client, 'run_cell', { runtime: 'bash', code: 'true' }))).toContain(`already holds 1 open sessions (${sid})`);
      // A cell that outlives the server's wait: the answer names the session, which lives on.
      const slow = await call(m.client, 'run_cell', { session_id: sid, runtime: 'bash', code: 'sleep 60' });
      expect(text(slow)).toMatch(new RegExp(`the task was cancelled \\(session_id: ${sid}: the cell was interrupted, the session is still open\\)`));
      expect(text(await call(m.client, 'run_cell', { session_id: sid, runtime: 'bash', code: 'echo $A' }))).toContain('--- stdout ---\n1\n');
    } finally {
      await m.client.close();
    }
    const state = await waitFor('the session to be closed with its server', async () => {
      const r = await call(client, 'run_cell', { session_id: sid!, runtime: 'bash', code: 'true' });
      return /has ended/.test(text(r)) ? text(r) : undefined;
    }, 20_000);
    expect(state).toMatch(/has ended \(closed\)/);
  }, 90_000);

  it('cancels the task when the agent cancels its request', async () => {
    // Cancelled runs of this daemon so far (earlier tests cancel some): this one must add its own.
    const cancelled = () => daemon.logs.filter((l) => l.msg === 'run finished' && l.status === 'cancelled');
    const before = cancelled().length;
    await expect(client.callTool({ name: 'run_code', arguments: { runtime: 'bash', code: 'sleep 20' } }, undefined, { timeout: 2000 })).rejects.toThrow(/timed out/i);
    const finished = await waitFor('the abandoned run to be cancelled', () => cancelled()[before], 15_000);
    expect(finished.wallMs as number).toBeLessThan(10_000);
  }, 30_000);

  it('serves streamable HTTP on 127.0.0.1 behind a bearer token', async () => {
    const token = 'a-test-token-of-some-length';
    const child = spawn(process.execPath, [BIN, 'mcp', '--http', '0', '--redis-url', redisUrl(), '--stream', stream], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AGENT_EXECUTOR_MCP_TOKEN: token },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const url = await waitFor('the server to listen', () => /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr)?.[1]);
      expect((await fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(401);
      expect((await fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
      expect((await fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', authorization: `Basic ${token}` } })).status).toBe(401);
      const http = new Client({ name: 'test', version: '1' });
      // The scheme is case-insensitive.
      await http.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `bearer ${token}` } } }));
      try {
        expect((await http.listTools()).tools.map((t) => t.name).sort()).toEqual(['close_session', 'run_cell', 'run_code']);
        expect(text(await call(http, 'run_code', { runtime: 'bash', code: 'echo over-http' }))).toContain('over-http');
      } finally {
        await http.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);

  it('will not serve HTTP without a token', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp', '--http', '0', '--redis-url', redisUrl()], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/--http needs a bearer token/);
  });
});
