// Sessions through the wire format: cells put on the task stream (or a session's own stream) with
// plain XADD, results read with XREAD, so the tests check what any controller sees.
import type { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { DaemonProcess, daemonEnv } from '../helpers/daemon.js';
import { exitResult, field, output, readUntilExit, type RawEntry } from '../helpers/results.js';
import { sandboxUid, unique, waitFor } from '../helpers/env.js';

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

/** The stdout and display entries in order, adjacent stdout chunks joined: to check interleaving. */
export function sequence(entries: RawEntry[]): string[] {
  const out: string[] = [];
  let text: string | undefined;
  for (const e of entries) {
    const type = field(e, 'type');
    if (type === 'stdout') text = (text ?? '') + field(e, 'data');
    else if (type === 'display') {
      if (text !== undefined) out.push(`stdout:${text.trim()}`);
      text = undefined;
      out.push(`display:${field(e, 'mime')}`);
    }
  }
  if (text !== undefined) out.push(`stdout:${text.trim()}`);
  return out;
}

/**
 * Sessions a test opened, closed after it whatever happened: a session left open holds its
 * executor, which would then take no other test's session.
 */
export function sessionsToClose(redis: Redis): { track: (stream: string, sid: string) => string; closeAll: () => Promise<void> } {
  const open: [string, string][] = [];
  return {
    track: (stream, sid) => (open.push([stream, sid]), sid),
    async closeAll() {
      for (const [stream, sid] of open.splice(0)) {
        await redis.xadd(`${stream}:control`, '*', 'close', sid);
        await waitFor(`session ${sid} to end`, async () => ((await redis.hget(`executor:session:{${sid}}`, 'state')) !== 'open' ? true : undefined), 15_000);
      }
    },
  };
}

/** Executors for one test file, with room for many cells (and a grace long enough to interrupt); stopped after it. */
export function sessionExecutors(): (stream: string, offset: number, extra?: Record<string, string>) => Promise<DaemonProcess> {
  const daemons: DaemonProcess[] = [];
  afterAll(() => Promise.all(daemons.map((d) => d.stop())));
  return async (stream, offset, extra = {}) => {
    const d = new DaemonProcess(daemonEnv({ stream, uid: sandboxUid(offset) }, { EXECUTOR_MAX_RUNS: '1000', EXECUTOR_KILL_GRACE_MS: '1000', ...extra }));
    daemons.push(d);
    await d.waitForLog('executor started');
    return d;
  };
}
