// Decode result stream entries (raw, binary-safe) into result events.
import type { ExitResult, ResultEvent } from '../protocol/result.js';

export function decodeEntry(fields: Buffer[]): ResultEvent | undefined {
  const map = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!.toString(), fields[i + 1]!);
  const text = (name: string) => map.get(name)?.toString() ?? '';
  switch (text('type')) {
    case 'started':
      return {
        type: 'started',
        executor: text('executor'),
        attempt: Number(text('attempt')),
        limits: JSON.parse(text('limits')),
        sandbox: text('sandbox') === 'gvisor' ? 'gvisor' : 'none',
        ...(map.has('session')
          ? { session: { id: text('session'), cell: Number(text('cell')), stream: text('sessionStream'), idleDeadline: Number(text('idleDeadline')), lifetimeDeadline: Number(text('lifetimeDeadline')) } }
          : {}),
      };
    case 'display':
      return {
        type: 'display',
        mime: text('mime'),
        data: map.get('data') ?? Buffer.alloc(0),
        display: Number(text('display') || 1),
        part: Number(text('part') || 1),
        parts: Number(text('parts') || 1),
      };
    case 'stdout':
    case 'stderr':
      return { type: text('type') as 'stdout' | 'stderr', data: map.get('data') ?? Buffer.alloc(0) };
    case 'file':
      return {
        type: 'file',
        path: text('path'),
        data: map.get('data') ?? Buffer.alloc(0),
        part: Number(text('part') || 1),
        parts: Number(text('parts') || 1),
      };
    case 'exit':
      return { type: 'exit', result: JSON.parse(text('result')) as ExitResult };
    default:
      // A newer executor may add event types; an older client passes them by.
      return undefined;
  }
}
