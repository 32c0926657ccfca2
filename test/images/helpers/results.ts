// Submit a task and read its results stream the way any controller would: plain XADD and XREAD,
// no project code, so these checks exercise the wire format the images serve.
import type { Redis } from 'ioredis';

export interface Event {
  type: string;
  fields: Record<string, string>;
}

export interface RunOutcome {
  events: Event[];
  started: Record<string, string>;
  stdout: string;
  stderr: string;
  result: Record<string, unknown>;
}

export async function submit(redis: Redis, stream: string, task: Record<string, unknown>): Promise<void> {
  await redis.xadd(stream, '*', 'task', JSON.stringify(task));
}

/** Every event of executor:results:<id> up to its `exit`, within a bounded time. */
export async function outcome(redis: Redis, taskId: string, timeoutMs: number): Promise<RunOutcome> {
  const key = `executor:results:${taskId}`;
  const deadline = Date.now() + timeoutMs;
  const events: Event[] = [];
  let last = '0-0';
  while (Date.now() < deadline) {
    const reply = (await redis.xread('COUNT', 100, 'BLOCK', 500, 'STREAMS', key, last)) as [string, [string, string[]][]][] | null;
    for (const [id, raw] of reply?.[0]?.[1] ?? []) {
      last = id;
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < raw.length; i += 2) fields[raw[i]!] = raw[i + 1]!;
      events.push({ type: fields.type ?? '', fields });
      if (fields.type === 'exit') {
        const join = (type: string) => events.filter((e) => e.type === type).map((e) => e.fields.data).join('');
        return {
          events,
          started: events.find((e) => e.type === 'started')?.fields ?? {},
          stdout: join('stdout'),
          stderr: join('stderr'),
          result: JSON.parse(fields.result ?? '{}') as Record<string, unknown>,
        };
      }
    }
  }
  throw new Error(`no exit event in ${key} within ${timeoutMs} ms; events so far: ${JSON.stringify(events).slice(0, 2000)}`);
}
