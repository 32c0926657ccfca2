// Executors as real processes for the recovery tests: start, kill -9 (with everything their
// sandbox user still runs, as when a pod dies), and wait on the results stream.
import { execFileSync } from 'node:child_process';
import type { Redis, Cluster } from 'ioredis';
import { DaemonProcess } from './daemon.js';
import { unique, waitFor } from './env.js';

export interface FleetOptions {
  redis: { REDIS_URL: string } | { REDIS_CLUSTER_NODES: string };
  stream: string;
  env?: Record<string, string>;
}

export const FAST_RECLAIM = {
  EXECUTOR_WALL_MS: '2000',
  EXECUTOR_KILL_GRACE_MS: '100',
  EXECUTOR_RECLAIM_MARGIN_MS: '300',
  EXECUTOR_BLOCK_MS: '300',
  EXECUTOR_SWEEP_DIRS: '/tmp:/var/tmp:/dev/shm:/run/lock',
  LOG_LEVEL: 'info',
};

export function startExecutor(o: FleetOptions, uid: number): DaemonProcess {
  return new DaemonProcess({
    ...o.redis,
    EXECUTOR_STREAM: o.stream,
    EXECUTOR_GROUP: 'executors',
    EXECUTOR_CONSUMER: unique('exec'),
    EXECUTOR_SANDBOX_USER: String(uid),
    ...FAST_RECLAIM,
    ...o.env,
  });
}

/** kill -9 the daemon, then every process of its sandbox user: the pod is gone. */
export async function killHard(d: DaemonProcess, uid: number): Promise<void> {
  d.signal('SIGKILL');
  await d.exited;
  // Each runtime has a uid of its own from `uid` up (see identitiesByRuntime).
  for (let u = uid; u < uid + 10; u++) {
    try {
      execFileSync('setpriv', [`--reuid=${u}`, `--regid=${u}`, '--clear-groups', 'kill', '-KILL', '-1'], { stdio: 'ignore' });
    } catch {
      // nothing of that user was left
    }
  }
}

type AnyRedis = Redis | Cluster;

/** Entries of a results stream as [type, fields]. */
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
