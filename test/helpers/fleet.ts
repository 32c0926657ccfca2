// Executors as real processes for the recovery tests: start them, and kill -9 them with everything
// their sandbox user still runs, as when a pod dies. (Reading results: results.ts.)
import { execFileSync } from 'node:child_process';
import { DaemonProcess, daemonEnv } from './daemon.js';

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
  return new DaemonProcess(daemonEnv({ stream: o.stream, uid, redis: o.redis }, { ...FAST_RECLAIM, ...o.env }));
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
