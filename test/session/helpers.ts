// Sessions through the wire format: cells put on the task stream (or a session's own stream) with
// plain XADD, results read with XREAD, so the tests check what any controller sees.
import type { Redis } from 'ioredis';
import { exitResult, field, output, readUntilExit, type RawEntry } from '../helpers/results.js';
import { unique } from '../helpers/env.js';

export interface CellResult {
  id: string;
  entries: RawEntry[];
  result: Record<string, any>;
  stdout: string;
  stderr: string;
  started: Record<string, string>;
  displays: { k: string; mime: string; data: string }[];
}

export async function cell(redis: Redis, stream: string, task: Record<string, unknown>, timeoutMs = 20_000): Promise<CellResult> {
  const id = (task.id as string | undefined) ?? unique('cell');
  await redis.xadd(stream, '*', 'task', JSON.stringify({ ...task, id }));
  return readCell(redis, id, timeoutMs);
}

export async function readCell(redis: Redis, id: string, timeoutMs = 20_000): Promise<CellResult> {
  const entries = await readUntilExit(redis, id, timeoutMs);
  const startedEntry = entries.find((e) => field(e, 'type') === 'started');
  const started = Object.fromEntries(Object.keys(startedEntry?.fields ?? {}).map((k) => [k, field(startedEntry!, k)]));
  return {
    id,
    entries,
    result: exitResult(entries),
    stdout: output(entries, 'stdout').toString(),
    stderr: output(entries, 'stderr').toString(),
    started,
    displays: entries.filter((e) => field(e, 'type') === 'display').map((e) => ({ k: field(e, 'display'), mime: field(e, 'mime'), data: field(e, 'data') })),
  };
}

/** The order of the entries' types, output entries with their text: to check interleaving. */
export function sequence(entries: RawEntry[]): string[] {
  return entries
    .map((e) => [field(e, 'type'), field(e, 'type') === 'display' ? field(e, 'mime') : field(e, 'data')] as const)
    .filter(([t]) => t === 'stdout' || t === 'display')
    .map(([t, d]) => `${t}:${d.trim()}`);
}
