// The way out, in order, each step on its own so that one failing does not skip the rest:
// standbys retired, control listener stopped, the blocking connection closed, the group left,
// the main connection closed. Every Redis step is bounded: with Redis away a QUIT would wait for
// a reconnect forever, and an executor that must stop (dirty, say) has to stop whatever Redis does.
import { withTimeout } from '../util/timeout.js';
import type { StandbyPool } from '../standby/pool.js';
import type { Wiring } from './wiring.js';

const QUIT_MS = 2000;

export async function shutDown(w: Wiring, standbys: StandbyPool | undefined): Promise<void> {
  const log = w.logger;
  const step = async (what: string, action: () => Promise<unknown>) => {
    log.debug(`stopping: ${what}`);
    try {
      await action();
    } catch (err) {
      log.warn({ err }, `stopping: ${what} failed; going on`);
    }
  };
  await step('retiring standbys', async () => standbys?.close());
  await step('control listener', () => w.control.stop());
  await step('disconnecting', () => withTimeout(w.blocking.quit(), QUIT_MS, 'QUIT').catch(() => w.blocking.disconnect()));
  await step('leaving the group', () => leaveGroup(w));
  await step('closing the main connection', () => withTimeout(w.redis.quit(), QUIT_MS, 'QUIT').catch(() => w.redis.disconnect()));
}

/**
 * Every pod has a consumer name of its own, so a consumer left in the group would stay there
 * forever: remove it, unless it holds entries (a task acknowledged late is reclaimed from it,
 * and then removed by whoever prunes). After the blocking connection is closed, so that no read
 * of ours can recreate it.
 */
async function leaveGroup(w: Wiring): Promise<void> {
  try {
    const removed = await withTimeout(w.consumer.removeSelf(), QUIT_MS, 'XGROUP DELCONSUMER');
    if (removed) w.metrics?.consumersRemoved.inc();
    w.logger.debug({ removed }, 'left the consumer group');
  } catch (err) {
    w.logger.warn({ err }, 'could not leave the consumer group; another executor removes it later');
  }
}
