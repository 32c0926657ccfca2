// One daemon for a whole test file, on a stream of its own, for tests that only need "an executor
// is there".
import { afterAll, beforeAll } from 'vitest';
import { DaemonProcess, daemonEnv } from './daemon.js';
import { sandboxUid, unique } from './env.js';

export function useSharedDaemon(uidOffset: number): { stream: string; daemon: () => DaemonProcess } {
  const stream = unique('tasks');
  let daemon: DaemonProcess | undefined;
  beforeAll(async () => {
    daemon = new DaemonProcess(daemonEnv({ stream, uid: sandboxUid(uidOffset) }, { EXECUTOR_MAX_RUNS: '1000' }));
    await daemon.waitForLog('executor started');
  });
  afterAll(async () => {
    await daemon?.stop();
  });
  return { stream, daemon: () => daemon! };
}
