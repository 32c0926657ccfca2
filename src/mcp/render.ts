// A run's outcome as MCP tool-result content: one fixed first line (status, exit code,
// duration), then what a model needs to act on — why a limit or the executor ended it, the
// output, rich displays as images, artifacts as embedded resources. Everything that reaches the
// model's context is bounded: a snippet decides what it prints, how many displays it makes and
// what it leaves in out/, so each kind has a cap, and what is left out is said in one short line.
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

export interface RenderCaps {
  /** Characters of stdout (and of stderr). */
  maxTextChars: number;
  /** Images returned as image content. */
  maxImages: number;
  /** Bytes of images and embedded artifacts together (before base64). */
  maxMediaBytes: number;
}

/** How many text displays, and names in a list, a result shows. */
const MAX_LISTED = 20;
const MAX_DISPLAY_CHARS = 2000;

// An image is returned only when its bytes are one: a snippet's `_repr_png_` may return anything.
const IMAGE_MAGIC: Record<string, (b: Buffer) => boolean> = {
  'image/png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/gif': (b) => b.subarray(0, 4).toString('latin1') === 'GIF8',
  'image/webp': (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
};

/** `status: ok, exit code: 0, duration: 41 ms` — the fixed first line of every run result. */
export function statusLine(r: Pick<ExitResult, 'status' | 'exitCode' | 'signal' | 'wallMs'>): string {
  const code = r.exitCode === null ? `none${r.signal ? ` (signal ${r.signal})` : ''}` : String(r.exitCode);
  return `status: ${r.status}, exit code: ${code}, duration: ${r.wallMs} ms`;
}

function limitsLine(l: EffectiveLimits): string {
  return `limits: wall ${l.wallMs} ms, cpu ${l.cpuMs} ms, output ${l.outputBytes} bytes, memory ${l.memoryBytes} bytes, processes ${l.processes}, open files ${l.openFiles}, file size ${l.fileSizeBytes} bytes`;
}

/** The first `max` characters, never half of a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = /[\uD800-\uDBFF]/.test(text[max - 1] ?? '') ? max - 1 : max;
  return text.slice(0, cut);
}

function section(name: string, data: Buffer, max: number): string {
  const text = data.toString('utf8');
  if (text.length <= max) return `--- ${name} ---\n${text}${text.endsWith('\n') ? '' : '\n'}`;
  const shown = clip(text, max);
  return `--- ${name} (first ${shown.length} of ${text.length} characters) ---\n${shown}\n[... ${text.length - shown.length} characters not shown]\n`;
}

/** Up to MAX_LISTED items, then how many more. */
function listed(items: string[]): string {
  const more = items.length - MAX_LISTED;
  return `${items.slice(0, MAX_LISTED).join(', ')}${more > 0 ? `, and ${more} more` : ''}`;
}

const MIME_BY_EXTENSION: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', svg: 'image/svg+xml', csv: 'text/csv', json: 'application/json', txt: 'text/plain', md: 'text/markdown', html: 'text/html' };

function mimeOf(p: string): string {
  return MIME_BY_EXTENSION[p.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

export function renderRun(taskId: string, result: ExitResult, c: Collected, caps: RenderCaps, sessionId?: string): ToolResult {
  const lines = [statusLine(result)];
  if (sessionId !== undefined) lines.push(`session_id: ${sessionId}${result.session?.cell ? `, cell ${result.session.cell}` : ''}${result.session?.ended ? `, session ended: ${result.session.ended}` : ''}`);
  if (isLimitStatus(result.status)) lines.push(`stopped by a limit: ${result.error ?? result.status}`);
  else if (result.status !== 'ok' && result.status !== 'error' && result.error) lines.push(`error: ${result.error}`);
  if (result.truncated) lines.push(`output was cut at the output limit (${c.started?.limits.outputBytes ?? '?'} bytes); nothing after it was kept`);
  if (c.started && result.status !== 'ok') lines.push(limitsLine(c.started.limits));
  lines.push(`task id: ${taskId}`);
  let text = `${lines.join('\n')}\n`;
  const stdout = Buffer.concat(c.stdout);
  const stderr = Buffer.concat(c.stderr);
  if (stdout.length > 0) text += section('stdout', stdout, caps.maxTextChars);
  if (stderr.length > 0) text += section('stderr', stderr, caps.maxTextChars);
  const content: Content[] = [{ type: 'text', text }];
  let media = caps.maxMediaBytes;
  let images = 0;
  let texts = 0;
  const unshown: string[] = [];
  for (const [k, reps] of [...c.displays].sort(([a], [b]) => a - b)) {
    const image = [...reps].find(([mime, data]) => IMAGE_MAGIC[mime]?.(data));
    if (image && images < caps.maxImages && image[1].length <= media) {
      content.push({ type: 'image', data: image[1].toString('base64'), mimeType: image[0] });
      images++;
      media -= image[1].length;
    } else if (!image && reps.has('text/plain') && texts < MAX_LISTED) {
      content.push({ type: 'text', text: `display ${k}: ${clip(reps.get('text/plain')!.toString('utf8'), MAX_DISPLAY_CHARS)}` });
      texts++;
    } else unshown.push(String(k));
  }
  if (unshown.length > 0) content.push({ type: 'text', text: `displays not shown (over this server's caps, or an image that is not one): ${listed(unshown)}` });
  const notEmbedded: string[] = [];
  for (const [p, data] of c.files) {
    if (data.length > media) {
      notEmbedded.push(`${p} (${data.length} bytes)`);
      continue;
    }
    media -= data.length;
    const uri = `artifact://${taskId}/${p.split('/').map(encodeURIComponent).join('/')}`;
    content.push({ type: 'resource', resource: { uri, mimeType: mimeOf(p), blob: data.toString('base64') } });
  }
  if (notEmbedded.length > 0) content.push({ type: 'text', text: `artifacts not embedded (over this server's ${caps.maxMediaBytes} bytes of media): ${listed(notEmbedded)}` });
  const left = (result.artifacts ?? []).filter((a) => !a.included).map((a) => `${clip(a.path, 200)} (${a.reason ?? 'not returned'})`);
  if (left.length > 0) content.push({ type: 'text', text: `artifacts left out by the executor: ${listed(left)}` });
  return { content, ...(result.status === 'ok' ? {} : { isError: true }) };
}

/** An error the model can read (a rejected request, unreachable Redis...), as a tool result. */
export function errorResult(message: string): ToolResult {
  return { content: [{ type: 'text', text: `error: ${message}` }], isError: true };
}
