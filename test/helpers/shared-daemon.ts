// One daemon for a whole test file, on a stream of its own, for tests that only need "an executor
// is there".
import { afterAll, beforeAll } from 'vitest';
import { DaemonProcess } from './daemon.js';
import { redisUrl, sandboxUid, unique } from './env.js';

export function useSharedDaemon(uidOffset: number): { stream: string; daemon: () => DaemonProcess } {
  const stream = unique('tasks');
  let daemon: DaemonProcess | undefined;
  beforeAll(async () => {
    daemon = new DaemonProcess({
      REDIS_URL: redisUrl(),
      EXECUTOR_STREAM: stream,
      EXECUTOR_GROUP: 'executors',
      EXECUTOR_CONSUMER: unique('exec'),
      EXECUTOR_SANDBOX_USER: String(sandboxUid(uidOffset)),
      EXECUTOR_MAX_RUNS: '1000',
      EXECUTOR_BLOCK_MS: '500',
      EXECUTOR_SWEEP_DIRS: '/tmp:/var/tmp:/dev/shm:/run/lock',
    });
    await daemon.waitForLog('executor started');
  });
  afterAll(async () => {
    await daemon?.stop();
  });
  return { stream, daemon: () => daemon! };
}
