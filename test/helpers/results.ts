// Read a results stream the way any controller would, with plain XREAD: no project code involved,
// so these reads check the wire format itself.
import type { Cluster, Redis } from 'ioredis';
import { waitFor } from './env.js';

export interface RawEntry {
  id: string;
  fields: Record<string, Buffer>;
}

export function field(entry: RawEntry, name: string): string {
  return entry.fields[name]?.toString() ?? '';
}

/** All entries of <prefix>results:<id> up to and including `exit`; fails after timeoutMs. */
export async function readUntilExit(redis: Redis, taskId: string, timeoutMs = 20_000, keyPrefix = 'executor:'): Promise<RawEntry[]> {
  const key = `${keyPrefix}results:${taskId}`;
  const deadline = Date.now() + timeoutMs;
  const entries: RawEntry[] = [];
  let last = '0-0';
  while (Date.now() < deadline) {
    const reply = (await redis.xreadBuffer('COUNT', 100, 'BLOCK', 200, 'STREAMS', key, last)) as
      | [Buffer, [Buffer, Buffer[]][]][]
      | null;
    for (const [id, raw] of reply?.[0]?.[1] ?? []) {
      last = id.toString();
      const fields: Record<string, Buffer> = {};
      for (let i = 0; i + 1 < raw.length; i += 2) fields[raw[i]!.toString()] = raw[i + 1]!;
      const entry = { id: last, fields };
      entries.push(entry);
      if (field(entry, 'type') === 'exit') return entries;
    }
  }
  throw new Error(`no exit entry in ${key} within ${timeoutMs} ms (got ${entries.length} entries)`);
}

export function exitResult(entries: RawEntry[]): Record<string, unknown> {
  const exit = entries.find((e) => field(e, 'type') === 'exit');
  if (!exit) throw new Error('no exit entry');
  return JSON.parse(field(exit, 'result')) as Record<string, unknown>;
}

export function output(entries: RawEntry[], kind: 'stdout' | 'stderr'): Buffer {
  return Buffer.concat(entries.filter((e) => field(e, 'type') === kind).map((e) => e.fields.data!));
}

type AnyRedis = Redis | Cluster;

/** Entries of a results stream, each as its fields (strings), polled with XRANGE (Redis or Cluster). */
export async function resultEntries(redis: AnyRedis, taskId: string): Promise<Record<string, string>[]> {
  const entries = await redis.xrange(`executor:results:${taskId}`, '-', '+');
  return entries.map(([, f]) => {
    const o: Record<string, string> = {};
    for (let i = 0; i + 1 < f.length; i += 2) o[f[i]!] = f[i + 1]!;
    return o;
  });
}

export async function waitForStarted(redis: AnyRedis, taskId: string, attempt: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(`attempt ${attempt} of ${taskId} to start`, async () =>
    (await resultEntries(redis, taskId)).some((e) => e.type === 'started' && e.attempt === String(attempt)) ? true : undefined,
  timeoutMs);
}

export async function waitForExit(redis: AnyRedis, taskId: string, timeoutMs = 20_000): Promise<Record<string, string>[]> {
  return waitFor(`the exit of ${taskId}`, async () => {
    const entries = await resultEntries(redis, taskId);
    return entries.some((e) => e.type === 'exit') ? entries : undefined;
  }, timeoutMs);
}
