// A run's outcome as MCP tool-result content: one fixed first line (status, exit code,
// duration), then what a model needs to act on — why a limit or the executor ended it, the
// output, rich displays as images, artifacts as embedded resources.
import { isLimitStatus, type EffectiveLimits, type ExitResult } from '../protocol/result.js';
import type { Collected } from './collect.js';

export type Content =
  | { type: 'text'; text: string }
  | { type: 'image'; data: string; mimeType: string }
  | { type: 'resource'; resource: { uri: string; mimeType?: string; text: string } | { uri: string; mimeType?: string; blob: string } };

export interface ToolResult {
  [key: string]: unknown;
  content: Content[];
  isError?: boolean;
}

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** `status: ok, exit code: 0, duration: 41 ms` — the fixed first line of every run result. */
export function statusLine(r: Pick<ExitResult, 'status' | 'exitCode' | 'signal' | 'wallMs'>): string {
  const code = r.exitCode === null ? `none${r.signal ? ` (signal ${r.signal})` : ''}` : String(r.exitCode);
  return `status: ${r.status}, exit code: ${code}, duration: ${r.wallMs} ms`;
}

function limitsLine(l: EffectiveLimits): string {
  return `limits: wall ${l.wallMs} ms, cpu ${l.cpuMs} ms, output ${l.outputBytes} bytes, memory ${l.memoryBytes} bytes, processes ${l.processes}, open files ${l.openFiles}, file size ${l.fileSizeBytes} bytes`;
}

/** At most `max` characters of a stream, saying how much was left out. */
function clipped(name: string, data: Buffer, max: number): string {
  const text = data.toString('utf8');
  if (text.length <= max) return `--- ${name} ---\n${text}${text.endsWith('\n') ? '' : '\n'}`;
  return `--- ${name} (first ${max} of ${text.length} characters) ---\n${text.slice(0, max)}\n[... ${text.length - max} characters not shown]\n`;
}

const MIME_BY_EXTENSION: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', svg: 'image/svg+xml', csv: 'text/csv', json: 'application/json', txt: 'text/plain', md: 'text/markdown', html: 'text/html' };

function mimeOf(p: string): string {
  return MIME_BY_EXTENSION[p.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

export function renderRun(taskId: string, result: ExitResult, c: Collected, o: { maxTextChars: number; sessionId?: string }): ToolResult {
  const lines = [statusLine(result)];
  if (o.sessionId !== undefined) lines.push(`session_id: ${o.sessionId}${result.session?.cell ? `, cell ${result.session.cell}` : ''}${result.session?.ended ? `, session ended: ${result.session.ended}` : ''}`);
  if (isLimitStatus(result.status)) lines.push(`stopped by a limit: ${result.error ?? result.status}`);
  else if (result.status !== 'ok' && result.status !== 'error' && result.error) lines.push(`error: ${result.error}`);
  if (result.truncated) lines.push(`output was cut at the output limit (${c.started?.limits.outputBytes ?? '?'} bytes); nothing after it was kept`);
  if (c.started && result.status !== 'ok') lines.push(limitsLine(c.started.limits));
  lines.push(`task id: ${taskId}`);
  let text = `${lines.join('\n')}\n`;
  const stdout = Buffer.concat(c.stdout);
  const stderr = Buffer.concat(c.stderr);
  if (stdout.length > 0) text += clipped('stdout', stdout, o.maxTextChars);
  if (stderr.length > 0) text += clipped('stderr', stderr, o.maxTextChars);
  const content: Content[] = [{ type: 'text', text }];
  for (const [k, reps] of [...c.displays].sort(([a], [b]) => a - b)) {
    const image = [...reps].find(([mime]) => IMAGE_TYPES.has(mime));
    if (image) content.push({ type: 'image', data: image[1].toString('base64'), mimeType: image[0] });
    else if (reps.has('text/plain')) content.push({ type: 'text', text: `display ${k}: ${reps.get('text/plain')!.toString('utf8').slice(0, o.maxTextChars)}` });
  }
  const left = (result.artifacts ?? []).filter((a) => !a.included);
  for (const [p, data] of c.files) {
    const uri = `artifact://${taskId}/${p.split('/').map(encodeURIComponent).join('/')}`;
    const mimeType = mimeOf(p);
    content.push({ type: 'resource', resource: { uri, mimeType, blob: data.toString('base64') } });
  }
  if (left.length > 0) content.push({ type: 'text', text: `artifacts left out: ${left.map((a) => `${a.path} (${a.reason ?? 'not returned'})`).join(', ')}` });
  return { content, ...(result.status === 'ok' ? {} : { isError: true }) };
}

/** An error the model can read (a rejected request, unreachable Redis...), as a tool result. */
export function errorResult(message: string): ToolResult {
  return { content: [{ type: 'text', text: `error: ${message}` }], isError: true };
}
